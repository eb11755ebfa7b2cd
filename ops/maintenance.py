"""Maintenance windows: pause workers' triggers, wait for in-flight work, and restore exactly what was there.

A window pauses the chosen workers' event-source mappings (Lambda UpdateEventSourceMapping
`Enabled=false`) and schedule rules (EventBridge DisableRule). A disabled mapping stops reading
and, enabled again, resumes from its checkpoint (streams) or the queue's messages (SQS); a disabled
rule fires nothing (its missed times are not made up). Reserved concurrency 0 is not a pause: the
pollers keep trying, every batch is throttled and retried until it ages out into the on-failure
queue or the DLQ. Resolvers are never paused: the fan app's queries reach them directly.

The maintenance record (`ops.operations_records`, SSM) is the lock and the memory: created first
(conditionally: two operators cannot both start), it names who, why, when, and each trigger's state
before the window (a mapping that was already disabled stays disabled at the end).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import computed_field

from ops.maintenance_triggers import (
    MAPPING,
    NOT_FOUND,
    RULE,
    MissingTriggerError,
    Trigger,
    TriggerKind,
    caller_identity,
    live_triggers,
    mapping_state,
    pausable_workers,
    rule_state,
    set_enabled,
)
from ops.metric_data import MetricQuery, read_metrics
from ops.operations_records import (
    MAINTENANCE,
    MaintenanceRecord,
    MappingState,
    RecordExistsError,
    RuleState,
    active_maintenance,
    create_record,
    delete_record,
)
from ops.operator_io import JsonModel
from ops.target import FleetWorker, Target

DRAIN_POLL_SECONDS: Final = 5.0  # AWS: mappings take seconds to disable, metrics arrive by the minute
EMULATED_DRAIN_POLL_SECONDS: Final = 0.5
_CONCURRENCY_WINDOW: Final = timedelta(minutes=1)


class MaintenanceError(Exception):
    """The window cannot be started or ended as asked; the message is the one line to show."""


class PauseStep(JsonModel):
    """One trigger of a window being started: its state before, and what `start` does with it."""

    worker: str
    kind: TriggerKind
    id: str
    enabled_before: bool
    action: Literal["pause", "leave disabled"]


class Drain(JsonModel):
    """How far in-flight work had wound down when `start` stopped waiting."""

    seconds: float
    disabling: tuple[str, ...]  # paused mappings not yet Disabled ("worker mapping-uuid")
    busy: tuple[str, ...]  # workers with concurrent executions in the last minute

    @computed_field  # type: ignore[prop-decorator]
    @property
    def drained(self) -> bool:
        """Every paused mapping Disabled and no chosen worker running."""
        return not self.disabling and not self.busy


class StartResult(JsonModel):
    """What `dmd maintenance start` did (or would do, on a dry run)."""

    stack: str
    dry_run: bool
    reason: str
    started_by: str
    started_at: datetime
    workers: tuple[str, ...]
    steps: tuple[PauseStep, ...]
    drain: Drain | None  # None on a dry run


class RestoreStep(JsonModel):
    """One recorded trigger at the end of a window: its live state, the recorded one, what `end` does."""

    worker: str
    kind: TriggerKind
    id: str
    state: str  # live, before `end`
    enabled_before: bool  # recorded at `start`: what `end` restores
    action: Literal["enable", "disable", "unchanged", "gone"]


class EndResult(JsonModel):
    """What `dmd maintenance end` did (or would do, on a dry run)."""

    stack: str
    dry_run: bool
    reason: str
    started_by: str
    started_at: datetime
    workers: tuple[str, ...]
    steps: tuple[RestoreStep, ...]


class TriggerStatus(JsonModel):
    """A pausable trigger now, and its recorded state before the active window (None: not in one)."""

    worker: str
    kind: TriggerKind
    id: str
    state: str
    enabled: bool
    enabled_before: bool | None


class MaintenanceWindow(JsonModel):
    """The active window's record, as `status` shows it."""

    reason: str
    started_by: str
    started_at: datetime
    workers: tuple[str, ...]


class StatusResult(JsonModel):
    """`dmd maintenance status`: the active window (if any) and every pausable trigger's live state."""

    stack: str
    active: bool
    maintenance: MaintenanceWindow | None
    triggers: tuple[TriggerStatus, ...]


def describe_window(record: MaintenanceRecord) -> str:
    """`since 2026-12-01T08:00:00Z by arn:… (reason: …)`."""
    since = record.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"since {since} by {record.started_by} (reason: {record.reason})"


# -------------------------------------------------------------------------------------------------
# start


