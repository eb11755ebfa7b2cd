"""Running `dmd` in process and reading what it prints: its Rich tables as rows, its messages unwrapped."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from ops.cli import app


def run_dmd(*arguments: str, input: str | None = None) -> Result:
    """`dmd ARGUMENTS` in process, on a terminal wide enough that Rich never folds a table cell.

    `input` is what the operator types (e.g. "n" and Enter at a confirmation); None: stdin is empty.
    """
    return CliRunner().invoke(app, list(arguments), input=input, env={"COLUMNS": "300"})


def flat(text: str) -> str:
    """Output with Rich's line wrapping undone."""
    return " ".join(text.split())


def table_rows(output: str, columns: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The body rows of the Rich table with these columns, by first cell, as column → cell text."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == len(columns):
            rows[cells[0]] = dict(zip(columns, cells, strict=True))
    return rows
