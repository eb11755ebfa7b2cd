"""Reading the workers' logs: filters as CloudWatch patterns and checks, reads, follow, Insights queries."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from ops.logs import (
    RAW_LINES_QUERY,
    Follower,
    LineFilter,
    LogLine,
    LogReadError,
    LogSource,
    follow,
    raw_lines,
    read_lines,
    run_insights,
)

REGION = "us-east-1"
SEND = LogSource("notification_send", "/aws/lambda/prd3292-local-us-east-1-ntfcn-snd")
STATUS = LogSource("sms_status_consumer", "/aws/lambda/prd3292-local-us-east-1-sms-status")
KEY = "fan:1|notification#E1-S1#sms"


def _json(level: str, message: str, **extra: Any) -> str:
    return json.dumps({"level": level, "message": message, "service": "w", "timestamp": "t", **extra})


class LogGroups:
    """In-process moto log groups of two workers, written by the test."""

    def __init__(self, clients: AwsClients) -> None:
        self.logs = clients.client("logs")
        self.now = int(time.time() * 1000)
        for source in (SEND, STATUS):
            self.logs.create_log_group(logGroupName=source.log_group)
            self.logs.create_log_stream(logGroupName=source.log_group, logStreamName="2026/12/01/[1]a")

    def put(self, source: LogSource, *messages: str, at: int | None = None) -> None:
        """Messages into the source's stream, one millisecond apart from `at` (default: now)."""
        start = self.now if at is None else at
        if not messages:
            return
        self.logs.put_log_events(
            logGroupName=source.log_group,
            logStreamName="2026/12/01/[1]a",
            logEvents=[
                {"timestamp": start + offset, "message": text} for offset, text in enumerate(messages)
            ],
        )


@pytest.fixture
def groups() -> Iterator[LogGroups]:
    with mock_aws():
        yield LogGroups(AwsClients.for_emulator(None, region=REGION))


def _since(groups: LogGroups, seconds: int = 60) -> datetime:
    return datetime.fromtimestamp(groups.now / 1000, UTC) - timedelta(seconds=seconds)


