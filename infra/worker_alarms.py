"""The alarms of one worker, derived from its own settings and its source."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import assert_never

import pulumi

from infra.alarms import AlarmSpec, Metric, dlq_not_empty, lambda_metric, queue_alarms
from infra.catalog import BATCH_RECORDS_FAILED_METRIC, MetricAlarm, WorkerSpec
from infra.config import (
    QueueTrigger,
    ResolverTrigger,
    ScheduleTrigger,
    ScheduleTriggerSettings,
    StreamTrigger,
    WorkerConfig,
)
from infra.platform import PlatformRefs


@dataclass(frozen=True, kw_only=True)
class WatchedNames:
    """Names of what the alarms watch that the Worker declared."""

    function_name: str
    log_group_name: str
    subscription_filter_name: str | None
    on_failure_queue_name: str | None
    schedule_rule_name: str | None
    schedule_dlq_name: str | None
    event_source_mapping_uuid: pulumi.Input[str] | None


@dataclass(frozen=True, kw_only=True)
class MetricScope:
    """Where the workers' own (EMF) metrics land: the stack's namespace and its `environment` dimension."""

    namespace: str
    environment: str

    def metric(self, name: str, worker: str, *, period: int, statistic: str = "Sum") -> Metric:
        """One of the worker's EMF metrics as Powertools emits it: dimensions `service` and `environment`."""
        # An alarm matches a metric only with exactly the dimensions it was emitted with.
        return Metric(
            namespace=self.namespace,
            name=name,
            dimensions={"service": worker, "environment": self.environment},
            period=period,
            statistic=statistic,
        )


def worker_alarm_specs(
    spec: WorkerSpec,
    config: WorkerConfig,
    names: WatchedNames,
    refs: PlatformRefs,
    account_concurrency_limit: int,
    *,
    metrics: MetricScope,
) -> list[AlarmSpec]:
    """Every alarm of the worker; thresholds are ratios of its own timeout, reservation, retention."""
    alarms = config.alarms
    if not alarms.enabled:
        return []
    function = names.function_name
    periods = alarms.evaluation_periods
    period = alarms.period_seconds
    specs = [
        _error_rate_alarm(spec, config, function, metrics),
        AlarmSpec(
            suffix="throttles",
            summary=f"{spec.name}: invocations are throttled",
            runbook="throttling",
            threshold=alarms.throttles,
            evaluation_periods=periods,
            metric=lambda_metric("Throttles", function, period=period),
        ),
        AlarmSpec(
            suffix="duration",
            summary=f"{spec.name}: p90 duration above {alarms.duration_ratio:.0%} of its "
            f"{config.timeout_seconds} s timeout",
            runbook="duration-near-timeout",
            threshold=round(config.timeout_seconds * 1000 * alarms.duration_ratio),
            evaluation_periods=max(periods, 5),
            metric=lambda_metric("Duration", function, statistic="p90", period=period),
        ),
    ]
    reservation = config.reserved_concurrency
    concurrency_ceiling = reservation if reservation > 0 else account_concurrency_limit
    ceiling_label = "its reserved concurrency" if reservation > 0 else "the account concurrency quota"
    specs.append(
        AlarmSpec(
            suffix="concurrency",
            summary=f"{spec.name}: concurrency at or above {alarms.concurrency_ratio:.0%} of {ceiling_label} "
            f"({concurrency_ceiling})",
            runbook="throttling",
            threshold=max(1, math.ceil(concurrency_ceiling * alarms.concurrency_ratio)),
            comparison="GreaterThanOrEqualToThreshold",
            evaluation_periods=max(periods, 5),
            metric=lambda_metric("ConcurrentExecutions", function, statistic="Maximum", period=period),
        )
    )
    specs += _source_alarms(spec, config, names, refs)
    if names.subscription_filter_name is not None:
        specs += _log_delivery_alarms(spec, names)
    specs += [_own_metric_alarm(spec, config, alarm, metrics) for alarm in spec.metric_alarms]
    return specs


