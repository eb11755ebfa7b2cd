"""`dmd workers`: what the fleet is made of, and one invocation of a worker in the sandbox."""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from infra.catalog import (
    CATALOG,
    QueueSource,
    ResolverSource,
    ScheduleSource,
    StreamSource,
    WorkerSpec,
    catalog_by_name,
)

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


@app.command("invoke")
def invoke(
    name: Annotated[str, typer.Argument(help="The worker (catalog name), e.g. notification_send.")],
    payload: Annotated[
        str,
        typer.Argument(
            help="JSON: the item, message body, status event, window or arguments; @FILE reads it."
        ),
    ],
) -> None:
    """Invoke one worker once in a fresh sandbox, with the event its trigger would build from PAYLOAD.

    Table-stream workers take a demand-table item (written to the table first), queue workers the
    message body, sms_status_consumer a status event, the scheduler its Scheduled Event's detail (an
    explicit window), resolvers the field's arguments. The Discovery fake serves the demo's events.
    """
    from sandbox.pipeline import Pipeline, PipelineMode

    console = Console(stderr=True)
    text = Path(payload[1:]).read_text(encoding="utf-8") if payload.startswith("@") else payload
    try:
        document = json.loads(text)
    except ValueError as error:
        raise typer.BadParameter(f"not JSON: {error}", param_hint="PAYLOAD") from None
    pipeline = Pipeline(mode=PipelineMode.STEPPED)
    with console.status("starting a sandbox (emulator, local stack, fake vendors)"):
        pipeline.start()
    # The workers log to stdout, as in Lambda: here they go to stderr, and stdout is the answer.
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        result = _invoke_in(pipeline, name, document, console)
    typer.echo(json.dumps(result, indent=2, default=str, ensure_ascii=False))


def _invoke_in(pipeline: Any, name: str, document: Any, console: Console) -> Any:
    from sandbox.demo import demo_catalogue
    from sandbox.invocation import InvocationError, trigger_event

    try:
        for discovery_payload in demo_catalogue(datetime.now(UTC)):
            pipeline.vendors.discovery.add(discovery_payload)
        try:
            event = trigger_event(pipeline.sandbox, name, document)
        except InvocationError as error:
            raise typer.BadParameter(str(error)) from None
        console.print(f"[dim]invoking {name}: {describe_source(_spec(name))} event[/dim]")
        try:
            result = pipeline.sandbox.invoke(name, event)
        except Exception as error:  # noqa: BLE001 - a function error is the answer to show
            console.print(f"[red]{name} raised {type(error).__name__}: {error}[/red]")
            raise typer.Exit(1) from None
        sent = sum(pipeline.vendors.sms.accepted.values())
        if sent:
            console.print(f"[dim]the SMS service accepted {sent} message(s)[/dim]")
        return result
    finally:
        pipeline.stop()


def _spec(name: str) -> WorkerSpec:
    return catalog_by_name()[name]
