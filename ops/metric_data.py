"""Many CloudWatch metrics over one time window, read with one GetMetricData request.

A screen of `dmd` reads all its metrics at once: every query goes into the same request (up to
CloudWatch's 500 per request), and only `NextToken` pages follow it. Each metric is read in periods
of at least a minute and at most 1/60 of the window, so a window of any length stays within the
datapoints one request returns; callers fold the periods into one number (`total`, `maximum`,
`latest`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from aws_clients import AwsClients

MAX_QUERIES_PER_REQUEST: Final = 500
_MIN_PERIOD_SECONDS: Final = 60
_PERIODS_PER_WINDOW: Final = 60
# (datapoints older than this, are kept at this period in seconds), longest first.
_RETENTION_STEPS: Final = ((timedelta(days=63), 3600), (timedelta(days=15), 300))

Statistic = Literal["Sum", "Maximum", "Average", "Minimum", "SampleCount"]


@dataclass(frozen=True, kw_only=True)
class MetricQuery:
    """One metric to read: its id in the request (`[a-z][a-zA-Z0-9_]*`), name, dimensions, statistic."""

    id: str
    namespace: str
    metric: str
    dimensions: Mapping[str, str]
    statistic: Statistic

    def request(self, period: int) -> dict[str, Any]:
        """The query as GetMetricData's `MetricDataQueries` entry."""
        return {
            "Id": self.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": self.metric,
                    "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions.items()],
                },
                "Period": period,
                "Stat": self.statistic,
            },
            "ReturnData": True,
        }


@dataclass(frozen=True)
class MetricSeries:
    """A metric's datapoints in the window (one per period with data; none: the metric was not emitted)."""

    points: tuple[tuple[datetime, float], ...] = field(default=())

    @property
    def total(self) -> float | None:
        """The sum of the periods (for Sum statistics); None without datapoints."""
        return sum(value for _, value in self.points) if self.points else None

    @property
    def maximum(self) -> float | None:
        """The largest period value; None without datapoints."""
        return max(value for _, value in self.points) if self.points else None

    @property
    def latest(self) -> float | None:
        """The most recent period's value; None without datapoints."""
        return max(self.points)[1] if self.points else None


def period_for(start: datetime, end: datetime) -> int:
    """Seconds per datapoint: at least 60, about 1/60 of the window, in the steps CloudWatch keeps.

    CloudWatch keeps 1-minute datapoints for 15 days, 5-minute ones for 63 days, then hourly ones:
    a window reaching further back needs a period of that step.
    """
    window = max((end - start).total_seconds(), 0.0)
    age = max((datetime.now(UTC) - start).total_seconds(), window)
    step = next(
        (seconds for older_than, seconds in _RETENTION_STEPS if age > older_than.total_seconds()),
        _MIN_PERIOD_SECONDS,
    )
    return max(step, math.ceil(window / _PERIODS_PER_WINDOW / step) * step)


def read_metrics(
    clients: AwsClients, queries: Sequence[MetricQuery], *, start: datetime, end: datetime
) -> dict[str, MetricSeries]:
    """Every query's datapoints between start and end, by query id, in one GetMetricData request.

    A query without data (a function never invoked, an emulator that records no AWS metrics) has
    an empty series. More than 500 queries take one request per 500.
    """
    ids = [query.id for query in queries]
    if len(set(ids)) != len(ids):
        raise ValueError(f"metric query ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    period = period_for(start, end)
    cloudwatch = clients.client("cloudwatch")
    points: dict[str, list[tuple[datetime, float]]] = {query.id: [] for query in queries}
    for first in range(0, len(queries), MAX_QUERIES_PER_REQUEST):
        request: dict[str, Any] = {
            "MetricDataQueries": [
                query.request(period) for query in queries[first : first + MAX_QUERIES_PER_REQUEST]
            ],
            "StartTime": start,
            "EndTime": end,
        }
        while True:
            answer = cloudwatch.get_metric_data(**request)
            for result in answer.get("MetricDataResults", []):
                stamps = [stamp.astimezone(UTC) for stamp in result.get("Timestamps", [])]
                values = [float(value) for value in result.get("Values", [])]
                points[result["Id"]].extend(zip(stamps, values, strict=True))
            token = answer.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
    return {query_id: MetricSeries(tuple(sorted(found))) for query_id, found in points.items()}
