"""Builders of the sweeper's tests: notifications as the generator writes them, the sender's filter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.events.models import EventPattern
from trigger_records import change_data

from infra.catalog import NOTIFICATION_SEND_FILTERS
from workers.shared.keys import Key
from workers.shared.models import NotificationRecord, deserialize_item, serialize_item

NOW = datetime(2024, 1, 15, 14, 30, 0, 250000, tzinfo=UTC)
BOUND = timedelta(minutes=5)
PHONE = "+15555550123"


def sms_notification(fan_id: str, *, created: datetime, **fields: Any) -> NotificationRecord:
    """A CREATED SMS reminder created at `created`, listed as pending one bound later."""
    values: dict[str, Any] = {
        "fan_id": fan_id,
        "event_id": "vvG1IZ9KBxv3Tg",
        "sale_id": "vvG1IZ9KBxv3Tg-presale-vf",
        "contact_method": "sms",
        "phone_number": PHONE,
        "message_body": "Reminder! Tickets go on sale at 10:00 AM EST: https://bit.ly/3xYzAbC",
        "sale_start_date_time": datetime(2052, 1, 15, 15, 0, tzinfo=UTC),
        **fields,
    }
    return NotificationRecord.created(at=created, release_after=BOUND, **values)


def stored(table_name: str, key: Key) -> dict[str, Any]:
    """The item as stored now (plain python)."""
    response = boto3.client("dynamodb").get_item(
        TableName=table_name, Key=serialize_item(key.item()), ConsistentRead=True
    )
    return deserialize_item(response["Item"])


def triggers_sender(item: dict[str, Any]) -> bool:
    """Whether a MODIFY leaving `item` gets through the send trigger's filter (infra/catalog.py)."""
    document = {"data": json.loads(change_data(item, event_name="MODIFY"))}
    return any(
        EventPattern.load(json.dumps(pattern)).matches_event(document)
        for pattern in NOTIFICATION_SEND_FILTERS
    )
