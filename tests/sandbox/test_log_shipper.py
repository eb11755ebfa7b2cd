"""Worker logs in the emulator: each invocation's lines and the platform's records, never blocking."""

from __future__ import annotations

import io
import json
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from aws_clients import AwsClients
from sandbox.clock import SandboxClock
from sandbox.environment import EnvironmentGate
from sandbox.function import FunctionSettings, LambdaFunction
from sandbox.log_shipper import LogShipper
from sandbox.worker_log import routed_output
from tests.sandbox import logging_handlers

REGION = "us-east-1"
FUNCTION = "prd3292-test-log-worker"
GROUP = f"/aws/lambda/{FUNCTION}"
STREAM_SHAPE = re.compile(r"^\d{4}/\d{2}/\d{2}/\[1\][0-9a-f]{32}$")


def _function(handler: str, sink: LogShipper | None, **settings: Any) -> LambdaFunction:
    logging = {"log_format": "JSON", "system_log_level": "INFO", **settings}
    return LambdaFunction(
        FunctionSettings(
            worker="log_worker",
            function_name=FUNCTION,
            handler=f"{logging_handlers.PATH}.{handler}",
            version="1",
            memory_mb=256,
            **logging,
        ),
        clock=SandboxClock(),
        gate=EnvironmentGate(),
        log_sink=sink,
    )


def _messages(aws: AwsClients, stream: str) -> list[str]:
    events = aws.client("logs").get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)
    return [event["message"] for event in events["events"]]


def _label(message: str) -> str:
    """A platform record's type, a JSON line's message, or the text line itself."""
    try:
        record = json.loads(message)
    except ValueError:
        return message
    return str(record.get("type") or record.get("message")) if isinstance(record, dict) else message


def _reports(messages: list[str]) -> list[dict[str, Any]]:
    return [json.loads(message)["record"] for message in messages if _label(message) == "platform.report"]


@pytest.fixture
def shipper(aws: AwsClients) -> Iterator[LogShipper]:
    """A shipper for the emulator (its thread not started: tests flush), with the function's group made."""
    aws.client("logs").create_log_group(logGroupName=GROUP)
    shipper = LogShipper(aws)
    yield shipper
    shipper.stop()


@contextmanager
def routed() -> Iterator[io.StringIO]:
    """The process's output routed through capturing streams into a buffer (like the worker log file)."""
    # Inside the test's body: pytest puts its own capture back on sys.stdout between test phases.
    sink = io.StringIO()
    with routed_output(sink, sink):
        yield sink


def test_an_invocations_lines_land_in_its_group_and_stream_between_the_platform_records(
    aws: AwsClients, shipper: LogShipper
) -> None:
    # Given a function in Lambda's JSON log format whose handler prints a JSON line, a text line
    # and an unterminated fragment on stderr
    function = _function("print_lines", shipper)
    line = {"level": "INFO", "message": "Notification sent", "correlation_id": "fan:1|notification#E-S#sms"}

    # When it is invoked twice and the shipper flushes
    with routed() as output:
        function.invoke({"lines": [line, "plain text"], "stderr": "a fragment"})
        function.invoke({"lines": ["second"]})
    shipper.flush()

    # Then both invocations are in the function's group, in one stream named the way Lambda does
    streams = aws.client("logs").describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert [stream["logStreamName"] for stream in streams] == [function.log_stream_name]
    assert STREAM_SHAPE.match(function.log_stream_name)
    # And each invocation's lines sit between its platform records, the cold start first
    messages = _messages(aws, function.log_stream_name)
    assert [_label(message) for message in messages] == [
        "platform.initStart",
        "platform.start",
        "Notification sent",
        "plain text",
        "a fragment",
        "platform.report",
        "platform.start",
        "second",
        "platform.report",
    ]
    # And only the cold start's report has an init duration; both name their request and succeeded
    first, second = _reports(messages)
    assert first["metrics"]["initDurationMs"] >= 0
    assert "initDurationMs" not in second["metrics"]
    assert first["requestId"] != second["requestId"]
    assert (first["status"], second["status"]) == ("success", "success")
    assert first["metrics"]["memorySizeMB"] == 256
    assert 1 <= first["metrics"]["maxMemoryUsedMB"] <= 256
    assert first["metrics"]["billedDurationMs"] >= first["metrics"]["durationMs"]
    # And the lines still reach the process's output (the worker log file)
    assert "plain text\n" in output.getvalue()
    assert shipper.counters.shipped == 9


def test_text_format_functions_get_lambdas_start_end_and_report_lines(
    aws: AwsClients, shipper: LogShipper
) -> None:
    # Given a function in Lambda's text log format
    function = _function("print_lines", shipper, log_format="Text")

    # When it is invoked once
    with routed():
        function.invoke({"lines": ["hello"]})
    shipper.flush()

    # Then its stream holds INIT_START, START, the line, END and a REPORT with the init duration
    messages = _messages(aws, function.log_stream_name)
    assert [message.split(" ")[0] for message in messages] == [
        "INIT_START",
        "START",
        "hello",
        "END",
        "REPORT",
    ]
    assert messages[1].endswith("Version: 1")
    report = dict(field.split(": ", 1) for field in messages[4].strip("\t").split("\t")[1:])
    assert set(report) == {"Duration", "Billed Duration", "Memory Size", "Max Memory Used", "Init Duration"}
    assert report["Memory Size"] == "256 MB"


