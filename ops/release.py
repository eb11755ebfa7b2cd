"""Gradual release of each worker's `live` alias (`dmd release`), watched step by step, with rollback.

`pulumi up` publishes a version on every code or configuration change and leaves `live` alone
(the program ignores changes to its version and routing). A release moves `live` of each chosen
worker from its version (`from`) to the newest published one (`to`) in weighted steps:
`update_alias(FunctionVersion=from, RoutingConfig={"AdditionalVersionWeights": {to: w}})`, then
the last step `FunctionVersion=to` without weights. After each step it watches the worker's
signals (ops/release_signals.py) for the step's duration; the first bad signal rolls that worker
back (`FunctionVersion=from`, no weights) and the others go on. Ctrl-C rolls back every worker not
completed. All workers of a release move in step, on one timeline.

Records (ops/operations_records.py): the active-release record is the lock (created
conditionally, removed at the end), and each finished release (or `--rollback`) is added to the
stack's release history, which `dmd status` shows and `--rollback` reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ops.deployed_workers import newest_version
from ops.maintenance_triggers import caller_identity
from ops.operations_records import (
    RELEASE,
    RecordExistsError,
    ReleasedWorker,
    ReleaseOutcome,
    ReleaseRecord,
    WorkerOutcome,
    active_maintenance,
    active_release,
    append_release,
    create_record,
    delete_record,
    release_history,
)
from ops.release_signals import Signals, Watched, alarms_of, read_signals
from ops.target import LIVE_ALIAS, FleetWorker, Target, TargetError

POLL_SECONDS: Final = 10.0
ROLLBACK: Final = "rollback"


class Strategy(StrEnum):
    """How `live` moves: the steps' weights and how long each is watched."""

    CANARY = "canary10-5m"  # 10 % for 5 minutes, then 100 %
    LINEAR = "linear10-1m"  # +10 % every minute up to 90 %, then 100 %
    ALL_AT_ONCE = "all-at-once"  # 100 %, then watched for a minute (bake) before it counts as done


@dataclass(frozen=True)
class Step:
    """One shift of `live`: the new version's share (100: `live` moved to it) and how long it is watched."""

    weight_percent: int
    seconds: float


class ReleaseError(Exception):
    """The release cannot start as asked; the message is the one line to show."""


class ReleaseInputError(ReleaseError):
    """Bad input (an unknown strategy or worker): exit 2."""


def parse_strategy(text: str) -> Strategy:
    """The strategy named by `--strategy`; ReleaseInputError lists the valid ones."""
    try:
        return Strategy(text.strip())
    except ValueError:
        choices = ", ".join(strategy.value for strategy in Strategy)
        raise ReleaseInputError(f"unknown strategy {text!r} (strategies: {choices})") from None


def strategy_steps(strategy: Strategy, *, step_seconds: float | None = None) -> tuple[Step, ...]:
    """The strategy's steps; `step_seconds` replaces every watched step's duration (sandbox, drills)."""
    steps: tuple[Step, ...]
    match strategy:
        case Strategy.CANARY:
            steps = (Step(10, 300), Step(100, 0))
        case Strategy.LINEAR:
            steps = (*(Step(weight, 60) for weight in range(10, 100, 10)), Step(100, 0))
        case Strategy.ALL_AT_ONCE:
            steps = (Step(100, 60),)
    if step_seconds is None:
        return steps
    return tuple(Step(step.weight_percent, step_seconds if step.seconds else 0) for step in steps)


def chosen_workers(target: Target, names: Sequence[str] | None) -> list[FleetWorker]:
    """The fleet's workers named (all when None), in catalog order; ReleaseInputError lists the valid ones."""
    fleet = target.fleet
    if names is None:
        return list(fleet.workers.values())
    unknown = [name for name in names if name not in fleet.workers]
    if unknown:
        raise ReleaseInputError(
            f"no worker {', '.join(repr(name) for name in unknown)} (workers: {', '.join(fleet.workers)})"
        )
    return [worker for name, worker in fleet.workers.items() if name in names]


@dataclass(frozen=True)
class Skipped:
    """A worker left out of a release, and why."""

    worker: str
    reason: str


@dataclass(frozen=True)
class Candidate:
    """A worker to move: `live` from one published version to another."""

    worker: FleetWorker
    from_version: str
    to_version: str
    routing: dict[str, float] = field(default_factory=dict)  # weights `live` has now (left over)


