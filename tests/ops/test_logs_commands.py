"""`dmd logs tail` and `dmd logs query`: what the operator sees, the JSON keys and the exit codes (moto)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.config.api import ApiSettings, WafSettings
from infra.stack_files import load_committed
from infra.synth import ResourceGraph
from ops.target import Target
from tests.infra.fleet import added_names
from tests.ops.cli_output import flat, run_dmd, table_rows
from tests.ops.test_log_presets import waf_record

REGION = "us-east-1"
KEY = "fan:1|notification#E1-S1#sms"
SEND_GROUP = "/aws/lambda/prd3292-local-us-east-1-ntfcn-snd"
STATUS_GROUP = "/aws/lambda/prd3292-local-us-east-1-sms-status"
STREAM = "2026/12/01/[1]0123"
SHIPPED = (
    "demand_stream_to_sqs, event_details, notification_generator, notification_scheduler, notification_send, "
    "notification_sweeper, proxy_tm_account_service, shorten_event_url, sms_status_consumer"
)
# The refusal lists every worker of the catalog by name: the shipped ones, and any added after them.
WORKERS = ", ".join(sorted([*SHIPPED.split(", "), *added_names()]))


class LocalLogs:
    """The local stack's log groups in in-process moto, the command's target pointed at them."""

    def __init__(self, clients: AwsClients, graph: ResourceGraph, *, emulated: bool) -> None:
        self.logs = clients.client("logs")
        self.now = int(time.time() * 1000)
        # An endpoint makes the target emulated (the sandbox); none, AWS (in-process moto stands in).
        self.target = Target(
            stack="local",
            config=load_committed("local"),
            clients=clients,
            endpoint_url="http://emulated.invalid" if emulated else None,
        )
        self.target.graph = graph  # type: ignore[misc]  # the cached property's value, set ahead
        for worker in self.target.fleet.workers.values():
            self.logs.create_log_group(logGroupName=worker.log_group)
            self.logs.create_log_stream(logGroupName=worker.log_group, logStreamName=STREAM)

    def put(self, group: str, *records: dict[str, Any], offset_ms: int = 0) -> None:
        self.logs.put_log_events(
            logGroupName=group,
            logStreamName=STREAM,
            logEvents=[
                {"timestamp": self.now + offset_ms + index, "message": json.dumps(record)}
                for index, record in enumerate(records)
            ],
        )


def _local_logs(
    monkeypatch: pytest.MonkeyPatch, graph: ResourceGraph, *, emulated: bool
) -> Iterator[LocalLogs]:
    with mock_aws():
        local = LocalLogs(AwsClients.for_emulator(None, region=REGION), graph, emulated=emulated)
        monkeypatch.setattr("ops.operator_io.resolve_target", lambda name, **_: local.target)
        yield local


@pytest.fixture
def emulated(monkeypatch: pytest.MonkeyPatch, local_graph: ResourceGraph) -> Iterator[LocalLogs]:
    """The local stack as `dmd sandbox up` serves it (an emulator)."""
    yield from _local_logs(monkeypatch, local_graph, emulated=True)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, local_graph: ResourceGraph) -> Iterator[LocalLogs]:
    """The local stack's names, reached as AWS (the presets run as Insights queries)."""
    yield from _local_logs(monkeypatch, local_graph, emulated=False)


def _send_lines(local: LocalLogs) -> None:
    local.put(
        SEND_GROUP,
        {"level": "INFO", "message": "Batch processed", "records": 2, "failed": 1},
        {
            "level": "ERROR",
            "message": "Record failed",
            "correlation_id": KEY,
            "record_id": "49-1",
            "error_type": "ClientError",
            "exception": "Traceback (most recent call last):\nClientError: throttled",
        },
        {
            "level": "INFO",
            "message": "Notification sent",
            "correlation_id": "fan:2|x",
            "sale_to_send_seconds": 3.5,
        },
    )


def test_tail_shows_the_error_lines_with_correlation_id_extras_and_traceback(emulated: LocalLogs) -> None:
    # Given info and error lines of the send worker
    _send_lines(emulated)

    # When the operator tails its errors
    result = run_dmd(
        "logs", "tail", "notification_send", "--stack", "local", "--level", "error", "--since", "5m"
    )

    # Then only the error line is printed, compactly, its traceback below it
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert (
        lines[0].split(" ", 2)[2] == f"ERROR    Record failed  [{KEY}]  record_id=49-1 error_type=ClientError"
    )
    assert lines[1:] == ["    Traceback (most recent call last):", "    ClientError: throttled"]


