"""Alarms as data: each is derived from the settings of the thing it watches, then declared."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

Comparison = Literal[
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]
MissingData = Literal["missing", "ignore", "breaching", "notBreaching"]


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One CloudWatch metric with its statistic."""

    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    period: int = 60
    statistic: str | None = "Sum"
    extended_statistic: str | None = None


@dataclass(frozen=True, kw_only=True)
class AlarmSpec:
    """An alarm before it is declared: what it watches, when it fires, which runbook answers it."""

    suffix: str
    summary: str
    runbook: str
    threshold: float
    comparison: Comparison = "GreaterThanThreshold"
    evaluation_periods: int = 3
    datapoints_to_alarm: int | None = None
    treat_missing_data: MissingData = "notBreaching"
    metric: Metric | None = None
    # Metric math: ids -> metrics, plus the expression whose value is compared.
    math_metrics: Mapping[str, Metric] = field(default_factory=dict)
    expression: str | None = None

    def __post_init__(self) -> None:
        if (self.metric is None) == (self.expression is None):
            raise ValueError(f"alarm {self.suffix}: give exactly one of metric or expression")


@dataclass(frozen=True, kw_only=True)
class AlarmTarget:
    """Where alarms go and how they are named."""

    topic_arn: pulumi.Input[str]
    runbook_base_url: str
    tags: Mapping[str, str]


def declare_alarms(
    resource_prefix: str,
    alarm_name_prefix: str,
    specs: Sequence[AlarmSpec],
    target: AlarmTarget,
    parent: pulumi.Resource,
) -> list[aws.cloudwatch.MetricAlarm]:
    """Declare one MetricAlarm per spec, children of `parent`."""
    return [_declare(resource_prefix, alarm_name_prefix, spec, target, parent) for spec in specs]


def _declare(
    resource_prefix: str,
    alarm_name_prefix: str,
    spec: AlarmSpec,
    target: AlarmTarget,
    parent: pulumi.Resource,
) -> aws.cloudwatch.MetricAlarm:
    description = f"{spec.summary}. Runbook: {target.runbook_base_url}#{spec.runbook}"
    single = spec.metric
    return aws.cloudwatch.MetricAlarm(
        f"{resource_prefix}-alarm-{spec.suffix}",
        name=f"{alarm_name_prefix}-{spec.suffix}",
        alarm_description=description,
        comparison_operator=spec.comparison,
        threshold=spec.threshold,
        evaluation_periods=spec.evaluation_periods,
        datapoints_to_alarm=spec.datapoints_to_alarm or spec.evaluation_periods,
        treat_missing_data=spec.treat_missing_data,
        alarm_actions=[target.topic_arn],
        ok_actions=[target.topic_arn],
        namespace=single.namespace if single else None,
        metric_name=single.name if single else None,
        dimensions=dict(single.dimensions) if single else None,
        period=single.period if single else None,
        statistic=single.statistic if single and not single.extended_statistic else None,
        extended_statistic=single.extended_statistic if single else None,
        metric_queries=None if single else _metric_queries(spec),
        tags=dict(target.tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _metric_queries(spec: AlarmSpec) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgs]:
    queries = [
        aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=query_id,
            return_data=False,
            metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=metric.namespace,
                metric_name=metric.name,
                dimensions=dict(metric.dimensions),
                period=metric.period,
                stat=metric.extended_statistic or metric.statistic or "Sum",
            ),
        )
        for query_id, metric in spec.math_metrics.items()
    ]
    queries.append(
        aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id="result", expression=spec.expression, label=spec.summary, return_data=True
        )
    )
    return queries


# ---------------------------------------------------------------------------------------------
# Building blocks shared by workers and the platform
# ---------------------------------------------------------------------------------------------


def lambda_metric(name: str, function_name: str, *, statistic: str = "Sum", period: int = 60) -> Metric:
    """A Lambda metric of one function; a `pNN` statistic becomes an extended (percentile) statistic."""
    if statistic.startswith("p"):
        return Metric(
            namespace="AWS/Lambda",
            name=name,
            dimensions={"FunctionName": function_name},
            period=period,
            statistic=None,
            extended_statistic=statistic,
        )
    return Metric(
        namespace="AWS/Lambda",
        name=name,
        dimensions={"FunctionName": function_name},
        period=period,
        statistic=statistic,
    )


def dlq_not_empty(queue_name: str, *, suffix: str, owner: str) -> AlarmSpec:
    """Any message in a dead-letter queue is lost work until someone redrives it."""
    return AlarmSpec(
        suffix=suffix,
        summary=f"{owner}: dead-letter queue {queue_name} is not empty",
        runbook="dead-letter-queue-not-empty",
        threshold=0,
        evaluation_periods=1,
        # Visible messages, not NumberOfMessagesSent: a redrive into a DLQ does not count as sent.
        metric=Metric(
            namespace="AWS/SQS",
            name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": queue_name},
            statistic="Maximum",
        ),
    )


def queue_alarms(
    queue_name: str, *, owner: str, retention_seconds: int, age_ratio: float, depth: int, periods: int
) -> list[AlarmSpec]:
    """Age of the oldest message (vs retention) and backlog depth of a source queue."""
    return [
        AlarmSpec(
            suffix="queue-age",
            summary=f"{owner}: oldest message in {queue_name} is older than "
            f"{int(retention_seconds * age_ratio)} s ({age_ratio:.0%} of retention)",
            runbook="queue-backlog",
            threshold=int(retention_seconds * age_ratio),
            comparison="GreaterThanOrEqualToThreshold",
            evaluation_periods=periods,
            metric=Metric(
                namespace="AWS/SQS",
                name="ApproximateAgeOfOldestMessage",
                dimensions={"QueueName": queue_name},
                statistic="Maximum",
            ),
        ),
        AlarmSpec(
            suffix="queue-depth",
            summary=f"{owner}: more than {depth} messages waiting in {queue_name}",
            runbook="queue-backlog",
            threshold=depth,
            comparison="GreaterThanOrEqualToThreshold",
            evaluation_periods=periods,
            metric=Metric(
                namespace="AWS/SQS",
                name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": queue_name},
                statistic="Average",
            ),
        ),
    ]
