"""The runbook's presets: Insights text on AWS, the same answer computed client-side on an emulator."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.log_queries import COLD_STARTS, ERRORS, LOG_QUERIES, NOTIFICATION, SEND_LATENCY, WAF_BLOCKS
from ops.log_presets import CLIENT_SIDE, INSIGHTS, evaluate, run_preset
from ops.logs import LogLine, LogReadError, LogSource

REGION = "us-east-1"
SEND = LogSource("notification_send", "/aws/lambda/prd3292-local-us-east-1-ntfcn-snd")
STATUS = LogSource("sms_status_consumer", "/aws/lambda/prd3292-local-us-east-1-sms-status")
KEY = "fan:1|notification#E1-S1#sms"
WAF = LogSource("api-waf", "aws-waf-logs-prd3292-prod1-us-east-1-api-waf")
# 08:00:00 UTC on a day: the start of a 5-minute bin.
BASE = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _line(source: LogSource, at: timedelta, record: dict[str, Any] | str, event_id: str = "") -> LogLine:
    message = record if isinstance(record, str) else json.dumps(record)
    stamp = int((BASE + at).timestamp() * 1000)
    return LogLine.of(
        timestamp_ms=stamp, source=source, log_stream="s", event_id=event_id or str(stamp), message=message
    )


def _report(init_ms: float | None = None, status: str = "success", memory: int = 80) -> dict[str, Any]:
    metrics: dict[str, Any] = {"durationMs": 10.0, "memorySizeMB": 256, "maxMemoryUsedMB": memory}
    if init_ms is not None:
        metrics["initDurationMs"] = init_ms
    return {
        "time": "t",
        "type": "platform.report",
        "record": {"requestId": "r", "metrics": metrics, "status": status},
    }


def test_errors_are_error_lines_and_failed_invocations_newest_first() -> None:
    # Given info, error and critical lines, a failed invocation's report and a successful one
    lines = [
        _line(SEND, timedelta(seconds=1), {"level": "INFO", "message": "Batch processed"}),
        _line(
            SEND,
            timedelta(seconds=2),
            {
                "level": "ERROR",
                "message": "Record failed",
                "correlation_id": KEY,
                "exception_name": "ClientError",
                "exception": "Traceback …",
            },
        ),
        _line(STATUS, timedelta(seconds=3), {"level": "CRITICAL", "message": "Stream gone"}),
        _line(SEND, timedelta(seconds=4), _report(status="timeout")),
        _line(SEND, timedelta(seconds=5), _report()),
    ]

    # When the errors preset is computed from them
    rows = evaluate(ERRORS, lines)

    # Then the two error lines and the timed-out invocation come back, newest first, in its columns
    assert rows == [
        {"@timestamp": "2026-12-01 08:00:04.000", "@log": SEND.log_group, "record.status": "timeout"},
        {
            "@timestamp": "2026-12-01 08:00:03.000",
            "@log": STATUS.log_group,
            "level": "CRITICAL",
            "message": "Stream gone",
        },
        {
            "@timestamp": "2026-12-01 08:00:02.000",
            "@log": SEND.log_group,
            "level": "ERROR",
            "message": "Record failed",
            "correlation_id": KEY,
            "exception_name": "ClientError",
            "exception": "Traceback …",
        },
    ]


def test_send_latency_is_counted_and_summarised_per_five_minutes() -> None:
    # Given four sends in the 08:00 bin (1, 2, 3 and 10 s after their window opened), one at 08:05
    # and another line that is no send
    sent = [
        _line(
            SEND,
            timedelta(seconds=second),
            {"level": "INFO", "message": "Notification sent", "sale_to_send_seconds": latency},
        )
        for second, latency in [(10, 1.0), (20, 2.0), (30, 3.0), (40, 10.0)]
    ]
    later = _line(
        SEND,
        timedelta(minutes=6),
        {"level": "INFO", "message": "Notification sent", "sale_to_send_seconds": 4.5},
    )
    other = _line(SEND, timedelta(seconds=50), {"level": "INFO", "message": "Batch processed"})

    # When the send-latency preset is computed
    rows = evaluate(SEND_LATENCY, [*sent, other, later])

    # Then each bin has its count, average, nearest-rank percentiles and maximum
    assert rows == [
        {
            "bin(5m)": "2026-12-01 08:00:00.000",
            "sent": "4",
            "avg_seconds": "4",
            "p50_seconds": "2",
            "p90_seconds": "10",
            "p99_seconds": "10",
            "max_seconds": "10",
        },
        {
            "bin(5m)": "2026-12-01 08:05:00.000",
            "sent": "1",
            "avg_seconds": "4.5",
            "p50_seconds": "4.5",
            "p90_seconds": "4.5",
            "p99_seconds": "4.5",
            "max_seconds": "4.5",
        },
    ]


def test_cold_starts_are_counted_per_function_and_five_minutes() -> None:
    # Given three reports of the send worker (one cold) and one of the status consumer (cold)
    lines = [
        _line(SEND, timedelta(seconds=1), _report(init_ms=300.0, memory=90)),
        _line(SEND, timedelta(seconds=2), _report(memory=95)),
        _line(SEND, timedelta(seconds=3), _report()),
        _line(STATUS, timedelta(seconds=4), _report(init_ms=250.5)),
        _line(SEND, timedelta(seconds=5), {"level": "INFO", "message": "not a report"}),
    ]

    # When the cold-starts preset is computed
    rows = evaluate(COLD_STARTS, lines)

    # Then each function's bin has its invocations, cold starts, init durations and peak memory
    assert rows == [
        {
            "bin(5m)": "2026-12-01 08:00:00.000",
            "@log": SEND.log_group,
            "invocations": "3",
            "cold_starts": "1",
            "avg_init_ms": "300",
            "max_init_ms": "300",
            "max_memory_mb": "95",
        },
        {
            "bin(5m)": "2026-12-01 08:00:00.000",
            "@log": STATUS.log_group,
            "invocations": "1",
            "cold_starts": "1",
            "avg_init_ms": "250.5",
            "max_init_ms": "250.5",
            "max_memory_mb": "80",
        },
    ]


def test_a_notification_is_followed_across_workers_oldest_first() -> None:
    # Given its send (correlated), its status (the reference in the message) and another one's line
    lines = [
        _line(STATUS, timedelta(seconds=9), {"level": "INFO", "message": "Status applied", "reference": KEY}),
        _line(
            SEND,
            timedelta(seconds=1),
            {"level": "INFO", "message": "Notification sent", "correlation_id": KEY, "message_id": "m-1"},
        ),
        _line(
            SEND,
            timedelta(seconds=2),
            {"level": "INFO", "message": "Notification sent", "correlation_id": "fan:2|x"},
        ),
    ]

    # When the notification preset is computed for its key
    rows = evaluate(NOTIFICATION, lines, KEY)

    # Then both of its lines come back, oldest first
    assert [(row["@log"], row["message"]) for row in rows] == [
        (SEND.log_group, "Notification sent"),
        (STATUS.log_group, "Status applied"),
    ]
    assert rows[0]["message_id"] == "m-1"


class _Groups:
    def __init__(self, clients: AwsClients) -> None:
        self.logs = clients.client("logs")
        self.now = int(time.time() * 1000)
        for source in (SEND, STATUS):
            self.logs.create_log_group(logGroupName=source.log_group)
            self.logs.create_log_stream(logGroupName=source.log_group, logStreamName="s")

    def put(self, source: LogSource, *records: dict[str, Any]) -> None:
        self.logs.put_log_events(
            logGroupName=source.log_group,
            logStreamName="s",
            logEvents=[
                {"timestamp": self.now + index, "message": json.dumps(record)}
                for index, record in enumerate(records)
            ],
        )


@pytest.fixture
def groups() -> Iterator[_Groups]:
    with mock_aws():
        yield _Groups(AwsClients.for_emulator(None, region=REGION))


def test_on_an_emulator_the_preset_is_computed_client_side_from_the_raw_lines(groups: _Groups) -> None:
    # Given an error line in one group and an info line in the other
    groups.put(SEND, {"level": "ERROR", "message": "Record failed", "correlation_id": KEY})
    groups.put(STATUS, {"level": "INFO", "message": "ok"})
    now = datetime.fromtimestamp(groups.now / 1000, UTC)

    # When the errors preset runs on both, emulated
    result = run_preset(
        groups.logs,
        ERRORS,
        [SEND, STATUS],
        identifier=None,
        start=now - timedelta(minutes=5),
        end=now + timedelta(minutes=1),
        emulated=True,
        timeout_seconds=5,
    )

    # Then the rows are the preset's, computed here, and the query reported is the preset's text
    assert result.evaluated_by == CLIENT_SIDE
    assert [(row["@log"], row["message"]) for row in result.rows] == [(SEND.log_group, "Record failed")]
    assert result.query_string == ERRORS.text
    assert result.log_groups == [SEND.log_group, STATUS.log_group]


class _Insights:
    """A logs client answering one Complete query; it keeps the query it was given."""

    def __init__(self) -> None:
        self.started: dict[str, Any] = {}

    def start_query(self, **request: Any) -> dict[str, str]:
        self.started = request
        return {"queryId": "q"}

    def get_query_results(self, queryId: str) -> dict[str, Any]:  # noqa: N803 - boto3's keyword
        row = [{"field": "@timestamp", "value": "2026-12-01 08:00:00.000"}, {"field": "@ptr", "value": "abc"}]
        return {"status": "Complete", "results": [row], "statistics": {"recordsMatched": 1.0}}


def test_on_aws_the_preset_text_runs_as_saved_with_the_id_substituted() -> None:
    # Given Logs Insights
    logs = _Insights()
    now = datetime.now(UTC)

    # When the notification preset runs for a key
    result = run_preset(
        logs,
        NOTIFICATION,
        [SEND],
        identifier=KEY,
        start=now - timedelta(hours=1),
        end=now,
        emulated=False,
        timeout_seconds=5,
    )

    # Then Insights got the preset's text with the key in place, and the rows come back without @ptr
    assert logs.started["queryString"] == NOTIFICATION.text.replace("{id}", KEY)
    assert logs.started["logGroupNames"] == [SEND.log_group]
    assert result.evaluated_by == INSIGHTS
    assert result.rows == [{"@timestamp": "2026-12-01 08:00:00.000"}]
    assert result.statistics == {"recordsMatched": 1.0}


def test_the_notification_preset_without_an_id_is_refused_before_any_query() -> None:
    # Given Logs Insights
    logs = _Insights()
    now = datetime.now(UTC)

    # When the notification preset runs without an identifier
    # Then it is refused, and no query started
    with pytest.raises(LogReadError, match="the notification query needs an identifier"):
        run_preset(
            logs, NOTIFICATION, [SEND], identifier=None, start=now, end=now, emulated=False, timeout_seconds=5
        )
    assert logs.started == {}


@pytest.mark.parametrize("query", LOG_QUERIES, ids=[query.preset for query in LOG_QUERIES])
def test_every_preset_can_be_computed_client_side(query: Any) -> None:
    # Given a preset and a line of each kind
    lines = [
        _line(SEND, timedelta(seconds=1), {"level": "ERROR", "message": "x", "correlation_id": KEY}),
        _line(SEND, timedelta(seconds=2), _report()),
    ]

    # When it is computed client-side
    rows = evaluate(query, lines, KEY if query.takes_identifier else None)

    # Then every row holds only the preset's columns
    assert all(set(row) <= set(query.columns) for row in rows)


def waf_record(
    action: str, rule: str, ip: str, country: str = "US", managed: str | None = None
) -> dict[str, Any]:
    """A WAF log record as WAF writes it: the web ACL's terminating rule, the request, the managed groups."""
    groups = [
        {"ruleGroupId": "AWS#AWSManagedRulesCommonRuleSet", "terminatingRule": None},
        {
            "ruleGroupId": "AWS#AWSManagedRulesKnownBadInputsRuleSet",
            "terminatingRule": None if managed is None else {"ruleId": managed, "action": "BLOCK"},
        },
    ]
    return {
        "timestamp": 1764576000000,
        "formatVersion": 1,
        "webaclId": "arn:aws:wafv2:us-east-1:210987654321:regional/webacl/prd3292-prod1-us-east-1-api-waf/x",
        "terminatingRuleId": rule,
        "terminatingRuleType": "MANAGED_RULE_GROUP" if managed else "REGULAR",
        "action": action,
        "ruleGroupList": groups,
        "httpRequest": {"clientIp": ip, "country": country, "uri": "/graphql", "httpMethod": "POST"},
    }