@dataclass(frozen=True)
class ReleasePlan:
    """What a release (or a `--rollback`) will do."""

    stack: str
    kind: str  # release | rollback
    strategy: str
    steps: tuple[Step, ...]
    candidates: tuple[Candidate, ...]
    skipped: tuple[Skipped, ...]

    @property
    def empty(self) -> bool:
        """Nothing to move."""
        return not self.candidates


def _live(target: Target, worker: FleetWorker) -> tuple[str, dict[str, float]] | None:
    """`live`'s version and weights; None when the function or its alias is missing."""
    functions = target.clients.client("lambda")
    try:
        alias = functions.get_alias(FunctionName=worker.function_name, Name=LIVE_ALIAS)
    except functions.exceptions.ResourceNotFoundException:
        return None
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return str(alias["FunctionVersion"]), {str(version): float(share) for version, share in weights.items()}


def rolled_back_versions(history: Sequence[ReleaseRecord]) -> dict[tuple[str, str], ReleaseRecord]:
    """(worker, version) → the release that took that version away from `live` (the latest one)."""
    found: dict[tuple[str, str], ReleaseRecord] = {}
    for record in history:
        for worker in record.workers:
            if record.kind == ROLLBACK and worker.outcome == "completed":
                found[(worker.worker, worker.from_version)] = record
            elif worker.outcome in ("rolled-back", "interrupted"):
                found[(worker.worker, worker.to_version)] = record
    return found


def plan_release(
    target: Target,
    strategy: Strategy,
    *,
    names: Sequence[str] | None = None,
    step_seconds: float | None = None,
    on_worker: Callable[[FleetWorker], None] | None = None,
) -> ReleasePlan:
    """Each chosen worker whose newest published version is not `live`'s, with from and to versions.

    By default (no names) a version an earlier release rolled back is not offered again (a re-run
    of the deploy job must not release it a second time): name the worker to release it anyway.
    """
    workers = chosen_workers(target, names)
    rolled_back = rolled_back_versions(release_history(target))
    candidates: list[Candidate] = []
    skipped: list[Skipped] = []
    for worker in workers:
        if on_worker is not None:
            on_worker(worker)
        live = _live(target, worker)
        newest = newest_version(target.clients, worker.function_name)
        if live is None or newest is None:
            skipped.append(Skipped(worker.name, "no function or no `live` alias (see `dmd aws check`)"))
            continue
        version, routing = live
        if newest == version:
            reason = f"nothing to release (live on {version}, the newest)"
            if routing:
                reason = f"live on {version} (the newest) still sends {_shares(routing)}: move it by hand"
            skipped.append(Skipped(worker.name, reason))
            continue
        earlier = rolled_back.get((worker.name, newest))
        if earlier is not None and names is None:
            skipped.append(
                Skipped(
                    worker.name,
                    f"version {newest} was rolled back by the {earlier.kind} of "
                    f"{earlier.started_at:%Y-%m-%d %H:%M} UTC; name it with --workers to release it again",
                )
            )
            continue
        candidates.append(Candidate(worker, version, newest, routing))
    return ReleasePlan(
        stack=target.stack,
        kind="release",
        strategy=strategy.value,
        steps=strategy_steps(strategy, step_seconds=step_seconds),
        candidates=tuple(candidates),
        skipped=tuple(skipped),
    )


def plan_rollback(target: Target, *, names: Sequence[str] | None = None) -> ReleasePlan:
    """`live` of each worker back to the `from` version of its last completed release.

    Default workers: those completed by the latest release in the history; named workers: each
    one's latest completed release, whenever it was.
    """
    workers = chosen_workers(target, names)
    history = [record for record in release_history(target) if record.kind == "release"]
    latest = history[-1] if history else None
    candidates: list[Candidate] = []
    skipped: list[Skipped] = []
    for worker in workers:
        records = [latest] if names is None and latest is not None else list(reversed(history))
        released = next(
            (
                entry
                for record in records
                if record is not None
                for entry in record.workers
                if entry.worker == worker.name and entry.outcome == "completed"
            ),
            None,
        )
        if released is None:
            if names is not None:
                skipped.append(Skipped(worker.name, "no completed release in the history"))
            continue
        live = _live(target, worker)
        if live is None:
            skipped.append(Skipped(worker.name, "no function or no `live` alias (see `dmd aws check`)"))
            continue
        version, routing = live
        if version == released.from_version and not routing:
            skipped.append(Skipped(worker.name, f"live already on {version}"))
            continue
        candidates.append(Candidate(worker, version, released.from_version, routing))
    return ReleasePlan(
        stack=target.stack,
        kind=ROLLBACK,
        strategy=ROLLBACK,
        steps=(Step(100, 0),),
        candidates=tuple(candidates),
        skipped=tuple(skipped),
    )


