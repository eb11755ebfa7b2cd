"""What a release watches at each step: the worker's alarms, the new version's errors, its failure metrics.

Per worker being released (one `DescribeAlarms` listing and one `GetMetricData` request per poll
for all of them):

- its alarms (the ones the program declares for it, by name) that went into ALARM after the
  release started: an alarm already in ALARM then (a DLQ not drained yet) is no signal, unless it leaves
  and enters ALARM again;
- the new version's `Errors` and `Invocations` through `live`, with the dimensions Lambda (and the
  sandbox) publish for alias invocations, {FunctionName, Resource=<function>:live,
  ExecutedVersion=<version>}: bad above the worker's `alarms.errorRatePercent`;
- stream and queue workers: invocations whose batch reported failed records (the workers' own
  `BatchRecordsFailed`, SampleCount) over the alias's invocations (both versions), bad above the
  same percentage, as the error-rate alarm reads them;
- workers with a send-failures alarm: `SmsFailed + EmailFailed` above the alarm's threshold
  (`alarms.metricThresholds.SendFailures`, 0 by default).

The workers' own metrics carry no version, so they count both versions' records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from infra.catalog import BATCH_RECORDS_FAILED_METRIC, MetricAlarm
from ops.metric_data import MetricQuery, MetricSeries, Statistic, read_metrics
from ops.status import AlarmInAlarm
from ops.target import LIVE_ALIAS, FleetWorker, Target

SEND_FAILURES_SUFFIX: Final = "send-failures"
_BATCH_TRIGGERS: Final = frozenset({"stream", "queue"})


@dataclass(frozen=True, kw_only=True)
class Watched:
    """One worker under release: its names, the two versions, and its alarms in ALARM when it started."""

    worker: FleetWorker
    from_version: str
    to_version: str
    alarms_at_start: Mapping[str, datetime | None] = field(default_factory=dict)  # name → in ALARM since


@dataclass(frozen=True)
class Signals:
    """What one poll saw of one worker: a short summary for the progress line, and what is bad."""

    summary: str
    bad: tuple[str, ...] = ()


def alarms_of(target: Target, worker: str) -> dict[str, datetime | None]:
    """The worker's alarms in ALARM now, with since when (the baseline a release starts from)."""
    return {alarm.name: alarm.since for alarm in worker_alarms_in_alarm(target, [worker])}


def worker_alarms_in_alarm(target: Target, workers: Sequence[str]) -> list[AlarmInAlarm]:
    """The alarms the program declares for these workers (their Worker's children) that are in ALARM.

    Asked by name (100 per DescribeAlarms call), not by listing the stack's alarms: a poll every
    few seconds reads only what it watches.
    """
    alarm_type = "aws:cloudwatch/metricAlarm:MetricAlarm"
    owners = {
        str(resource.inputs["name"]): worker
        for worker in workers
        for resource in target.graph.children_of(worker)
        if resource.type_ == alarm_type
    }
    names = sorted(owners)
    cloudwatch = target.clients.client("cloudwatch")
    found = []
    for first in range(0, len(names), 100):
        answer = cloudwatch.describe_alarms(AlarmNames=names[first : first + 100], StateValue="ALARM")
        for alarm in answer.get("MetricAlarms", []):
            if alarm.get("StateValue") != "ALARM" or alarm["AlarmName"] not in owners:
                continue
            since = alarm.get("StateUpdatedTimestamp")
            found.append(
                AlarmInAlarm(
                    name=alarm["AlarmName"],
                    worker=owners[alarm["AlarmName"]],
                    since=since.astimezone(UTC) if since is not None else None,
                    reason=str(alarm.get("StateReason") or ""),
                    runbook=None,
                )
            )
    return found