def plan_start(
    target: Target, workers: Sequence[FleetWorker], reason: str, *, now: datetime | None = None
) -> tuple[MaintenanceRecord, tuple[PauseStep, ...]]:
    """The record to create and what to pause, from the triggers' live state; nothing changes.

    MaintenanceError when a window is already active or a trigger is missing.
    """
    active = active_maintenance(target)
    if active is not None:
        raise MaintenanceError(_already_active(target, active))
    try:
        triggers = live_triggers(target, workers)
    except MissingTriggerError as error:
        raise MaintenanceError(f"{error}: nothing changed") from None
    record = MaintenanceRecord(
        stack=target.stack,
        reason=reason,
        started_by=caller_identity(target),
        started_at=now or datetime.now(UTC),
        workers=tuple(worker.name for worker in workers),
        mappings=tuple(
            MappingState(worker=trigger.worker, uuid=trigger.id, enabled=trigger.enabled)
            for trigger in triggers
            if trigger.kind == MAPPING
        ),
        rules=tuple(
            RuleState(worker=trigger.worker, name=trigger.id, enabled=trigger.enabled)
            for trigger in triggers
            if trigger.kind == RULE
        ),
    )
    steps = tuple(
        PauseStep(
            worker=trigger.worker,
            kind=trigger.kind,
            id=trigger.id,
            enabled_before=trigger.enabled,
            action="pause" if trigger.enabled else "leave disabled",
        )
        for trigger in triggers
    )
    return record, steps


def start(
    target: Target,
    record: MaintenanceRecord,
    steps: Sequence[PauseStep],
    *,
    on_paused: Callable[[PauseStep], None] | None = None,
) -> None:
    """Create the record (the lock), then pause each step; on a failure, undo and explain.

    A failure half-way enables again what was paused and deletes the record (MaintenanceError says
    so); if that undo fails too, the record stays so that `end` can restore from it.
    """
    try:
        create_record(target, MAINTENANCE, record)
    except RecordExistsError:
        active = active_maintenance(target)
        raise MaintenanceError(
            _already_active(target, active) if active else f"maintenance already active on {target.stack}"
        ) from None
    paused: list[PauseStep] = []
    for step in steps:
        if step.action != "pause":
            continue
        try:
            set_enabled(target, step.kind, step.id, enabled=False)
        except BaseException as error:  # an interrupt too: nothing stays half paused
            unrestored = _undo(target, paused)
            if isinstance(error, ClientError | BotoCoreError):
                raise MaintenanceError(_half_way(target, step, error, paused, unrestored)) from error
            raise
        paused.append(step)
        if on_paused is not None:
            on_paused(step)


def _undo(target: Target, paused: Sequence[PauseStep]) -> list[PauseStep]:
    """Enable again what was paused, delete the record; the steps that could not be undone."""
    unrestored = []
    for step in reversed(paused):
        try:
            set_enabled(target, step.kind, step.id, enabled=True)
        except (ClientError, BotoCoreError):
            unrestored.append(step)
    if not unrestored:
        delete_record(target, MAINTENANCE)
    return unrestored


def _half_way(
    target: Target,
    failed: PauseStep,
    error: ClientError | BotoCoreError,
    paused: Sequence[PauseStep],
    unrestored: Sequence[PauseStep],
) -> str:
    cause = _error_text(error)
    head = f"could not pause {failed.worker}'s {failed.kind} {failed.id}: {cause}"
    if not unrestored:
        return (
            f"{head}; the {len(paused)} already paused were enabled again and the record removed: "
            "nothing is paused"
        )
    left = ", ".join(f"{step.worker}'s {step.kind} {step.id}" for step in unrestored)
    return (
        f"{head}; could not enable again {left}: the maintenance record stays, "
        f"run `dmd maintenance end --stack {target.stack}` to restore"
    )