def test_tail_by_correlation_id_follows_one_notification_across_workers(emulated: LocalLogs) -> None:
    # Given its lines in the send worker and in the status consumer, and another notification's
    _send_lines(emulated)
    emulated.put(
        STATUS_GROUP, {"level": "INFO", "message": "Status applied", "correlation_id": KEY}, offset_ms=50
    )

    # When the operator tails every worker for its correlation id, as JSON
    result = run_dmd("logs", "tail", "all", "--stack", "local", "--correlation-id", KEY, "--json")

    # Then one JSON object per line comes out, with the documented keys, oldest first
    assert result.exit_code == 0, result.output
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(document["worker"], document["record"]["message"]) for document in documents] == [
        ("notification_send", "Record failed"),
        ("sms_status_consumer", "Status applied"),
    ]
    assert set(documents[0]) == {
        "timestamp",
        "worker",
        "logGroup",
        "logStream",
        "eventId",
        "message",
        "record",
    }
    assert documents[0]["logGroup"] == SEND_GROUP
    assert documents[0]["logStream"] == STREAM
    assert json.loads(documents[0]["message"])["record_id"] == "49-1"


def test_follow_prints_new_lines_once_until_stopped(emulated: LocalLogs) -> None:
    # Given one line already written
    emulated.put(SEND_GROUP, {"level": "WARNING", "message": "Send failed transiently"})

    # When the operator follows the worker for three polls
    result = run_dmd(
        "logs",
        "tail",
        "notification_send",
        "--stack",
        "local",
        "--follow",
        "--interval",
        "0.1",
        "--max-polls",
        "3",
    )

    # Then the line is printed once, and the command ends cleanly when the polls are done
    assert result.exit_code == 0, result.output
    assert [line.split(" ", 2)[2] for line in result.stdout.splitlines()] == [
        "WARNING  Send failed transiently"
    ]
    assert "following notification_send (Ctrl-C to stop)" in result.stderr


def test_tail_says_when_the_limit_cut_the_lines(emulated: LocalLogs) -> None:
    # Given three lines
    _send_lines(emulated)

    # When at most two are asked for
    result = run_dmd("logs", "tail", "notification_send", "--stack", "local", "--limit", "2")

    # Then two are printed and the operator is told how to see more
    assert result.exit_code == 0, result.output
    assert [line.split(" ", 3)[2] for line in result.stdout.splitlines() if not line.startswith(" ")] == [
        "INFO",
        "ERROR",
    ]
    assert "first 2 lines shown: narrow --since or raise --limit" in flat(result.stderr)


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (("nope",), f"dmd: no worker 'nope' (workers: {WORKERS})"),
        (
            ("notification_send", "--level", "loud"),
            "dmd: no level 'loud' (levels: debug, info, warning, error, critical)",
        ),
        (
            ("notification_send", "--correlation-id", 'x" || $.level = "INFO'),
            "dmd: --correlation-id: the identifier may not contain quotes, backslashes or control characters",
        ),
    ],
)
def test_tail_refuses_bad_input_with_exit_2(
    emulated: LocalLogs, arguments: tuple[str, ...], reason: str
) -> None:
    # Given an unknown worker, level or an id that would break the filter pattern
    # When the operator tails with it
    result = run_dmd("logs", "tail", *arguments, "--stack", "local")

    # Then the command refuses with one line naming what is allowed
    assert result.exit_code == 2, result.output
    assert flat(result.stderr) == reason


def test_tail_refuses_a_since_that_is_no_time(emulated: LocalLogs) -> None:
    # Given a --since that is neither a duration nor a time
    # When the operator tails with it
    result = run_dmd("logs", "tail", "notification_send", "--stack", "local", "--since", "yesterday")

    # Then it is a usage error naming the option
    assert result.exit_code == 2
    assert "--since" in result.stderr


QUERY_COLUMNS = (
    "timestamp",
    "worker",
    "level",
    "message",
    "correlation_id",
    "exception_name",
    "exception",
    "record.status",
)


