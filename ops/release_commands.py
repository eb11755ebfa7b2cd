"""`dmd release`: move each worker's `live` alias to its newest version step by step, or roll it back."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated, Final

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from ops.operations_records import ReleaseRecord
from ops.operator_io import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    DryRunOption,
    JsonModel,
    JsonOption,
    StackOption,
    YesOption,
    aws_errors,
    confirm,
    errors_console,
    fail,
    format_age,
    print_json,
    progress,
    show,
    table,
    target_for,
)
from ops.release import (
    ROLLBACK,
    Release,
    ReleaseError,
    ReleaseInputError,
    ReleasePlan,
    Strategy,
    WorkerRun,
    parse_strategy,
    plan_release,
    plan_rollback,
)
from ops.target import Target

SUMMARY_COLUMNS: Final = ("worker", "from", "to", "steps", "weight", "outcome", "reason")

# Monkeypatched by the tests (no test waits for real): the wall clock and time.sleep otherwise.
_clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731 - a replaceable seam
_sleep: Callable[[float], None] = time.sleep


class ReleasedWorkerResult(JsonModel):
    """One worker of a release, as `--json` shows it."""

    worker: str
    function_name: str
    from_version: str
    to_version: str
    steps_done: int
    steps_total: int
    weight_percent: int
    outcome: str  # pending (dry run) | completed | rolled-back | interrupted | rollback-failed
    reason: str | None


class SkippedWorker(JsonModel):
    """A worker left out, and why."""

    worker: str
    reason: str


class ReleaseResult(JsonModel):
    """What `dmd release` did (or, with --dry-run, would do)."""

    stack: str
    kind: str  # release | rollback
    strategy: str
    dry_run: bool
    steps: tuple[int, ...]  # the new version's share of `live` at each step, in percent
    step_seconds: tuple[float, ...]  # how long each step is watched
    started_by: str | None
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str  # planned | nothing-to-release | completed | rolled-back | interrupted
    workers: tuple[ReleasedWorkerResult, ...]
    skipped: tuple[SkippedWorker, ...]


def release(
    *,
    stack: StackOption,
    workers: Annotated[
        str | None,
        typer.Option(help="Comma-separated workers (default: every worker with a newer published version)."),
    ] = None,
    strategy: Annotated[
        str,
        typer.Option(help="canary10-5m | linear10-1m | all-at-once (100 %, then watched for a minute)."),
    ] = Strategy.CANARY.value,
    rollback: Annotated[
        bool,
        typer.Option(
            "--rollback",
            help="Move `live` back to the version before the last completed release of each worker.",
        ),
    ] = False,
    step_seconds: Annotated[
        int | None,
        typer.Option(
            min=1, help="Watch every step this many seconds instead (sandbox, drills).", show_default=False
        ),
    ] = None,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
) -> None:
    """Release the newest published version of each worker through its `live` alias, watched, step by step.

    `pulumi up` publishes a version and leaves `live` alone; this moves it. Per worker: from =
    `live`'s version, to = the newest published one. canary10-5m sends 10 % to the new version for
    5 minutes, then 100 %; linear10-1m adds 10 % every minute up to 90 %, then 100 %; all-at-once
    moves 100 % and watches one minute. While a step is watched (polled every 10 s, or step/6):
    the worker's alarms going into ALARM, the new version's Errors over Invocations through `live`,
    the share of invocations with failed records and the send failures. The first bad signal rolls
    that worker back to `from` (the others go on). Ctrl-C rolls back every worker not completed.
    Refused while another release runs or a maintenance window is active. Each release is recorded
    (who, when, versions, steps, outcome; `dmd status` shows it). Exit 1 if any worker was rolled
    back or interrupted. `--rollback`: `live` back to the `from` version of each worker's last
    completed release (default: the workers of the latest release), at once, recorded.

    JSON keys: stack, kind, strategy, dryRun, steps, stepSeconds, startedBy, startedAt, finishedAt,
    outcome, workers [{worker, functionName, fromVersion, toVersion, stepsDone, stepsTotal,
    weightPercent, outcome, reason}], skipped [{worker, reason}].

    Example: dmd release --stack prod1 --strategy canary10-5m --workers notification_send
    """
    try:
        chosen_strategy = parse_strategy(strategy)
    except ReleaseInputError as error:
        fail(str(error), code=EXIT_BAD_INPUT)
    names = [name.strip() for name in workers.split(",") if name.strip()] if workers else None
    target = target_for(stack)
    with aws_errors(f"plan the {'rollback' if rollback else 'release'} of {stack}"):
        try:
            plan = _plan(target, chosen_strategy, names, rollback=rollback, step_seconds=step_seconds)
        except ReleaseInputError as error:
            fail(str(error), code=EXIT_BAD_INPUT)
    if plan.empty:
        _report(_result(plan, None, dry_run=dry_run, outcome="nothing-to-release"), json_output=json_output)
        what = "roll back" if rollback else "release"
        errors_console().print(f"{stack}: nothing to {what}", markup=False, highlight=False)
        return
    lines = _plan_lines(plan)
    if dry_run:
        errors_console().print("\n".join(lines), markup=False, highlight=False)
        _report(_result(plan, None, dry_run=True, outcome="planned"), json_output=json_output)
        errors_console().print("dry run: nothing changed", markup=False, highlight=False)
        return
    confirm(lines, yes=yes, question=f"Move `live` of these workers on {stack}?")
    with aws_errors(f"{'roll back' if rollback else 'release'} on {stack}"):
        record = _run(target, plan)
    result = _result(plan, record, dry_run=False, outcome=record.outcome)
    _report(result, json_output=json_output)
    if record.outcome != "completed":
        failed = [worker for worker in record.workers if worker.outcome != "completed"]
        fail(
            f"{record.kind} {record.outcome} on {stack}: "
            + "; ".join(f"{worker.worker}: {worker.outcome} ({worker.reason})" for worker in failed),
            code=EXIT_FAILED,
        )


def _plan(
    target: Target, strategy: Strategy, names: list[str] | None, *, rollback: bool, step_seconds: int | None
) -> ReleasePlan:
    if rollback:
        with progress("reading the release history", total=None):
            return plan_rollback(target, names=names)
    with progress(f"reading {target.stack}'s graph", total=None):
        workers = target.fleet.workers
    with progress("versions", total=len(names) if names else len(workers)) as advance:
        return plan_release(
            target,
            strategy,
            names=names,
            step_seconds=step_seconds,
            on_worker=lambda worker: advance(description=worker.name),
        )


def _plan_lines(plan: ReleasePlan) -> list[str]:
    if plan.kind == ROLLBACK:
        header = f"Roll back `live` on {plan.stack}, at once:"
        moves = [
            f"  {candidate.worker.name}: live {candidate.from_version} -> {candidate.to_version}"
            + (f" (now also sending {_weights(candidate.routing)})" if candidate.routing else "")
            for candidate in plan.candidates
        ]
    else:
        steps = ", ".join(
            f"{step.weight_percent}%" + (f" for {format_age(step.seconds)}" if step.seconds else "")
            for step in plan.steps
        )
        header = f"Release on {plan.stack} ({plan.strategy}: {steps}); first bad signal rolls a worker back:"
        moves = [
            f"  {candidate.worker.name}: live {candidate.from_version} -> {candidate.to_version}"
            + (f" (replacing weights {_weights(candidate.routing)})" if candidate.routing else "")
            for candidate in plan.candidates
        ]
    left_out = [f"  not moved: {skipped.worker}: {skipped.reason}" for skipped in plan.skipped]
    return [header, *moves, *left_out]


def _weights(routing: dict[str, float]) -> str:
    return ", ".join(f"{share:.0%} to {version}" for version, share in sorted(routing.items()))


class _ProgressLines:
    """The release's progress on stderr: one bar per worker with its step, weight, time left and signals."""

    def __init__(self, bar: Progress, plan: ReleasePlan) -> None:
        self._bar = bar
        self._plan = plan
        self._tasks: dict[str, TaskID] = {
            candidate.worker.name: bar.add_task(
                candidate.worker.name,
                total=len(plan.steps),
                step="waiting",
                weight="0%",
                left="",
                signals="",
            )
            for candidate in plan.candidates
        }

    def progressed(self, run: WorkerRun, *, step: int, seconds_left: float) -> None:
        """Update the worker's bar."""
        self._bar.update(
            self._tasks[run.name],
            completed=run.steps_done,
            step=f"step {step + 1}/{len(self._plan.steps)}",
            weight=f"{run.weight_percent}% → {run.candidate.to_version}",
            left=f"{format_age(seconds_left)} left"
            if seconds_left
            else ("done" if run.outcome == "completed" else ""),
            signals=run.signals,
        )

    def rolled_back(self, run: WorkerRun) -> None:
        """Say it above the bars, and mark the worker's bar."""
        self._bar.console.print(
            f"{run.name}: {run.outcome} to {run.candidate.from_version}: {run.reason}",
            markup=False,
            highlight=False,
        )
        self._bar.update(self._tasks[run.name], weight=run.outcome, left="", signals=run.signals)


