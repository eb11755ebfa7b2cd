"""End to end, `dmd notifications retry` (runbook notification-not-sent): a reminder the SMS service
failed is handed back to the sender and delivered exactly once; one the service took is refused.

The command runs in process against the running sandbox's emulator (`--endpoint-url`), as an
operator runs it against `dmd sandbox up`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.pipeline import Pipeline
from sandbox.vendors import Effect
from tests.ops.cli_output import command_json, run_dmd
from tests.sandbox.e2e.flows import e2e_marks, notification, now_utc, wait_done
from workers.notification_send.pacing import VENDOR_CALL_ATTEMPTS
from workers.shared.keys import Key
from workers.shared.models import NotificationRecord

pytestmark = e2e_marks("e2e-notifications-retry")

MAX_SEND_ATTEMPTS = 3  # the local stack's notification_send maxSendAttempts


def reminder(fan_id: str, phone: str) -> NotificationRecord:
    """An SMS reminder as the generator writes it now, its sale days ahead."""
    created = now_utc()
    return NotificationRecord.created(
        at=created,
        fan_id=fan_id,
        event_id="E2eRetry",
        sale_id="E2eRetry-presale",
        sale_name="Retry Presale",
        contact_method="sms",
        phone_number=phone,
        message_body="Reminder! Tickets for Retry Presale go on sale at 10:00 AM CST: https://bit.ly/e2eRetry",
        sale_start_date_time=created.replace(microsecond=0) + timedelta(days=3),
    )


def status(pipeline: Pipeline, key: Key) -> str | None:
    """The notification's status now."""
    return (notification(pipeline, key) or {}).get("status", {}).get("id")


def retry(pipeline: Pipeline, record: NotificationRecord) -> tuple[int, dict[str, Any]]:
    """`dmd notifications retry --key … --yes --json` against the sandbox; exit code and document."""
    result = run_dmd(
        "notifications", "retry", "--stack", "local", "--endpoint-url", pipeline.sandbox.endpoint_url,
        "--key", record.reference, "--yes", "--json",
    )  # fmt: skip
    return result.exit_code, command_json(result.stdout)


def test_a_reminder_failed_by_the_sms_service_is_retried_and_delivered_exactly_once(
    pipeline: Pipeline,
) -> None:
    # Given an SMS reminder the SMS service answers 503 for every one of its attempts
    record = reminder("e2e-retry-1", "+13125550191")
    failing = MAX_SEND_ATTEMPTS * VENDOR_CALL_ATTEMPTS  # every request of every attempt's call
    pipeline.vendors.faults["sms"].script(record.reference, *[Effect.SERVER_ERROR] * failing)
    pipeline.put_items([record.to_item()])
    failed = wait_done(pipeline, [record.key], deadline=30)[record.key]
    assert failed["status"]["id"] == "FAILED"
    assert failed["sendAttempts"] == MAX_SEND_ATTEMPTS
    assert pipeline.vendors.sms.sends_for(record.reference) == 0

    # When the SMS service is fine again and the operator retries the reminder
    exit_code, document = retry(pipeline, record)

    # Then the command put it back to RETRY, and the sender delivered it, one SMS sent
    assert exit_code == 0, document
    assert [row["outcome"] for row in document["results"]] == ["retried"]
    assert pipeline.sandbox.run_until(lambda: status(pipeline, record.key) == "DELIVERED", deadline=30)
    sms = pipeline.vendors.sms
    assert sms.requests_for(record.reference) == failing + 1
    assert sms.accepted_for(record.reference) == sms.sends_for(record.reference) == 1
    assert sms.duplicates() == {}
    delivered = notification(pipeline, record.key)
    assert delivered is not None
    assert delivered["messageId"] == sms.message_ids[record.reference]
    assert delivered["sendAttempts"] == 1  # a fresh set of attempts, one spent
    assert [error["statusCode"] for error in delivered["errors"]] == [503] * MAX_SEND_ATTEMPTS
    assert {"failed", "retry", "triggered", "delivered"} <= set(delivered["date"])

    # And once the pipeline settles nothing sends it again; a second retry is refused as delivered
    assert pipeline.sandbox.wait_until_idle(deadline=20)
    exit_code, again = retry(pipeline, record)
    assert exit_code == 1
    assert [row["reason"] for row in again["results"]] == ["DELIVERED: already delivered, nothing to retry"]
    assert sms.sends_for(record.reference) == 1


def test_a_reminder_the_carrier_failed_is_refused_and_no_second_sms_is_attempted(pipeline: Pipeline) -> None:
    # Given an SMS the service took and sent, which the carrier then reported BLOCKED
    record = reminder("e2e-retry-2", "+13125550192")
    pipeline.vendors.faults["sms"].script(record.reference, Effect.BLOCKED)
    pipeline.put_items([record.to_item()])
    failed = wait_done(pipeline, [record.key], deadline=30)[record.key]
    assert failed["status"]["id"] == "FAILED" and "messageId" in failed

    # When the operator tries to retry it
    exit_code, document = retry(pipeline, record)

    # Then the retry is refused (the service would answer with the same message and send nothing)
    assert exit_code == 1
    (row,) = document["results"]
    assert row["outcome"] == "refused"
    assert row["reason"].startswith(f"FAILED after the SMS service took message {failed['messageId']}")
    # And the notification and the service saw nothing more
    assert pipeline.sandbox.wait_until_idle(deadline=20)
    assert notification(pipeline, record.key) == failed
    assert pipeline.vendors.sms.requests_for(record.reference) == 1