def _error_text(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f"{detail.get('Code', 'error')}: {detail.get('Message', error)}"
    return str(error)


def _already_active(target: Target, record: MaintenanceRecord) -> str:
    return f"maintenance already active on {target.stack} {describe_window(record)}: nothing changed"


# -------------------------------------------------------------------------------------------------
# drain


def drain(
    target: Target,
    steps: Sequence[PauseStep],
    workers: Sequence[FleetWorker],
    *,
    timeout: float,
    poll_seconds: float | None = None,
    on_round: Callable[[Drain], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Drain:
    """Wait until the paused mappings are Disabled and the workers run nothing, at most `timeout` s.

    Running means a ConcurrentExecutions datapoint above 0 in the last minute (CloudWatch, Maximum,
    per function; no datapoint: nothing ran). Metrics arrive by the minute, so in AWS expect one to
    two minutes even when nothing was running.
    """
    interval = poll_seconds if poll_seconds is not None else _poll_seconds(target)
    began = monotonic()
    mappings = [step for step in steps if step.kind == MAPPING and step.action == "pause"]
    while True:
        disabling = tuple(
            f"{step.worker} {step.id}"
            for step in mappings
            if mapping_state(target, step.id) not in ("Disabled", NOT_FOUND)  # deleted: reads nothing
        )
        busy = running_workers(target, workers)
        elapsed = monotonic() - began
        status = Drain(seconds=round(elapsed, 1), disabling=disabling, busy=busy)
        if on_round is not None:
            on_round(status)
        if status.drained or elapsed >= timeout:
            return status
        sleep(min(interval, max(timeout - elapsed, 0.0)))


def running_workers(
    target: Target, workers: Sequence[FleetWorker], *, now: datetime | None = None
) -> tuple[str, ...]:
    """The workers whose functions had concurrent executions in the last minute (one GetMetricData)."""
    if not workers:
        return ()
    end = now or datetime.now(UTC)
    queries = [
        MetricQuery(
            id=f"w{index}",
            namespace="AWS/Lambda",
            metric="ConcurrentExecutions",
            dimensions={"FunctionName": worker.function_name},
            statistic="Maximum",
        )
        for index, worker in enumerate(workers)
    ]
    series = read_metrics(target.clients, queries, start=end - _CONCURRENCY_WINDOW, end=end)
    return tuple(
        worker.name for index, worker in enumerate(workers) if (series[f"w{index}"].maximum or 0) > 0
    )


def _poll_seconds(target: Target) -> float:
    return EMULATED_DRAIN_POLL_SECONDS if target.emulated else DRAIN_POLL_SECONDS


# -------------------------------------------------------------------------------------------------
# end


def plan_end(target: Target) -> tuple[MaintenanceRecord, tuple[RestoreStep, ...]]:
    """The active record and what restoring its recorded state takes; MaintenanceError without one."""
    record = active_maintenance(target)
    if record is None:
        raise MaintenanceError(f"no maintenance window is active on {target.stack}: nothing changed")
    recorded: list[tuple[str, TriggerKind, str, bool]] = [
        (mapping.worker, MAPPING, mapping.uuid, mapping.enabled) for mapping in record.mappings
    ]
    recorded += [(rule.worker, RULE, rule.name, rule.enabled) for rule in record.rules]
    steps = []
    for worker, kind, identifier, enabled_before in recorded:
        state = mapping_state(target, identifier) if kind == MAPPING else rule_state(target, identifier)
        live = Trigger(worker=worker, kind=kind, id=identifier, state=state)
        action: Literal["enable", "disable", "unchanged", "gone"]
        if state == NOT_FOUND:
            action = "gone"
        elif live.enabled == enabled_before:
            action = "unchanged"
        else:
            action = "enable" if enabled_before else "disable"
        steps.append(
            RestoreStep(
                worker=worker,
                kind=kind,
                id=identifier,
                state=state,
                enabled_before=enabled_before,
                action=action,
            )
        )
    return record, tuple(steps)


def end(
    target: Target, steps: Sequence[RestoreStep], *, on_restored: Callable[[RestoreStep], None] | None = None
) -> None:
    """Put each recorded trigger back in its recorded state, then delete the record.

    A failure leaves the record (MaintenanceError says what was restored): `end` can run again.
    """
    restored: list[RestoreStep] = []
    for step in steps:
        if step.action not in ("enable", "disable"):
            continue
        try:
            set_enabled(target, step.kind, step.id, enabled=step.action == "enable")
        except (ClientError, BotoCoreError) as error:
            raise MaintenanceError(
                f"could not {step.action} {step.worker}'s {step.kind} {step.id}: {_error_text(error)}; "
                f"{len(restored)} restored before it; the maintenance record stays: fix the cause and run "
                f"`dmd maintenance end --stack {target.stack}` again"
            ) from error
        restored.append(step)
        if on_restored is not None:
            on_restored(step)
    delete_record(target, MAINTENANCE)


# -------------------------------------------------------------------------------------------------
# status


def status(target: Target) -> StatusResult:
    """The active window (if any) and the live state of every pausable trigger (and of recorded ones)."""
    record = active_maintenance(target)
    triggers = live_triggers(target, pausable_workers(target.fleet), missing_ok=True)
    before: dict[tuple[str, str], bool] = {}
    if record is not None:
        before = {(MAPPING, mapping.uuid): mapping.enabled for mapping in record.mappings}
        before |= {(RULE, rule.name): rule.enabled for rule in record.rules}
        listed = {(trigger.kind, trigger.id) for trigger in triggers}
        for mapping in record.mappings:  # recorded, no longer on the alias (replaced by a deploy?)
            if (MAPPING, mapping.uuid) not in listed:
                state = mapping_state(target, mapping.uuid)
                triggers.append(Trigger(worker=mapping.worker, kind=MAPPING, id=mapping.uuid, state=state))
    rows = tuple(
        TriggerStatus(
            worker=trigger.worker,
            kind=trigger.kind,
            id=trigger.id,
            state=trigger.state,
            enabled=trigger.enabled,
            enabled_before=before.get((trigger.kind, trigger.id)),
        )
        for trigger in triggers
    )
    window = (
        MaintenanceWindow(
            reason=record.reason,
            started_by=record.started_by,
            started_at=record.started_at,
            workers=record.workers,
        )
        if record is not None
        else None
    )
    return StatusResult(stack=target.stack, active=record is not None, maintenance=window, triggers=rows)
