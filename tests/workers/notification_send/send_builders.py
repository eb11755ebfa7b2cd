"""Builders of the sender's tests: notifications, the table's change stream, a fake clock, DynamoDB faults."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from moto.events.models import EventPattern
from trigger_records import change_data, kinesis_record, sequence_number

from infra.catalog import NOTIFICATION_SEND_FILTERS
from workers.shared.keys import Key
from workers.shared.models import NotificationRecord, deserialize_item, serialize_item

CREATED_AT = datetime(2024, 1, 15, 14, 30, 0, 123000, tzinfo=UTC)
SMS_APP_IDS = {"notification": "dmd-reminders-test", "notification:asu": "dmd-reminders-asu-test"}
# In the future of any clock these tests run on (handler tests use the wall clock): the sender
# expires a reminder whose sale has started. The sample events in tests/events say the same.
SALE_START = datetime(2052, 1, 15, 15, 0, tzinfo=UTC)
MESSAGE_BODY = (
    "Reminder! Tickets for Beyonce Verified Fan Presale in East Rutherford will be going on sale at "
    "10:00 AM EST. Get your tickets with Ticketmaster: https://bit.ly/3xYzAbC"
)
TEMPLATE_VARIABLES = {
    "artistName": "Beyoncé",
    "presaleName": "Verified Fan Presale",
    "saleTime": "10:00 AM EST",
    "eventDay": "FRI",
    "eventDate": "MAR 15",
    "eventTime": "7:00 PM",
    "url": "https://bit.ly/3xYzAbC",
    "venueName": "MetLife Stadium",
    "venueCity": "East Rutherford",
    "venueStateCode": "NJ",
    "brand": "Ticketmaster",
}


def sms_notification(
    fan_id: str = "a1b2c3d4e5", *, phone: str = "+15555550123", **fields: Any
) -> NotificationRecord:
    """A CREATED SMS reminder as the generator writes it."""
    values: dict[str, Any] = {
        "fan_id": fan_id,
        "event_id": "vvG1IZ9KBxv3Tg",
        "sale_id": "vvG1IZ9KBxv3Tg-presale-vf",
        "sale_name": "Verified Fan Presale",
        "contact_method": "sms",
        "phone_number": phone,
        "message_body": MESSAGE_BODY,
        "app_id": "dmd-reminders",
        "market_id": "TM_US",
        "sale_start_date_time": SALE_START,
        **fields,
    }
    return NotificationRecord.created(at=CREATED_AT, **values)


def email_notification(
    fan_id: str = "f9e8d7c6b5", *, locale: str = "en-us", **fields: Any
) -> NotificationRecord:
    """A CREATED email reminder as the generator writes it."""
    values: dict[str, Any] = {
        "fan_id": fan_id,
        "event_id": "vvG1IZ9KBxv3Tg",
        "sale_id": "vvG1IZ9KBxv3Tg-presale-vf",
        "contact_method": "email",
        "email": "fan@example.com",
        "template_variables": TEMPLATE_VARIABLES,
        "locale": locale,
        "sale_start_date_time": SALE_START,
        **fields,
    }
    return NotificationRecord.created(at=CREATED_AT, **values)


class TableStream:
    """The table's change stream as the sender sees it: current items as Kinesis change records."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        self._sequence = itertools.count(1)

    def item(self, key: Key) -> dict[str, Any]:
        """The stored item (plain python)."""
        response = boto3.client("dynamodb").get_item(
            TableName=self.table_name, Key=serialize_item(key.item()), ConsistentRead=True
        )
        return deserialize_item(response["Item"])

    def record(self, key: Key, *, event_name: str = "MODIFY") -> dict[str, Any]:
        """The change record the stream carries after the item's latest write."""
        return self.of_item(self.item(key), event_name=event_name)

    def of_item(self, item: dict[str, Any], *, event_name: str = "MODIFY") -> dict[str, Any]:
        """A change record with `item` as its new image."""
        return kinesis_record(
            sequence_number(next(self._sequence)),
            change_data(item, event_name=event_name),
            partition_key=f"{item['PK']}|{item['SK']}",
        )

    @staticmethod
    def triggers_sender(record: dict[str, Any]) -> bool:
        """Whether the sender's event-source filter (infra/catalog.py) lets the record through."""
        import base64

        document = {"data": json.loads(base64.b64decode(record["kinesis"]["data"]))}
        return any(
            EventPattern.load(json.dumps(pattern)).matches_event(document)
            for pattern in NOTIFICATION_SEND_FILTERS
        )


def batch(*records: dict[str, Any]) -> dict[str, Any]:
    """A Lambda Kinesis event."""
    return {"Records": list(records)}


def failure_ids(response: dict[str, Any]) -> set[str]:
    """The batch-item failures' identifiers."""
    return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}


def sequence_of(record: dict[str, Any]) -> str:
    return str(record["kinesis"]["sequenceNumber"])


@dataclass
class FakeClock:
    """A clock that only moves when slept on; records every sleep."""

    now: float = field(default_factory=lambda: datetime(2024, 1, 15, 14, 30, 5, tzinfo=UTC).timestamp())
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


@contextmanager
def dynamodb_fails(
    client: Any, when: Callable[[dict[str, Any]], bool], *, code: str = "InternalServerError"
) -> Iterator[list[dict[str, Any]]]:
    """UpdateItem calls of `client` matching `when` fail with `code` (via botocore's before-call hook)."""
    refused: list[dict[str, Any]] = []

    def refuse(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        body = json.loads(params["body"])
        if not when(body):
            return None
        refused.append(body)
        error = {"Error": {"Code": code, "Message": "Internal server error (test)"}}
        return AWSResponse("", 500, {}, None), {**error, "ResponseMetadata": {"HTTPStatusCode": 500}}

    event = "before-call.dynamodb.UpdateItem"
    client.meta.events.register(event, refuse)
    try:
        yield refused
    finally:
        client.meta.events.unregister(event, refuse)


def updates_key(key: Key, *, status_write: bool) -> Callable[[dict[str, Any]], bool]:
    """Matches UpdateItem bodies on `key`: the status write (transition) or the claim."""

    def matches(body: dict[str, Any]) -> bool:
        same_key = body["Key"] == serialize_item(key.item())
        is_transition = "#status = :status" in body["UpdateExpression"]
        return same_key and is_transition == status_write

    return matches
