"""The status consumer end to end on moto: SMS status stream batches in, notification lifecycles out."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from status_builders import (
    SENT_AT,
    ThrottledKey,
    at,
    message_id_of,
    raw_record,
    status_record,
    triggered_notification,
    vendor_record,
)
from trigger_records import kinesis_event, sequence_number

from workers.shared.keys import Key, notification_reference, sms_message_key
from workers.shared.models import NotificationRecord, SmsMessageRecord, deserialize_item, serialize_item
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus
from workers.sms_status_consumer.handler import lambda_handler

Blobs = Callable[[], list[dict[str, Any]]]
Lines = Callable[[], list[dict[str, Any]]]
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}


def metric_total(blobs: list[dict[str, Any]], name: str) -> float:
    """The sum of a metric over EMF blobs (a blob holds one value or a list of them)."""
    values = [blob[name] for blob in blobs if name in blob]
    return sum(sum(value) if isinstance(value, list) else value for value in values)


def current(notifications: DemandRepository, key: Key) -> NotificationRecord:
    record = notifications.get_notification(key)
    assert record is not None
    return record


def held_item(notifications: DemandRepository, message_id: str) -> SmsMessageRecord | None:
    """The message's rendezvous item (its notification and held statuses), if any."""
    response = notifications.client.get_item(
        TableName=notifications.table_name,
        Key=serialize_item(sms_message_key(message_id).item()),
        ConsistentRead=True,
    )
    item = response.get("Item")
    return SmsMessageRecord.from_item(deserialize_item(item)) if item else None


def test_queued_sent_delivered_in_order_ends_delivered_with_every_timestamp(
    notifications: DemandRepository, lambda_context: Any
) -> None:
    # Given an SMS handed to the SMS service
    key = triggered_notification(notifications, "fan-1")

    # When its statuses arrive in order
    response = lambda_handler(
        kinesis_event(
            status_record(1, key, "queued", at(1)),
            status_record(2, key, "sent", at(2)),
            status_record(3, key, "delivered", at(9)),
        ),
        lambda_context,
    )

    # Then the notification is DELIVERED with each status's own time and the vendor's message id
    assert response == {"batchItemFailures": []}
    record = current(notifications, key)
    assert record.status.id is NotificationStatus.DELIVERED and record.status.date == at(9)
    assert (record.date.triggered, record.date.queued, record.date.sent, record.date.delivered) == (
        SENT_AT,
        at(1),
        at(2),
        at(9),
    )
    assert record.message_id is not None and record.message_id.startswith("SM")


def test_statuses_out_of_order_never_move_back_and_keep_their_timestamps(
    notifications: DemandRepository, lambda_context: Any, emf_blobs: Blobs
) -> None:
    # Given a delivered SMS whose earlier statuses arrive afterwards, in separate batches
    key = triggered_notification(notifications, "fan-1")
    responses = [
        lambda_handler(kinesis_event(status_record(1, key, "delivered", at(9))), lambda_context),
        lambda_handler(kinesis_event(status_record(2, key, "queued", at(1))), lambda_context),
        lambda_handler(kinesis_event(status_record(3, key, "sent", at(2))), lambda_context),
    ]

    # Then nothing failed, it stays DELIVERED, every timestamp is there, two were out of order
    assert all(response == {"batchItemFailures": []} for response in responses)
    record = current(notifications, key)
    assert record.status.id is NotificationStatus.DELIVERED and record.status.date == at(9)
    assert (record.date.queued, record.date.sent, record.date.delivered) == (at(1), at(2), at(9))
    assert metric_total(emf_blobs(), "StatusOutOfOrder") == 2


@pytest.mark.parametrize("vendor_status", ["failed", "undelivered"])
def test_a_failed_sms_records_the_vendors_code_and_reason(
    notifications: DemandRepository, lambda_context: Any, vendor_status: str
) -> None:
    # Given a queued SMS
    key = triggered_notification(notifications, "fan-1")

    # When the SMS service reports it failed, with its error code and reason
    lambda_handler(
        kinesis_event(
            status_record(1, key, "queued", at(1)),
            status_record(
                2, key, vendor_status, at(5), errorCode="30003", errorReason="Unreachable destination handset"
            ),
        ),
        lambda_context,
    )

    # Then the notification is FAILED, stamped, with the reason appended to its errors
    record = current(notifications, key)
    assert record.status.id is NotificationStatus.FAILED and record.date.failed == at(5)
    assert [(error.reason, error.timestamp) for error in record.errors] == [
        ("30003: Unreachable destination handset", at(5))
    ]


