"""`dmd capacity --from-metrics`: a real stack's per-record costs from CloudWatch instead of the bench's."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from ops.capacity_inputs import CapacityCosts, CapacityModel
from ops.metric_data import MetricQuery, read_metrics
from ops.target import Target
from workers.shared.observability import DEFAULT_NAMESPACE, NOTIFICATIONS_CREATED, SEND_ATTEMPTS

SEND_WORKER: Final = "notification_send"
GENERATOR_WORKER: Final = "notification_generator"


class MeasuredCosts(CapacityModel):
    """What CloudWatch said over the window, per worker."""

    send_ms_per_attempt: float | None
    send_attempts_per_invocation: float | None
    generator_ms_per_notification: float | None
    send_attempts: float | None
    notifications_created: float | None


class NoMetricsError(Exception):
    """The window holds no invocations of the sender: nothing to measure."""


def _queries(target: Target) -> list[MetricQuery]:
    environment = target.config.environment
    queries = []
    for key, worker, records in (
        ("send", SEND_WORKER, SEND_ATTEMPTS),
        ("gen", GENERATOR_WORKER, NOTIFICATIONS_CREATED),
    ):
        function = target.fleet.worker(worker).function_name
        for metric in ("Duration", "Invocations"):
            queries.append(
                MetricQuery(
                    id=f"{key}_{metric.lower()}",
                    namespace="AWS/Lambda",
                    metric=metric,
                    dimensions={"FunctionName": function},
                    statistic="Sum",
                )
            )
        # Powertools emits the workers' own metrics with these dimensions (as `dmd status` reads them).
        queries.append(
            MetricQuery(
                id=f"{key}_records",
                namespace=DEFAULT_NAMESPACE,
                metric=records,
                dimensions={"service": worker, "environment": environment},
                statistic="Sum",
            )
        )
    return queries


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator and denominator else None


def measure_costs(target: Target, *, start: datetime, end: datetime) -> MeasuredCosts:
    """The sender's and generator's Duration per record over the window (one GetMetricData request)."""
    series = read_metrics(target.clients, _queries(target), start=start, end=end)
    total = {query_id: found.total for query_id, found in series.items()}
    measured = MeasuredCosts(
        send_ms_per_attempt=_ratio(total["send_duration"], total["send_records"]),
        send_attempts_per_invocation=_ratio(total["send_records"], total["send_invocations"]),
        generator_ms_per_notification=_ratio(total["gen_duration"], total["gen_records"]),
        send_attempts=total["send_records"],
        notifications_created=total["gen_records"],
    )
    if measured.send_ms_per_attempt is None:
        raise NoMetricsError(
            f"no {SEND_WORKER} Duration and {SEND_ATTEMPTS} in the window: nothing was sent; "
            "widen --since to a window with a sale, or leave out --from-metrics"
        )
    return measured


def with_measured(costs: CapacityCosts, measured: MeasuredCosts) -> CapacityCosts:
    """The committed costs with the measured per-record times put in their place."""
    aws = costs.aws.model_copy(
        update={
            "measured_send_ms": measured.send_ms_per_attempt,
            "measured_generator_ms": measured.generator_ms_per_notification,
        }
    )
    return costs.model_copy(update={"aws": aws, "measured": "CloudWatch (--from-metrics)"})