def _error_rate_alarm(
    spec: WorkerSpec, config: WorkerConfig, function_name: str, metrics: MetricScope
) -> AlarmSpec:
    """The share of invocations that failed; for stream and queue workers, failed batches count too.

    A stream or queue worker's batch helper never raises (workers/shared/records.py): failed
    records go back to Lambda as batch-item failures while `Errors` stays 0. The worker then emits
    `BatchRecordsFailed` (the number of failed records) once in that invocation, so its
    SampleCount is the number of invocations whose batch had a failed record. Those and `Errors`
    (invocations that raised, timed out or crashed, and so emitted no count) are disjoint sets of
    invocations, so `100 * (errors + failed batches) / invocations` is a share of invocations,
    0 to 100, and `alarms.errorRatePercent` keeps its meaning for every worker. Failed records over
    invocations would not be: one batch of 100 with 10 failures would read 1000 %.
    """
    alarms = config.alarms
    period = alarms.period_seconds
    errors = lambda_metric("Errors", function_name, period=period)
    invocations = lambda_metric("Invocations", function_name, period=period)
    percent = f"{alarms.error_rate_percent:g}%"
    if not isinstance(config.resolved_trigger, StreamTrigger | QueueTrigger):
        return AlarmSpec(
            suffix="error-rate",
            summary=f"{spec.name}: more than {percent} of invocations fail",
            runbook="high-error-rate",
            threshold=alarms.error_rate_percent,
            evaluation_periods=alarms.evaluation_periods,
            math_metrics={"errors": errors, "invocations": invocations},
            expression="IF(invocations > 0, 100 * errors / invocations, 0)",
        )
    return AlarmSpec(
        suffix="error-rate",
        summary=f"{spec.name}: more than {percent} of invocations fail or report failed records "
        f"({BATCH_RECORDS_FAILED_METRIC})",
        runbook="high-error-rate",
        threshold=alarms.error_rate_percent,
        evaluation_periods=alarms.evaluation_periods,
        math_metrics={
            "errors": errors,
            "failedbatches": metrics.metric(
                BATCH_RECORDS_FAILED_METRIC, spec.name, period=period, statistic="SampleCount"
            ),
            "invocations": invocations,
        },
        # FILL: no datapoint is the healthy case (the metric is emitted only when records failed).
        expression="IF(invocations > 0, 100 * (errors + FILL(failedbatches, 0)) / invocations, 0)",
    )


def _own_metric_alarm(
    spec: WorkerSpec, config: WorkerConfig, alarm: MetricAlarm, metrics: MetricScope
) -> AlarmSpec:
    threshold = config.alarms.metric_thresholds.get(alarm.metric, 0)
    period = alarm.period_seconds
    single: Metric | None = None
    parts: dict[str, Metric] = {}
    if alarm.sum_of:
        # Query ids must start with a lowercase letter; a channel without failures has no datapoint.
        parts = {name.lower(): metrics.metric(name, spec.name, period=period) for name in alarm.sum_of}
    else:
        single = metrics.metric(alarm.metric, spec.name, period=period)
    return AlarmSpec(
        suffix=alarm.suffix,
        summary=f"{spec.name}: {alarm.summary} ({' + '.join(alarm.watched_metrics)} above {threshold:g} "
        f"in {period // 60} minutes)",
        runbook=alarm.runbook,
        threshold=threshold,
        evaluation_periods=1,
        # No data is the healthy case: the metric is emitted only when something happened.
        treat_missing_data="notBreaching",
        metric=single,
        math_metrics=parts,
        expression=" + ".join(f"FILL({query}, 0)" for query in parts) if parts else None,
    )


def _source_alarms(
    spec: WorkerSpec, config: WorkerConfig, names: WatchedNames, refs: PlatformRefs
) -> list[AlarmSpec]:
    alarms = config.alarms
    match config.resolved_trigger:
        case StreamTrigger(settings=settings):
            # Records older than the maximum record age are discarded: alarm well before that.
            age_limit_ms = settings.maximum_record_age_seconds * 1000
            assert names.on_failure_queue_name is not None
            return [
                AlarmSpec(
                    suffix="iterator-age",
                    summary=f"{spec.name}: oldest unprocessed record is older than "
                    f"{alarms.iterator_age_ratio:.0%} of its maximum record age",
                    runbook="stream-processing-lag",
                    threshold=round(age_limit_ms * alarms.iterator_age_ratio),
                    evaluation_periods=alarms.evaluation_periods,
                    treat_missing_data="missing",
                    metric=lambda_metric(
                        "IteratorAge", names.function_name, statistic="Maximum", period=alarms.period_seconds
                    ),
                ),
                dlq_not_empty(names.on_failure_queue_name, suffix="on-failure-not-empty", owner=spec.name),
                *_event_source_alarms(spec, names.event_source_mapping_uuid, stream=True),
            ]
        case QueueTrigger(queue=queue_name):
            queue = refs.queues[queue_name]
            return [
                *queue_alarms(
                    queue.name,
                    owner=spec.name,
                    retention_seconds=queue.retention_seconds,
                    age_ratio=alarms.queue_age_ratio,
                    depth=alarms.queue_depth,
                    periods=max(alarms.evaluation_periods, 5),
                ),
                dlq_not_empty(queue.dead_letter_queue_name, suffix="dlq-not-empty", owner=spec.name),
                *_event_source_alarms(spec, names.event_source_mapping_uuid, stream=False),
            ]
        case ScheduleTrigger(settings=settings):
            return _schedule_alarms(spec, config, settings, names)
        case ResolverTrigger():
            return [
                AlarmSpec(
                    suffix="latency",
                    summary=f"{spec.name}: p95 duration above the {alarms.latency_slo_ms} ms objective",
                    runbook="resolver-latency",
                    threshold=alarms.latency_slo_ms,
                    evaluation_periods=max(alarms.evaluation_periods, 5),
                    metric=lambda_metric(
                        "Duration", names.function_name, statistic="p95", period=alarms.period_seconds
                    ),
                )
            ]
        case _:
            assert_never(config.resolved_trigger)


