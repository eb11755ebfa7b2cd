"""`dmd sandbox`: the whole pipeline on this machine (embedded AWS emulator, fake vendors, real workers)."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sandbox.demo import (
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_FANS,
    DEFAULT_REPORT,
    DEFAULT_SALES,
    DEFAULT_SEED,
    DEFAULT_SPEED,
    DEFAULT_WORKER_LOG,
    MAX_FANS,
    DemoOptions,
    demo_catalogue,
    run_demo,
)
from sandbox.demo.drills import apply_drills
from sandbox.demo.restart_drill import RestartDrill
from sandbox.emulator import DEFAULT_PORT, EmulatorError, answers
from sandbox.materialize import Kind
from sandbox.pipeline import Pipeline, PipelineMode
from sandbox.runtime import Sandbox
from sandbox.vendors import FaultPlan, FaultSpecError, fault_vocabulary, parse_faults
from sandbox.worker_log import worker_output

DEFAULT_UP_LOG = Path("build/sandbox/up-workers.log")
_STATUS_SECONDS = 2.0

app = typer.Typer(
    help="Run the pipeline on this machine: AWS emulator (moto server), fake vendors, the real workers.",
    no_args_is_help=True,
)


@app.command()
def demo(
    *,
    fans: Annotated[int, typer.Option(help="How many fans opt in.", min=1, max=MAX_FANS)] = DEFAULT_FANS,
    sales: Annotated[
        int, typer.Option(help="Notifiable sales in the scheduler window.", min=1)
    ] = DEFAULT_SALES,
    faults: Annotated[
        str,
        typer.Option(
            help="Vendor faults and sandbox drills, e.g. sms=0.3,bitly-429=0.2 or "
            f"ddb-throttle=0.1,timeout=0.02,poison=0.01 ({fault_vocabulary()})."
        ),
    ] = "",
    speed: Annotated[
        float, typer.Option(help="Sandbox seconds per real second (queues' visibility, stream ages, delays).")
    ] = DEFAULT_SPEED,
    seed: Annotated[int, typer.Option(help="Seed of the fans and of the fault draws.")] = DEFAULT_SEED,
    deadline: Annotated[
        float, typer.Option(help="Real seconds to wait for every notification to be terminal.")
    ] = DEFAULT_DEADLINE_SECONDS,
    report: Annotated[Path, typer.Option(help="Where to write the JSON report.")] = DEFAULT_REPORT,
    worker_log: Annotated[Path, typer.Option(help="Where the workers' logs go.")] = DEFAULT_WORKER_LOG,
    ship_logs: Annotated[
        bool, typer.Option(help="Also put the workers' lines into the emulator's log groups, as Lambda does.")
    ] = False,
) -> None:
    """Seed events, sales and fans, open the scheduler window, run until every reminder is terminal, report.

    Exits 1 when an invariant breaks: a duplicate send, a notification left non-terminal, a record
    lost, an SMS accepted by the vendor but not tracked on its notification.
    """
    console = Console()
    plan = _faults(faults)
    try:
        options = DemoOptions(
            fans=fans,
            sales=sales,
            faults=plan,
            speed=speed,
            seed=seed,
            deadline_seconds=deadline,
            report_path=report,
            worker_log=worker_log,
            ship_logs=ship_logs,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    result = run_demo(options, console)
    if not result.ok:
        broken = ", ".join(invariant.name for invariant in result.invariants if not invariant.ok)
        console.print(f"[bold red]invariants broken: {broken}[/]")
        raise typer.Exit(1)


def _faults(text: str) -> FaultPlan:
    try:
        return parse_faults(text)
    except FaultSpecError as error:
        raise typer.BadParameter(str(error), param_hint="--faults") from None


def _endpoints(pipeline: Pipeline) -> Table:
    sandbox = pipeline.sandbox
    table = Table(
        title="dmd sandbox: the local stack on this machine", show_header=False, title_justify="left"
    )
    table.add_column("what", style="bold")
    table.add_column("where")
    table.add_row("AWS emulator (moto server)", f"{sandbox.endpoint_url}  (credentials: testing/testing)")
    for vendor, url in pipeline.vendors.urls().items():
        table.add_row(f"{vendor} fake", url)
    table.add_row("demand table", pipeline.table_name)
    for name in sorted(sandbox.materialized.of(Kind.QUEUE_URL)):
        table.add_row("queue", name)
    for name in sorted(sandbox.materialized.of(Kind.STREAM)):
        table.add_row("stream", name)
    for type_name, field in sorted(sandbox.resolvers):
        table.add_row("AppSync field", f"{type_name}.{field}  (dmd sandbox query {field} …)")
    table.add_row("Discovery events served", ", ".join(sorted(pipeline.vendors.discovery.event_ids())))
    table.add_row("logs", "dmd logs tail all --stack local --follow  (the workers' lines, as in CloudWatch)")
    table.add_row(
        "try",
        "AWS_ENDPOINT_URL=" + sandbox.endpoint_url + " aws dynamodb scan --table-name " + pipeline.table_name,
    )
    return table


@app.command()
def up(
    *,
    port: Annotated[
        int, typer.Option(help="Emulator port (the local stack's endpoints use 4566).")
    ] = DEFAULT_PORT,
    speed: Annotated[float, typer.Option(help="Sandbox seconds per real second.")] = 1.0,
    faults: Annotated[
        str,
        typer.Option(
            help="Vendor faults, the ddb-throttle/timeout drills and emulator-restart=SECONDS (after "
            f"the start) ({fault_vocabulary()})."
        ),
    ] = "",
    seed: Annotated[int, typer.Option(help="Seed of the fault draws.")] = DEFAULT_SEED,
    worker_log: Annotated[Path, typer.Option(help="Where the workers' logs go.")] = DEFAULT_UP_LOG,
) -> None:
    """Run the local stack until Ctrl-C: emulator on :4566, fakes on the stack's vendor ports, real workers.

    The Discovery fake serves the demo's events. Other shells can use it: `dmd sandbox query
    eventDetails --event-id …`, `aws --endpoint-url http://127.0.0.1:4566 …`, `pulumi up -s local`,
    `dmd logs tail notification_send --stack local --follow` (the workers' lines also go into the
    emulator's log groups, as in Lambda).
    """
    console = Console(file=sys.stdout)  # this stdout: the workers' output is redirected while running
    plan = _faults(faults)
    try:
        pipeline = Pipeline(
            mode=PipelineMode.SHARED, port=port, speed=speed, faults=plan, seed=seed, ship_logs=True
        )
    except OSError as error:  # a vendor port of the stack is taken
        console.print(
            f"[red]cannot listen on the stack's vendor ports (another sandbox running?): {error}[/red]"
        )
        raise typer.Exit(2) from None
    stopping = threading.Event()
    # Ctrl-C and SIGTERM both stop cleanly (pollers after their round, then the emulator process).
    previous = {
        number: signal.signal(number, lambda *_: stopping.set()) for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with console.status("starting the sandbox (synthesize, emulator, materialize, vendors)"):
            try:
                pipeline.start()
            except (EmulatorError, OSError) as error:
                console.print(f"[red]cannot start the sandbox: {error}[/red]")
                raise typer.Exit(2) from None
        apply_drills(pipeline, plan, seed=seed)  # ddb-throttle, timeout (poison is the demo's)
        # emulator-restart: sandbox seconds after the start (no tick here)
        restart = RestartDrill.planned(plan, pipeline.clock.now_datetime())
        for payload in demo_catalogue(pipeline.clock.now_datetime()):
            pipeline.vendors.discovery.add(payload)
        console.print(_endpoints(pipeline))
        console.print(
            f"faults: {plan} · speed ×{speed:g} · workers' logs: {worker_log} · [bold]Ctrl-C to stop[/bold]"
        )
        # The status first: its Live routes stdout to the screen; the workers' output then goes to
        # the log file on top of it (the other order would put the workers' logs on the screen).
        with console.status("running") as status, worker_output(worker_log):
            while not stopping.wait(_STATUS_SECONDS):
                if restart is not None and restart.due(pipeline.clock.now()):
                    status.update("emulator restarting (state saved, down, restored)")
                    restart.run(pipeline)  # from this thread: it started the emulator
                    console.print(f"emulator restart: {restart.check()[2]}")
                counters = pipeline.sandbox.counters()
                invocations = sum(counter.invocations for counter in counters.values())
                shipper = pipeline.sandbox.log_shipper
                shipped = shipper.counters.shipped if shipper is not None else 0
                status.update(
                    f"running · sandbox clock {pipeline.clock.now_datetime():%H:%M:%S} UTC · "
                    f"{invocations} invocations · SMS accepted {sum(pipeline.vendors.sms.accepted.values())}"
                    f" · {shipped} log lines in the emulator"
                )
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        with console.status("stopping"):
            pipeline.stop()
        console.print("sandbox stopped")


@contextmanager
def _sandbox_for(endpoint_url: str | None, console: Console) -> Iterator[Sandbox]:
    """The running sandbox at `endpoint_url` (default: the stack's, if one answers), else a fresh one."""
    url = endpoint_url or f"http://127.0.0.1:{DEFAULT_PORT}"
    if answers(url):
        console.print(f"[dim]using the sandbox running at {url}[/dim]")
        yield Sandbox(configure_environment=False).attach(url)
        return
    if endpoint_url:
        console.print(f"[red]no sandbox answers at {endpoint_url}[/red]")
        raise typer.Exit(2)
    console.print(
        "[dim]no sandbox running on :4566: starting a temporary one (Discovery serves the demo events)[/dim]"
    )
    pipeline = Pipeline(mode=PipelineMode.STEPPED)
    with console.status("starting a temporary sandbox"):
        pipeline.start()
    try:
        for payload in demo_catalogue(datetime.now(UTC)):
            pipeline.vendors.discovery.add(payload)
        yield pipeline.sandbox
    finally:
        pipeline.stop()


@app.command()
def query(
    field: Annotated[str, typer.Argument(help="The GraphQL field, e.g. eventDetails or tmAccount.")],
    *,
    event_id: Annotated[str | None, typer.Option(help="eventDetails: the Discovery event id.")] = None,
    market: Annotated[
        str | None, typer.Option(help="eventDetails: the market (TM_US, TM_CA, LN_US…).")
    ] = None,
    member_id: Annotated[str | None, typer.Option(help="tmAccount: the member id.")] = None,
    endpoint_url: Annotated[
        str | None, typer.Option(help="A running sandbox's emulator (default: :4566 if it answers).")
    ] = None,
) -> None:
    """Resolve one AppSync field through its Lambda resolver, as AppSync would; print the GraphQL answer."""
    console = Console(stderr=True)
    arguments: dict[str, Any] = {}
    if event_id is not None:
        arguments["eventId"] = event_id
    if market is not None:
        arguments["tmMarketId"] = market
    if member_id is not None:
        arguments["memberId"] = member_id
    # The workers log to stdout, as in Lambda: here they go to stderr, and stdout is the answer.
    with contextlib.redirect_stdout(sys.stderr), _sandbox_for(endpoint_url, console) as sandbox:
        started = time.monotonic()
        try:
            answer = sandbox.query(field, arguments)
        except KeyError as error:
            raise typer.BadParameter(str(error.args[0]), param_hint="FIELD") from None
        console.print(f"[dim]{field} resolved in {time.monotonic() - started:.2f} s[/dim]")
    typer.echo(json.dumps(answer, indent=2, ensure_ascii=False))
    # A failure is a GraphQL error, or (eventDetails' default error mode) an `error` object.
    resolved = (answer.get("data") or {}).get(field)
    if answer.get("errors") or (isinstance(resolved, dict) and resolved.get("error")):
        raise typer.Exit(1)