@contextmanager
def _bars(plan: ReleasePlan) -> Iterator[_ProgressLines]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[step]}"),
        TextColumn("{task.fields[weight]}"),
        TextColumn("{task.fields[left]}"),
        TextColumn("[dim]{task.fields[signals]}[/dim]"),
        console=errors_console(),
        transient=True,
    ) as bar:
        yield _ProgressLines(bar, plan)


def _run(target: Target, plan: ReleasePlan) -> ReleaseRecord:
    with _bars(plan) as lines:
        running = Release(target, plan, clock=_clock, sleep=_sleep, observer=lines)
        try:
            record = running.start()
        except ReleaseError as error:
            fail(str(error))
        with _terminate_as_interrupt():
            return running.run(record)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job, a stopped container) rolls back like Ctrl-C instead of dying mid-step."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _result(plan: ReleasePlan, record: ReleaseRecord | None, *, dry_run: bool, outcome: str) -> ReleaseResult:
    if record is not None:
        workers = tuple(ReleasedWorkerResult.model_validate(worker.model_dump()) for worker in record.workers)
    else:
        workers = tuple(
            ReleasedWorkerResult(
                worker=candidate.worker.name,
                function_name=candidate.worker.function_name,
                from_version=candidate.from_version,
                to_version=candidate.to_version,
                steps_done=0,
                steps_total=len(plan.steps),
                weight_percent=0,
                outcome="pending",
                reason=None,
            )
            for candidate in plan.candidates
        )
    return ReleaseResult(
        stack=plan.stack,
        kind=plan.kind,
        strategy=plan.strategy,
        dry_run=dry_run,
        steps=tuple(step.weight_percent for step in plan.steps),
        step_seconds=tuple(step.seconds for step in plan.steps),
        started_by=record.started_by if record else None,
        started_at=record.started_at if record else None,
        finished_at=record.finished_at if record else None,
        outcome=outcome,
        workers=workers,
        skipped=tuple(SkippedWorker(worker=item.worker, reason=item.reason) for item in plan.skipped),
    )


def _report(result: ReleaseResult, *, json_output: bool) -> None:
    if json_output:
        print_json(result.model_dump())
        return
    title = f"{result.stack}: {result.kind} ({result.strategy}) {result.outcome}"
    rows = [
        (
            worker.worker,
            worker.from_version,
            worker.to_version,
            f"{worker.steps_done}/{worker.steps_total}",
            f"{worker.weight_percent}%",
            worker.outcome,
            worker.reason,
        )
        for worker in result.workers
    ]
    rows += [(item.worker, "-", "-", "-", "-", "not moved", item.reason) for item in result.skipped]
    show(table(title, SUMMARY_COLUMNS, rows))