def test_query_errors_on_the_sandbox_prints_the_presets_rows(emulated: LocalLogs) -> None:
    # Given an error line in the send worker and a failed invocation's report in the status consumer
    _send_lines(emulated)
    emulated.put(STATUS_GROUP, {"type": "platform.report", "record": {"requestId": "r", "status": "timeout"}})

    # When the operator runs the errors preset over every worker
    result = run_dmd("logs", "query", "all", "--stack", "local", "--preset", "errors", "--since", "10m")

    # Then both rows are shown, the log group as the worker's name, computed client-side
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout, QUERY_COLUMNS)
    assert {row["worker"]: (row["level"], row["message"], row["record.status"]) for row in rows.values()} == {
        "notification_send": ("ERROR", "Record failed", "-"),
        "sms_status_consumer": ("-", "-", "timeout"),
    }
    assert "client-side (emulator)" in flat(result.stdout)
    assert flat(result.stderr).endswith("2 rows")


def test_query_json_has_the_documented_keys(emulated: LocalLogs) -> None:
    # Given one send with its latency
    _send_lines(emulated)

    # When the operator runs send-latency on the send worker as JSON
    result = run_dmd(
        "logs", "query", "notification_send", "--stack", "local", "--preset", "send-latency", "--json"
    )

    # Then the document has the stable keys, and one bin with the send
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {
        "stack",
        "preset",
        "title",
        "workers",
        "logGroups",
        "query",
        "since",
        "until",
        "evaluatedBy",
        "columns",
        "rows",
        "statistics",
    }
    assert (document["stack"], document["preset"], document["workers"]) == (
        "local",
        "send-latency",
        ["notification_send"],
    )
    assert document["logGroups"] == [SEND_GROUP]
    assert [(row["sent"], row["max_seconds"]) for row in document["rows"]] == [("1", "3.5")]
    assert document["columns"][0] == "bin(5m)"


def test_query_notification_needs_an_id_and_finds_its_lines(emulated: LocalLogs) -> None:
    # Given the lines of one notification
    _send_lines(emulated)

    # When the operator asks for the notification preset without an id, then with it
    missing = run_dmd("logs", "query", "all", "--stack", "local", "--preset", "notification")
    found = run_dmd(
        "logs", "query", "all", "--stack", "local", "--preset", "notification", "--id", KEY, "--json"
    )

    # Then the first is refused with exit 2, the second finds its one line
    assert missing.exit_code == 2
    assert flat(missing.stderr).startswith("dmd: the notification query needs an identifier")
    assert flat(missing.stderr).endswith("(--id)")
    assert found.exit_code == 0, found.output
    assert [row["message"] for row in json.loads(found.stdout)["rows"]] == ["Record failed"]


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (
            ("all", "--preset", "slow-sends"),
            "dmd: no preset 'slow-sends' (presets: "
            "errors, send-latency, cold-starts, notification, waf-blocks)",
        ),
        (
            ("notification_send", "--preset", "waf-blocks"),
            "dmd: the waf-blocks query reads the API's WAF log group, not a worker's: drop notification_send",
        ),
        (
            ("notification_sweeper", "--preset", "send-latency"),
            "dmd: the send-latency query reads notification_send only, not notification_sweeper",
        ),
        (("all", "--preset", "errors", "--id", KEY), "dmd: the errors query takes no identifier"),
        (("nope", "--preset", "errors"), f"dmd: no worker 'nope' (workers: {WORKERS})"),
    ],
)
def test_query_refuses_bad_input_with_exit_2(
    emulated: LocalLogs, arguments: tuple[str, ...], reason: str
) -> None:
    # Given an unknown preset or worker, a preset on a worker it does not read, an id it does not take
    # When the operator runs the query
    result = run_dmd("logs", "query", *arguments, "--stack", "local")

    # Then it is refused with exit 2 and one line
    assert result.exit_code == 2, result.output
    assert flat(result.stderr) == reason


def test_query_refuses_an_until_before_since(emulated: LocalLogs) -> None:
    # Given --until an hour before --since
    # When the operator runs a query with them
    result = run_dmd(
        "logs", "query", "all", "--stack", "local", "--preset", "errors", "--since", "1h", "--until", "2h"
    )

    # Then it is refused with exit 2
    assert result.exit_code == 2
    assert "is not after --since" in flat(result.stderr)


