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
from ops.deployed_workers import DeployedWorker, deployed_workers
from ops.operator_io import (
    EXIT_BAD_INPUT,
    JsonOption,
    aws_errors,
    fail,
    print_json,
    progress,
    show,
    table,
    target_for,
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


DEPLOYED_COLUMNS = (
    "worker",
    "live version",
    "newest version",
    "memory MB",
    "timeout s",
    "reserved",
    "last modified",
    "state",
    "runtime",
    "arch",
)


@app.command("list")
def list_workers(
    deployed: Annotated[
        bool,
        typer.Option(
            "--deployed",
            help="Show what is deployed in --stack (Lambda), not the catalog.",
            show_default=False,
        ),
    ] = False,
    stack: Annotated[
        str | None,
        typer.Option(help="Stack to read with --deployed (qa1, prod1, local).", show_default=False),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List the workers of the catalog (code, trigger, access, handler), or what is deployed of them.

    With --deployed --stack S: per worker the version behind `live` (and its routing weights, if
    any), the newest published version ("release pending" when `live` is not on it: `pulumi up`
    publishes versions, `dmd release` moves `live`), memory, timeout, reserved concurrency, last
    modified, state/last update status, runtime and architecture, as Lambda reports them; a worker
    without a function reads "not deployed".

    JSON keys (--deployed): a list of {worker, functionName, deployed, liveVersion, liveRouting,
    newestVersion, releasePending, memoryMb, timeoutSeconds, reservedConcurrency, lastModified,
    state, lastUpdateStatus, runtime, architectures}; without --deployed: a list of {worker, code,
    trigger, access, handler}.

    Example: dmd workers list --deployed --stack prod1
    """
    if deployed:
        if stack is None:
            fail("--deployed needs --stack (qa1, prod1 or local)", code=EXIT_BAD_INPUT)
        _list_deployed(stack, json_output=json_output)
        return
    if stack is not None:
        fail(
            "--stack applies to --deployed only (the catalog is the same in every stack)", code=EXIT_BAD_INPUT
        )
    if json_output:
        print_json(
            [
                {
                    "worker": spec.name,
                    "code": spec.inventory_code,
                    "trigger": describe_source(spec),
                    "access": sorted(access.value for access in spec.access),
                    "handler": spec.handler,
                }
                for spec in CATALOG
            ]
        )
        return
    catalog = Table(title="dmd-workers catalog")
    for column in ("worker", "code", "trigger", "access", "handler"):
        catalog.add_column(column)
    for spec in CATALOG:
        catalog.add_row(
            spec.name,
            spec.inventory_code,
            describe_source(spec),
            ", ".join(sorted(access.value for access in spec.access)),
            spec.handler,
        )
    Console().print(catalog)


def _list_deployed(stack: str, *, json_output: bool) -> None:
    target = target_for(stack)
    with aws_errors(f"read the functions of {stack}"):
        with progress(f"reading {stack}'s graph", total=None):
            workers = target.fleet.workers
        with progress("functions", total=len(workers)) as advance:
            found = deployed_workers(target, on_worker=lambda worker: advance(description=worker.name))
    if json_output:
        print_json([worker.model_dump() for worker in found])
        return
    show(table(f"{stack}: deployed workers", DEPLOYED_COLUMNS, [_deployed_row(worker) for worker in found]))


def _deployed_row(worker: DeployedWorker) -> tuple[str | int | None, ...]:
    if not worker.deployed:
        return (worker.worker, "[bold red]not deployed[/bold red]", *([None] * (len(DEPLOYED_COLUMNS) - 2)))
    version = worker.live_version or "[bold red]no live alias[/bold red]"
    if worker.live_routing:
        shares = ", ".join(f"{weight:.0%} → {other}" for other, weight in sorted(worker.live_routing.items()))
        version = f"{version} ({shares})"
    newest = worker.newest_version
    if worker.release_pending:
        newest = f"[bold yellow]{newest} (release pending)[/bold yellow]"
    state = worker.state or "-"
    if worker.last_update_status and worker.last_update_status != "Successful":
        state = f"{state}, last update {worker.last_update_status}"
    if state not in ("Active", "-"):
        state = f"[bold yellow]{state}[/bold yellow]"
    return (
        worker.worker,
        version,
        newest,
        worker.memory_mb,
        worker.timeout_seconds,
        worker.reserved_concurrency if worker.reserved_concurrency is not None else "unreserved",
        worker.last_modified,
        state,
        worker.runtime,
        ", ".join(worker.architectures) or None,
    )


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
