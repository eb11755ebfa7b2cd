"""Sent notifications, SMS status stream records, and a throttled DynamoDB key for the consumer's tests."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from trigger_records import kinesis_record, sequence_number

from workers.shared.clients import dynamodb
from workers.shared.keys import Key, notification_reference
from workers.shared.models import NotificationRecord
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus

SENT_AT = datetime(2024, 1, 15, 14, 30, 0, 250000, tzinfo=UTC)
STREAM = "prd3292-test-sms-status"


def at(second: int) -> datetime:
    """A status time `second` seconds after the SMS was handed to the service."""
    return SENT_AT.replace(second=second)


def message_id_of(key: Key | str) -> str:
    """The SMS service's messageId of the notification's message (what status events name)."""
    reference = key if isinstance(key, str) else notification_reference(key)
    return f"SM{zlib.crc32(reference.encode()):010d}"


def triggered_notification(notifications: DemandRepository, fan_id: str, *, trigger: bool = True) -> Key:
    """An SMS notification handed to the SMS service: TRIGGERED with its messageId, or still CREATED."""
    record = NotificationRecord.created(
        at=datetime(2024, 1, 15, 9, 45, tzinfo=UTC),
        fan_id=fan_id,
        event_id="vvG1IZ9KBxv3Tg",
        sale_id="vvG1IZ9KBxv3Tg-presale-vf",
        sale_name="Verified Fan Presale",
        contact_method="sms",
        phone_number="+15555550123",
        message_body="Reminder! Tickets go on sale at 10:00 AM EST: https://bit.ly/3xYzAbC",
        sale_start_date_time=datetime(2024, 1, 15, 15, 0, tzinfo=UTC),
    )
    assert notifications.create_notification(record)
    if trigger:
        assert notifications.transition(
            record.key,
            {NotificationStatus.CREATED},
            NotificationStatus.TRIGGERED,
            at=SENT_AT,
            extra_updates={"messageId": message_id_of(record.key)},
        )
    return record.key


def status_body(key: Key | str, status: str, when: datetime | str, **extra: object) -> dict[str, Any]:
    """An SMS status event echoing the request's `reference` (a service that returns it)."""
    reference = key if isinstance(key, str) else notification_reference(key)
    return {
        "messageId": message_id_of(reference),
        "reference": reference,
        "status": status,
        "timestamp": when if isinstance(when, str) else when.isoformat().replace("+00:00", "Z"),
        **extra,
    }


def status_record(
    index: int, key: Key | str, status: str, when: datetime | str, **extra: object
) -> dict[str, Any]:
    """The Lambda Kinesis record of an SMS status event."""
    body = status_body(key, status, when, **extra)
    return kinesis_record(
        sequence_number(index), json.dumps(body).encode(), partition_key=body["messageId"], stream=STREAM
    )


def vendor_body(message_id: str, status: str, when: datetime | None, **extra: object) -> dict[str, Any]:
    """A status event in the service's documented example shape: messageId, status, timestamp only."""
    body: dict[str, Any] = {"messageId": message_id, "status": status, **extra}
    if when is not None:
        body["timestamp"] = when.isoformat().replace("+00:00", "Z")
    return body


def vendor_record(
    index: int, message_id: str, status: str, when: datetime | None, **extra: object
) -> dict[str, Any]:
    """The Lambda Kinesis record of a status event in the service's example shape."""
    body = vendor_body(message_id, status, when, **extra)
    return kinesis_record(
        sequence_number(index), json.dumps(body).encode(), partition_key=message_id, stream=STREAM
    )


def raw_record(index: int, data: bytes) -> dict[str, Any]:
    """A Kinesis record carrying arbitrary bytes."""
    return kinesis_record(sequence_number(index), data, stream=STREAM)


class ThrottledKey:
    """DynamoDB answers every UpdateItem on `key` with ProvisionedThroughputExceededException."""

    def __init__(self, key: Key) -> None:
        self.key = key
        dynamodb().meta.events.register("before-call.dynamodb.UpdateItem", self._answer)

    def _answer(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        item_key = json.loads(params["body"])["Key"]
        if (item_key["PK"]["S"], item_key["SK"]["S"]) != tuple(self.key):
            return None
        error = {
            "Code": "ProvisionedThroughputExceededException",
            "Message": "The level of configured provisioned throughput for the table was exceeded.",
        }
        return SimpleNamespace(status_code=400, headers={}), {"Error": error, "ResponseMetadata": {}}


class DynamoCalls:
    """Counts the workers' DynamoDB calls (the cached client's) by operation and item, from `reset()` on."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, str] | None]] = []
        dynamodb().meta.events.register("before-call.dynamodb", self._record)

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        body = json.loads(params["body"] or b"{}")
        key = body.get("Key")
        self.calls.append((model.name, (key["PK"]["S"], key["SK"]["S"]) if key else None))

    def reset(self) -> None:
        """Forget the calls so far (the test's own setup)."""
        self.calls.clear()

    def of(self, operation: str, key: Key | None = None) -> int:
        """How many `operation` calls (on `key`'s item, when given)."""
        return sum(
            1 for name, item in self.calls if name == operation and (key is None or item == tuple(key))
        )
