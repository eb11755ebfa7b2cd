"""`dmd capacity`: will a sale's reminders leave inside the window? Stage by stage, with the binding limit."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Group
from rich.text import Text

from infra.config import ConfigError
from infra.stack_files import committed_stacks, load_committed
from ops.capacity import CapacityAnswer, Stage, estimate
from ops.capacity_demo_costs import DemoReportError, with_report
from ops.capacity_fixes import FixPlan, plan_fixes
from ops.capacity_inputs import (
    DEFAULT_LIMITS,
    EXTERNAL_LIMITS,
    CapacityCosts,
    ExternalLimits,
    Workload,
    fault_rates,
    load_costs,
    shape_of,
)
from ops.capacity_metrics import NoMetricsError, measure_costs, with_measured
from ops.capacity_sandbox import SandboxProfile, sandbox_estimate
from ops.capacity_sim import SimResult, simulate
from ops.capacity_sim_parameters import aws_parameters, sandbox_parameters
from ops.operator_io import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    JsonOption,
    StackOption,
    aws_errors,
    fail,
    parse_time,
    print_json,
    show,
    table,
    target_for,
)

COLUMNS = ("stage", "throughput", "binding limit", "latency", "time")


def capacity(
    *,
    stack: StackOption,
    fans: Annotated[int, typer.Option(min=1, max=10_000_000, help="Fans who asked for a reminder.")],
    sales: Annotated[
        int, typer.Option(min=1, max=1000, help="Sales in the window (fans spread evenly).")
    ] = 1,
    sms_share: Annotated[
        float, typer.Option("--sms-share", min=0.0, max=1.0, help="Share of the reminders sent by SMS.")
    ] = 0.6,
    per_fan: Annotated[
        float, typer.Option("--per-fan", min=1.0, max=2.0, help="Reminders per fan (SMS and email: 2).")
    ] = 1.0,
    faults: Annotated[
        str,
        typer.Option(
            help="Fault rates in the sandbox's language, e.g. sms=0.25,ddb-throttle=0.1,timeout=0.02."
        ),
    ] = "",
    from_metrics: Annotated[
        bool,
        typer.Option(
            "--from-metrics", help="Per-record costs from the stack's CloudWatch metrics over --since."
        ),
    ] = False,
    since: Annotated[
        str, typer.Option(help="With --from-metrics: window start, a duration back (1h, 1d) or ISO-8601.")
    ] = "1h",
    from_report: Annotated[
        Path | None,
        typer.Option(
            "--from-report",
            help="local: per-record costs from a `dmd sandbox demo` JSON report "
            "(the demo writes build/sandbox/demo-report.json unless told --report).",
        ),
    ] = None,
    simulate_too: Annotated[
        bool, typer.Option("--simulate", help="Also run the discrete-event simulation and show its figure.")
    ] = False,
    seed: Annotated[int, typer.Option(help="The simulation's seed.")] = 7,
    speed: Annotated[
        float, typer.Option(min=0.1, help="local: the sandbox clock's speed (dmd sandbox demo --speed).")
    ] = 10.0,
    load_factor: Annotated[
        float,
        typer.Option(
            "--load-factor",
            min=1.0,
            help="local: how much slower this machine runs than when make bench measured the committed "
            "costs (ops.capacity_sandbox.load_factor); a report's costs are this machine's already.",
        ),
    ] = 1.0,
    sms_rate: Annotated[
        float | None,
        typer.Option("--sms-rate", min=0.1, help="SMS service requests/s (default: the stack's)."),
    ] = None,
    ses_rate: Annotated[
        float | None, typer.Option("--ses-rate", min=0.1, help="SES sending rate/s (default: the stack's).")
    ] = None,
    table_writes: Annotated[
        float | None,
        typer.Option(
            "--table-writes", min=1.0, help="Table writes/s without throttling (default: the stack's)."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Time from the scheduler tick to the last reminder sent, stage by stage, and whether the window holds.

    Reads the stack's committed config (shards, parallelization factor, batch size and window,
    reserved concurrency, the generator's parallelism and the scheduler's lead time) and the
    per-record costs `make bench` wrote to bench/capacity-costs.json (or, with --from-metrics, the
    stack's CloudWatch Duration per record over --since; with --from-report on `--stack local`, what
    each worker held the sandbox's process for in a demo's report). Each stage shows its throughput and the
    limit that binds, with its arithmetic; the total is compared with the lead time (the window's
    first sale opens leadMinutes after the tick). When it misses, the config change that fixes it
    is shown, re-checked with the model. `--stack local` models `dmd sandbox demo` (one process,
    the emulator, the sandbox clock): tick → every notification terminal, in real seconds;
    --load-factor stretches the committed costs' work on a busy machine.
    docs/capacity.md explains every formula. Exit 0: the window holds; 1: it misses; 2: bad input.

    JSON keys: stack, fans, sales, notifications, smsShare, faults {smsTransient, smsPermanent,
    ddbThrottle, timeout}, costs (where they came from), limits {smsPerSecond, sesPerSecond,
    tableWritesPerSecond}, stages [{stage, perSecond, binding, limits [{name, perSecond,
    arithmetic}], latencySeconds, seconds, inWindow}], bottleneck, perSecond, latencySeconds,
    retryTailSeconds, totalSeconds, windowSeconds, holds, marginSeconds, notes [], fixes [{change,
    totalSeconds, holds}], simulation ({totalSeconds, firstSentSeconds, sent, failed, batches,
    retries, timeouts, seed} or null), simulationDifference (simulation / model − 1, or null).

    Example: dmd capacity --stack prod1 --fans 500000 --sales 3 --simulate
    """
    if stack not in committed_stacks():
        fail(f"no stack {stack!r} (committed stacks: {', '.join(committed_stacks())})", code=EXIT_BAD_INPUT)
    try:
        config = load_committed(stack)
        workload = Workload(
            fans=fans, sales=sales, sms_share=sms_share, reminders_per_fan=per_fan, faults=fault_rates(faults)
        )
    except (ConfigError, ValueError, ValidationError) as error:
        fail(f"bad input: {_first_line(error)}", code=EXIT_BAD_INPUT)
    shape = shape_of(config)
    limits = _limits(stack, sms_rate, ses_rate, table_writes)
    emulated = stack == "local"
    costs = _costs(stack, from_report=from_report, from_metrics=from_metrics, since=since)
    fix_plan = FixPlan(fixes=(), holds=True)
    simulation: SimResult | None = None
    if emulated:
        profile = SandboxProfile(speed=speed, load_factor=load_factor)
        answer = sandbox_estimate(shape, costs, workload, profile)
        if simulate_too:
            simulation = simulate(sandbox_parameters(shape, costs, workload, profile), seed=seed)
    else:
        answer = estimate(shape, costs, limits, workload)
        if not answer.holds:
            fix_plan = plan_fixes(shape, costs, limits, workload, answer)
        if simulate_too:
            simulation = simulate(aws_parameters(shape, costs, limits, workload), seed=seed)
    document = _document(
        answer=answer, workload=workload, costs=costs, limits=limits, fix_plan=fix_plan, simulation=simulation
    )
    if json_output:
        print_json(document)
    else:
        show(_screen(answer, fix_plan, simulation))
    if not answer.holds:
        raise typer.Exit(EXIT_FAILED)