def test_at_system_log_level_warn_no_platform_records_are_written(
    aws: AwsClients, shipper: LogShipper
) -> None:
    # Given a JSON-format function whose system log level is WARN
    function = _function("print_lines", shipper, system_log_level="WARN")

    # When it is invoked
    with routed():
        function.invoke({"lines": ["only this"]})
    shipper.flush()

    # Then only its own line is in the log group, as Lambda filters its INFO records out
    assert _messages(aws, function.log_stream_name) == ["only this"]


def test_a_failed_invocation_is_reported_with_status_error_and_its_exception_unchanged(
    aws: AwsClients, shipper: LogShipper
) -> None:
    # Given a function whose handler prints, then raises
    function = _function("print_then_raise", shipper)

    # When it is invoked, the handler's own exception comes out
    with routed(), pytest.raises(RuntimeError, match="boom"):
        function.invoke({})
    shipper.flush()

    # Then its line and a report with status error are in the log group
    messages = _messages(aws, function.log_stream_name)
    assert "about to fail" in messages
    assert [report["status"] for report in _reports(messages)] == ["error"]


def test_an_invocation_past_its_timeout_is_reported_with_status_timeout(
    aws: AwsClients, shipper: LogShipper
) -> None:
    # Given a function with a 1 s timeout whose handler runs 50 ms longer
    function = _function("overrun", shipper, timeout_seconds=1)

    # When it is invoked
    with routed():
        function.invoke({})
    shipper.flush()

    # Then its report says it timed out, after more than its second
    (report,) = _reports(_messages(aws, function.log_stream_name))
    assert report["status"] == "timeout"
    assert report["metrics"]["durationMs"] > 1000


def test_lines_of_threads_the_handler_starts_are_not_attributed_to_it(
    aws: AwsClients, shipper: LogShipper
) -> None:
    # Given a handler that prints once itself and once from a helper thread
    function = _function("print_from_a_thread", shipper)

    # When it is invoked
    with routed() as output:
        function.invoke({})
    shipper.flush()

    # Then only its own line is in its stream; both reach the process's output
    labels = [_label(message) for message in _messages(aws, function.log_stream_name)]
    assert "from the handler" in labels
    assert "from a helper thread" not in labels
    assert "from a helper thread" in output.getvalue()


def test_an_unreachable_emulator_never_blocks_or_fails_the_invocation() -> None:
    # Given a shipper whose emulator endpoint nobody serves (a port just released), its thread running
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    shipper = LogShipper(AwsClients.for_emulator(endpoint, region=REGION), flush_seconds=0.05).start()
    function = _function("print_lines", shipper)

    # When the function is invoked
    began = time.monotonic()
    with routed():
        answer = function.invoke({"lines": ["still fine"]})
    took = time.monotonic() - began

    # Then the invocation returns at once with its answer, and the refused lines are dropped and counted
    assert answer == {"printed": 1}
    assert took < 0.5
    shipper.stop()
    counters = shipper.counters
    assert (counters.shipped, counters.dropped) == (0, 4)


def test_a_full_buffer_drops_and_counts_instead_of_growing(aws: AwsClients) -> None:
    # Given a shipper that may buffer 3 events
    shipper = LogShipper(aws, max_buffered=3)

    # When invocations hand it 2, then 2 more events
    shipper.ship(GROUP, "stream", [(1, "a"), (2, "b")])
    shipper.ship(GROUP, "stream", [(3, "c"), (4, "d")])

    # Then the second lot is dropped and counted, without an exception
    assert shipper.counters.dropped == 2


def test_a_missing_log_group_is_created_as_lambda_would(aws: AwsClients) -> None:
    # Given no log group for a function
    shipper = LogShipper(aws)

    # When lines for it are shipped
    shipper.ship("/aws/lambda/new-function", "2026/12/01/[1]abc", [(int(time.time() * 1000), "hello")])
    shipper.flush()

    # Then the group and stream exist and hold the line
    events = aws.client("logs").get_log_events(
        logGroupName="/aws/lambda/new-function", logStreamName="2026/12/01/[1]abc"
    )["events"]
    assert [event["message"] for event in events] == ["hello"]


def test_without_a_sink_nothing_is_captured() -> None:
    # Given a function without a log sink
    function = _function("print_lines", None)

    # When it is invoked
    with routed() as output:
        answer = function.invoke({"lines": ["just output"]})

    # Then it runs as before, its line on the process's output only
    assert answer == {"printed": 1}
    assert output.getvalue() == "just output\n"


def test_lines_the_emulator_refuses_as_too_old_are_counted_dropped(
    aws: AwsClients, shipper: LogShipper
) -> None:
    # Given a line from 20 days ago (CloudWatch Logs takes 14 days back at most) and one from now
    now = int(time.time() * 1000)
    shipper.ship(GROUP, "old-and-new", [(now - 20 * 86_400_000, "too old"), (now, "fresh")])

    # When they are sent
    shipper.flush()

    # Then one is shipped and the refused one is counted as dropped
    counters = shipper.counters
    assert (counters.shipped, counters.dropped, counters.calls) == (1, 1, 1)
    assert _messages(aws, "old-and-new") == ["fresh"]


def test_a_line_longer_than_an_event_may_be_is_cut_to_the_limit(aws: AwsClients, shipper: LogShipper) -> None:
    # Given a 300 KB line (an event holds at most 256 KB, 26 bytes of it overhead)
    shipper.ship(GROUP, "long", [(int(time.time() * 1000), "x" * 300_000)])

    # When it is sent
    shipper.flush()

    # Then it arrives cut to the limit instead of failing the whole batch
    assert [len(message) for message in _messages(aws, "long")] == [262_144 - 26]