def test_a_replayed_status_changes_nothing_and_is_not_out_of_order(
    notifications: DemandRepository, lambda_context: Any, emf_blobs: Blobs
) -> None:
    key = triggered_notification(notifications, "fan-1")
    batch = kinesis_event(status_record(1, key, "failed", at(5), errorCode="21610"))
    lambda_handler(batch, lambda_context)
    lambda_handler(batch, lambda_context)  # the stream delivers it again
    record = current(notifications, key)
    assert record.status.id is NotificationStatus.FAILED and len(record.errors) == 1
    assert metric_total(emf_blobs(), "StatusOutOfOrder") == 0


def test_a_status_for_a_notification_never_marked_triggered_still_moves_it_forward(
    notifications: DemandRepository, lambda_context: Any
) -> None:
    # Given the sender crashed after the SMS service accepted it but before it wrote TRIGGERED
    key = triggered_notification(notifications, "fan-1", trigger=False)

    # When the SMS service reports the message queued
    lambda_handler(kinesis_event(status_record(1, key, "queued", at(1))), lambda_context)

    # Then CREATED → QUEUED is a forward move and the message id is recorded
    record = current(notifications, key)
    assert record.status.id is NotificationStatus.QUEUED and record.message_id is not None


def test_old_events_of_unknown_messages_are_counted_logged_and_dropped(
    notifications: DemandRepository, lambda_context: Any, emf_blobs: Blobs, log_lines: Lines
) -> None:
    # Given hours-old status events naming a notification that does not exist, and one whose
    # reference is not ours; no notification carries either messageId
    missing = Key("fan:nobody", "notification#E1-S1#sms")
    event = kinesis_event(
        status_record(1, missing, "delivered", at(9)),
        status_record(2, "legacy-correlation-id-123", "sent", at(2)),
    )

    # When they are handled
    response = lambda_handler(event, lambda_context)

    # Then both succeed (nothing to retry), are counted as unknown, and nothing was created or held
    assert response == {"batchItemFailures": []}
    assert metric_total(emf_blobs(), "UnknownMessageId") == 2
    assert metric_total(emf_blobs(), "StatusHeld") == 0
    assert notifications.get_notification(missing) is None
    assert held_item(notifications, message_id_of(missing)) is None
    unknown = [
        line for line in log_lines() if line["message"] == "Status event for an unknown message dropped"
    ]
    assert [line["reference"] for line in unknown] == [
        "fan:nobody|notification#E1-S1#sms",
        "legacy-correlation-id-123",
    ]
    assert all(line["level"] == "WARNING" for line in unknown)


def test_a_mixed_batch_returns_exactly_the_undecodable_and_failing_records(
    notifications: DemandRepository, lambda_context: Any, log_lines: Lines, emf_blobs: Blobs
) -> None:
    # Given a good event, truncated JSON, an event of a notification whose writes are throttled,
    # an event missing its status, and an unknown reference
    good, throttled = (
        triggered_notification(notifications, "fan-1"),
        triggered_notification(notifications, "fan-2"),
    )
    ThrottledKey(throttled)
    event = kinesis_event(
        status_record(1, good, "delivered", at(9)),
        raw_record(2, b'{"messageId": "SM1", "reference": '),
        status_record(3, throttled, "delivered", at(9)),
        raw_record(
            4, b'{"messageId": "SM2", "reference": "fan:x|notification#E-S#sms", "timestamp": "2024-01-15"}'
        ),
        status_record(5, "not-a-reference", "sent", at(2)),
    )

    # When the batch is handled
    response = lambda_handler(event, lambda_context)

    # Then exactly the undecodable record and the throttled one are reported; the good one applied
    assert failed_ids(response) == {sequence_number(2), sequence_number(3)}
    assert current(notifications, good).status.id is NotificationStatus.DELIVERED
    assert current(notifications, throttled).status.id is NotificationStatus.TRIGGERED
    [failure] = [line for line in log_lines() if line["message"] == "Record failed"]
    assert (failure["record_id"], failure["retryable"]) == (sequence_number(3), True)
    assert failure["correlation_id"] == "fan:fan-2|notification#vvG1IZ9KBxv3Tg-vvG1IZ9KBxv3Tg-presale-vf#sms"
    # And the JSON that is no status event (no status) is counted and dropped: no retry can fix it
    assert metric_total(emf_blobs(), "MalformedStatusEvents") == 1