def _first_line(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    return str(error).splitlines()[0]


def _limits(stack: str, sms: float | None, ses: float | None, table_writes: float | None) -> ExternalLimits:
    base = EXTERNAL_LIMITS.get(stack, DEFAULT_LIMITS)
    given = {"sms_per_second": sms, "ses_per_second": ses, "table_writes_per_second": table_writes}
    return base.model_copy(update={key: value for key, value in given.items() if value is not None})


def _costs(stack: str, *, from_report: Path | None, from_metrics: bool, since: str) -> CapacityCosts:
    """The committed costs, or a demo report's (local) or the stack's CloudWatch metrics in their place."""
    costs = load_costs()
    if from_report is not None:
        if stack != "local":
            fail(
                "--from-report reads a sandbox demo's costs: it applies to --stack local only",
                code=EXIT_BAD_INPUT,
            )
        try:
            costs = with_report(costs, from_report)
        except DemoReportError as error:
            fail(str(error), code=EXIT_BAD_INPUT)
    if from_metrics:
        costs = _measured(stack, costs, since)
    return costs


def _measured(stack: str, costs: CapacityCosts, since: str) -> CapacityCosts:
    try:
        start = parse_time(since, option="--since")
    except ValueError as error:
        fail(str(error), code=EXIT_BAD_INPUT)
    target = target_for(stack)
    with aws_errors("read the stack's CloudWatch metrics"):
        try:
            measured = measure_costs(target, start=start, end=datetime.now(UTC))
        except NoMetricsError as error:
            fail(str(error), code=EXIT_FAILED)
    return with_measured(costs, measured)


def _document(
    *,
    answer: CapacityAnswer,
    workload: Workload,
    costs: CapacityCosts,
    limits: ExternalLimits,
    fix_plan: FixPlan,
    simulation: SimResult | None,
) -> dict[str, Any]:
    document: dict[str, Any] = answer.model_dump(mode="json")
    document.update(
        fans=workload.fans,
        sales=workload.sales,
        smsShare=workload.sms_share,
        faults=workload.faults.model_dump(mode="json"),
        costs=costs.measured,
        limits=limits.model_dump(mode="json"),
        fixes=[fix.model_dump(mode="json") for fix in fix_plan.fixes],
        simulation=simulation.model_dump(mode="json") if simulation else None,
        simulationDifference=(
            round(simulation.total_seconds / answer.total_seconds - 1, 4)
            if simulation and answer.total_seconds > 0
            else None
        ),
    )
    return document


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds:,.1f} s"


