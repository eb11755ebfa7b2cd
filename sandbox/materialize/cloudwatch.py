"""CloudWatch metric alarms (plain or metric math) and dashboards."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.materialize.api_shapes import compact, same_named, tag_list
from sandbox.materialize.results import Kind
from sandbox.materialize.step import Step


def create_alarm(step: Step) -> dict[str, str]:
    """A metric alarm with its actions, metric or metric queries, read back and verified."""
    inputs, cloudwatch = step.inputs, step.client("cloudwatch")
    name = step.physical_name()
    # Kept in one order (the one dropped fields are reported in), required fields among the optional.
    request = compact(
        AlarmName=name,
        **same_named(inputs, "alarmDescription", "actionsEnabled", "alarmActions"),
        OKActions=inputs.get("okActions"),
        **same_named(
            inputs, "insufficientDataActions", "metricName", "namespace", "statistic", "extendedStatistic"
        ),
        Dimensions=_dimensions(inputs.get("dimensions")),
        **same_named(inputs, "period", "unit"),
        EvaluationPeriods=inputs["evaluationPeriods"],
        **same_named(inputs, "datapointsToAlarm", "threshold"),
        ComparisonOperator=inputs["comparisonOperator"],
        **same_named(inputs, "treatMissingData", "evaluateLowSampleCountPercentile"),
        Metrics=[_metric_query(query) for query in inputs["metricQueries"]]
        if inputs.get("metricQueries")
        else None,
        Tags=tag_list(inputs.get("tags")) or None,
    )
    cloudwatch.put_metric_alarm(**request)
    alarms = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    stored = alarms[0] if alarms else {}
    step.verify({key: value for key, value in request.items() if key != "Tags"}, stored)
    arn = stored.get("AlarmArn", "")
    step.record(Kind.ALARM, name, arn)
    return {"id": name, "arn": arn}


def create_dashboard(step: Step) -> dict[str, str]:
    """A dashboard with the graph's body."""
    inputs, cloudwatch = step.inputs, step.client("cloudwatch")
    name = step.physical_name("dashboardName")
    cloudwatch.put_dashboard(DashboardName=name, DashboardBody=inputs["dashboardBody"])
    arn = cloudwatch.get_dashboard(DashboardName=name)["DashboardArn"]
    step.record(Kind.DASHBOARD, name, arn)
    return {"id": name, "dashboardArn": arn}


def _dimensions(dimensions: Mapping[str, str] | None) -> list[dict[str, str]] | None:
    return [{"Name": key, "Value": value} for key, value in dimensions.items()] if dimensions else None


def _metric_query(query: Mapping[str, Any]) -> dict[str, Any]:
    metric = query.get("metric")
    return compact(
        Id=query["id"],
        **same_named(query, "expression", "label", "returnData", "period", "accountId"),
        MetricStat=compact(
            Metric=compact(
                Namespace=metric.get("namespace"),
                MetricName=metric["metricName"],
                Dimensions=_dimensions(metric.get("dimensions")),
            ),
            Period=metric["period"],
            Stat=metric["stat"],
            Unit=metric.get("unit"),
        )
        if metric
        else None,
    )
