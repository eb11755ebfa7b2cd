"""The status consumer end to end on moto: SMS status stream batches in, notification lifecycles out."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from status_builders import SENT_AT, ThrottledKey, at, raw_record, status_record, triggered_notification
from trigger_records import kinesis_event, sequence_number

from workers.shared.models import Key, NotificationRecord, NotificationStatus
from workers.shared.repository import DemandRepository
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


def test_unknown_references_are_counted_logged_and_not_retried(
    notifications: DemandRepository, lambda_context: Any, emf_blobs: Blobs, log_lines: Lines
) -> None:
    # Given status events naming a notification that does not exist, and one with no usable reference
    missing = Key("fan:nobody", "notification#E1-S1#sms")
    event = kinesis_event(
        status_record(1, missing, "delivered", at(9)),
        status_record(2, "legacy-correlation-id-123", "sent", at(2)),
    )

    # When they are handled
    response = lambda_handler(event, lambda_context)

    # Then both succeed (nothing to retry), are counted as unknown, and no item was created
    assert response == {"batchItemFailures": []}
    assert metric_total(emf_blobs(), "UnknownMessageId") == 2
    assert notifications.get_notification(missing) is None
    unknown = [line for line in log_lines() if line["message"] == "Status event for an unknown notification"]
    assert [line["reference"] for line in unknown] == [
        "fan:nobody|notification#E1-S1#sms",
        "legacy-correlation-id-123",
    ]


def test_a_mixed_batch_returns_exactly_the_malformed_and_failing_records(
    notifications: DemandRepository, lambda_context: Any, log_lines: Lines
) -> None:
    # Given a good event, malformed JSON, an event of a notification whose writes are throttled,
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

    # Then exactly the malformed records and the throttled one are reported; the good one applied
    assert failed_ids(response) == {sequence_number(2), sequence_number(3), sequence_number(4)}
    assert current(notifications, good).status.id is NotificationStatus.DELIVERED
    assert current(notifications, throttled).status.id is NotificationStatus.TRIGGERED
    [failure] = [line for line in log_lines() if line["message"] == "Record failed"]
    assert (failure["record_id"], failure["retryable"]) == (sequence_number(3), True)
    assert failure["correlation_id"] == "fan:fan-2|notification#vvG1IZ9KBxv3Tg-vvG1IZ9KBxv3Tg-presale-vf#sms"


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