def _row(stage: Stage) -> tuple[str, str, str, str, str]:
    rate = "once" if stage.per_second is None else f"{stage.per_second:,.0f}/s"
    name = stage.stage if stage.in_window else f"{stage.stage} (after the send)"
    return name, rate, stage.binding, _duration(stage.latency_seconds), _duration(stage.seconds)


def _screen(answer: CapacityAnswer, fix_plan: FixPlan, simulation: SimResult | None) -> Group:
    lines: list[Any] = [
        table(
            f"dmd capacity --stack {answer.stack}: {answer.notifications:,} notifications",
            COLUMNS,
            [_row(stage) for stage in answer.stages],
        ),
        Text(f"bottleneck: {answer.bottleneck}"),
        Text(
            f"total: {_duration(answer.total_seconds)} (start-up {_duration(answer.latency_seconds)} + "
            f"{answer.notifications:,} at {answer.per_second:,.1f}/s + retry tail "
            f"{_duration(answer.retry_tail_seconds)})"
        ),
    ]
    if simulation is not None:
        difference = simulation.total_seconds / answer.total_seconds - 1 if answer.total_seconds else math.nan
        lines.append(
            Text(
                f"simulation (seed {simulation.seed}): {_duration(simulation.total_seconds)} "
                f"({difference:+.1%} against the model; {simulation.batches:,} batches, "
                f"{simulation.retries:,} retries, {simulation.timeouts:,} timeouts)"
            )
        )
    margin = abs(answer.margin_seconds)
    if answer.holds:
        lines.append(
            Text(
                f"window holds: {_duration(margin)} to spare of {_duration(answer.window_seconds)}",
                style="green",
            )
        )
    else:
        lines.append(
            Text(
                f"window misses by {_duration(margin)} (of {_duration(answer.window_seconds)})",
                style="bold red",
            )
        )
        for fix in fix_plan.fixes:
            verdict = "holds" if fix.holds else "still misses"
            lines.append(Text(f"  fix: {fix.change} → {_duration(fix.total_seconds)}, {verdict}"))
        if not fix_plan.fixes:
            lines.append(Text("  no stack-config change found: see docs/capacity.md"))
    lines += [Text(f"note: {note}", style="dim") for note in answer.notes]
    return Group(*lines)