def test_waf_blocks_rank_blocked_requests_by_rule_managed_rule_and_client() -> None:
    # Given allowed requests, one IP over the rate limit, and a Log4j probe caught by a managed rule
    lines = [
        _line(WAF, timedelta(seconds=1), waf_record("ALLOW", "Default_Action", "198.51.100.1")),
        *(
            _line(
                WAF,
                timedelta(seconds=2 + index),
                waf_record("BLOCK", "rate-limit-per-ip", "203.0.113.9", "BR"),
            )
            for index in range(3)
        ),
        _line(
            WAF,
            timedelta(seconds=9),
            waf_record("BLOCK", "aws-known-bad-inputs", "192.0.2.7", "DE", managed="Log4JRCE_BODY"),
        ),
        _line(WAF, timedelta(seconds=10), "not a WAF record"),
    ]

    # When the waf-blocks preset is computed client-side
    rows = evaluate(WAF_BLOCKS, lines)

    # Then each blocked (rule, managed rule, IP, country) is one row, most first; allowed ones are absent
    assert rows == [
        {
            "terminatingRuleId": "rate-limit-per-ip",
            "httpRequest.clientIp": "203.0.113.9",
            "httpRequest.country": "BR",
            "blocked": "3",
        },
        {
            "terminatingRuleId": "aws-known-bad-inputs",
            "managed_rule": "Log4JRCE_BODY",
            "httpRequest.clientIp": "192.0.2.7",
            "httpRequest.country": "DE",
            "blocked": "1",
        },
    ]
    assert all(set(row) <= set(WAF_BLOCKS.columns) for row in rows)


def test_waf_blocks_run_as_the_saved_insights_text_on_aws() -> None:
    # Given Logs Insights
    logs = _Insights()
    now = datetime.now(UTC)

    # When the preset runs on the WAF's log group
    result = run_preset(
        logs, WAF_BLOCKS, [WAF], identifier=None, start=now - timedelta(hours=1), end=now,
        emulated=False, timeout_seconds=5,
    )  # fmt: skip

    # Then the saved text ran on that group
    assert logs.started["queryString"] == WAF_BLOCKS.text
    assert logs.started["logGroupNames"] == [WAF.log_group]
    assert result.evaluated_by == INSIGHTS
