"""Running `dmd` in process and reading what it prints: its Rich tables as rows, its messages unwrapped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ops.cli import app
from ops.target import Target, resolve_target


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


def command_json(stdout: str) -> dict[str, Any]:
    """The command's `--json` document (indented), also when workers running in this process (a
    sandbox) printed their one-line JSON logs to the same stdout meanwhile."""
    document, _ = json.JSONDecoder().raw_decode(stdout[stdout.index("{\n") :])
    assert isinstance(document, dict)
    return document


def local_stack_is(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `--stack local` reach `target` (a staged moto stack); any other stack resolves as usual."""

    def resolve(stack: str, **options: str | None) -> Target:
        return target if stack == "local" else resolve_target(stack, **options)

    monkeypatch.setattr("ops.operator_io.resolve_target", resolve)
