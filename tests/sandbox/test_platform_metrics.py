"""Lambda's platform metrics from the sandbox: Invocations and Errors under Lambda's three dimension sets."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from aws_clients import AwsClients
from sandbox.platform_metrics import (
    MAX_DATUMS_PER_CALL,
    InvocationKey,
    PlatformMetrics,
    metric_data,
)

FUNCTION = "prd3292-local-us-east-1-ntfcn-snd"
NOW = 1_764_600_000.0


def dimensions(*, alias: str | None = None, version: str | None = None) -> list[dict[str, str]]:
    """One of Lambda's dimension sets for the function."""
    found = [{"Name": "FunctionName", "Value": FUNCTION}]
    if alias:
        found.append({"Name": "Resource", "Value": f"{FUNCTION}:{alias}"})
    if version:
        found.append({"Name": "ExecutedVersion", "Value": version})
    return found


def reading(aws: AwsClients, metric: str, stat: str, found: list[dict[str, str]]) -> float:
    """The metric's statistic over the minutes around NOW under exactly these dimensions (0: no data)."""
    answer = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": found},
                    "Period": 600,
                    "Stat": stat,
                },
            }
        ],
        StartTime=datetime.fromtimestamp(NOW, UTC) - timedelta(minutes=5),
        EndTime=datetime.fromtimestamp(NOW, UTC) + timedelta(minutes=5),
    )
    return float(sum(answer["MetricDataResults"][0]["Values"]))


def test_invocations_and_errors_are_published_per_function_alias_and_executed_version(
    aws: AwsClients,
) -> None:
    # Given 7 invocations of version 1 through `live` (1 failed) and 3 of version 2 (all failed)
    metrics = PlatformMetrics(aws, wall_time=lambda: NOW)
    for error in [False] * 6 + [True]:
        metrics.record(function_name=FUNCTION, alias="live", version="1", error=error)
    for _ in range(3):
        metrics.record(function_name=FUNCTION, alias="live", version="2", error=True)
    # When the counts are flushed
    sent = metrics.flush()
    # Then one PutMetricData call published Invocations and Errors for the 4 dimension sets
    assert (sent, metrics.counters.calls, metrics.counters.invocations) == (8, 1, 10)
    # And the function and its alias count all 10 invocations and 4 errors
    for found in (dimensions(), dimensions(alias="live")):
        assert reading(aws, "Invocations", "Sum", found) == 10
        assert reading(aws, "Errors", "Sum", found) == 4
        assert reading(aws, "Errors", "SampleCount", found) == 10  # one sample per invocation, as Lambda's
    # And each executed version its own: the failing version's errors visible by ExecutedVersion
    assert reading(aws, "Invocations", "Sum", dimensions(alias="live", version="1")) == 7
    assert reading(aws, "Errors", "Sum", dimensions(alias="live", version="1")) == 1
    assert reading(aws, "Errors", "Average", dimensions(alias="live", version="2")) == 1.0
    assert reading(aws, "Errors", "Sum", dimensions(alias="live", version="2")) == 3


def test_an_invocation_without_an_alias_is_published_for_the_function_only() -> None:
    # Given one invocation of the function itself (no alias)
    counted = Counter({InvocationKey(FUNCTION, "", "$LATEST", int(NOW)): 1})
    # When its datums are built
    datums = metric_data(counted, Counter())
    # Then only the {FunctionName} set carries it: one Invocations, one Errors (sum 0, samples 1)
    assert [(datum["MetricName"], datum["Dimensions"]) for datum in datums] == [
        ("Invocations", dimensions()),
        ("Errors", dimensions()),
    ]
    assert datums[1]["StatisticValues"] == {"SampleCount": 1.0, "Sum": 0.0, "Minimum": 0.0, "Maximum": 0.0}
    assert datums[0]["Timestamp"] == datetime.fromtimestamp(int(NOW), UTC)


def test_counts_are_kept_per_second_and_split_over_calls_only_past_the_datum_limit(aws: AwsClients) -> None:
    # Given invocations in 170 different seconds (6 datums each: 1,020 datums)
    clock = [NOW - 100]
    metrics = PlatformMetrics(aws, wall_time=lambda: clock[0])
    for _ in range(170):
        metrics.record(function_name=FUNCTION, alias="live", version="1", error=False)
        clock[0] += 1
    # When they are flushed
    sent = metrics.flush()
    # Then two calls carried them (PutMetricData takes 1,000 datums), none lost
    assert sent == 1020 > MAX_DATUMS_PER_CALL
    assert metrics.counters.calls == 2
    assert reading(aws, "Invocations", "Sum", dimensions(alias="live", version="1")) == 170
    # And a flush with nothing counted makes no call
    assert metrics.flush() == 0 and metrics.counters.calls == 2


class FlakyCloudWatch:
    """A CloudWatch client that is unreachable at first, then records what it is sent."""

    def __init__(self) -> None:
        self.down = True
        self.sent: list[list[dict[str, Any]]] = []

    def put_metric_data(self, *, Namespace: str, MetricData: list[dict[str, Any]]) -> None:  # noqa: N803
        if self.down:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")
        assert Namespace == "AWS/Lambda"
        self.sent.append(MetricData)


class FlakyClients:
    """AwsClients-shaped: only CloudWatch."""

    def __init__(self) -> None:
        self.cloudwatch = FlakyCloudWatch()

    def client(self, service: str) -> Any:
        assert service == "cloudwatch"
        return self.cloudwatch


def test_counts_the_emulator_refused_are_sent_with_the_next_flush(caplog: pytest.LogCaptureFixture) -> None:
    # Given 3 invocations counted while the emulator is down (a restart)
    clients = FlakyClients()
    metrics = PlatformMetrics(clients, wall_time=lambda: NOW)  # type: ignore[arg-type]
    for _ in range(3):
        metrics.record(function_name=FUNCTION, alias="live", version="1", error=False)
    assert metrics.flush() == 0
    # When one more comes and the emulator answers again
    metrics.record(function_name=FUNCTION, alias="live", version="1", error=True)
    clients.cloudwatch.down = False
    metrics.flush()
    # Then one call carries all 4 (the refused ones kept), and the failure was logged once
    (batch,) = clients.cloudwatch.sent
    invocations = {
        len(datum["Dimensions"]): datum["StatisticValues"]["Sum"]
        for datum in batch
        if datum["MetricName"] == "Invocations"
    }
    assert invocations == {1: 4.0, 2: 4.0, 3: 4.0}
    assert "kept for the next flush" in caplog.text


def test_counting_stops_at_its_bound_and_counts_what_it_drops() -> None:
    # Given a publisher that keeps at most 2 distinct keys while it cannot send
    clients = FlakyClients()
    metrics = PlatformMetrics(clients, wall_time=lambda: NOW, max_pending_keys=2)  # type: ignore[arg-type]
    # When invocations of 3 versions are counted
    for version in ("1", "2", "3", "1"):
        metrics.record(function_name=FUNCTION, alias="live", version=version, error=False)
    # Then the third version's invocation is dropped (and counted), the others kept
    assert (metrics.counters.invocations, metrics.counters.dropped_invocations) == (3, 1)


def test_stopping_sends_what_is_counted(aws: AwsClients) -> None:
    # Given a started publisher with a long flush interval and one invocation counted
    metrics = PlatformMetrics(aws, flush_seconds=60, wall_time=lambda: NOW).start()
    metrics.record(function_name=FUNCTION, alias="live", version="1", error=False)
    # When it stops
    metrics.stop()
    # Then the invocation was published
    assert reading(aws, "Invocations", "Sum", dimensions()) == 1