def test_query_against_aws_runs_the_saved_text(aws: LocalLogs) -> None:
    # Given AWS (in-process moto standing in; its engine ignores the filter)
    _send_lines(aws)

    # When the operator runs the errors preset as JSON
    result = run_dmd("logs", "query", "notification_send", "--stack", "local", "--preset", "errors", "--json")

    # Then the preset's own text ran as a Logs Insights query on the worker's group
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["evaluatedBy"] == "logs-insights"
    assert document["query"].startswith("fields @timestamp, @log, level, message")
    assert document["logGroups"] == [SEND_GROUP]


def _with_waf(local: LocalLogs, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the command at the local stack as if it had `platform.api.waf`; the WAF log group's name."""
    config = local.target.config
    platform = config.platform.model_copy(update={"api": ApiSettings(waf=WafSettings())})
    target = Target(
        stack="local",
        config=config.model_copy(update={"platform": platform}),
        clients=local.target.clients,
        endpoint_url=local.target.endpoint_url,
    )
    target.graph = local.target.graph  # type: ignore[misc]  # the cached property's value, set ahead
    monkeypatch.setattr("ops.operator_io.resolve_target", lambda name, **_: target)
    group = target.naming.api_waf_log_group_name
    local.logs.create_log_group(logGroupName=group)
    local.logs.create_log_stream(logGroupName=group, logStreamName=STREAM)
    return group


def test_query_waf_blocks_ranks_the_blocked_clients_of_the_api(
    emulated: LocalLogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack with a WAF whose log holds two rate-limit blocks of one IP, a managed-rule block
    # and an allowed request
    group = _with_waf(emulated, monkeypatch)
    emulated.put(
        group,
        waf_record("BLOCK", "rate-limit-per-ip", "203.0.113.9", "BR"),
        waf_record("BLOCK", "rate-limit-per-ip", "203.0.113.9", "BR"),
        waf_record("BLOCK", "aws-known-bad-inputs", "192.0.2.7", "DE", managed="Log4JRCE_BODY"),
        waf_record("ALLOW", "Default_Action", "198.51.100.1"),
    )

    # When the operator runs the WAF review without naming a worker, as a table and as JSON
    result = run_dmd("logs", "query", "--stack", "local", "--preset", "waf-blocks", "--since", "10m")
    as_json = run_dmd("logs", "query", "--stack", "local", "--preset", "waf-blocks", "--json")

    # Then the blocked clients are listed most first, read from the WAF's log group only
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout, ("terminatingRuleId", "managed_rule", "clientIp", "country", "blocked"))
    assert [tuple(row.values()) for row in rows.values()] == [
        ("rate-limit-per-ip", "-", "203.0.113.9", "BR", "2"),
        ("aws-known-bad-inputs", "Log4JRCE_BODY", "192.0.2.7", "DE", "1"),
    ]
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert (document["preset"], document["workers"], document["logGroups"]) == (
        "waf-blocks",
        ["api-waf"],
        [group],
    )
    assert [row["blocked"] for row in document["rows"]] == ["2", "1"]


def test_query_waf_blocks_on_a_stack_without_waf_says_so(emulated: LocalLogs) -> None:
    # Given the local stack, which has no WAF in front of its API
    # When the operator asks for the WAF review
    result = run_dmd("logs", "query", "--stack", "local", "--preset", "waf-blocks")

    # Then it fails with exit 1 and the reason
    assert result.exit_code == 1, result.output
    assert flat(result.stderr) == "dmd: local has no WAF in front of its API (platform.api.waf is off)"


def test_logs_help_names_both_commands_with_examples() -> None:
    # Given the CLI
    # When the operator asks for help on each command
    tail_help = run_dmd("logs", "tail", "--help")
    query_help = run_dmd("logs", "query", "--help")

    # Then each shows an example
    assert "Example: dmd logs tail notification_send --stack prod1 --level error --since 30m" in flat(
        tail_help.stdout
    )
    assert "Example: dmd logs query all --stack prod1 --preset errors --since 30m" in flat(query_help.stdout)
    assert "Example: dmd logs query --stack prod1 --preset waf-blocks --since 1h" in flat(query_help.stdout)
