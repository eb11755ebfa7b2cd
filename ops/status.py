"""The stack's health on one screen (`dmd status`): workers, queues of given-up work, alarms, maintenance.

Every number of a screen comes from one CloudWatch GetMetricData request (all queries at once,
paged by NextToken only), the queue counts from SQS GetQueueAttributes, the alarms from one
DescribeAlarms listing (state ALARM, names starting with the stack's prefix), the maintenance
window and the releases (the one running, the last finished) from their SSM records. A metric
without datapoints in the window counts 0 for Lambda's counters (Lambda emits nothing for a
function nobody invoked) and the workers' own record-failure count, and is unknown (`None`) for
ages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from pydantic import computed_field

from ops.dead_letters import (
    HeldQueueStatus,
    QueueDepth,
    held_queue_status,
    held_queues,
    oldest_age_query,
    queue_depth,
)
from ops.metric_data import MetricQuery, MetricSeries, Statistic, read_metrics
from ops.operations_records import ReleaseRecord, active_maintenance, active_release, release_history
from ops.operator_io import JsonModel
from ops.target import FleetWorker, Target

# The workers' own EMF metric of records reported back as batch-item failures
# (workers.shared.observability.BATCH_RECORDS_FAILED; a test holds the two equal).
FAILED_RECORDS_METRIC: Final = "BatchRecordsFailed"
_BATCH_TRIGGERS: Final = frozenset({"stream", "queue"})
_RUNBOOK_ANCHOR: Final = re.compile(r"Runbook: \S*#(?P<anchor>[\w-]+)")


class WorkerStatus(JsonModel):
    """One worker over the window: Lambda's counters, its failed records, and how far behind it is."""

    worker: str
    function_name: str
    trigger: str  # stream | queue | schedule | resolver
    invocations: int
    errors: int
    throttles: int
    failed_records: int | None  # stream and queue workers (BatchRecordsFailed); None for the others
    iterator_age_max_seconds: float | None  # stream workers: the window's maximum IteratorAge
    source_queue: str | None  # queue workers
    source_queue_depth: int | None  # visible + in flight + delayed, now
    source_queue_oldest_age_seconds: float | None
    alarms_in_alarm: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def problems(self) -> list[str]:
        """What on-call should look at first, in words (empty: nothing)."""
        found = []
        if self.errors:
            found.append(f"{self.errors} errors")
        if self.throttles:
            found.append(f"{self.throttles} throttles")
        if self.failed_records:
            found.append(f"{self.failed_records} failed records")
        if self.alarms_in_alarm:
            found.append(f"{self.alarms_in_alarm} alarms")
        return found


class AlarmInAlarm(JsonModel):
    """An alarm of the stack in state ALARM, with the worker it watches and its runbook section."""

    name: str
    worker: str | None
    since: datetime | None
    reason: str
    runbook: str | None  # the anchor in docs/runbooks.md, e.g. high-error-rate


class MaintenanceState(JsonModel):
    """The stack's maintenance window, when one is active."""

    active: bool
    reason: str | None = None
    started_by: str | None = None
    started_at: datetime | None = None
    workers: tuple[str, ...] = ()


class ReleasedWorkerState(JsonModel):
    """One worker of a release: its versions and how it ended."""

    worker: str
    from_version: str
    to_version: str
    outcome: str  # pending | completed | rolled-back | interrupted | rollback-failed
    reason: str | None


class ReleaseSummary(JsonModel):
    """A release (or `dmd release --rollback`): who, when, how and how it ended."""

    kind: str  # release | rollback
    strategy: str
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str  # in-progress | completed | rolled-back | interrupted
    workers: tuple[ReleasedWorkerState, ...]

    @classmethod
    def of(cls, record: ReleaseRecord) -> ReleaseSummary:
        """The summary of a release record."""
        return cls(
            kind=record.kind,
            strategy=record.strategy,
            started_by=record.started_by,
            started_at=record.started_at,
            finished_at=record.finished_at,
            outcome=record.outcome,
            workers=tuple(
                ReleasedWorkerState(
                    worker=worker.worker,
                    from_version=worker.from_version,
                    to_version=worker.to_version,
                    outcome=worker.outcome,
                    reason=worker.reason,
                )
                for worker in record.workers
            ),
        )


