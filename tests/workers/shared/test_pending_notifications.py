"""The pending index: which writes list a notification for the sweeper, and which releases it may make."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
import repository_builders as builders

from workers.shared.keys import SWEEP_SHARDS, Key, sweep_shard
from workers.shared.models import NotificationRecord, deserialize_item, notification_key, serialize_item
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus

S = NotificationStatus
T0 = builders.T0
BOUND = timedelta(minutes=5)
LEASE = T0 + timedelta(seconds=90)  # an invocation's deadline plus the margin
PENDING_ATTRIBUTES = {"sweepShard", "sweepAt", "claimExpiresAt"}


def notification(fan_id: str = "fan-1", **overrides: Any) -> NotificationRecord:
    """A CREATED SMS notification listed for the sweeper (`release_after`), its sale an hour away."""
    fields: dict[str, Any] = {"sale_start_date_time": "2024-01-15T16:00:00Z", "release_after": BOUND}
    return builders.notification(fan_id, **{**fields, **overrides})


def stored_item(demand_table: str, key: Key) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(
        TableName=demand_table, Key=serialize_item(key.item()), ConsistentRead=True
    )["Item"]
    return deserialize_item(item)


def overdue(repository: DemandRepository, at: datetime) -> set[Key]:
    """The keys the pending index lists as overdue at `at` in the shard of this module's notification."""
    # One fan per test: its key decides its shard, so no other shard can list it.
    shard = sweep_shard(notification().key)
    return set(repository.pending_notification_keys(shard, due_before=at))


def claimed(repository: DemandRepository, record: NotificationRecord, *, lease: datetime = LEASE) -> None:
    assert repository.claim(
        record.key, "claim-a", from_statuses={S.CREATED, S.RETRY}, at=T0, lease_expires_at=lease
    )


# ------------------------------------------------------------------------------- bookkeeping


def test_a_notifications_shard_is_a_stable_hash_of_its_key_within_the_sixteen() -> None:
    # Given notification keys of many fans
    keys = [notification_key(f"fan-{number}", "evt-1", "sale-1", "sms") for number in range(400)]

    # When their shards are computed (in this process; crc32, so in any other too)
    shards = [sweep_shard(key) for key in keys]

    # Then each is one of "0".."15", all sixteen are used, and a known key keeps its shard forever
    assert set(shards) == {str(shard) for shard in range(SWEEP_SHARDS)}
    assert sweep_shard(Key("fan:fan-1", "notification#evt-1-sale-1#sms")) == "0"


