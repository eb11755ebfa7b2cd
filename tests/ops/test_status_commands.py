"""`dmd status`: the screen on-call reads, its JSON, --watch, and what it refuses (the scenario in moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ops import status_commands
from ops.status_commands import ALARM_COLUMNS, QUEUE_COLUMNS, WORKER_COLUMNS
from tests.infra.fleet import SHIPPED_WORKERS, added_workers, worker_names
from tests.ops.cli_output import flat, local_stack_is, run_dmd, table_rows
from tests.ops.status_scenario import SEND_ALARM, SEND_ON_FAILURE, Incident


@pytest.fixture
def on_local(trouble: Incident, monkeypatch: pytest.MonkeyPatch) -> Incident:
    """`--stack local` reaches the incident; any other stack resolves as usual."""
    local_stack_is(trouble.target, monkeypatch)
    return trouble


@pytest.fixture
def metric_requests(trouble: Incident) -> Iterator[list[str]]:
    """Every GetMetricData request the incident's clients send during the test."""
    sent: list[str] = []

    def count(**_: object) -> None:
        sent.append("GetMetricData")

    events = trouble.target.clients.client("cloudwatch").meta.events
    events.register("before-call.cloudwatch.GetMetricData", count)
    yield sent
    events.unregister("before-call.cloudwatch.GetMetricData", count)


def test_the_screen_shows_each_worker_queue_alarm_and_the_maintenance_window(
    on_local: Incident, metric_requests: list[str]
) -> None:
    # Given the incident
    # When on-call opens the status screen
    result = run_dmd("status", "--stack", "local")

    # Then notification_send's row has its numbers, and the idle workers read 0 and "-"
    assert result.exit_code == 0, result.output
    workers = table_rows(result.stdout, WORKER_COLUMNS)
    assert workers["notification_send"] == {
        "worker": "notification_send",
        "trigger": "stream",
        "invocations": "40",
        "errors": "2",
        "throttles": "1",
        "failed records": "3",
        "iterator age max": "2m",
        "queue depth": "-",
        "queue oldest": "-",
        "alarms": "1",
    }
    assert workers["shorten_event_url"]["queue depth"] == "3"
    assert workers["shorten_event_url"]["queue oldest"] == "1m"
    assert workers["event_details"]["failed records"] == "-"
    assert len(workers) == 9 + len(added_workers())
    assert list(workers) == worker_names() and set(SHIPPED_WORKERS) <= set(workers)
    # And the on-failure queue holding two batches, and the alarm with its runbook section
    rows = table_rows(result.stdout, QUEUE_COLUMNS)
    assert rows[SEND_ON_FAILURE] == {
        "queue": SEND_ON_FAILURE,
        "worker": "notification_send",
        "kind": "on-failure",
        "depth": "2",
        "oldest": "10m",
    }
    alarm = table_rows(result.stdout, ALARM_COLUMNS)[SEND_ALARM]
    assert (alarm["worker"], alarm["runbook"]) == ("notification_send", "high-error-rate")
    # And the headline says the stack needs attention and who paused what
    screen = flat(result.stdout)
    assert "local:" in screen
    assert "Needs attention." in screen
    assert (
        "Maintenance since 2026-12-01 08:15 UTC by arn:aws:sts::123456789012:assumed-role/oncall/jane"
        in screen
    )
    assert "(paused: notification_sweeper)" in screen
    # And the whole screen's metrics came from one request
    assert metric_requests == ["GetMetricData"]


def test_json_has_the_documented_keys(on_local: Incident) -> None:
    # When a script asks for JSON
    result = run_dmd("status", "--stack", "local", "--since", "2h", "--json")

    # Then the document has exactly the documented keys at each level
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {
        "stack",
        "windowStart",
        "windowEnd",
        "healthy",
        "maintenance",
        "release",
        "workers",
        "deadLetterQueues",
        "alarms",
    }
    assert set(document["maintenance"]) == {"active", "reason", "startedBy", "startedAt", "workers"}
    assert document["release"] == {"active": None, "last": None}
    assert {key for worker in document["workers"] for key in worker} == {
        "worker",
        "functionName",
        "trigger",
        "invocations",
        "errors",
        "throttles",
        "failedRecords",
        "iteratorAgeMaxSeconds",
        "sourceQueue",
        "sourceQueueDepth",
        "sourceQueueOldestAgeSeconds",
        "alarmsInAlarm",
        "problems",
    }
    assert {key for queue in document["deadLetterQueues"] for key in queue} == {
        "queue",
        "worker",
        "kind",
        "exists",
        "depth",
        "visible",
        "inFlight",
        "delayed",
        "oldestAgeSeconds",
    }
    assert [set(alarm) for alarm in document["alarms"]] == [{"name", "worker", "since", "reason", "runbook"}]
    # And the values are the screen's, with times in UTC
    assert document["healthy"] is False
    assert document["maintenance"]["startedAt"] == "2026-12-01T08:15:00Z"
    send = next(worker for worker in document["workers"] if worker["worker"] == "notification_send")
    assert (send["failedRecords"], send["iteratorAgeMaxSeconds"]) == (3, 125.0)


def test_watch_refreshes_with_one_metric_request_per_screen_until_ctrl_c(
    on_local: Incident, metric_requests: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an operator who presses Ctrl-C during the second wait
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(status_commands, "_sleep", wait)

    # When the screen is watched every 10 s
    result = run_dmd("status", "--stack", "local", "--watch", "--interval", "10")

    # Then it showed the screen, refreshed once, made one metric request per screen, and ended cleanly
    assert result.exit_code == 0, result.output
    assert waits == [10, 10]
    assert metric_requests == ["GetMetricData", "GetMetricData"]
    assert "notification_send" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["--stack", "nope"], "unknown stack 'nope'"),
        (["--stack", "local", "--since", "yesterday"], "'yesterday' is neither an ISO-8601 time"),
        (["--stack", "local", "--since", "2099-01-01T00:00:00Z"], "leaves less than a minute of window"),
        (["--stack", "local", "--watch", "--json"], "--watch refreshes a screen for people"),
        (["--stack", "local", "--watch", "--interval", "1"], "--interval"),
    ],
    ids=["unknown stack", "bad since", "future since", "watch with json", "interval too short"],
)
def test_bad_input_exits_2_with_the_reason_before_reading_anything(
    on_local: Incident, metric_requests: list[str], arguments: list[str], reason: str
) -> None:
    # When on-call gets an option wrong
    result = run_dmd("status", *arguments)

    # Then the command refuses with the reason, as a usage error, having read nothing
    assert result.exit_code == 2
    assert reason in flat(result.output)
    assert metric_requests == []
