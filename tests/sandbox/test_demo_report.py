"""The demo report's arithmetic: terminal statuses, failure reasons, percentiles, what counts as lost."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from rich.console import Console

from sandbox.api_calls import ApiCall, ApiCalls
from sandbox.demo.display import summary_table
from sandbox.demo.report import (
    DemoReport,
    Invariant,
    api_calls_section,
    failure_reason,
    is_terminal,
    nothing_lost,
    percentiles,
)


@pytest.mark.parametrize(
    ("item", "terminal"),
    [
        ({"status": {"id": "DELIVERED"}, "contactMethod": "sms"}, True),
        ({"status": {"id": "FAILED"}, "contactMethod": "email"}, True),
        ({"status": {"id": "EXPIRED"}, "contactMethod": "sms"}, True),
        ({"status": {"id": "EXPIRED"}, "contactMethod": "email"}, True),
        ({"status": {"id": "TRIGGERED"}, "contactMethod": "email"}, True),
        ({"status": {"id": "TRIGGERED"}, "contactMethod": "sms"}, False),
        ({"status": {"id": "RETRY"}, "contactMethod": "email"}, False),
    ],
)
def test_email_is_terminal_once_ses_accepted_it_and_sms_once_delivered_failed_or_expired(
    item: dict[str, object], terminal: bool
) -> None:
    assert is_terminal(item) is terminal


def test_failure_reasons_name_the_vendor_code_or_exhausted_attempts() -> None:
    assert (
        failure_reason({"errors": [{"reason": "INVALID_NUMBER"}], "sendAttempts": 1}, 3) == "INVALID_NUMBER"
    )
    carrier = {"errors": [{"reason": "BLOCKED: the carrier blocked the message"}], "sendAttempts": 1}
    assert failure_reason(carrier, 3) == "BLOCKED"
    outage = {"errors": [{"reason": "SERVICE_UNAVAILABLE"}] * 3, "sendAttempts": 3}
    assert failure_reason(outage, 3) == "MAX_SEND_ATTEMPTS_EXCEEDED"


def test_percentiles_are_nearest_rank() -> None:
    assert percentiles([]) == {}
    assert percentiles([float(n) for n in range(1, 101)]) == {
        "count": 100,
        "p50": 50.0,
        "p90": 90.0,
        "p99": 99.0,
        "max": 100.0,
    }


SEND_DLQ = "prd3292-local-us-east-1-ntfcn-snd-on-failure"


def lost(**overrides: Any) -> Invariant:
    arguments: dict[str, Any] = {
        "missing": 0,
        "unexpected": 0,
        "non_terminal": 0,
        "dlq": {SEND_DLQ: 0, "prd3292-local-us-east-1-generation-jobs-dlq": 0},
        "discarded": {"notification_send": 0, "sms_status_consumer": 0},
        "send_on_failure_queue": SEND_DLQ,
        **overrides,
    }
    return nothing_lost(**arguments)


def test_send_triggers_the_stream_gave_up_on_are_not_lost_once_every_notification_is_terminal() -> None:
    # Given a run whose stream discarded send records and reported them to the sender's on-failure queue
    dropped = {"dlq": {SEND_DLQ: 3}, "discarded": {"notification_send": 40}}
    # When every notification still ended terminal (the sweeper released them to the sender)
    recovered = lost(**dropped)
    # Then nothing was lost, and the detail says so
    assert recovered.ok
    assert "43 send triggers given up by the stream, every one's notification recovered" in recovered.detail
    # But while one of them is not terminal, they count as lost
    assert not lost(**dropped, non_terminal=1).ok


@pytest.mark.parametrize(
    "overrides",
    [
        {"missing": 1},
        {"unexpected": 1},
        {"dlq": {SEND_DLQ: 0, "prd3292-local-us-east-1-generation-jobs-dlq": 1}},
        {"discarded": {"notification_send": 0, "sms_status_consumer": 2}},
    ],
)
def test_any_other_dead_letter_discard_or_missing_notification_is_lost(overrides: dict[str, Any]) -> None:
    # Given every notification terminal
    # When a generation job was dead-lettered, a status event discarded, or a notification is missing
    # Then something was lost: nothing recovers those
    assert not lost(**overrides).ok


def test_a_clean_run_lost_nothing() -> None:
    assert lost().ok


def test_poison_demand_records_parked_in_a_queue_are_accounted_for_and_nothing_else_is() -> None:
    # Given two poison demand records parked in the sender's on-failure queue and one in another queue
    dlq = {SEND_DLQ: 2, "prd3292-local-us-east-1-generation-jobs-dlq": 1}
    parked = {SEND_DLQ: 2, "prd3292-local-us-east-1-generation-jobs-dlq": 1}
    # When the run is checked
    accounted = lost(dlq=dlq, parked_poison=parked)
    # Then nothing was lost, and the detail says they are accounted for
    assert accounted.ok
    assert "3 poison demand records parked (accounted for)" in accounted.detail
    # But one more dead letter than the parked poison is lost
    assert not lost(dlq={**dlq, "prd3292-local-us-east-1-generation-jobs-dlq": 2}, parked_poison=parked).ok


# ------------------------------------------------------------------------------------------------
# AWS calls per delivered reminder, by operation (the JSON report and the summary table)
# ------------------------------------------------------------------------------------------------


def counted_calls() -> ApiCalls:
    """Six UpdateItems, three PutItems and one SES send by the workers; five GetRecords by the sandbox."""
    return ApiCalls(
        Counter(
            {
                ApiCall("dynamodb", "UpdateItem", by_workers=True): 6,
                ApiCall("dynamodb", "PutItem", by_workers=True): 3,
                ApiCall("ses", "SendTemplatedEmail", by_workers=True): 1,
                ApiCall("kinesis", "GetRecords", by_workers=False): 5,
            }
        ),
        email_bodies=[],
    )


def test_the_report_gives_the_workers_calls_per_delivered_reminder_by_operation() -> None:
    # Given a run's counted calls and 4 delivered reminders
    section = api_calls_section(counted_calls(), delivered=4)

    # Then the workers' calls, in total and by operation, are also given per delivered reminder
    assert (section["byWorkers"], section["perDeliveredNotification"], section["bySandbox"]) == (10, 2.5, 5)
    assert section["byOperation"] == {
        "dynamodb:UpdateItem": 6,
        "dynamodb:PutItem": 3,
        "ses:SendTemplatedEmail": 1,
    }
    assert section["perDeliveredByOperation"] == {
        "dynamodb:UpdateItem": 1.5,
        "dynamodb:PutItem": 0.75,
        "ses:SendTemplatedEmail": 0.25,
    }
    assert section["sandboxByOperation"] == {"kinesis:GetRecords": 5}


def test_a_run_that_delivered_nothing_has_no_per_delivered_figures() -> None:
    section = api_calls_section(counted_calls(), delivered=0)
    assert (section["perDeliveredNotification"], section["perDeliveredByOperation"]) == (None, {})


def test_the_summary_shows_each_operation_with_its_calls_per_delivered_reminder() -> None:
    # Given a finished run's report
    document = {
        "run": {"fans": 3, "demandRecords": 3, "faults": "none", "pipelineSeconds": 9.5, "wallSeconds": 12.0},
        "notifications": {
            "expected": 4,
            "created": 4,
            "sent": 4,
            "delivered": 4,
            "smsDelivered": 3,
            "emailAcceptedBySes": 1,
            "failed": 0,
            "failedByReason": {},
            "expired": 0,
            "nonTerminal": 0,
        },
        "duplicatesSent": {"total": 0},
        "deadLetters": {"total": 0},
        "latencySeconds": {"all": {}},
        "awsApiCalls": api_calls_section(counted_calls(), delivered=4),
        "faultDrills": {},
    }
    report = DemoReport(document, [Invariant("no duplicate sends", True, "")])

    # When the summary is drawn
    console = Console(width=160, record=True)
    console.print(summary_table(report))
    rows = {
        cells[0].strip(): cells[1].strip()
        for line in console.export_text().splitlines()
        if len(cells := [cell for cell in line.split("│") if cell.strip()]) == 2
    }

    # Then the total and each operation's calls come with their share per delivered reminder
    assert rows["AWS API calls by workers (per delivered)"] == "10 (2.5)"
    assert rows["dynamodb:UpdateItem"] == "6 (1.5)"
    assert rows["dynamodb:PutItem"] == "3 (0.75)"
    assert rows["ses:SendTemplatedEmail"] == "1 (0.25)"