def test_a_created_notification_is_listed_until_the_bound_after_its_creation(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given a notification created at T0 with a five-minute release bound
    record = notification()

    # When it is written
    repository.create_notification(record)

    # Then it carries its shard and sweepAt = T0 + 5 min, and the index lists it only after that
    item = stored_item(demand_table, record.key)
    assert (item["sweepShard"], item["sweepAt"]) == (sweep_shard(record.key), "2024-01-15T14:35:00.000Z")
    assert overdue(repository, T0 + BOUND) == set()
    assert overdue(repository, T0 + BOUND + timedelta(milliseconds=1)) == {record.key}


def test_a_claim_sets_its_lease_and_lists_the_notification_until_the_lease_ends(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given a CREATED notification
    record = notification()
    repository.create_notification(record)

    # When a sender claims it with a lease
    claimed(repository, record)

    # Then the lease is stored and is the sweepAt: the index lists it once the lease has ended
    item = stored_item(demand_table, record.key)
    assert (item["claimExpiresAt"], item["sweepAt"]) == (
        "2024-01-15T14:31:30.000Z",
        "2024-01-15T14:31:30.000Z",
    )
    assert overdue(repository, LEASE + timedelta(milliseconds=1)) == {record.key}


def test_a_claim_lists_a_notification_created_without_pending_attributes(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given a notification written before the pending index existed (no sweepShard, no sweepAt)
    record = notification()
    item = {key: value for key, value in record.to_item().items() if key not in ("sweepShard", "sweepAt")}
    boto3.client("dynamodb").put_item(TableName=demand_table, Item=serialize_item(item))

    # When a sender claims it
    claimed(repository, record)

    # Then the claim writes its shard too: a claim abandoned later is found like any other
    assert stored_item(demand_table, record.key)["sweepShard"] == sweep_shard(record.key)
    assert overdue(repository, LEASE + timedelta(seconds=1)) == {record.key}


@pytest.mark.parametrize("status", [S.TRIGGERED, S.FAILED, S.EXPIRED])
def test_leaving_the_waiting_states_takes_the_notification_off_the_index(
    repository: DemandRepository, demand_table: str, status: NotificationStatus
) -> None:
    # Given a claimed notification (listed, with a lease)
    record = notification()
    repository.create_notification(record)
    claimed(repository, record)

    # When its outcome is recorded, whoever writes it (the sender, or the sender expiring it)
    moved = repository.transition(
        record.key,
        {S.CREATED, S.RETRY},
        status,
        at=T0,
        remove=("claimId", "sweepAt"),
        expected_claim="claim-a",
    )

    # Then the write (naming a pending attribute itself, too) removes every pending attribute
    assert moved is True
    assert PENDING_ATTRIBUTES & set(stored_item(demand_table, record.key)) == set()
    assert overdue(repository, T0 + timedelta(days=1)) == set()


def test_a_status_event_that_moves_a_claimed_notification_takes_it_off_the_index(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given a claimed notification whose send the service took, its TRIGGERED write not made yet
    record = notification()
    repository.create_notification(record)
    claimed(repository, record)

    # When the status consumer records QUEUED (it overtook the sender's write)
    assert repository.transition(record.key, {S.CREATED}, S.QUEUED, at=T0)

    # Then the sweeper will never release it: it left the waiting states
    assert PENDING_ATTRIBUTES & set(stored_item(demand_table, record.key)) == set()
    assert overdue(repository, T0 + timedelta(days=1)) == set()


def test_a_retry_write_that_sets_new_marks_keeps_the_notification_listed(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given a claimed notification
    record = notification()
    repository.create_notification(record)
    claimed(repository, record)
    next_attempt = T0 + timedelta(seconds=30)

    # When the sender records a transient failure: RETRY, due at its backoff plus the bound
    repository.transition(
        record.key,
        {S.CREATED, S.RETRY},
        S.RETRY,
        at=T0,
        extra_updates={
            "nextAttemptAt": next_attempt,
            "sweepShard": sweep_shard(record.key),
            "sweepAt": next_attempt + BOUND,
        },
        remove=("claimId", "claimExpiresAt"),
        expected_claim="claim-a",
    )

    # Then it stays listed with the new sweepAt and no lease
    item = stored_item(demand_table, record.key)
    assert item["sweepAt"] == "2024-01-15T14:35:30.000Z"
    assert "claimExpiresAt" not in item
    assert overdue(repository, next_attempt + BOUND) == set()
    assert overdue(repository, next_attempt + BOUND + timedelta(seconds=1)) == {record.key}


# ---------------------------------------------------------------------------------- releases


def test_a_created_notification_past_its_bound_without_a_claim_is_released_to_retry(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given a CREATED notification whose stream record was lost, five minutes and more ago
    record = notification()
    repository.create_notification(record)
    now = T0 + BOUND + timedelta(seconds=30)

    # When the sweeper releases it
    released = repository.release_notification(record.key, at=now, sweep_at=now + BOUND)

    # Then it is RETRY (stamped), unclaimed, listed again one bound later, attempts untouched
    assert released is True
    stored = NotificationRecord.from_item(stored_item(demand_table, record.key))
    assert (stored.status.id, stored.status.date, stored.date.retry) == (S.RETRY, now, now)
    assert (stored.claim_id, stored.claim_expires_at, stored.sweep_at) == (None, None, now + BOUND)
    assert (stored.send_attempts, stored.errors, stored.next_attempt_at) == (0, (), None)


def test_a_claim_whose_lease_ended_is_released_keeping_its_attempts_and_backoff(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given a notification that failed once (attempts 1, a backoff) and was claimed again by an
    # invocation that then died
    record = notification()
    repository.create_notification(record)
    next_attempt = T0 + timedelta(seconds=30)
    repository.transition(
        record.key,
        {S.CREATED},
        S.RETRY,
        at=T0,
        increment_attempts=True,
        extra_updates={"nextAttemptAt": next_attempt},
    )
    lease = next_attempt + timedelta(seconds=90)
    assert repository.claim(
        record.key, "dead", from_statuses={S.RETRY}, at=next_attempt, lease_expires_at=lease
    )
    now = lease + timedelta(seconds=1)

    # When the sweeper releases it after the lease
    assert repository.release_notification(record.key, at=now, sweep_at=now + BOUND) is True

    # Then the claim, its time and its lease are gone; the attempt and the (past) backoff are kept
    item = stored_item(demand_table, record.key)
    assert {"claimId", "claimedAt", "claimExpiresAt"} & set(item) == set()
    stored = NotificationRecord.from_item(item)
    assert (stored.status.id, stored.send_attempts, stored.next_attempt_at) == (S.RETRY, 1, next_attempt)


def test_a_claim_still_within_its_lease_is_kept(repository: DemandRepository, demand_table: str) -> None:
    # Given a notification claimed by a live invocation, listed past its creation bound by an old
    # read of the index (eventually consistent)
    record = notification()
    repository.create_notification(record)
    claimed(repository, record, lease=T0 + timedelta(minutes=10))
    now = T0 + timedelta(minutes=6)

    # When the sweeper tries to release it before the lease ends
    released = repository.release_notification(record.key, at=now, sweep_at=now + BOUND)

    # Then the write is refused and the holder keeps its claim
    assert released is False
    stored = NotificationRecord.from_item(stored_item(demand_table, record.key))
    assert (stored.status.id, stored.claim_id) == (S.CREATED, "claim-a")


def test_a_claim_without_a_lease_is_never_released(repository: DemandRepository, demand_table: str) -> None:
    # Given a claim written before claims had leases (no claimExpiresAt), its sweepAt long past
    record = notification()
    repository.create_notification(record)
    boto3.client("dynamodb").update_item(
        TableName=demand_table,
        Key=serialize_item(record.key.item()),
        UpdateExpression="SET claimId = :claim",
        ExpressionAttributeValues=serialize_item({":claim": "old-sender"}),
    )

    # When the sweeper tries / Then it is refused: nobody can tell when its holder stops
    now = T0 + timedelta(days=1)
    assert repository.release_notification(record.key, at=now, sweep_at=now + BOUND) is False


def test_a_retry_waiting_on_its_backoff_is_not_found_and_not_released(repository: DemandRepository) -> None:
    # Given a RETRY notification whose backoff ends in a minute (sweepAt = backoff + bound)
    record = notification()
    repository.create_notification(record)
    next_attempt = T0 + timedelta(minutes=1)
    repository.transition(
        record.key,
        {S.CREATED},
        S.RETRY,
        at=T0,
        extra_updates={"nextAttemptAt": next_attempt, "sweepAt": next_attempt + BOUND},
    )
    now = T0 + BOUND + timedelta(seconds=30)  # past its creation bound, not past its own

    # When the sweeper looks, and tries anyway
    # Then the index does not list it and the release is refused
    assert overdue(repository, now) == set()
    assert repository.release_notification(record.key, at=now, sweep_at=now + BOUND) is False


@pytest.mark.parametrize("status", [S.TRIGGERED, S.DELIVERED, S.FAILED, S.EXPIRED])
def test_a_notification_that_moved_on_since_the_index_was_read_is_not_released(
    repository: DemandRepository, status: NotificationStatus
) -> None:
    # Given a notification the index listed, which has since been sent (or ended)
    record = notification()
    repository.create_notification(record)
    assert repository.transition(record.key, {S.CREATED}, status, at=T0)
    now = T0 + timedelta(days=1)

    # When the sweeper releases the key it read / Then the write is refused: no status goes back
    assert repository.release_notification(record.key, at=now, sweep_at=now + BOUND) is False
    assert overdue(repository, now) == set()