class ReleaseState(JsonModel):
    """The release running on the stack (if any) and the last one that finished (if any)."""

    active: ReleaseSummary | None = None
    last: ReleaseSummary | None = None


class StackStatus(JsonModel):
    """One screen of a stack's health."""

    stack: str
    window_start: datetime
    window_end: datetime
    maintenance: MaintenanceState
    release: ReleaseState
    workers: tuple[WorkerStatus, ...]
    dead_letter_queues: tuple[HeldQueueStatus, ...]
    alarms: tuple[AlarmInAlarm, ...]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def healthy(self) -> bool:
        """No worker problem, no given-up work waiting, no alarm in ALARM."""
        return (
            not self.alarms
            and not any(worker.problems for worker in self.workers)
            and not any(queue.holds_messages for queue in self.dead_letter_queues)
        )


def worker_queries(index: int, worker: FleetWorker, *, namespace: str, environment: str) -> list[MetricQuery]:
    """The metrics of one worker's row; ids are `w{index}_{what}`."""

    def lambda_metric(what: str, metric: str, statistic: Statistic = "Sum") -> MetricQuery:
        return MetricQuery(
            id=f"w{index}_{what}",
            namespace="AWS/Lambda",
            metric=metric,
            dimensions={"FunctionName": worker.function_name},
            statistic=statistic,
        )

    queries = [
        lambda_metric("invocations", "Invocations"),
        lambda_metric("errors", "Errors"),
        lambda_metric("throttles", "Throttles"),
    ]
    if worker.trigger in _BATCH_TRIGGERS:
        # Powertools emits with exactly these dimensions (infra/worker_alarms.py, _own_metric_alarms).
        queries.append(
            MetricQuery(
                id=f"w{index}_failed",
                namespace=namespace,
                metric=FAILED_RECORDS_METRIC,
                dimensions={"service": worker.name, "environment": environment},
                statistic="Sum",
            )
        )
    if worker.trigger == "stream":
        queries.append(lambda_metric("iterator", "IteratorAge", "Maximum"))
    if worker.source_queue is not None:
        queries.append(oldest_age_query(f"w{index}_queue_age", worker.source_queue))
    return queries


def _count(series: MetricSeries | None) -> int:
    return round(series.total or 0) if series is not None else 0


def worker_status(
    index: int,
    worker: FleetWorker,
    series: dict[str, MetricSeries],
    *,
    source_depth: QueueDepth | None,
    alarms: Sequence[AlarmInAlarm],
) -> WorkerStatus:
    """A worker's row from its metrics (ids of `worker_queries`), its source queue's counts and alarms."""

    def named(what: str) -> MetricSeries | None:
        return series.get(f"w{index}_{what}")

    iterator = named("iterator")
    queue_age = named("queue_age")
    depth = source_depth.total if source_depth is not None else None
    return WorkerStatus(
        worker=worker.name,
        function_name=worker.function_name,
        trigger=worker.trigger,
        invocations=_count(named("invocations")),
        errors=_count(named("errors")),
        throttles=_count(named("throttles")),
        failed_records=_count(named("failed")) if worker.trigger in _BATCH_TRIGGERS else None,
        # IteratorAge is in milliseconds.
        iterator_age_max_seconds=None
        if iterator is None or iterator.maximum is None
        else iterator.maximum / 1000,
        source_queue=worker.source_queue,
        source_queue_depth=depth,
        source_queue_oldest_age_seconds=queue_age.latest if queue_age is not None and depth else None,
        alarms_in_alarm=sum(1 for alarm in alarms if alarm.worker == worker.name),
    )