def signal_queries(index: int, watched: Watched, *, namespace: str, environment: str) -> list[MetricQuery]:
    """The metrics of one watched worker; ids are `r{index}_{what}`."""
    worker = watched.worker

    def through_live(what: str, metric: str, version: str) -> MetricQuery:
        return MetricQuery(
            id=f"r{index}_{what}",
            namespace="AWS/Lambda",
            metric=metric,
            dimensions={
                "FunctionName": worker.function_name,
                "Resource": f"{worker.function_name}:{LIVE_ALIAS}",
                "ExecutedVersion": version,
            },
            statistic="Sum",
        )

    def own(what: str, metric: str, statistic: Statistic) -> MetricQuery:
        # Powertools emits with exactly these dimensions (infra/worker_alarms.py, MetricScope).
        return MetricQuery(
            id=f"r{index}_{what}",
            namespace=namespace,
            metric=metric,
            dimensions={"service": worker.name, "environment": environment},
            statistic=statistic,
        )

    queries = [
        through_live("new_invocations", "Invocations", watched.to_version),
        through_live("new_errors", "Errors", watched.to_version),
        through_live("old_invocations", "Invocations", watched.from_version),
    ]
    if worker.trigger in _BATCH_TRIGGERS:
        queries.append(own("failed_batches", BATCH_RECORDS_FAILED_METRIC, "SampleCount"))
    send_failures = send_failures_alarm(worker)
    if send_failures is not None:
        queries += [
            own(f"sent_failed{position}", metric, "Sum")
            for position, metric in enumerate(send_failures.watched_metrics)
        ]
    return queries


def send_failures_alarm(worker: FleetWorker) -> MetricAlarm | None:
    """The worker's send-failures alarm (the sender's), whose metrics a release watches too."""
    return next((alarm for alarm in worker.spec.metric_alarms if alarm.suffix == SEND_FAILURES_SUFFIX), None)


def read_signals(
    target: Target, watched: Sequence[Watched], *, since: datetime, now: datetime
) -> dict[str, Signals]:
    """Each watched worker's signals between `since` (the release's start) and `now`, by worker name."""
    if not watched:
        return {}
    observability = target.config.observability
    queries = [
        query
        for index, item in enumerate(watched)
        for query in signal_queries(
            index, item, namespace=observability.metrics_namespace, environment=target.config.environment
        )
    ]
    # Whole minutes: CloudWatch keeps these metrics per minute, and the window must not be empty.
    start = since.replace(second=0, microsecond=0)
    series = read_metrics(target.clients, queries, start=start, end=max(now, start + timedelta(seconds=1)))
    alarms = worker_alarms_in_alarm(target, [item.worker.name for item in watched])
    return {
        item.worker.name: judge(index, item, series, alarms, target=target)
        for index, item in enumerate(watched)
    }


def judge(
    index: int,
    watched: Watched,
    series: Mapping[str, MetricSeries],
    alarms: Sequence[AlarmInAlarm],
    *,
    target: Target,
) -> Signals:
    """The worker's signals from one poll's metrics (ids of `signal_queries`) and the stack's alarms."""
    worker = watched.worker
    settings = target.config.workers[worker.name].alarms
    limit = settings.error_rate_percent

    def total(what: str) -> int:
        found = series.get(f"r{index}_{what}")
        return round(found.total or 0) if found is not None else 0

    bad: list[str] = []
    fired = [
        alarm.name
        for alarm in alarms
        if alarm.worker == worker.name
        and (alarm.name not in watched.alarms_at_start or watched.alarms_at_start[alarm.name] != alarm.since)
    ]
    bad += [f"alarm {name} in ALARM" for name in fired]
    invocations, errors = total("new_invocations"), total("new_errors")
    if errors and _percent(errors, invocations) > limit:
        bad.append(
            f"version {watched.to_version}: {errors} errors in {invocations} invocations "
            f"({_percent(errors, invocations):.0f}% > {limit:g}%)"
        )
    parts = [f"v{watched.to_version} {invocations} inv {errors} err"]
    if worker.trigger in _BATCH_TRIGGERS:
        failed = total("failed_batches")
        through_alias = invocations + total("old_invocations")
        parts.append(f"{failed} failed batches")
        if failed and _percent(failed, through_alias) > limit:
            bad.append(
                f"{failed} of {through_alias} invocations reported failed records "
                f"({_percent(failed, through_alias):.0f}% > {limit:g}%)"
            )
    send_failures = send_failures_alarm(worker)
    if send_failures is not None:
        metrics = send_failures.watched_metrics
        sent_failed = sum(total(f"sent_failed{position}") for position in range(len(metrics)))
        threshold = settings.metric_thresholds.get(send_failures.metric, 0)
        parts.append(f"{sent_failed} send failures")
        if sent_failed > threshold:
            bad.append(f"{sent_failed} send failures ({' + '.join(metrics)}) > {threshold:g}")
    parts.append(f"{len(fired)} alarms")
    return Signals(summary=", ".join(parts), bad=tuple(bad))


def _percent(part: int, whole: int) -> float:
    # Failures without a counted invocation (metrics landing out of step) count as all failed.
    return 100.0 if whole <= 0 else 100.0 * part / whole
