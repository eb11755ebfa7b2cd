"""The notification store against moto: conditional creates, status transitions, send claims and retries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from repository_builders import T0, notification

from workers.shared.models import SendError, notification_key
from workers.shared.notification_store import CreateCounts
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus, sources_of

S = NotificationStatus
LEASE = T0 + timedelta(minutes=1)  # a claim's lease: its invocation's deadline plus a margin


# --------------------------------------------------------------------------------- creates


def test_conditional_create_never_duplicates_a_notification(repository: DemandRepository) -> None:
    # Given a notification already written
    assert repository.create_notification(notification()) is True

    # When the same fan/sale/method is generated again with a different body
    duplicate = notification(message_body="a second, different reminder")
    created_again = repository.create_notification(duplicate)

    # Then the write is refused quietly and the original survives
    assert created_again is False
    stored = repository.get_notification(duplicate.key)
    assert stored is not None
    assert stored.message_body == "Tickets go on sale soon"


def test_parallel_creates_count_new_and_duplicate_notifications(repository: DemandRepository) -> None:
    # Given 5 notifications that already exist among 30 to write
    for index in range(5):
        repository.create_notification(notification(f"fan-{index}"))
    batch = [notification(f"fan-{index}") for index in range(30)]

    # When they are written with bounded parallelism
    counts = repository.create_notifications(batch, parallelism=8)

    # Then 25 are new, 5 were duplicates, and a replay creates nothing
    assert counts == CreateCounts(created=25, duplicates=5)
    assert all(repository.get_notification(record.key) is not None for record in batch)
    assert repository.create_notifications(batch, parallelism=8) == CreateCounts(created=0, duplicates=30)
    assert repository.create_notifications([], parallelism=8) == CreateCounts(0, 0)


# ----------------------------------------------------------------------------- transitions


def test_transition_stamps_the_status_and_its_date(repository: DemandRepository) -> None:
    # Given a CREATED notification
    record = notification()
    repository.create_notification(record)

    # When the send worker reports the vendor accepted it
    moved = repository.transition(
        record.key,
        {S.CREATED, S.RETRY},
        S.TRIGGERED,
        at=T0 + timedelta(seconds=5),
        extra_updates={"messageId": "msg-123", "appId": "reminders"},
        increment_attempts=True,
    )

    # Then status, date.triggered, attempts and extra attributes change in one write
    assert moved is True
    stored = repository.get_notification(record.key)
    assert stored is not None
    assert stored.status.id is S.TRIGGERED
    assert stored.status.date == T0 + timedelta(seconds=5)
    assert stored.date.triggered == T0 + timedelta(seconds=5)
    assert stored.date.created == T0
    assert stored.send_attempts == 1
    assert (stored.message_id, stored.app_id) == ("msg-123", "reminders")


def test_out_of_order_status_never_moves_a_record_back(repository: DemandRepository) -> None:
    # Given a notification the vendor already reported SENT
    record = notification()
    repository.create_notification(record)
    assert repository.transition(record.key, sources_of(S.SENT), S.SENT, at=T0 + timedelta(seconds=9))

    # When a late QUEUED event arrives
    moved = repository.transition(record.key, sources_of(S.QUEUED), S.QUEUED, at=T0 + timedelta(seconds=7))

    # Then nothing moves; its timestamp can still be recorded without touching the status
    assert moved is False
    assert repository.record_timestamp(record.key, S.QUEUED, T0 + timedelta(seconds=7)) is True
    stored = repository.get_notification(record.key)
    assert stored is not None
    assert stored.status.id is S.SENT
    assert stored.date.queued == T0 + timedelta(seconds=7)


@pytest.mark.parametrize("live", [S.CREATED, S.TRIGGERED, S.QUEUED, S.SENT, S.RETRY])
def test_failed_is_allowed_from_any_non_terminal_state(repository: DemandRepository, live: S) -> None:
    # Given a notification in a live state
    record = notification()
    repository.create_notification(record)
    if live is not S.CREATED:
        assert repository.transition(record.key, {S.CREATED}, live, at=T0)

    # When it fails with a reason
    error = SendError(status_code=400, reason="invalid phone number", timestamp=T0)
    failed = repository.transition(record.key, sources_of(S.FAILED), S.FAILED, at=T0, error=error)

    # Then it is FAILED with the error kept in its history
    assert failed is True
    stored = repository.get_notification(record.key)
    assert stored is not None
    assert stored.status.id is S.FAILED
    assert stored.errors == (error,)


def test_terminal_states_do_not_fail_again(repository: DemandRepository) -> None:
    # Given a DELIVERED notification
    record = notification()
    repository.create_notification(record)
    assert repository.transition(record.key, sources_of(S.DELIVERED), S.DELIVERED, at=T0)

    # When a FAILED status arrives afterwards, then it is refused
    assert repository.transition(record.key, sources_of(S.FAILED), S.FAILED, at=T0) is False


def test_backward_transition_requests_are_programming_errors(repository: DemandRepository) -> None:
    # When a caller asks to move SENT back to QUEUED, then it is refused before any write
    with pytest.raises(ValueError, match="SENT -> QUEUED moves a notification backwards"):
        repository.transition(notification().key, {S.SENT}, S.QUEUED, at=T0)


def test_operator_override_reopens_a_failed_notification(repository: DemandRepository) -> None:
    # Given a FAILED notification
    record = notification()
    repository.create_notification(record)
    repository.transition(record.key, sources_of(S.FAILED), S.FAILED, at=T0)

    # When an operator retries it explicitly
    reopened = repository.transition(record.key, {S.FAILED}, S.RETRY, at=T0, override=True)

    # Then it is RETRY again
    stored = repository.get_notification(record.key)
    assert reopened is True
    assert stored is not None
    assert stored.status.id is S.RETRY


def test_only_one_sender_holds_the_claim(repository: DemandRepository) -> None:
    # Given a CREATED notification claimed by one invocation
    record = notification()
    repository.create_notification(record)
    claimed = repository.claim(
        record.key, "claim-a", from_statuses={S.CREATED, S.RETRY}, at=T0, lease_expires_at=LEASE
    )
    assert claimed is True

    # When a replayed record tries to claim it, or to move it without the claim
    second_claim = repository.claim(
        record.key, "claim-b", from_statuses={S.CREATED, S.RETRY}, at=T0, lease_expires_at=LEASE
    )
    wrong_claim = repository.transition(record.key, {S.CREATED}, S.TRIGGERED, at=T0, expected_claim="claim-b")

    # Then both are refused, and the holder moves it and releases the claim
    assert (second_claim, wrong_claim) == (False, False)
    assert repository.transition(
        record.key, {S.CREATED}, S.TRIGGERED, at=T0, expected_claim="claim-a", remove=("claimId",)
    )
    stored = repository.get_notification(record.key)
    assert stored is not None
    assert stored.claim_id is None
    assert stored.claimed_at == T0
    assert stored.status.id is S.TRIGGERED


def test_an_unclaimed_only_transition_is_refused_while_a_claim_is_held(repository: DemandRepository) -> None:
    # Given a CREATED notification another invocation claimed (a send may be in flight)
    record = notification()
    repository.create_notification(record)
    repository.claim(record.key, "in-flight", from_statuses={S.CREATED}, at=T0, lease_expires_at=LEASE)

    # When it is to expire only if nobody holds a claim  # Then the write is refused
    assert repository.transition(record.key, {S.CREATED, S.RETRY}, S.EXPIRED, at=T0, unclaimed=True) is False
    # And once the holder released it (back to RETRY), the same write expires it
    repository.transition(
        record.key, {S.CREATED}, S.RETRY, at=T0, expected_claim="in-flight", remove=("claimId",)
    )
    assert repository.transition(record.key, {S.CREATED, S.RETRY}, S.EXPIRED, at=T0, unclaimed=True) is True
    stored = repository.get_notification(record.key)
    assert stored is not None and (stored.status.id, stored.date.expired) == (S.EXPIRED, T0)
    # And asking for a claim and for none at once is a programming error
    with pytest.raises(ValueError, match="cannot both expect a claim and require none"):
        repository.transition(record.key, {S.RETRY}, S.EXPIRED, at=T0, expected_claim="x", unclaimed=True)


def test_a_claim_returns_the_record_as_stored_not_as_a_replayed_image(repository: DemandRepository) -> None:
    # Given a notification whose stored state moved on after its INSERT (one failed attempt)
    record = notification()
    repository.create_notification(record)
    error = SendError(status_code=503, reason="service unavailable", timestamp=T0)
    later = T0 + timedelta(seconds=30)
    repository.transition(
        record.key,
        {S.CREATED},
        S.RETRY,
        at=T0,
        increment_attempts=True,
        error=error,
        extra_updates={"nextAttemptAt": later},
    )

    # When a sender claims it, and another tries too
    claimed = repository.claim_notification(
        record.key, "claim-a", from_statuses={S.CREATED, S.RETRY}, at=T0, lease_expires_at=LEASE
    )
    lost = repository.claim_notification(
        record.key, "claim-b", from_statuses={S.CREATED, S.RETRY}, at=T0, lease_expires_at=LEASE
    )

    # Then the winner sees the stored attempts, backoff and its own claim; the other gets nothing
    assert claimed is not None
    assert (claimed.send_attempts, claimed.next_attempt_at, claimed.claim_id) == (1, later, "claim-a")
    assert claimed.status.id is S.RETRY
    assert lost is None


def test_retry_records_the_error_attempt_and_next_attempt_time(repository: DemandRepository) -> None:
    # Given a notification whose send hit a transient error
    record = notification()
    repository.create_notification(record)
    error = SendError(status_code=503, reason="service unavailable", timestamp=T0)

    # When it is moved to RETRY with a backoff
    repository.transition(
        record.key,
        sources_of(S.RETRY),
        S.RETRY,
        at=T0,
        increment_attempts=True,
        error=error,
        extra_updates={"nextAttemptAt": T0 + timedelta(seconds=30)},
    )
    repository.transition(
        record.key, sources_of(S.RETRY), S.RETRY, at=T0, increment_attempts=True, error=error
    )

    # Then attempts and error history accumulate
    stored = repository.get_notification(record.key)
    assert stored is not None
    assert stored.send_attempts == 2
    assert stored.errors == (error, error)
    assert stored.next_attempt_at == T0 + timedelta(seconds=30)
    assert stored.date.retry == T0


def test_transition_of_a_missing_notification_is_refused(repository: DemandRepository) -> None:
    # When the key names no item, then nothing is created
    key = notification_key("ghost", "evt-1", "sale-1", "sms")
    assert repository.transition(key, sources_of(S.SENT), S.SENT, at=T0) is False
    assert repository.record_timestamp(key, S.SENT, T0) is False
    assert repository.get_notification(key) is None
