"""One write per message per batch: a batch's statuses of one SMS coalesced, forward only, replay-safe."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from status_builders import (
    SENT_AT,
    DynamoCalls,
    ThrottledKey,
    at,
    message_id_of,
    status_record,
    triggered_notification,
    vendor_record,
)
from trigger_records import kinesis_event, sequence_number

from workers.shared.keys import Key, notification_reference, sms_message_key
from workers.shared.models import NotificationRecord, deserialize_item, serialize_item
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus
from workers.sms_status_consumer.handler import lambda_handler
from workers.sms_status_consumer.logic import KnownMessages, StatusApplier, read_status_event
from workers.sms_status_consumer.models import StatusOutcome

Blobs = Callable[[], list[dict[str, Any]]]
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
S = NotificationStatus


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}


def metric_total(blobs: list[dict[str, Any]], name: str) -> float:
    values = [blob[name] for blob in blobs if name in blob]
    return sum(sum(value) if isinstance(value, list) else value for value in values)


def current(notifications: DemandRepository, key: Key) -> NotificationRecord:
    record = notifications.get_notification(key)
    assert record is not None
    return record


def raw_item(notifications: DemandRepository, key: Key) -> dict[str, Any]:
    response = notifications.client.get_item(
        TableName=notifications.table_name, Key=serialize_item(key.item()), ConsistentRead=True
    )
    return deserialize_item(response["Item"])


def sent_sms(notifications: DemandRepository, fan_id: str) -> Key:
    """A TRIGGERED SMS whose sender also named it on the message's item (as notification_send does)."""
    key = triggered_notification(notifications, fan_id)
    notifications.register_message(message_id_of(key), notification_reference(key), expires_at=2_000_000_000)
    return key


def dates(record: NotificationRecord) -> tuple[Any, ...]:
    return (record.date.queued, record.date.sent, record.date.delivered)


@pytest.fixture
def calls(notifications: DemandRepository) -> DynamoCalls:
    return DynamoCalls()


def test_queued_sent_delivered_of_one_message_in_one_batch_are_one_write(
    notifications: DemandRepository, lambda_context: Any, calls: DynamoCalls
) -> None:
    # Given a sent SMS, and its three statuses in one batch in the service's shape (messageId only)
    key = sent_sms(notifications, "fan-1")
    message_id = message_id_of(key)
    calls.reset()

    # When the batch is handled
    response = lambda_handler(
        kinesis_event(
            vendor_record(1, message_id, "QUEUED", at(1)),
            vendor_record(2, message_id, "SENT", at(3)),
            vendor_record(3, message_id, "DELIVERED", at(6)),
        ),
        lambda_context,
    )

    # Then one read found the notification and one UpdateItem made it DELIVERED with all three dates
    assert response == {"batchItemFailures": []}
    assert (calls.of("UpdateItem"), calls.of("UpdateItem", key)) == (1, 1)
    assert (calls.of("GetItem", sms_message_key(message_id)), calls.of("Query"), len(calls.calls)) == (
        1,
        0,
        2,
    )
    record = current(notifications, key)
    assert record.status.id is S.DELIVERED and record.status.date == at(6)
    assert dates(record) == (at(1), at(3), at(6)) and record.message_id == message_id


def test_an_echoed_reference_needs_no_read_at_all(
    notifications: DemandRepository, lambda_context: Any, calls: DynamoCalls
) -> None:
    key = sent_sms(notifications, "fan-1")
    calls.reset()
    lambda_handler(
        kinesis_event(
            status_record(1, key, "QUEUED", at(1)),
            status_record(2, key, "SENT", at(3)),
            status_record(3, key, "DELIVERED", at(6)),
        ),
        lambda_context,
    )
    assert calls.calls == [("UpdateItem", tuple(key))]
    assert current(notifications, key).status.id is S.DELIVERED


def test_statuses_reversed_in_one_batch_end_delivered_with_every_date_in_one_write(
    notifications: DemandRepository, lambda_context: Any, calls: DynamoCalls, emf_blobs: Blobs
) -> None:
    # Given a sent SMS whose statuses arrive last to first in one batch
    key = sent_sms(notifications, "fan-1")
    message_id = message_id_of(key)
    calls.reset()

    # When the batch is handled
    lambda_handler(
        kinesis_event(
            vendor_record(1, message_id, "DELIVERED", at(6)),
            vendor_record(2, message_id, "SENT", at(3)),
            vendor_record(3, message_id, "QUEUED", at(1)),
        ),
        lambda_context,
    )

    # Then DELIVERED, each status with its own time, one write; the two late ones are out of order
    # (as they would be one by one)
    record = current(notifications, key)
    assert record.status.id is S.DELIVERED and dates(record) == (at(1), at(3), at(6))
    assert calls.of("UpdateItem") == 1
    assert metric_total(emf_blobs(), "StatusOutOfOrder") == 2