def _shares(routing: dict[str, float]) -> str:
    return ", ".join(f"{share:.0%} to {version}" for version, share in sorted(routing.items()))


def refusal(target: Target, *, kind: str) -> str | None:
    """Why a release (or rollback) may not start now: another one running, or (releases) maintenance."""
    running = active_release(target)
    if running is not None:
        return (
            f"a {running.kind} is already running on {target.stack}: started "
            f"{running.started_at:%Y-%m-%d %H:%M:%S} UTC by {running.started_by} ({running.strategy}, "
            f"{', '.join(worker.worker for worker in running.workers)}); wait for it or Ctrl-C it (it rolls "
            "back). A release whose process died leaves this record: see the runbook, release"
        )
    if kind == ROLLBACK:
        return None  # moving `live` back never waits for a maintenance window
    window = active_maintenance(target)
    if window is not None:
        return (
            f"a maintenance window is active on {target.stack} (since {window.started_at:%Y-%m-%d %H:%M} "
            f"UTC by {window.started_by}: {window.reason}): paused triggers show no signals to watch; "
            "release after `dmd maintenance end`"
        )
    return None


@dataclass
class WorkerRun:
    """One worker's progress through a release."""

    candidate: Candidate
    steps_total: int
    steps_done: int = 0
    weight_percent: int = 0
    outcome: WorkerOutcome = "pending"
    reason: str | None = None
    signals: str = ""
    alarms_at_start: dict[str, datetime | None] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The worker's name."""
        return self.candidate.worker.name

    @property
    def pending(self) -> bool:
        """Still moving (not completed, rolled back or interrupted)."""
        return self.outcome == "pending"

    def released(self) -> ReleasedWorker:
        """The worker as the release record keeps it."""
        return ReleasedWorker(
            worker=self.name,
            function_name=self.candidate.worker.function_name,
            from_version=self.candidate.from_version,
            to_version=self.candidate.to_version,
            steps_done=self.steps_done,
            steps_total=self.steps_total,
            weight_percent=self.weight_percent,
            outcome=self.outcome,
            reason=self.reason,
        )


class ReleaseObserver(Protocol):
    """What the command shows while a release runs."""

    def progressed(self, run: WorkerRun, *, step: int, seconds_left: float) -> None:
        """The worker's step, weight, time left in the step, and last signals changed."""

    def rolled_back(self, run: WorkerRun) -> None:
        """The worker was rolled back (or its rollback failed), with the reason."""


class QuietObserver:
    """Shows nothing."""

    def progressed(self, run: WorkerRun, *, step: int, seconds_left: float) -> None:
        """Nothing."""

    def rolled_back(self, run: WorkerRun) -> None:
        """Nothing."""


