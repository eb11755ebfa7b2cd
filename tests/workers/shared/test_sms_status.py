"""Statuses held for a message whose send is not recorded yet, and claimed by the sender that records it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.shared.keys import Key, notification_reference, sms_message_key
from workers.shared.models import NotificationRecord, SmsMessageRecord, deserialize_item, serialize_item
from workers.shared.repository import DemandRepository
from workers.shared.sms_status import (
    MESSAGE_RECORD_HOURS,
    Applied,
    Coalesced,
    DeliveryUpdate,
    apply_update,
    claim_held_updates,
    hold_update,
    hold_updates,
)
from workers.shared.statuses import NotificationStatus, can_transition

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

ACCEPTED_AT = datetime(2024, 1, 15, 14, 30, 0, tzinfo=UTC)
MESSAGE_ID = "SM0000000042"


@pytest.fixture
def notifications(demand_table: str) -> DemandRepository:
    return DemandRepository(demand_table, sales_index="sales", demand_index="demand-by-sale")


def sms_notification(notifications: DemandRepository, status: NotificationStatus) -> Key:
    """An SMS reminder in `status` (TRIGGERED and later carry MESSAGE_ID), as the sender leaves it."""
    record = NotificationRecord.created(
        at=ACCEPTED_AT - timedelta(minutes=5),
        fan_id="fan-1",
        event_id="vvG1IZ9KBxv3Tg",
        sale_id="public",
        contact_method="sms",
        phone_number="+15555550123",
        message_body="Reminder! Tickets go on sale at 10:00 AM EST: https://bit.ly/3xYzAbC",
        sale_start_date_time=ACCEPTED_AT + timedelta(minutes=30),
    )
    assert notifications.create_notification(record)
    if status is not NotificationStatus.CREATED:
        assert notifications.transition(
            record.key,
            {NotificationStatus.CREATED},
            status,
            at=ACCEPTED_AT,
            extra_updates={"messageId": MESSAGE_ID},
        )
    return record.key


def update(status: NotificationStatus, seconds: int, **fields: Any) -> DeliveryUpdate:
    vendor_status = fields.pop("vendor_status", status.value)
    return DeliveryUpdate(
        message_id=MESSAGE_ID,
        status=status,
        at=ACCEPTED_AT + timedelta(seconds=seconds),
        vendor_status=vendor_status,
        **fields,
    )


def message_item(notifications: DemandRepository) -> SmsMessageRecord:
    response = notifications.client.get_item(
        TableName=notifications.table_name, Key=serialize_item(sms_message_key(MESSAGE_ID).item())
    )
    return SmsMessageRecord.from_item(deserialize_item(response["Item"]))


def current(notifications: DemandRepository, key: Key) -> NotificationRecord:
    record = notifications.get_notification(key)
    assert record is not None
    return record


def test_statuses_held_before_the_send_was_recorded_are_applied_in_order_when_it_is(
    notifications: DemandRepository,
) -> None:
    # Given a message whose statuses arrived (in any order) while its send was not recorded
    key = sms_notification(notifications, NotificationStatus.CREATED)
    for held in (
        update(NotificationStatus.DELIVERED, 9),
        update(NotificationStatus.QUEUED, 1),
        update(NotificationStatus.SENT, 3),
    ):
        assert hold_update(notifications, held) is None

    # When the sender records the send (TRIGGERED, then the message's item names its notification)
    assert notifications.transition(
        key,
        {NotificationStatus.CREATED},
        NotificationStatus.TRIGGERED,
        at=ACCEPTED_AT + timedelta(seconds=12),
        extra_updates={"messageId": MESSAGE_ID},
    )
    applied = claim_held_updates(notifications, key, MESSAGE_ID, at=ACCEPTED_AT + timedelta(seconds=12))

    # Then all three are applied oldest first: DELIVERED, every status with its own time
    assert applied == 3
    record = current(notifications, key)
    assert record.status.id is NotificationStatus.DELIVERED
    assert (record.date.queued, record.date.sent, record.date.delivered) == tuple(
        ACCEPTED_AT + timedelta(seconds=seconds) for seconds in (1, 3, 9)
    )


def test_a_held_failure_keeps_the_services_code_and_reason(notifications: DemandRepository) -> None:
    key = sms_notification(notifications, NotificationStatus.TRIGGERED)
    failure = update(
        NotificationStatus.FAILED,
        4,
        vendor_status="UNDELIVERED",
        error_code="30003",
        error_reason="Unreachable",
    )
    hold_update(notifications, failure)
    claim_held_updates(notifications, key, MESSAGE_ID, at=ACCEPTED_AT)
    record = current(notifications, key)
    assert record.status.id is NotificationStatus.FAILED
    assert [(error.reason, error.timestamp) for error in record.errors] == [
        ("30003: Unreachable", ACCEPTED_AT + timedelta(seconds=4))
    ]


def test_a_hold_after_the_send_was_named_returns_the_notification_to_apply_to(
    notifications: DemandRepository,
) -> None:
    # Given the sender named the message's notification (and found nothing held)
    key = sms_notification(notifications, NotificationStatus.TRIGGERED)
    assert claim_held_updates(notifications, key, MESSAGE_ID, at=ACCEPTED_AT) == 0

    # When the consumer, whose index lookup lagged, holds a status
    named = hold_update(notifications, update(NotificationStatus.QUEUED, 1))

    # Then the hold answers with the notification (the consumer applies it itself)
    assert named == key
    assert apply_update(notifications, key, update(NotificationStatus.QUEUED, 1)) is Applied.APPLIED


def test_the_first_held_status_of_a_kind_wins_and_the_item_expires_with_the_window(
    notifications: DemandRepository,
) -> None:
    # Given the same status held twice (the stream redelivered it with another stamp)
    hold_update(notifications, update(NotificationStatus.SENT, 3))
    hold_update(notifications, update(NotificationStatus.SENT, 8))

    # Then the first is kept, and the item lives for the de-duplication window
    item = message_item(notifications)
    assert [(status, held.at) for status, held in item.held()] == [
        (NotificationStatus.SENT, ACCEPTED_AT + timedelta(seconds=3))
    ]
    expected_expiry = ACCEPTED_AT + timedelta(seconds=3, hours=MESSAGE_RECORD_HOURS)
    assert item.expires_at == int(expected_expiry.timestamp())
    assert item.key == Key(f"message:{MESSAGE_ID}", "sms")


def test_the_message_item_stays_out_of_the_message_index(notifications: DemandRepository) -> None:
    # Given a notification carrying the messageId and the message's item naming it
    key = sms_notification(notifications, NotificationStatus.TRIGGERED)
    notifications.register_message(MESSAGE_ID, notification_reference(key), expires_at=2_000_000_000)

    # Then the message index lists the notification only
    assert notifications.notification_keys_for_message(MESSAGE_ID) == [key]


def test_a_status_older_than_the_current_one_only_adds_its_timestamp(notifications: DemandRepository) -> None:
    key = sms_notification(notifications, NotificationStatus.TRIGGERED)
    assert apply_update(notifications, key, update(NotificationStatus.DELIVERED, 9)) is Applied.APPLIED
    assert apply_update(notifications, key, update(NotificationStatus.QUEUED, 1)) is Applied.OUT_OF_ORDER
    assert (
        apply_update(notifications, key, update(NotificationStatus.DELIVERED, 9)) is Applied.ALREADY_APPLIED
    )
    missing = Key("fan:nobody", "notification#E-S#sms")
    assert apply_update(notifications, missing, update(NotificationStatus.SENT, 2)) is Applied.NO_NOTIFICATION
    record = current(notifications, key)
    assert record.status.id is NotificationStatus.DELIVERED
    assert record.date.queued == ACCEPTED_AT + timedelta(seconds=1)


# ------------------------------------------------------------------------------------------------
# Coalescing: one message's statuses in one write, with the outcome of applying them one by one
# ------------------------------------------------------------------------------------------------

_STATUSES = [
    NotificationStatus.QUEUED,
    NotificationStatus.SENT,
    NotificationStatus.DELIVERED,
    NotificationStatus.FAILED,
]
_STARTS = [
    NotificationStatus.CREATED,
    NotificationStatus.RETRY,
    NotificationStatus.TRIGGERED,
    *_STATUSES,
    NotificationStatus.EXPIRED,
]


def one_by_one(start: NotificationStatus, statuses: list[NotificationStatus]) -> NotificationStatus:
    current = start
    for status in statuses:
        if can_transition(current, status):
            current = status
    return current


@given(start=st.sampled_from(_STARTS), statuses=st.lists(st.sampled_from(_STATUSES), min_size=1, max_size=6))
def test_the_coalesced_move_ends_where_applying_one_by_one_ends(
    start: NotificationStatus, statuses: list[NotificationStatus]
) -> None:
    # Given any statuses of one message in any order, and a notification in any status
    coalesced = Coalesced.of([update(status, index) for index, status in enumerate(statuses)])

    # When the one move is made if it is forward
    target = coalesced.target.status
    ends = target if can_transition(start, target) else start

    # Then it ends where the updates applied one by one end, and every status keeps its first date
    assert ends is one_by_one(start, statuses)
    assert dict(coalesced.stamps) == {
        status: ACCEPTED_AT + timedelta(seconds=statuses.index(status)) for status in set(statuses)
    }


def test_held_statuses_are_applied_with_one_write_when_the_sender_names_the_message(
    notifications: DemandRepository,
) -> None:
    # Given three statuses held for a message while its send was not recorded
    key = sms_notification(notifications, NotificationStatus.TRIGGERED)
    for held in (update(NotificationStatus.QUEUED, 1), update(NotificationStatus.SENT, 3)):
        hold_update(notifications, held)
    hold_update(notifications, update(NotificationStatus.DELIVERED, 9))
    writes: list[str] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        writes.append(json.loads(params["body"])["Key"]["PK"]["S"])

    notifications.client.meta.events.register("before-call.dynamodb.UpdateItem", record)

    # When the sender names the message's notification
    applied = claim_held_updates(notifications, key, MESSAGE_ID, at=ACCEPTED_AT)

    # Then the naming and one move of the notification: DELIVERED with every date
    assert applied == 3
    assert writes == [f"message:{MESSAGE_ID}", key.pk]
    record_after = current(notifications, key)
    assert record_after.status.id is NotificationStatus.DELIVERED
    assert (record_after.date.queued, record_after.date.sent, record_after.date.delivered) == tuple(
        ACCEPTED_AT + timedelta(seconds=seconds) for seconds in (1, 3, 9)
    )


def test_several_statuses_are_held_in_one_write_first_of_each_kind(notifications: DemandRepository) -> None:
    assert (
        hold_updates(
            notifications,
            [
                update(NotificationStatus.SENT, 3),
                update(NotificationStatus.QUEUED, 1),
                update(NotificationStatus.SENT, 8),
            ],
        )
        is None
    )
    item = message_item(notifications)
    assert [(status, held.at) for status, held in item.held()] == [
        (NotificationStatus.QUEUED, ACCEPTED_AT + timedelta(seconds=1)),
        (NotificationStatus.SENT, ACCEPTED_AT + timedelta(seconds=3)),
    ]
    assert item.expires_at == int(
        (ACCEPTED_AT + timedelta(seconds=3, hours=MESSAGE_RECORD_HOURS)).timestamp()
    )
