"""What every operator command shares: options, JSON or a table, one-line failures, confirmation, progress.

Conventions (README, "The `dmd` CLI"): results go to stdout (a Rich table for people, `--json`
for scripts with documented stable keys); messages, progress and confirmations go to stderr; a
failure is one line naming the reason and a non-zero exit (1: the operation failed or was
refused, 2: bad input or unreachable AWS).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NoReturn

import click
import typer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from infra.stack_files import committed_stacks
from ops.target import Target, TargetError, resolve_target

StackOption = Annotated[
    str,
    typer.Option(
        "--stack",
        help=f"Stack to act on ({', '.join(committed_stacks())}); local = a running `dmd sandbox up`.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (stable keys) instead of a table.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking for confirmation.")]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Show what would be done, change nothing.")]
EndpointOption = Annotated[
    str | None,
    typer.Option(help="AWS emulator endpoint (default: the stack file's, for local; AWS otherwise)."),
]

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def errors_console() -> Console:
    """Where messages, progress and confirmations go (stderr: stdout stays the result)."""
    return Console(stderr=True)


def fail(reason: str, *, code: int = EXIT_FAILED) -> NoReturn:
    """Print the one-line reason to stderr and exit non-zero."""
    Console(stderr=True, soft_wrap=True).print(f"dmd: {reason}", markup=False, highlight=False)
    raise typer.Exit(code)


def target_for(stack: str, endpoint_url: str | None = None) -> Target:
    """`--stack` resolved; exits 2 with the reason for an unknown or invalid stack."""
    try:
        return resolve_target(stack, endpoint_url=endpoint_url)
    except TargetError as error:
        fail(str(error), code=EXIT_BAD_INPUT)


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn an AWS/botocore failure inside the block into `dmd: cannot ACTION: reason` and exit 2."""
    try:
        yield
    except ClientError as error:
        detail = error.response.get("Error", {})
        fail(f"cannot {action}: {detail.get('Code', 'error')}: {detail.get('Message', error)}", code=2)
    except BotoCoreError as error:
        fail(f"cannot {action}: {error}", code=EXIT_BAD_INPUT)
    except TargetError as error:
        fail(str(error), code=EXIT_BAD_INPUT)


class JsonModel(BaseModel):
    """A command's result: frozen, built by field name, dumped with camelCase keys (`--json`)."""

    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )


def print_json(document: Any) -> None:
    """Write one JSON document to stdout (datetimes as ISO-8601 UTC)."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A Rich table with these columns; cells are shown with str() (None as a dash)."""
    rendered = Table(title=title, title_justify="left")
    for column in columns:
        rendered.add_column(column, overflow="fold")
    for row in rows:
        rendered.add_row(*("-" if cell is None else str(cell) for cell in row))
    return rendered


def show(rendered: RenderableType) -> None:
    """Print a table, text or any Rich renderable for people to stdout."""
    Console().print(rendered)


def confirm(plan: Sequence[str], *, yes: bool, question: str = "Go ahead?") -> None:
    """Show what will be done (stderr); unless `yes`, ask, and exit 1 ("aborted") on no."""
    console = errors_console()
    for line in plan:
        console.print(line, markup=False, highlight=False)
    if yes:
        return
    try:
        agreed = typer.confirm(question, default=False, err=True)
    except (click.exceptions.Abort, typer.Abort):  # no answer (stdin closed): never a yes
        agreed = False
    if not agreed:
        fail("aborted: nothing changed (pass --yes to skip the question)")


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Any]:
    """A transient progress bar on stderr; yields `advance(n=1, description=None)`."""
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors_console(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(count: int = 1, description: str | None = None) -> None:
            if description is None:
                bar.update(task, advance=count)
            else:
                bar.update(task, advance=count, description=description)

        yield advance


def parse_time(text: str, *, now: datetime | None = None, option: str = "--from") -> datetime:
    """An ISO-8601 time (UTC if no zone) or a duration back from now (`90s`, `30m`, `2h`, `1d`).

    typer.BadParameter names the option and the accepted forms.
    """
    moment = now or datetime.now(UTC)
    value = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].isdigit():
        return moment - timedelta(seconds=int(value[:-1]) * units[value[-1]])
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither an ISO-8601 time (2026-12-01T08:00:00Z) nor a duration (30m, 2h, 1d)",
            param_hint=option,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_age(seconds: float | None) -> str:
    """A short human age: `-`, `42s`, `7m`, `3h 5m`, `2d 4h`."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60}m"
    return f"{whole // 86400}d {whole % 86400 // 3600}h"