@dataclass
class Release:
    """Runs a plan on a target: shifts, watches, rolls back, and records the outcome."""

    target: Target
    plan: ReleasePlan
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    observer: ReleaseObserver = field(default_factory=QuietObserver)
    runs: list[WorkerRun] = field(default_factory=list)

    def start(self) -> ReleaseRecord:
        """Take the stack's release lock; ReleaseError names who holds it (or the maintenance window)."""
        reason = refusal(self.target, kind=self.plan.kind)
        if reason is not None:
            raise ReleaseError(reason)
        total = len(self.plan.steps)
        self.runs = [WorkerRun(candidate, steps_total=total) for candidate in self.plan.candidates]
        record = ReleaseRecord(
            stack=self.target.stack,
            kind="rollback" if self.plan.kind == ROLLBACK else "release",
            strategy=self.plan.strategy,
            started_by=caller_identity(self.target),
            started_at=self.clock(),
            workers=tuple(run.released() for run in self.runs),
        )
        try:
            create_record(self.target, RELEASE, record)
        except RecordExistsError:
            reason = refusal(self.target, kind=self.plan.kind)
            raise ReleaseError(reason or f"another release started on {self.target.stack}") from None
        return record

    def run(self, record: ReleaseRecord) -> ReleaseRecord:
        """Every step for every worker, then the history entry; the lock is removed whatever happens."""
        interrupted = False
        try:
            try:
                for run in self.runs:
                    run.alarms_at_start = alarms_of(self.target, run.name)
                self._steps(record.started_at)
            except KeyboardInterrupt:
                interrupted = True
                for run in self.runs:
                    if run.pending:
                        self._roll_back(run, f"interrupted (Ctrl-C) at {run.weight_percent}%", "interrupted")
            finished = record.model_copy(
                update={
                    "finished_at": self.clock(),
                    "outcome": self._outcome(interrupted=interrupted),
                    "workers": tuple(run.released() for run in self.runs),
                }
            )
            append_release(self.target, finished)
            return finished
        finally:
            delete_record(self.target, RELEASE)

    def _outcome(self, *, interrupted: bool) -> ReleaseOutcome:
        if interrupted:
            return "interrupted"
        if all(run.outcome == "completed" for run in self.runs):
            return "completed"
        return "rolled-back"

    def _steps(self, started_at: datetime) -> None:
        for index, step in enumerate(self.plan.steps):
            moving = [run for run in self.runs if run.pending]
            if not moving:
                return
            for run in moving:
                self._shift(run, step)
            moving = [run for run in moving if run.pending]
            if step.seconds > 0:
                self._watch(moving, step, index, started_at)
            for run in moving:
                if run.pending:
                    run.steps_done = index + 1
                    if index == len(self.plan.steps) - 1:
                        run.outcome = "completed"
                    self.observer.progressed(run, step=index, seconds_left=0)

    def _shift(self, run: WorkerRun, step: Step) -> None:
        candidate = run.candidate
        if step.weight_percent >= 100:
            version, weights = candidate.to_version, {}
        else:
            version, weights = candidate.from_version, {candidate.to_version: step.weight_percent / 100}
        try:
            self._point(candidate.worker, version, weights)
        except (ClientError, BotoCoreError) as error:
            if self.plan.kind == ROLLBACK:
                run.outcome, run.reason = "rollback-failed", f"cannot move live: {_error_text(error)}"
                self.observer.rolled_back(run)
            else:
                self._roll_back(run, f"cannot shift to {step.weight_percent}%: {_error_text(error)}")
            return
        run.weight_percent = step.weight_percent

    def _point(self, worker: FleetWorker, version: str, weights: dict[str, float]) -> None:
        self.target.clients.client("lambda").update_alias(
            FunctionName=worker.function_name,
            Name=LIVE_ALIAS,
            FunctionVersion=version,
            RoutingConfig={"AdditionalVersionWeights": weights},
        )

    def _watch(self, runs: list[WorkerRun], step: Step, index: int, started_at: datetime) -> None:
        deadline = self.clock().timestamp() + step.seconds
        poll = min(POLL_SECONDS, step.seconds / 6)
        for run in runs:
            self.observer.progressed(run, step=index, seconds_left=step.seconds)
        while any(run.pending for run in runs):
            left = deadline - self.clock().timestamp()
            if left <= 0:
                return
            self.sleep(min(poll, left))
            watched = [run for run in runs if run.pending]
            try:
                signals = read_signals(
                    self.target, [self._watched(run) for run in watched], since=started_at, now=self.clock()
                )
            except (ClientError, BotoCoreError, TargetError) as error:
                signals = {
                    run.name: Signals("unknown", (f"cannot read the signals: {_error_text(error)}",))
                    for run in watched
                }
            left = max(deadline - self.clock().timestamp(), 0)
            for run in watched:
                seen = signals[run.name]
                run.signals = seen.summary
                if seen.bad:
                    self._roll_back(run, "; ".join(seen.bad))
                else:
                    self.observer.progressed(run, step=index, seconds_left=left)

    def _watched(self, run: WorkerRun) -> Watched:
        return Watched(
            worker=run.candidate.worker,
            from_version=run.candidate.from_version,
            to_version=run.candidate.to_version,
            alarms_at_start=run.alarms_at_start,
        )

    def _roll_back(self, run: WorkerRun, reason: str, outcome: WorkerOutcome = "rolled-back") -> None:
        run.reason = reason
        try:
            self._point(run.candidate.worker, run.candidate.from_version, {})
        except (ClientError, BotoCoreError) as error:
            run.outcome = "rollback-failed"
            run.reason = (
                f"{reason}; rollback to {run.candidate.from_version} failed: {_error_text(error)} "
                "(move live by hand: runbook release)"
            )
        else:
            run.outcome = outcome
            run.weight_percent = 0
        self.observer.rolled_back(run)


def run_rollback(target: Target, plan: ReleasePlan, *, clock: Callable[[], datetime]) -> ReleaseRecord:
    """Move `live` of each planned worker to its restore version at once (no weights), recorded."""
    release = Release(target, plan, clock=clock, sleep=lambda _: None)
    return release.run(release.start())


def _error_text(error: Exception) -> str:
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f"{detail.get('Code', 'error')}: {detail.get('Message', error)}"
    return str(error)
