"""The send decision on the moto table with a scripted channel and a fake clock: waits, claims, outcomes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from send_builders import email_notification, sms_notification
from send_harness import LATE_GRACE, Harness

from workers.notification_send.models import (
    MAX_SEND_ATTEMPTS_EXCEEDED,
    SALE_ALREADY_STARTED,
    InvalidRecipientError,
    SendOutcome,
)
from workers.notification_send.pacing import SendDeferredError
from workers.shared.errors import PermanentVendorError, RecordError, RetryableVendorError, SecretError
from workers.shared.models import NotificationRecord, SendError
from workers.shared.records import parse_change_record
from workers.shared.sms_service import UnreadableAcceptanceError
from workers.shared.statuses import NotificationStatus, sources_of

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def unavailable() -> RetryableVendorError:
    return RetryableVendorError("sms-service", "Service Unavailable", status_code=503)


def test_an_outage_is_retried_with_doubling_waits_not_within_seconds(harness: Harness) -> None:
    # Given a notification and a vendor that is down
    notification = sms_notification()
    harness.repository.create_notification(notification)
    harness.channel.script = [unavailable(), unavailable(), unavailable()]

    # When every delivery the stream makes is handled by 60 s invocations, redelivering deferred ones
    outcomes = [harness.sender().handle(harness.change(notification, event_name="INSERT"))]
    redeliveries = 0
    while outcomes[-1] is SendOutcome.RETRY:
        retry = harness.change(notification)
        try:
            outcomes.append(harness.sender(seconds_left=60).handle(retry))
        except SendDeferredError:
            redeliveries += 1
            outcomes.append(harness.sender(seconds_left=60).handle(retry))

    # Then the attempts were 30 s then 60 s apart (the 60 s wait spanning two invocations), then FAILED
    start = harness.channel.calls[0]
    assert [call - start for call in harness.channel.calls] == [0.0, 30.0, 90.0]
    assert harness.clock.sleeps == [30.0, 45.0, 15.0]
    assert redeliveries == 1
    assert outcomes == [SendOutcome.RETRY, SendOutcome.RETRY, SendOutcome.FAILED]
    final = harness.stored(notification)
    assert final.status.id is NotificationStatus.FAILED
    assert (final.send_attempts, len(final.errors)) == (3, 3)
    assert final.next_attempt_at is None


def test_a_retry_records_the_error_the_next_attempt_time_and_releases_the_claim(harness: Harness) -> None:
    notification = sms_notification()
    harness.repository.create_notification(notification)
    harness.channel.script = [unavailable()]

    outcome = harness.sender().handle(harness.change(notification, event_name="INSERT"))

    record = harness.stored(notification)
    assert outcome is SendOutcome.RETRY
    assert record.status.id is NotificationStatus.RETRY
    assert record.errors == (
        SendError(status_code=503, reason="Service Unavailable", timestamp=harness.clock.datetime()),
    )
    assert record.next_attempt_at == harness.clock.datetime() + timedelta(seconds=30)
    assert record.claim_id is None
    assert harness.stream.triggers_sender(harness.stream.record(notification.key))


def test_a_record_due_after_the_budget_is_deferred_unclaimed_then_sent_next_time(harness: Harness) -> None:
    # Given a notification in RETRY, due in 30 s
    notification = sms_notification()
    harness.repository.create_notification(notification)
    harness.channel.script = [unavailable()]
    harness.sender().handle(harness.change(notification, event_name="INSERT"))
    retry = harness.change(notification)

    # When an invocation with 20 s left (5 s spare) gets it, then the redelivery does
    with pytest.raises(SendDeferredError, match="not due until"):
        harness.sender(seconds_left=20).handle(retry)
    unclaimed = harness.stored(notification)
    outcome = harness.sender().handle(retry)

    # Then the first waited 5 s and gave it back untouched, the second waited the other 25 s and sent it
    assert harness.clock.sleeps == [5.0, 25.0]
    assert unclaimed.claim_id is None
    assert outcome is SendOutcome.TRIGGERED
    assert len(harness.channel.calls) == 2


def test_a_replayed_older_image_does_not_jump_the_backoff(harness: Harness) -> None:
    # Given a notification already in RETRY (due in 30 s) and its original INSERT replayed
    notification = sms_notification()
    harness.repository.create_notification(notification)
    insert = harness.change(notification, event_name="INSERT")
    harness.channel.script = [unavailable()]
    harness.sender().handle(insert)

    # When the replayed INSERT (status CREATED, no backoff in the image) is handled
    outcome = harness.sender().handle(insert)

    # Then nothing is sent: the record is handed back to the stream with its backoff intact
    assert outcome is SendOutcome.REQUEUED
    assert len(harness.channel.calls) == 1
    record = harness.stored(notification)
    assert record.status.id is NotificationStatus.RETRY
    assert record.claim_id is None
    assert record.send_attempts == 1
    assert record.next_attempt_at == harness.clock.datetime() + timedelta(seconds=30)
    assert harness.stream.triggers_sender(harness.stream.record(notification.key))


def test_attempts_are_counted_from_the_stored_record_not_a_replayed_image(harness: Harness) -> None:
    # Given a notification whose table record has two failed attempts behind it (due now)
    notification = sms_notification()
    harness.repository.create_notification(notification)
    insert = harness.change(notification, event_name="INSERT")
    for _ in range(2):
        harness.repository.transition(
            notification.key,
            {NotificationStatus.CREATED, NotificationStatus.RETRY},
            NotificationStatus.RETRY,
            at=harness.clock.datetime(),
            increment_attempts=True,
            error=SendError(
                status_code=503, reason="Service Unavailable", timestamp=harness.clock.datetime()
            ),
        )
    harness.channel.script = [unavailable()]

    # When the original INSERT (sendAttempts 0) is replayed and the vendor fails again
    outcome = harness.sender().handle(insert)

    # Then that was the third attempt: FAILED, not a fourth try
    assert outcome is SendOutcome.FAILED
    assert harness.stored(notification).send_attempts == 3


def test_a_notification_at_the_attempt_limit_fails_without_a_vendor_call(harness: Harness) -> None:
    # Given a notification put back to RETRY with its three attempts spent
    notification = sms_notification(send_attempts=3)
    harness.repository.create_notification(notification)

    # When it is delivered
    outcome = harness.sender().handle(harness.change(notification, event_name="INSERT"))

    # Then it fails with MAX_SEND_ATTEMPTS_EXCEEDED and the vendor is not asked
    assert outcome is SendOutcome.FAILED
    assert harness.channel.calls == []
    record = harness.stored(notification)
    assert record.status.id is NotificationStatus.FAILED
    assert record.send_attempts == 3
    assert [error.reason for error in record.errors] == [MAX_SEND_ATTEMPTS_EXCEEDED]


@pytest.mark.parametrize(
    ("error", "status_code", "reason"),
    [
        (PermanentVendorError("sms-service", "BLOCKED", status_code=422), 422, "BLOCKED"),
        (InvalidRecipientError("INVALID_NUMBER", "phoneNumber is not E.164"), None, "INVALID_NUMBER"),
        (PermanentVendorError("ses", "MessageRejected", status_code=400), 400, "MessageRejected"),
    ],
)
def test_a_rejection_fails_the_notification_at_the_first_attempt(
    harness: Harness, error: Exception, status_code: int | None, reason: str
) -> None:
    notification = email_notification() if reason == "MessageRejected" else sms_notification()
    harness.repository.create_notification(notification)
    harness.channel.script = [error]

    outcome = harness.sender().handle(harness.change(notification, event_name="INSERT"))

    record = harness.stored(notification)
    assert outcome is SendOutcome.FAILED
    assert [(failure.status_code, failure.reason) for failure in record.errors] == [(status_code, reason)]
    assert (record.send_attempts, record.claim_id) == (1, None)


@pytest.mark.parametrize(
    "status",
    [
        NotificationStatus.TRIGGERED,
        NotificationStatus.QUEUED,
        NotificationStatus.SENT,
        NotificationStatus.DELIVERED,
        NotificationStatus.FAILED,
        NotificationStatus.EXPIRED,
    ],
)
def test_only_created_or_retry_images_are_sent(harness: Harness, status: NotificationStatus) -> None:
    # Given a change whose image is past sending (the filter should not have let it through)
    notification = sms_notification()
    harness.repository.create_notification(notification)
    harness.repository.transition(notification.key, sources_of(status), status, at=harness.clock.datetime())

    # When it is handled
    outcome = harness.sender().handle(harness.change(notification))

    # Then it is skipped without a claim or a vendor call
    assert outcome is SendOutcome.SKIPPED
    assert harness.channel.calls == []
    assert harness.stored(notification).claim_id is None


def test_the_senders_own_claim_write_is_skipped(harness: Harness) -> None:
    notification = sms_notification()
    harness.repository.create_notification(notification)
    harness.repository.claim(
        notification.key,
        "other",
        from_statuses={NotificationStatus.CREATED},
        at=harness.clock.datetime(),
        lease_expires_at=harness.clock.datetime() + timedelta(minutes=1),
    )
    claimed = harness.change(notification)

    assert not harness.stream.triggers_sender(harness.stream.record(notification.key))
    assert harness.sender().handle(claimed) is SendOutcome.SKIPPED
    assert harness.channel.calls == []


def test_changes_of_other_records_and_removals_are_skipped(harness: Harness, load_event: Any) -> None:
    event_change = parse_change_record(load_event("kinesis-dynamodb-modify.json")["Records"][0])
    removal = parse_change_record(load_event("kinesis-dynamodb-ttl-remove.json")["Records"][0])

    assert harness.sender().handle(event_change) is SendOutcome.SKIPPED
    assert harness.sender().handle(removal) is SendOutcome.SKIPPED


def test_an_invalid_notification_image_is_a_record_error_naming_the_field(harness: Harness) -> None:
    notification = sms_notification()
    item = {key: value for key, value in notification.to_item().items() if key != "phoneNumber"}
    change = parse_change_record(harness.stream.of_item(item, event_name="INSERT"))

    with pytest.raises(RecordError, match="an sms notification needs phoneNumber and messageBody"):
        harness.sender().handle(change)


def test_unusable_credentials_fail_before_any_claim(harness: Harness) -> None:
    notification = sms_notification()
    harness.repository.create_notification(notification)
    harness.channel.preflight_error = SecretError("secret arn:x has no 'apiKey' string")

    with pytest.raises(SecretError):
        harness.sender().handle(harness.change(notification, event_name="INSERT"))

    assert harness.stored(notification).claim_id is None


def test_an_unreadable_acceptance_keeps_the_claim_so_it_is_never_sent_again(harness: Harness) -> None:
    # Given a vendor that accepts but answers garbage
    notification = sms_notification()
    harness.repository.create_notification(notification)
    insert = harness.change(notification, event_name="INSERT")
    harness.channel.script = [UnreadableAcceptanceError("sms-service", "no messageId", status_code=202)]

    # When it is delivered, fails, and is delivered again
    with pytest.raises(UnreadableAcceptanceError):
        harness.sender().handle(insert)
    again = harness.sender().handle(insert)

    # Then the second delivery finds the claim and does not send
    assert again is SendOutcome.ALREADY_CLAIMED
    assert len(harness.channel.calls) == 1
    assert harness.stored(notification).status.id is NotificationStatus.CREATED


def test_a_status_event_that_overtakes_the_triggered_write_keeps_its_status(harness: Harness) -> None:
    # Given the status consumer records QUEUED while the send call is still returning
    notification = sms_notification()
    harness.repository.create_notification(notification)

    def queued_meanwhile(sent: NotificationRecord) -> None:
        harness.repository.transition(
            sent.key,
            sources_of(NotificationStatus.QUEUED),
            NotificationStatus.QUEUED,
            at=harness.clock.datetime(),
        )

    harness.channel.on_send = queued_meanwhile

    # When the send completes
    outcome = harness.sender().handle(harness.change(notification, event_name="INSERT"))

    # Then QUEUED stands and the trigger time is still stamped
    record = harness.stored(notification)
    assert outcome is SendOutcome.TRIGGERED
    assert record.status.id is NotificationStatus.QUEUED
    assert record.date.triggered is not None


# ----------------------------------------------------------------------------- never late


def expired_count() -> float:
    """NotificationsExpired as the handler would flush it."""
    import io
    from contextlib import redirect_stdout

    from workers.shared.observability import METRICS

    printed = io.StringIO()
    with redirect_stdout(printed):
        METRICS.flush_metrics()
    blobs = [json.loads(line) for line in printed.getvalue().splitlines() if line.startswith("{")]
    return sum(sum(blob.get("NotificationsExpired", [])) for blob in blobs)


@pytest.mark.parametrize("status", [NotificationStatus.CREATED, NotificationStatus.RETRY])
def test_a_reminder_whose_sale_started_more_than_the_grace_ago_expires_unsent(
    harness: Harness, status: NotificationStatus
) -> None:
    # Given a CREATED (or RETRY, after one failed attempt) reminder of a sale that started 10 min ago
    started = harness.clock.datetime() - timedelta(minutes=10)
    notification = sms_notification(sale_start_date_time=started)
    harness.repository.create_notification(notification)
    if status is NotificationStatus.RETRY:
        harness.repository.transition(
            notification.key,
            {NotificationStatus.CREATED},
            NotificationStatus.RETRY,
            at=harness.clock.datetime(),
            extra_updates={"nextAttemptAt": harness.clock.datetime()},
            increment_attempts=True,
            error=SendError(
                status_code=503, reason="Service Unavailable", timestamp=harness.clock.datetime()
            ),
        )

    # When the sender handles its change
    outcome = harness.sender().handle(harness.change(notification))

    # Then it is never sent: EXPIRED in one write, the reason appended to its history, attempts kept
    record = harness.stored(notification)
    assert outcome is SendOutcome.EXPIRED
    assert harness.channel.calls == []
    assert record.status.id is NotificationStatus.EXPIRED
    assert record.date.expired == harness.clock.datetime()
    assert record.errors[-1] == SendError(reason=SALE_ALREADY_STARTED, timestamp=harness.clock.datetime())
    assert record.send_attempts == (1 if status is NotificationStatus.RETRY else 0)
    assert (record.claim_id, record.next_attempt_at) == (None, None)
    # And it is counted (the NotificationsExpired alarm), and its own write does not wake the sender
    assert expired_count() == 1
    assert not harness.stream.triggers_sender(harness.stream.record(notification.key))


def test_a_reminder_within_the_grace_is_still_sent(harness: Harness) -> None:
    # Given a reminder of a sale that started 5 minutes ago (the grace, inclusive)
    notification = sms_notification(sale_start_date_time=harness.clock.datetime() - LATE_GRACE)
    harness.repository.create_notification(notification)

    # When it is handled  # Then it is sent
    assert harness.sender().handle(harness.change(notification, event_name="INSERT")) is SendOutcome.TRIGGERED
    assert len(harness.channel.calls) == 1


def test_a_backoff_that_ends_after_the_grace_expires_the_reminder_instead_of_sending_it(
    harness: Harness,
) -> None:
    # Given a RETRY due in 30 s whose sale's grace ends in 10 s
    now = harness.clock.datetime()
    notification = sms_notification(sale_start_date_time=now - LATE_GRACE + timedelta(seconds=10))
    harness.repository.create_notification(notification)
    harness.repository.transition(
        notification.key,
        {NotificationStatus.CREATED},
        NotificationStatus.RETRY,
        at=now,
        extra_updates={"nextAttemptAt": now + timedelta(seconds=30)},
        increment_attempts=True,
    )

    # When the sender waits for the backoff
    outcome = harness.sender().handle(harness.change(notification))

    # Then after the wait it does not send: the reminder expired meanwhile
    assert outcome is SendOutcome.EXPIRED
    assert harness.clock.sleeps == [30.0]
    assert harness.channel.calls == []
    assert harness.stored(notification).status.id is NotificationStatus.EXPIRED


def test_a_late_reminder_claimed_by_another_invocation_is_left_to_its_holder(harness: Harness) -> None:
    # Given a late reminder whose send claim another invocation took after this image was written
    notification = sms_notification(sale_start_date_time=harness.clock.datetime() - timedelta(hours=1))
    harness.repository.create_notification(notification)
    unclaimed_image = harness.change(notification, event_name="INSERT")
    harness.repository.claim(
        notification.key,
        "in-flight",
        from_statuses={NotificationStatus.CREATED},
        at=harness.clock.datetime(),
        lease_expires_at=harness.clock.datetime() + timedelta(minutes=1),
    )

    # When this sender handles the older image
    outcome = harness.sender().handle(unclaimed_image)

    # Then it does not overwrite a send that may be in flight: the holder records its own outcome
    record = harness.stored(notification)
    assert outcome is SendOutcome.ALREADY_CLAIMED
    assert (record.status.id, record.claim_id) == (NotificationStatus.CREATED, "in-flight")
    assert harness.channel.calls == []


def test_a_sent_reminder_logs_its_sale_to_send_latency_for_the_send_latency_query(
    harness: Harness, log_lines: Any
) -> None:
    # Given a reminder created when its sale's send window opened
    notification = sms_notification()
    harness.repository.create_notification(notification)

    # When it is sent
    assert harness.sender().handle(harness.change(notification, event_name="INSERT")) is SendOutcome.TRIGGERED

    # Then its "Notification sent" line carries the seconds since then (the send-latency query reads it)
    sent = [line for line in log_lines() if line["message"] == "Notification sent"]
    expected = (harness.clock.datetime() - notification.date.created).total_seconds()
    assert [line["sale_to_send_seconds"] for line in sent] == [round(expected, 3)]