def test_the_options_become_a_cloudwatch_json_filter_pattern() -> None:
    # Given the filters an operator can ask for
    # Then each becomes the JSON pattern CloudWatch evaluates (levels at or above the one asked)
    assert LineFilter().pattern() == ""
    assert LineFilter(level="error").pattern() == (
        '{ ($.level = "ERROR") || ($.level = "CRITICAL") || ($.level = "FATAL") }'
    )
    assert LineFilter(correlation_id=KEY).pattern() == f'{{ ($.correlation_id = "{KEY}") }}'
    assert LineFilter(level="critical", correlation_id=KEY).pattern() == (
        f'{{ (($.level = "CRITICAL") || ($.level = "FATAL")) && ($.correlation_id = "{KEY}") }}'
    )
    # And a message is matched as a prefix (CloudWatch's trailing `*`)
    assert LineFilter(message="Record failed").pattern() == '{ ($.message = "Record failed*") }'


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"level": "loud"}, "no level 'loud' (levels: debug, info, warning, error, critical)"),
        ({"correlation_id": 'a" || $.x = "b'}, "--correlation-id: the identifier may not contain quotes"),
        ({"correlation_id": "  "}, "--correlation-id: the identifier is empty"),
        ({"message": 'a" || $.x = "b'}, "--message: the identifier may not contain quotes"),
    ],
)
def test_a_bad_filter_is_refused_with_the_reason(arguments: dict[str, str], reason: str) -> None:
    # Given a level that does not exist or an id that would break out of the pattern's string
    # When the filter is built
    # Then it is refused, saying why
    with pytest.raises(LogReadError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        LineFilter(**arguments)


def test_lines_of_several_workers_are_read_oldest_first_and_filtered_here_too(groups: LogGroups) -> None:
    # Given error and info lines in two workers' groups (moto answers every line whatever the pattern)
    groups.put(SEND, _json("INFO", "Batch processed"), _json("ERROR", "Record failed", correlation_id=KEY))
    groups.put(STATUS, _json("CRITICAL", "Status stream unreadable"), at=groups.now + 5)
    groups.put(STATUS, _json("WARNING", "Status held", correlation_id=KEY), at=groups.now + 10)

    # When the error lines of both are read
    read = read_lines(
        groups.logs, [SEND, STATUS], start=_since(groups), line_filter=LineFilter(level="error")
    )

    # Then only ERROR and above come back, oldest first across the groups, with their worker
    assert [(line.worker, line.level, line.text) for line in read.lines] == [
        ("notification_send", "ERROR", "Record failed"),
        ("sms_status_consumer", "CRITICAL", "Status stream unreadable"),
    ]
    assert not read.truncated
    # And a correlation id picks that notification's lines, whatever their level
    mine = read_lines(
        groups.logs, [SEND, STATUS], start=_since(groups), line_filter=LineFilter(correlation_id=KEY)
    )
    assert [line.text for line in mine.lines] == ["Record failed", "Status held"]
    # And a message prefix picks the lines whose message starts with it, in every worker
    held = read_lines(
        groups.logs, [SEND, STATUS], start=_since(groups), line_filter=LineFilter(message="Status")
    )
    assert [line.text for line in held.lines] == ["Status stream unreadable", "Status held"]


def test_a_read_stops_at_its_limit_and_says_it_was_cut(groups: LogGroups) -> None:
    # Given five lines
    groups.put(SEND, *(_json("INFO", f"line {index}") for index in range(5)))

    # When at most three are asked for
    read = read_lines(groups.logs, [SEND], start=_since(groups), limit=3)

    # Then the oldest three come back, marked truncated
    assert [line.text for line in read.lines] == ["line 0", "line 1", "line 2"]
    assert read.truncated


def test_lines_before_since_are_not_read(groups: LogGroups) -> None:
    # Given a line two hours old and one just written
    groups.put(SEND, _json("ERROR", "old"), at=groups.now - 2 * 3600 * 1000)
    groups.put(SEND, _json("ERROR", "new"))

    # When the last hour is read
    read = read_lines(groups.logs, [SEND], start=_since(groups, 3600))

    # Then only the new line is there
    assert [line.text for line in read.lines] == ["new"]


def test_following_prints_each_new_line_once_until_its_polls_are_done(groups: LogGroups) -> None:
    # Given a line already there, and a follower from a minute ago
    groups.put(SEND, _json("INFO", "first"))
    follower = Follower(groups.logs, [SEND], LineFilter(), _since(groups))
    writes = iter([[_json("INFO", "second")], [], [_json("INFO", "third"), _json("INFO", "fourth")]])
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        # Between polls, the worker writes more lines
        slept.append(seconds)
        groups.put(SEND, *next(writes), at=groups.now + 100 * len(slept))

    # When it follows for four polls
    seen = [line.text for line in follow(follower, interval_seconds=2.0, polls=4, sleep=sleep)]

    # Then every line comes exactly once, in order, and it waited the interval between polls
    assert seen == ["first", "second", "third", "fourth"]
    assert slept == [2.0, 2.0, 2.0]


def test_a_line_knows_its_kind_text_and_extras() -> None:
    # Given a worker's JSON line, a platform report, an EMF blob and a plain text line
    def line(message: str) -> LogLine:
        return LogLine.of(timestamp_ms=0, source=SEND, log_stream="s", event_id="1", message=message)

    log = line(
        _json("WARNING", "Send failed transiently", correlation_id=KEY, reason="timeout", cold_start=False)
    )
    report = line(
        json.dumps(
            {
                "type": "platform.report",
                "record": {
                    "requestId": "r",
                    "metrics": {
                        "durationMs": 12.5,
                        "maxMemoryUsedMB": 70,
                        "memorySizeMB": 256,
                        "initDurationMs": 300,
                    },
                    "status": "success",
                },
            }
        )
    )
    metrics = line(
        json.dumps(
            {"_aws": {"CloudWatchMetrics": [{"Metrics": [{"Name": "SendAttempts"}]}]}, "SendAttempts": [1]}
        )
    )
    text = line("Traceback (most recent call last):")

    # Then each is shown for what it is
    assert (log.kind, log.level, log.text, log.correlation_id, log.extras) == (
        "log",
        "WARNING",
        "Send failed transiently",
        KEY,
        {"reason": "timeout"},
    )
    assert (report.kind, report.level, report.text) == (
        "platform",
        None,
        "platform.report: 12.5 ms, 70 MB of 256 MB, init 300 ms, success",
    )
    assert (metrics.kind, metrics.text) == ("metrics", "metrics: SendAttempts=[1]")
    assert (text.kind, text.text, text.record) == ("text", "Traceback (most recent call last):", None)


def test_an_insights_query_is_polled_until_complete(groups: LogGroups) -> None:
    # Given two lines in a group
    groups.put(SEND, _json("INFO", "a"), _json("ERROR", "b"))
    statuses: list[str] = []

    # When the raw-lines query runs on it
    answer = run_insights(
        groups.logs,
        [SEND.log_group],
        RAW_LINES_QUERY,
        start=_since(groups),
        end=_since(groups, -60),
        timeout_seconds=5,
        on_status=statuses.append,
    )

    # Then it completes with a row per line, which read back as the lines
    assert answer.status == "Complete"
    assert statuses == ["Complete"]
    assert [line.text for line in raw_lines(answer, [SEND])] == ["a", "b"]


class _SlowInsights:
    """A logs client whose query stays in one status; it records what was asked."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.stopped: list[str] = []
        self.polls = 0

    def start_query(self, **request: Any) -> dict[str, str]:
        return {"queryId": "q-1"}

    def get_query_results(self, queryId: str) -> dict[str, Any]:  # noqa: N803 - boto3's keyword
        self.polls += 1
        return {"status": self.status, "results": []}

    def stop_query(self, queryId: str) -> None:  # noqa: N803 - boto3's keyword
        self.stopped.append(queryId)


def test_a_query_that_outlasts_its_timeout_is_stopped_with_a_clear_message() -> None:
    # Given a query that stays Running, and a clock that moves a second per poll
    logs = _SlowInsights("Running")
    ticks = iter(range(100))
    now = datetime.now(UTC)

    # When it is run with a 3-second timeout
    with pytest.raises(LogReadError) as refused:
        run_insights(
            logs,
            ["g"],
            "fields @message",
            start=now - timedelta(hours=1),
            end=now,
            timeout_seconds=3,
            sleep=lambda seconds: None,
            clock=lambda: float(next(ticks)),
        )

    # Then it gives up after the timeout, stops the query and says what to do
    assert str(refused.value) == (
        "the query was still Running after 3 s and was stopped (query id q-1): "
        "narrow --since or raise --timeout"
    )
    assert logs.stopped == ["q-1"]
    assert logs.polls == 3  # at 1, 2 and 3 s


def test_a_failed_query_says_how_it_ended() -> None:
    # Given a query Insights fails
    logs = _SlowInsights("Failed")
    now = datetime.now(UTC)

    # When it is run
    # Then the failure names the status and the query id
    with pytest.raises(LogReadError, match=r"^the query ended Failed \(query id q-1\)$"):
        run_insights(logs, ["g"], "fields @message", start=now, end=now, timeout_seconds=3)
