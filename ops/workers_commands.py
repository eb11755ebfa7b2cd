"""`dmd workers`: what the fleet is made of."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from infra.catalog import CATALOG, QueueSource, ResolverSource, ScheduleSource, StreamSource, WorkerSpec

app = typer.Typer(help="List and inspect the workers of the catalog.", no_args_is_help=True)


def describe_source(spec: WorkerSpec) -> str:
    """One-line description of what triggers a worker."""
    match spec.source:
        case StreamSource(stream=stream, filter_patterns=patterns):
            filtered = f", {len(patterns)} filter pattern(s)" if patterns else ""
            return f"stream {stream}{filtered}"
        case QueueSource(queue=queue):
            return f"queue {queue}"
        case ScheduleSource():
            return "schedule"
        case ResolverSource(type_name=type_name, field_name=field_name):
            return f"AppSync {type_name}.{field_name}"
    raise AssertionError(spec.source)


@app.command("list")
def list_workers() -> None:
    """List the workers with their inventory code, trigger and access."""
    table = Table(title="dmd-workers catalog")
    for column in ("worker", "code", "trigger", "access", "handler"):
        table.add_column(column)
    for spec in CATALOG:
        table.add_row(
            spec.name,
            spec.inventory_code,
            describe_source(spec),
            ", ".join(sorted(access.value for access in spec.access)),
            spec.handler,
        )
    Console().print(table)