def test_a_timestamp_without_offset_is_read_as_utc(
    notifications: DemandRepository, lambda_context: Any
) -> None:
    key = triggered_notification(notifications, "fan-1")
    lambda_handler(kinesis_event(status_record(1, key, "sent", "2024-01-15T14:30:02.250")), lambda_context)
    assert current(notifications, key).date.sent == datetime(2024, 1, 15, 14, 30, 2, 250000, tzinfo=UTC)


def test_any_arrival_order_ends_delivered_with_every_timestamp(
    notifications: DemandRepository, lambda_context: Any
) -> None:
    # Given one triggered SMS per possible arrival order of its three statuses
    times = {"queued": at(1), "sent": at(2), "delivered": at(9)}
    orders = list(itertools.permutations(times))
    keys = [triggered_notification(notifications, f"fan-{index}") for index in range(len(orders))]

    # When each one's statuses arrive in its order, one batch per status
    for key, order in zip(keys, orders, strict=True):
        for index, status in enumerate(order):
            lambda_handler(kinesis_event(status_record(index, key, status, times[status])), lambda_context)

    # Then every one is DELIVERED and each status kept its own time
    for key, order in zip(keys, orders, strict=True):
        record = current(notifications, key)
        assert record.status.id is NotificationStatus.DELIVERED, order
        assert (record.date.queued, record.date.sent, record.date.delivered) == (at(1), at(2), at(9)), order


# ------------------------------------------------------------------------------------------------
# The service's documented shape (docs/contracts/sms.md): messageId, status, timestamp
# ------------------------------------------------------------------------------------------------


def recently(seconds_ago: float) -> datetime:
    """A status time `seconds_ago` before now (events of messages whose send may not be recorded yet)."""
    return datetime.now(UTC) - timedelta(seconds=seconds_ago)


def test_events_in_the_services_example_shape_move_the_notification_to_delivered(
    notifications: DemandRepository, lambda_context: Any
) -> None:
    # Given a sent SMS whose notification carries the service's messageId
    key = triggered_notification(notifications, "fan-1")

    # When its statuses arrive as the service's example has them: no reference, upper case
    response = lambda_handler(
        kinesis_event(
            vendor_record(1, message_id_of(key), "QUEUED", at(1)),
            vendor_record(2, message_id_of(key), "SENT", at(2)),
            vendor_record(3, message_id_of(key), "DELIVERED", at(9)),
        ),
        lambda_context,
    )

    # Then the notification is found by its messageId and DELIVERED with each status's time
    assert response == {"batchItemFailures": []}
    record = current(notifications, key)
    assert record.status.id is NotificationStatus.DELIVERED
    assert (record.date.queued, record.date.sent, record.date.delivered) == (at(1), at(2), at(9))


@pytest.mark.parametrize("written", ["delivered", "DELIVERED", " Delivered "])
def test_a_status_is_read_in_any_case(
    notifications: DemandRepository, lambda_context: Any, written: str
) -> None:
    key = triggered_notification(notifications, "fan-1")
    lambda_handler(kinesis_event(vendor_record(1, message_id_of(key), written, at(9))), lambda_context)
    assert current(notifications, key).status.id is NotificationStatus.DELIVERED


def test_an_event_without_a_timestamp_is_dated_by_its_arrival_on_the_stream(
    notifications: DemandRepository, lambda_context: Any
) -> None:
    # Given a status event with no timestamp (the stream stamps every record's arrival)
    key = triggered_notification(notifications, "fan-1")

    # When it is handled
    lambda_handler(kinesis_event(vendor_record(1, message_id_of(key), "SENT", None)), lambda_context)

    # Then the status is applied, dated when the stream received it
    record = current(notifications, key)
    assert record.status.id is NotificationStatus.SENT
    assert record.date.sent == datetime(2024, 1, 15, 9, 45, 0, 456000, tzinfo=UTC)