def test_duplicated_statuses_in_one_batch_keep_the_first_time_of_each(
    notifications: DemandRepository, lambda_context: Any, calls: DynamoCalls, emf_blobs: Blobs
) -> None:
    # Given each status delivered twice in one batch, the copies with later stamps
    key = sent_sms(notifications, "fan-1")
    message_id = message_id_of(key)
    calls.reset()
    response = lambda_handler(
        kinesis_event(
            vendor_record(1, message_id, "QUEUED", at(1)),
            vendor_record(2, message_id, "QUEUED", at(2)),
            vendor_record(3, message_id, "SENT", at(3)),
            vendor_record(4, message_id, "SENT", at(4)),
            vendor_record(5, message_id, "DELIVERED", at(6)),
            vendor_record(6, message_id, "DELIVERED", at(7)),
        ),
        lambda_context,
    )

    # Then one write, the first stamp of each status kept, no copy counted out of order
    assert response == {"batchItemFailures": []}
    assert calls.of("UpdateItem") == 1
    record = current(notifications, key)
    assert record.status.id is S.DELIVERED and record.status.date == at(6)
    assert dates(record) == (at(1), at(3), at(6))
    assert metric_total(emf_blobs(), "StatusOutOfOrder") == 0


def test_two_messages_interleaved_in_one_batch_are_one_write_each(
    notifications: DemandRepository, lambda_context: Any, calls: DynamoCalls
) -> None:
    # Given two sent SMS whose statuses interleave in one batch
    first, second = sent_sms(notifications, "fan-1"), sent_sms(notifications, "fan-2")
    calls.reset()
    lambda_handler(
        kinesis_event(
            vendor_record(1, message_id_of(first), "QUEUED", at(1)),
            vendor_record(2, message_id_of(second), "QUEUED", at(2)),
            vendor_record(3, message_id_of(first), "SENT", at(3)),
            vendor_record(4, message_id_of(second), "SENT", at(4)),
            vendor_record(5, message_id_of(first), "DELIVERED", at(6)),
        ),
        lambda_context,
    )

    # Then each notification got exactly one write, with its own statuses only
    assert (calls.of("UpdateItem", first), calls.of("UpdateItem", second), calls.of("UpdateItem")) == (
        1,
        1,
        2,
    )
    assert current(notifications, first).status.id is S.DELIVERED
    assert dates(current(notifications, first)) == (at(1), at(3), at(6))
    second_record = current(notifications, second)
    assert second_record.status.id is S.SENT and dates(second_record) == (at(2), at(4), None)


def test_a_replayed_batch_changes_nothing_in_one_refused_write(
    notifications: DemandRepository, lambda_context: Any, calls: DynamoCalls
) -> None:
    # Given a batch of a message's three statuses, handled once
    key = sent_sms(notifications, "fan-1")
    message_id = message_id_of(key)
    batch = kinesis_event(
        vendor_record(1, message_id, "QUEUED", at(1)),
        vendor_record(2, message_id, "SENT", at(3)),
        vendor_record(3, message_id, "DELIVERED", at(6)),
    )
    lambda_handler(batch, lambda_context)
    before = raw_item(notifications, key)
    calls.reset()

    # When the stream delivers the same batch again
    response = lambda_handler(batch, lambda_context)

    # Then the item is exactly as it was, after one (refused) write and no other
    assert response == {"batchItemFailures": []}
    assert calls.calls == [("UpdateItem", tuple(key))]  # the message's notification is remembered
    assert raw_item(notifications, key) == before


def test_a_late_older_status_only_stamps_its_date_with_a_second_write(
    notifications: DemandRepository, lambda_context: Any, calls: DynamoCalls
) -> None:
    # Given a delivered SMS whose QUEUED never came
    key = sent_sms(notifications, "fan-1")
    message_id = message_id_of(key)
    lambda_handler(
        kinesis_event(
            vendor_record(1, message_id, "SENT", at(3)), vendor_record(2, message_id, "DELIVERED", at(6))
        ),
        lambda_context,
    )
    calls.reset()

    # When QUEUED arrives late, with a replayed SENT
    lambda_handler(
        kinesis_event(
            vendor_record(3, message_id, "QUEUED", at(1)), vendor_record(4, message_id, "SENT", at(3))
        ),
        lambda_context,
    )

    # Then the status stays, QUEUED's date is stamped: the refused move and one stamp
    record = current(notifications, key)
    assert record.status.id is S.DELIVERED and dates(record) == (at(1), at(3), at(6))
    assert calls.of("UpdateItem", key) == 2


@pytest.mark.parametrize("vendor_status", ["FAILED", "UNDELIVERED"])
def test_a_failed_status_in_a_batch_appends_its_error_once_even_when_replayed(
    notifications: DemandRepository, lambda_context: Any, calls: DynamoCalls, vendor_status: str
) -> None:
    # Given a sent SMS that the carrier could not deliver, reported twice in one batch
    key = sent_sms(notifications, "fan-1")
    message_id = message_id_of(key)
    failure = {"errorCode": "30003", "errorReason": "Unreachable destination handset"}
    batch = kinesis_event(
        vendor_record(1, message_id, "QUEUED", at(1)),
        vendor_record(2, message_id, vendor_status, at(5), **failure),
        vendor_record(3, message_id, vendor_status, at(5), **failure),
    )
    calls.reset()

    # When the batch is handled, and delivered again
    lambda_handler(batch, lambda_context)
    lambda_handler(batch, lambda_context)

    # Then FAILED with both dates and the vendor's reason appended exactly once
    record = current(notifications, key)
    assert record.status.id is S.FAILED and (record.date.queued, record.date.failed) == (at(1), at(5))
    assert [(error.reason, error.timestamp) for error in record.errors] == [
        ("30003: Unreachable destination handset", at(5))
    ]
    assert calls.of("UpdateItem") == 2  # one per delivery of the batch


