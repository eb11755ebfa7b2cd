"""`dmd maintenance`: pause a stack's triggers for a maintenance window, and restore exactly their state."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text

from ops.maintenance import (
    Drain,
    EndResult,
    MaintenanceError,
    PauseStep,
    RestoreStep,
    StartResult,
    StatusResult,
    describe_window,
    drain,
    end,
    plan_end,
    plan_start,
    start,
    status,
)
from ops.maintenance_triggers import (
    WorkerSelectionError,
    choose_workers,
    parse_worker_names,
    pausable_workers,
)
from ops.operations_records import MaintenanceRecord
from ops.operator_io import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    DryRunOption,
    JsonOption,
    StackOption,
    YesOption,
    aws_errors,
    confirm,
    errors_console,
    fail,
    print_json,
    progress,
    show,
    table,
    target_for,
)
from ops.target import Target

app = typer.Typer(
    help="Maintenance windows: pause workers' triggers, drain, and restore exactly their prior state.",
    no_args_is_help=True,
)

DEFAULT_DRAIN_TIMEOUT_SECONDS = 300


@app.command("start")
def start_command(
    *,
    stack: StackOption,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept in the record; shown by status and to a second start).")
    ],
    workers: Annotated[
        str | None,
        typer.Option(
            "--workers",
            help="Comma-separated workers to pause (default: every worker with a schedule or an "
            "event-source mapping; resolvers are never paused).",
        ),
    ] = None,
    drain_timeout: Annotated[
        int,
        typer.Option(
            "--drain-timeout",
            min=0,
            help="Seconds to wait for in-flight invocations to finish (the pause holds either way).",
        ),
    ] = DEFAULT_DRAIN_TIMEOUT_SECONDS,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
) -> None:
    """Start a maintenance window: pause the workers' schedule rules and event-source mappings.

    Disables the schedule rules (EventBridge DisableRule) and event-source mappings (Lambda
    UpdateEventSourceMapping Enabled=false) of the chosen workers, after recording who (STS caller),
    why, when and each one's state before (a trigger already disabled stays disabled at the end) in
    the stack's maintenance record, which is also the lock: a second start is refused. Then waits,
    at most --drain-timeout seconds, until the mappings are Disabled and the functions' concurrent
    executions (CloudWatch, last minute) are 0; past the bound it names the workers still busy and
    exits 0 (the pause holds).

    While paused, new records wait: in the table and SMS-status streams for their retention (24 h
    in qa1, 48 h in prod1; a longer pause loses records), in the queues for theirs. A skipped
    scheduler tick is not made up: run the scheduler for the missed window after `end`. Resolvers
    (eventDetails, tmAccount) are never paused. Not reserved concurrency 0: throttled pollers keep
    retrying, so records age out into the on-failure queues and DLQs instead of waiting.

    `pulumi up` enables the triggers again (the program declares them enabled): the CI deploy jobs
    refuse while a window is active (`dmd maintenance status --fail-if-active`).

    JSON keys: stack, dryRun, reason, startedBy, startedAt, workers, steps [{worker, kind, id,
    enabledBefore, action}], drain {seconds, disabling, busy, drained} (null on a dry run).

    Example: dmd maintenance start --stack prod1 --reason "CHG-1234 migration" --workers notification_send
    """
    why = reason.strip()
    if not why:
        fail("--reason must say why: it is kept in the maintenance record", code=EXIT_BAD_INPUT)
    target = target_for(stack)
    try:
        chosen = choose_workers(target.fleet, parse_worker_names(workers))
    except WorkerSelectionError as error:
        fail(str(error), code=EXIT_BAD_INPUT)
    with aws_errors(f"read the triggers of {stack}"):
        try:
            record, steps = plan_start(target, chosen, why)
        except MaintenanceError as error:
            fail(str(error))
    chosen_names = {worker.name for worker in chosen}
    left_out = [name for name in target.fleet.workers if name not in chosen_names]
    plan = [
        f"Maintenance window on {stack}, by {record.started_by} (reason: {why}):",
        *(f"  {step.action}: {step.worker} {step.kind} {step.id}" for step in steps),
        f"  not paused: {', '.join(left_out) if left_out else 'none'}"
        + (" (resolvers are never paused)" if _resolvers(target) & set(left_out) else ""),
    ]
    result = StartResult(
        stack=stack,
        dry_run=dry_run,
        reason=why,
        started_by=record.started_by,
        started_at=record.started_at,
        workers=record.workers,
        steps=steps,
        drain=None,
    )
    if dry_run:
        errors_console().print("\n".join(plan), markup=False, highlight=False)
        _show_start(result, json_output=json_output)
        errors_console().print("dry run: nothing changed", markup=False, highlight=False)
        return
    confirm(plan, yes=yes, question=f"Pause these triggers on {stack}?")
    pausing = [step for step in steps if step.action == "pause"]
    with aws_errors(f"pause the triggers of {stack}"):
        try:
            with progress("pausing", total=len(pausing)) as tick:
                start(target, record, steps, on_paused=lambda step: tick(description=f"paused {step.id}"))
        except MaintenanceError as error:
            fail(str(error))
    # The pause is in place from here: a failure to watch the drain must not read as a failed pause.
    watching = f"watch the drain (the triggers are paused: see `dmd maintenance status --stack {stack}`)"
    shown = [0]

    def report(round_: Drain) -> None:
        waiting = len(round_.disabling) + len(round_.busy)
        waited(int(round_.seconds) - shown[0], description=f"draining: {waiting} still busy (s)")
        shown[0] = int(round_.seconds)

    with (
        aws_errors(watching),
        progress("draining in-flight invocations (s)", total=drain_timeout or None) as waited,
    ):
        drained = drain(target, steps, chosen, timeout=drain_timeout, on_round=report)
    result = result.model_copy(update={"drain": drained})
    _show_start(result, json_output=json_output)
    if not drained.drained:
        still = [*(f"{item} (mapping still disabling)" for item in drained.disabling), *drained.busy]
        errors_console().print(
            f"dmd: warning: still busy after {drained.seconds:.0f} s: {', '.join(still)}; "
            f"the pause holds, they had not finished yet (check `dmd maintenance status --stack {stack}`)",
            markup=False,
            highlight=False,
        )


@app.command("end")
def end_command(
    stack: StackOption,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
) -> None:
    """End the maintenance window: restore every recorded trigger's prior state, then delete the record.

    A trigger that was disabled before the window stays disabled; one enabled since (by hand) is
    disabled again, to the recorded state. A mapping that no longer exists (replaced by a deploy)
    is reported `gone`. If a restore fails, the record stays and `end` can run again. Without an
    active window: exit 1, nothing changed. After a long pause, watch `dmd status --stack S`: the
    workers catch up on what waited (iterator age and queue depth fall back).

    JSON keys: stack, dryRun, reason, startedBy, startedAt, workers, steps [{worker, kind, id,
    state, enabledBefore, action}] (action: enable, disable, unchanged, gone).

    Example: dmd maintenance end --stack prod1 --yes
    """
    target = target_for(stack)
    with aws_errors(f"read the maintenance window of {stack}"):
        try:
            record, steps = plan_end(target)
        except MaintenanceError as error:
            fail(str(error))
    result = EndResult(
        stack=stack,
        dry_run=dry_run,
        reason=record.reason,
        started_by=record.started_by,
        started_at=record.started_at,
        workers=record.workers,
        steps=steps,
    )
    plan = [
        f"End the maintenance window on {stack} {describe_window(record)}:",
        *(f"  {step.action}: {step.worker} {step.kind} {step.id} (now {step.state})" for step in steps),
        "  then delete the maintenance record",
    ]
    if dry_run:
        errors_console().print("\n".join(plan), markup=False, highlight=False)
        _show_end(result, json_output=json_output)
        errors_console().print("dry run: nothing changed", markup=False, highlight=False)
        return
    confirm(plan, yes=yes, question=f"Restore these triggers on {stack}?")
    changing = [step for step in steps if step.action in ("enable", "disable")]
    with aws_errors(f"restore the triggers of {stack}"):
        try:
            with progress("restoring", total=len(changing)) as advance:
                end(target, steps, on_restored=lambda step: advance(description=f"{step.action}d {step.id}"))
        except MaintenanceError as error:
            fail(str(error))
    _show_end(result, json_output=json_output)
    gone = [step for step in steps if step.action == "gone"]
    if gone:
        errors_console().print(
            "dmd: warning: no longer there (a deploy replaced them?): "
            + ", ".join(f"{step.worker} {step.kind} {step.id}" for step in gone),
            markup=False,
            highlight=False,
        )


@app.command("status")
def status_command(
    stack: StackOption,
    json_output: JsonOption = False,
    fail_if_active: Annotated[
        bool,
        typer.Option(
            "--fail-if-active",
            help="Exit 1 when a maintenance window is active (CI runs this before `pulumi up`).",
        ),
    ] = False,
) -> None:
    """The active maintenance window (who, why, since, which workers) and every trigger's live state.

    Lists each pausable worker's event-source mappings and schedule rule with their state now and,
    during a window, the state recorded before it. `--fail-if-active` exits 1 while a window is
    active: `pulumi up` would enable the paused triggers again (the program declares them enabled),
    so the deploy jobs refuse.

    JSON keys: stack, active, maintenance {reason, startedBy, startedAt, workers} (null when none),
    triggers [{worker, kind, id, state, enabled, enabledBefore}] (enabledBefore null outside a window).

    Example: dmd maintenance status --stack prod1 --fail-if-active
    """
    target = target_for(stack)
    with aws_errors(f"read the maintenance window of {stack}"):
        result = status(target)
    _show_status(result, json_output=json_output)
    if fail_if_active and result.maintenance is not None:
        window = result.maintenance
        record = MaintenanceRecord(
            stack=stack,
            reason=window.reason,
            started_by=window.started_by,
            started_at=window.started_at,
            workers=window.workers,
        )
        fail(
            f"maintenance active on {stack} {describe_window(record)}: refusing "
            f"(end it with `dmd maintenance end --stack {stack}` first)",
            code=EXIT_FAILED,
        )


# -------------------------------------------------------------------------------------------------
# Output


def _resolvers(target: Target) -> set[str]:
    pausable = {worker.name for worker in pausable_workers(target.fleet)}
    return set(target.fleet.workers) - pausable


def _state(enabled: bool | None) -> str | None:
    return None if enabled is None else ("enabled" if enabled else "disabled")


def _show_start(result: StartResult, *, json_output: bool) -> None:
    if json_output:
        print_json(result.model_dump())
        return
    show(
        table(
            f"{result.stack}: maintenance {'start (dry run)' if result.dry_run else 'started'} "
            f"by {escape(result.started_by)} (reason: {escape(result.reason)})",
            ("worker", "trigger", "id", "before", "action"),
            [_start_row(step) for step in result.steps],
        )
    )
    if result.drain is not None:
        verdict = "drained" if result.drain.drained else "not drained"
        show(Text(f"{verdict} after {result.drain.seconds:.0f} s"))


def _start_row(step: PauseStep) -> tuple[str, str, str, str | None, str]:
    return (step.worker, step.kind, step.id, _state(step.enabled_before), step.action)


def _show_end(result: EndResult, *, json_output: bool) -> None:
    if json_output:
        print_json(result.model_dump())
        return
    show(
        table(
            f"{result.stack}: maintenance {'end (dry run)' if result.dry_run else 'ended'} "
            f"(started by {escape(result.started_by)}, reason: {escape(result.reason)})",
            ("worker", "trigger", "id", "state", "restored to", "action"),
            [_end_row(step) for step in result.steps],
        )
    )


def _end_row(step: RestoreStep) -> tuple[str, str, str, str, str | None, str]:
    return (step.worker, step.kind, step.id, step.state, _state(step.enabled_before), step.action)


def _show_status(result: StatusResult, *, json_output: bool) -> None:
    if json_output:
        print_json(result.model_dump())
        return
    window = result.maintenance
    if window is None:
        show(Text(f"{result.stack}: no maintenance window is active"))
    else:
        since = window.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        show(
            Text.assemble(
                (f"{result.stack}: maintenance ACTIVE", "bold yellow"),
                f" since {since} by {window.started_by}\n  reason: {window.reason}\n"
                f"  workers: {', '.join(window.workers)}",
            )
        )
    show(
        table(
            f"{result.stack}: triggers",
            ("worker", "trigger", "id", "state", "before maintenance"),
            [
                (row.worker, row.kind, row.id, row.state, _state(row.enabled_before))
                for row in result.triggers
            ],
        )
    )