def test_a_reference_that_is_not_ours_falls_back_to_the_message_id(
    notifications: DemandRepository, lambda_context: Any
) -> None:
    # Given a sent SMS, and its status event carrying some other correlation id as `reference`
    key = triggered_notification(notifications, "fan-1")
    record = vendor_record(1, message_id_of(key), "DELIVERED", at(9), reference="corr-7f3a9c")

    # When it is handled
    response = lambda_handler(kinesis_event(record), lambda_context)

    # Then the messageId found the notification
    assert response == {"batchItemFailures": []}
    assert current(notifications, key).status.id is NotificationStatus.DELIVERED


def test_a_numeric_error_code_is_kept_as_text(notifications: DemandRepository, lambda_context: Any) -> None:
    key = triggered_notification(notifications, "fan-1")
    failed = vendor_record(
        1, message_id_of(key), "UNDELIVERED", at(5), errorCode=30003, errorReason="Unknown"
    )
    lambda_handler(kinesis_event(failed), lambda_context)
    record = current(notifications, key)
    assert record.status.id is NotificationStatus.FAILED
    assert [error.reason for error in record.errors] == ["30003: Unknown"]


def test_an_email_notification_with_the_same_message_id_is_never_touched(
    notifications: DemandRepository, lambda_context: Any, emf_blobs: Blobs
) -> None:
    # Given an email reminder whose SES MessageId happens to be the id a status event names
    email = NotificationRecord.created(
        at=SENT_AT,
        fan_id="fan-9",
        event_id="vvG1IZ9KBxv3Tg",
        sale_id="public",
        contact_method="email",
        email="fan@example.com",
        template_variables={"artistName": "Beyoncé"},
        sale_start_date_time=datetime(2024, 1, 15, 15, 0, tzinfo=UTC),
    )
    assert notifications.create_notification(email)
    assert notifications.transition(
        email.key,
        {NotificationStatus.CREATED},
        NotificationStatus.TRIGGERED,
        at=SENT_AT,
        extra_updates={"messageId": "SM-shared-1"},
    )

    # When an (old) SMS status event names that id
    lambda_handler(kinesis_event(vendor_record(1, "SM-shared-1", "FAILED", at(5))), lambda_context)

    # Then the email is untouched and the event counted as an unknown message
    assert current(notifications, email.key).status.id is NotificationStatus.TRIGGERED
    assert metric_total(emf_blobs(), "UnknownMessageId") == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"status": "DELIVERED", "timestamp": "2024-01-15T14:30:09Z"}, "messageId: Field required"),
        ({"messageId": "", "status": "DELIVERED"}, "messageId: String should have at least 1 character"),
        ({"messageId": "SM1", "status": "READ"}, "status: Input should be"),
        ({"messageId": "SM1", "status": "SENT", "timestamp": "yesterday"}, "timestamp: Input should be"),
    ],
)
@pytest.mark.usefixtures("notifications")
def test_json_that_is_no_status_event_is_counted_and_dropped_not_retried(
    lambda_context: Any,
    emf_blobs: Blobs,
    log_lines: Lines,
    body: dict[str, Any],
    problem: str,
) -> None:
    # Given a record whose JSON breaks the status-event contract
    record = raw_record(1, json.dumps(body).encode())

    # When it is handled
    response = lambda_handler(kinesis_event(record), lambda_context)

    # Then it is not a batch-item failure (no retry can change it): counted and logged with the reason
    assert response == {"batchItemFailures": []}
    assert metric_total(emf_blobs(), "MalformedStatusEvents") == 1
    [dropped] = [
        line for line in log_lines() if line["message"] == "Status event dropped: not a status event"
    ]
    assert problem in dropped["reason"] and dropped["level"] == "WARNING"


# ------------------------------------------------------------------------------------------------
# A status before its send is recorded: held for the sender, never retried forever
# ------------------------------------------------------------------------------------------------