def test_a_write_that_fails_fails_every_record_that_went_into_it_and_no_other(
    notifications: DemandRepository, lambda_context: Any
) -> None:
    # Given two sent SMS, the first one's writes throttled beyond the SDK's retries
    throttled, good = sent_sms(notifications, "fan-1"), sent_sms(notifications, "fan-2")
    ThrottledKey(throttled)

    # When a batch interleaves their statuses
    response = lambda_handler(
        kinesis_event(
            vendor_record(1, message_id_of(throttled), "QUEUED", at(1)),
            vendor_record(2, message_id_of(good), "QUEUED", at(1)),
            vendor_record(3, message_id_of(throttled), "SENT", at(3)),
            vendor_record(4, message_id_of(good), "DELIVERED", at(6)),
            vendor_record(5, message_id_of(throttled), "DELIVERED", at(6)),
        ),
        lambda_context,
    )

    # Then the three records of the throttled message are batch-item failures (the stream retries
    # them), the other message is applied
    assert failed_ids(response) == {sequence_number(1), sequence_number(3), sequence_number(5)}
    assert current(notifications, throttled).status.id is S.TRIGGERED
    assert current(notifications, good).status.id is S.DELIVERED


def test_statuses_of_an_unknown_recent_message_are_held_in_one_write(
    notifications: DemandRepository, lambda_context: Any, calls: DynamoCalls, emf_blobs: Blobs
) -> None:
    # Given an SMS the service took whose send is not recorded yet
    key = triggered_notification(notifications, "fan-1", trigger=False)
    message_id = message_id_of(key)
    calls.reset()
    now = SENT_AT.now(SENT_AT.tzinfo)

    # When its first two statuses arrive in one batch
    lambda_handler(
        kinesis_event(vendor_record(1, message_id, "QUEUED", now), vendor_record(2, message_id, "SENT", now)),
        lambda_context,
    )

    # Then both are held with one write on the message's item, and counted
    assert calls.of("UpdateItem") == calls.of("UpdateItem", sms_message_key(message_id)) == 1
    assert metric_total(emf_blobs(), "StatusHeld") == 2
    assert current(notifications, key).status.id is S.CREATED


# ------------------------------------------------------------------------------------------------
# A message looked up once per execution environment
# ------------------------------------------------------------------------------------------------


def test_the_next_batch_of_a_message_needs_no_second_lookup(
    notifications: DemandRepository, lambda_context: Any, calls: DynamoCalls
) -> None:
    # Given a sent SMS whose QUEUED came in one batch
    key = sent_sms(notifications, "fan-1")
    message_id = message_id_of(key)
    lambda_handler(kinesis_event(vendor_record(1, message_id, "QUEUED", at(1))), lambda_context)
    calls.reset()

    # When its DELIVERED comes in the next batch
    lambda_handler(kinesis_event(vendor_record(2, message_id, "DELIVERED", at(6))), lambda_context)

    # Then the notification remembered from the first batch took the write: no read of the message
    assert calls.calls == [("UpdateItem", tuple(key))]
    assert current(notifications, key).status.id is S.DELIVERED


def test_a_remembered_notification_that_is_gone_is_forgotten_and_the_message_looked_up(
    notifications: DemandRepository,
) -> None:
    # Given an execution environment that remembers a message's notification wrongly (gone since)
    key = sent_sms(notifications, "fan-1")
    message_id = message_id_of(key)
    known = KnownMessages()
    known.remember(message_id, Key("fan:gone", "notification#E-S#sms"))
    applier = StatusApplier(notifications, unknown_max_age=timedelta(minutes=15), known=known)
    event = read_status_event(
        {"messageId": message_id, "status": "SENT", "timestamp": "2024-01-15T14:30:03Z"}
    )
    assert event is not None

    # When a status of the message is applied
    outcome = applier.apply(event, received_at=at(3), now=at(3))

    # Then the message's item named the notification, which got it, and is remembered instead
    assert outcome is StatusOutcome.APPLIED
    assert current(notifications, key).status.id is S.SENT
    assert known.get(message_id) == key


def test_the_memory_of_messages_is_bounded_least_recently_used_first() -> None:
    known = KnownMessages(capacity=2)
    first, second, third = (Key(f"fan:{n}", f"notification#E-S{n}#sms") for n in range(3))
    known.remember("SM1", first)
    known.remember("SM2", second)
    assert known.get("SM1") == first  # used: SM2 is now the least recently used
    known.remember("SM3", third)
    assert (known.get("SM1"), known.get("SM2"), known.get("SM3")) == (first, None, third)
