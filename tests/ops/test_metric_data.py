"""Many CloudWatch metrics in one GetMetricData request: periods, folding, pages, and the 500-query limit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from moto import mock_aws

from aws_clients import AwsClients
from ops.metric_data import MetricQuery, MetricSeries, period_for, read_metrics

REGION = "us-east-1"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def clients() -> Iterator[AwsClients]:
    """Clients reaching a fresh in-process moto."""
    with mock_aws():
        yield AwsClients.for_emulator(None, region=REGION)


def _requests(clients: AwsClients) -> list[dict[str, Any]]:
    """Every GetMetricData request the clients send from now on (its parameters)."""
    sent: list[dict[str, Any]] = []
    clients.client("cloudwatch").meta.events.register(
        "provide-client-params.monitoring.GetMetricData", lambda params, **_: sent.append(dict(params))
    )
    return sent


def _invocations(function: str, query_id: str = "inv") -> MetricQuery:
    return MetricQuery(
        id=query_id,
        namespace="AWS/Lambda",
        metric="Invocations",
        dimensions={"FunctionName": function},
        statistic="Sum",
    )


def _put(clients: AwsClients, function: str, *points: tuple[timedelta, float]) -> None:
    clients.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
                "Value": value,
                "Timestamp": NOW - ago,
            }
            for ago, value in points
        ],
    )


@pytest.mark.parametrize(
    ("window", "period"),
    [
        (timedelta(seconds=30), 60),
        (timedelta(hours=1), 60),
        (timedelta(hours=3), 180),
        (timedelta(days=1), 1440),
        (timedelta(days=20), 28800),
        (timedelta(days=70), 100800),
    ],
    ids=["30s", "1h", "3h", "1d", "20d", "70d"],
)
def test_periods_are_whole_minutes_and_at_most_sixty_per_window(window: timedelta, period: int) -> None:
    # Given a window up to now
    # When its period is chosen
    # Then it is at least a minute, a multiple of 60 s (300 s past 15 days, 3600 s past 63 days,
    # as CloudWatch keeps datapoints), and the window holds at most 60 of them
    assert period_for(NOW - window, NOW) == period


def test_an_hour_three_weeks_ago_is_read_in_five_minute_periods() -> None:
    start = datetime.now(UTC) - timedelta(days=21)
    assert period_for(start, start + timedelta(hours=1)) == 300


def test_every_query_is_answered_from_one_request(clients: AwsClients) -> None:
    # Given invocations of one function at three moments of the last hour, and none of another
    _put(clients, "send", (timedelta(minutes=50), 4), (timedelta(minutes=20), 1), (timedelta(minutes=5), 2))
    sent = _requests(clients)

    # When both are read over the hour
    series = read_metrics(
        clients,
        [_invocations("send", "a"), _invocations("idle", "b")],
        start=NOW - timedelta(hours=1),
        end=NOW,
    )

    # Then one request carried both queries, and each series folds as its statistic needs
    assert len(sent) == 1
    assert [query["Id"] for query in sent[0]["MetricDataQueries"]] == ["a", "b"]
    assert (series["a"].total, series["a"].maximum, series["a"].latest) == (7.0, 4.0, 2.0)
    # And a metric without datapoints is an empty series: no total, maximum or latest
    assert series["b"] == MetricSeries()
    assert (series["b"].total, series["b"].maximum, series["b"].latest) == (None, None, None)


def test_pages_are_followed_with_the_next_token_only(clients: AwsClients) -> None:
    # Given a CloudWatch that answers in two pages
    pages = [
        {"MetricDataResults": [{"Id": "a", "Timestamps": [NOW], "Values": [1.0]}], "NextToken": "page-2"},
        {"MetricDataResults": [{"Id": "a", "Timestamps": [NOW - timedelta(minutes=1)], "Values": [2.0]}]},
    ]
    sent = _requests(clients)

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse(params["url"], 200, HTTPHeaders(), None), pages[len(sent) - 1]

    clients.client("cloudwatch").meta.events.register("before-call.cloudwatch.GetMetricData", answer)

    # When one metric is read
    series = read_metrics(clients, [_invocations("send", "a")], start=NOW - timedelta(hours=1), end=NOW)

    # Then the second request is the first with the token, and both pages' points are kept
    assert len(sent) == 2
    assert sent[1] == {**sent[0], "NextToken": "page-2"}
    assert series["a"].total == 3.0
    assert series["a"].latest == 1.0


def test_more_than_500_queries_take_one_request_per_500(clients: AwsClients) -> None:
    # Given 501 queries
    queries = [_invocations(f"fn{index}", f"q{index}") for index in range(501)]
    sent = _requests(clients)

    # When they are read
    series = read_metrics(clients, queries, start=NOW - timedelta(hours=1), end=NOW)

    # Then CloudWatch's limit splits them into two requests, and every query has its series
    assert [len(request["MetricDataQueries"]) for request in sent] == [500, 1]
    assert len(series) == 501


def test_repeated_query_ids_are_refused_before_any_request(clients: AwsClients) -> None:
    sent = _requests(clients)
    with pytest.raises(ValueError, match="metric query ids repeat: \\['a'\\]"):
        read_metrics(
            clients, [_invocations("x", "a"), _invocations("y", "a")], start=NOW - timedelta(hours=1), end=NOW
        )
    assert sent == []