def test_a_recent_status_of_an_unknown_message_is_held_for_its_sender(
    notifications: DemandRepository, lambda_context: Any, emf_blobs: Blobs
) -> None:
    # Given an SMS the service took whose send is not recorded yet (CREATED, no messageId)
    key = triggered_notification(notifications, "fan-1", trigger=False)
    message_id = message_id_of(key)
    queued, delivered = recently(40), recently(30)

    # When its statuses arrive
    response = lambda_handler(
        kinesis_event(
            vendor_record(1, message_id, "QUEUED", queued),
            vendor_record(2, message_id, "DELIVERED", delivered),
        ),
        lambda_context,
    )

    # Then nothing fails or moves: both are held on the message's item, counted
    assert response == {"batchItemFailures": []}
    assert current(notifications, key).status.id is NotificationStatus.CREATED
    held = held_item(notifications, message_id)
    assert held is not None and held.reference is None
    assert [(status, status_held.at) for status, status_held in held.held()] == [
        (NotificationStatus.QUEUED, queued.replace(microsecond=queued.microsecond // 1000 * 1000)),
        (NotificationStatus.DELIVERED, delivered.replace(microsecond=delivered.microsecond // 1000 * 1000)),
    ]
    assert metric_total(emf_blobs(), "StatusHeld") == 2
    assert metric_total(emf_blobs(), "UnknownMessageId") == 0


def test_a_status_of_a_message_its_sender_named_meanwhile_is_applied_not_held(
    notifications: DemandRepository, lambda_context: Any, emf_blobs: Blobs
) -> None:
    # Given a send recorded on the message's item but not yet visible in the message index
    # (the index is eventually consistent: here the notification has no messageId yet)
    key = triggered_notification(notifications, "fan-1", trigger=False)
    message_id = message_id_of(key)
    notifications.register_message(message_id, notification_reference(key), expires_at=2_000_000_000)

    # When a status arrives
    lambda_handler(kinesis_event(vendor_record(1, message_id, "QUEUED", recently(5))), lambda_context)

    # Then the item's reference found the notification: applied, with its messageId, nothing held
    record = current(notifications, key)
    assert record.status.id is NotificationStatus.QUEUED and record.message_id == message_id
    assert metric_total(emf_blobs(), "StatusHeld") == 0


def test_a_message_its_sender_named_is_found_by_one_read_without_the_index(
    notifications: DemandRepository, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a sent SMS whose sender named its notification on the message's item, and a message
    # index the consumer cannot query (any Query of it fails)
    key = triggered_notification(notifications, "fan-1")
    message_id = message_id_of(key)
    notifications.register_message(message_id, notification_reference(key), expires_at=2_000_000_000)
    monkeypatch.setenv("DEMAND_TABLE_MESSAGE_INDEX", "no-such-index")

    # When its statuses arrive without a reference
    response = lambda_handler(
        kinesis_event(
            vendor_record(1, message_id, "QUEUED", at(1)), vendor_record(2, message_id, "DELIVERED", at(9))
        ),
        lambda_context,
    )

    # Then the message's item alone led to the notification: DELIVERED, no record failed
    assert response == {"batchItemFailures": []}
    assert current(notifications, key).status.id is NotificationStatus.DELIVERED


def test_the_age_limit_of_unknown_messages_is_the_configured_one(
    notifications: DemandRepository, lambda_context: Any, emf_blobs: Blobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a limit of two minutes
    monkeypatch.setenv("UNKNOWN_MESSAGE_MAX_AGE_SECONDS", "120")

    # When events of unknown messages 100 s and 140 s old arrive
    lambda_handler(
        kinesis_event(
            vendor_record(1, "SM-unknown-1", "QUEUED", recently(100)),
            vendor_record(2, "SM-unknown-2", "QUEUED", recently(140)),
        ),
        lambda_context,
    )

    # Then the first is held and the second dropped
    blobs = emf_blobs()
    assert (metric_total(blobs, "StatusHeld"), metric_total(blobs, "UnknownMessageId")) == (1, 1)
    assert held_item(notifications, "SM-unknown-1") is not None
    assert held_item(notifications, "SM-unknown-2") is None