def alarms_in_alarm(target: Target) -> list[AlarmInAlarm]:
    """The stack's metric and composite alarms in state ALARM, by name."""
    workers = target.fleet.workers
    by_function = {worker.function_name: worker.name for worker in workers.values()}
    paginator = target.clients.client("cloudwatch").get_paginator("describe_alarms")
    found = []
    for page in paginator.paginate(
        StateValue="ALARM",
        AlarmNamePrefix=target.naming.prefix,
        AlarmTypes=["MetricAlarm", "CompositeAlarm"],
    ):
        for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
            if alarm.get("StateValue") != "ALARM":  # moto ignores StateValue next to a name prefix
                continue
            description = str(alarm.get("AlarmDescription") or "")
            anchor = _RUNBOOK_ANCHOR.search(description)
            since = alarm.get("StateUpdatedTimestamp")
            found.append(
                AlarmInAlarm(
                    name=alarm["AlarmName"],
                    worker=_watched_worker(alarm["AlarmName"], description, workers, by_function),
                    since=since.astimezone(UTC) if since is not None else None,
                    reason=str(alarm.get("StateReason") or ""),
                    runbook=anchor["anchor"] if anchor else None,
                )
            )
    return sorted(found, key=lambda alarm: alarm.name)


def _watched_worker(
    name: str, description: str, workers: dict[str, FleetWorker], by_function: dict[str, str]
) -> str | None:
    # A worker's alarm descriptions start with "<worker>: " (infra/worker_alarms.py); otherwise the
    # alarm is named after the worker's function.
    owner = description.split(":", 1)[0]
    if owner in workers:
        return owner
    return next((worker for function, worker in by_function.items() if name.startswith(f"{function}-")), None)


def maintenance_state(target: Target) -> MaintenanceState:
    """The active maintenance window's who/why/when and workers, or `active: false`."""
    record = active_maintenance(target)
    if record is None:
        return MaintenanceState(active=False)
    return MaintenanceState(
        active=True,
        reason=record.reason,
        started_by=record.started_by,
        started_at=record.started_at,
        workers=record.workers,
    )


def release_state(target: Target) -> ReleaseState:
    """The running release and the last finished one, from their records."""
    running = active_release(target)
    history = release_history(target)
    return ReleaseState(
        active=ReleaseSummary.of(running) if running is not None else None,
        last=ReleaseSummary.of(history[-1]) if history else None,
    )


def collect_status(
    target: Target,
    *,
    start: datetime,
    end: datetime | None = None,
    on_step: Callable[[str], None] | None = None,
) -> StackStatus:
    """The stack's status over [start, end] (end: now), reading each AWS source once."""

    def step(what: str) -> None:
        if on_step is not None:
            on_step(what)

    window_end = end or datetime.now(UTC)
    fleet = target.fleet
    workers = list(fleet.workers.values())
    held = held_queues(fleet)
    step("queue depths")
    source_depths = {
        worker.source_queue: queue_depth(target.clients, worker.source_queue)
        for worker in workers
        if worker.source_queue is not None
    }
    held_depths = {queue.name: queue_depth(target.clients, queue.name) for queue in held}
    step("metrics")
    observability = target.config.observability
    queries = [
        *(
            query
            for index, worker in enumerate(workers)
            for query in worker_queries(
                index,
                worker,
                namespace=observability.metrics_namespace,
                environment=target.config.environment,
            )
        ),
        *(oldest_age_query(f"q{index}_age", queue.name) for index, queue in enumerate(held)),
    ]
    series = read_metrics(target.clients, queries, start=start, end=window_end)
    step("alarms")
    alarms = alarms_in_alarm(target)
    step("maintenance")
    maintenance = maintenance_state(target)
    step("releases")
    releases = release_state(target)
    return StackStatus(
        stack=target.stack,
        window_start=start,
        window_end=window_end,
        maintenance=maintenance,
        release=releases,
        workers=tuple(
            worker_status(
                index,
                worker,
                series,
                source_depth=source_depths.get(worker.source_queue) if worker.source_queue else None,
                alarms=alarms,
            )
            for index, worker in enumerate(workers)
        ),
        dead_letter_queues=tuple(
            held_queue_status(queue, held_depths[queue.name], series[f"q{index}_age"])
            for index, queue in enumerate(held)
        ),
        alarms=tuple(alarms),
    )