def _event_source_alarms(
    spec: WorkerSpec, mapping_uuid: pulumi.Input[str] | None, *, stream: bool
) -> list[AlarmSpec]:
    """The mapping's own failure counts; `DroppedEventCount` only where Lambda emits it (streams)."""
    # Lambda drops records where it gives up on them: a stream mapping past its retries or record
    # age. An SQS mapping never drops (the queue redrives to its DLQ), so there is no such metric.
    if mapping_uuid is None:
        return []

    def mapping_metric(name: str) -> Metric:
        return Metric(namespace="AWS/Lambda", name=name, dimensions={"EventSourceMappingUUID": mapping_uuid})

    failed_invoke = AlarmSpec(
        suffix="failed-invoke-events",
        summary=f"{spec.name}: the event source could not invoke the function",
        runbook="event-source-failures",
        threshold=0,
        evaluation_periods=1,
        metric=mapping_metric("FailedInvokeEventCount"),
    )
    if not stream:
        return [failed_invoke]
    dropped = AlarmSpec(
        suffix="dropped-events",
        summary=f"{spec.name}: the event source dropped records (lost work)",
        runbook="event-source-failures",
        threshold=0,
        evaluation_periods=1,
        metric=mapping_metric("DroppedEventCount"),
    )
    return [failed_invoke, dropped]


def _schedule_alarms(
    spec: WorkerSpec, config: WorkerConfig, trigger: ScheduleTriggerSettings, names: WatchedNames
) -> list[AlarmSpec]:
    assert names.schedule_rule_name is not None and names.schedule_dlq_name is not None
    interval = trigger.interval_seconds()
    alarms: list[AlarmSpec] = []
    # Two intervals tolerate jitter. CloudWatch caps period x evaluation periods at one day, so a
    # schedule slower than daily is watched by the failed-invocation alarm and the DLQ only.
    # A paused scheduler (rule disabled or concurrency 0 for maintenance) is not "missing" a run.
    paused = not trigger.enabled or config.reserved_concurrency == 0
    if interval <= 86_400 and not paused:
        period = min(86_400, max(60, interval * 2))
        alarms.append(
            AlarmSpec(
                suffix="did-not-run",
                summary=f"{spec.name}: no invocation in {period // 60} minutes "
                f"(schedule {trigger.schedule_expression})",
                runbook="scheduled-worker-did-not-run",
                threshold=1,
                comparison="LessThanThreshold",
                evaluation_periods=1,
                # Lambda publishes nothing when nothing runs, so missing data is the failure itself.
                treat_missing_data="breaching",
                metric=lambda_metric("Invocations", names.function_name, period=period),
            )
        )
    return [
        *alarms,
        AlarmSpec(
            suffix="schedule-failed-invocations",
            summary=f"{spec.name}: EventBridge failed to invoke the worker",
            runbook="scheduled-worker-did-not-run",
            threshold=0,
            evaluation_periods=1,
            metric=Metric(
                namespace="AWS/Events",
                name="FailedInvocations",
                dimensions={"RuleName": names.schedule_rule_name},
                period=300,
            ),
        ),
        dlq_not_empty(names.schedule_dlq_name, suffix="schedule-dlq-not-empty", owner=spec.name),
    ]


def _log_delivery_alarms(spec: WorkerSpec, names: WatchedNames) -> list[AlarmSpec]:
    assert names.subscription_filter_name is not None
    dimensions = {
        "LogGroupName": names.log_group_name,
        "DestinationType": "Kinesis",
        "FilterName": names.subscription_filter_name,
    }
    return [
        AlarmSpec(
            suffix="log-delivery-errors",
            summary=f"{spec.name}: logs fail to reach the central log stream",
            runbook="log-delivery",
            threshold=0,
            evaluation_periods=1,
            metric=Metric(namespace="AWS/Logs", name="DeliveryErrors", dimensions=dimensions, period=300),
        ),
        AlarmSpec(
            suffix="log-delivery-throttling",
            summary=f"{spec.name}: log delivery to the central stream is throttled (under-sharded)",
            runbook="log-delivery",
            threshold=0,
            evaluation_periods=3,
            metric=Metric(namespace="AWS/Logs", name="DeliveryThrottling", dimensions=dimensions, period=300),
        ),
    ]
