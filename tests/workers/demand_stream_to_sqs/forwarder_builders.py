"""Demand-table items and change records for the stream forwarder's tests, and a fake SQS."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from trigger_records import change_data, kinesis_record, sequence_number

from workers.shared.models import EventRecord, NotificationRecord, SaleRecord
from workers.shared.records import ChangeRecord, parse_change_record

STREAM = "prd3292-test-dmnd-table-stream"


def event_item(event_id: str, **overrides: Any) -> dict[str, Any]:
    """A cached event item as the scheduler or eventDetails writes it."""
    fields: dict[str, Any] = {
        "id": event_id,
        "name": "Renaissance World Tour",
        "url": f"https://www.ticketmaster.com/event/{event_id}",
        "timezone": "America/New_York",
        "country_code": "US",
        "is_suppressed": False,
        "expires_at": 1705398300,
        **overrides,
    }
    return EventRecord(**fields).to_item()


def sale_item(event_id: str) -> dict[str, Any]:
    """A cached sale item of the event."""
    return SaleRecord(
        id=f"{event_id}-presale",
        event_id=event_id,
        name="Verified Fan Presale",
        sale_start_date_time=datetime(2024, 1, 15, 15, 0, tzinfo=UTC),
        expires_at=1705398300,
    ).to_item()


def notification_item(event_id: str) -> dict[str, Any]:
    """A freshly created SMS notification item."""
    return NotificationRecord.created(
        at=datetime(2024, 1, 15, 9, 45, tzinfo=UTC),
        fan_id="a1b2c3d4e5",
        event_id=event_id,
        sale_id=f"{event_id}-presale",
        contact_method="sms",
        phone_number="+15555550123",
        message_body="Reminder! Tickets go on sale at 10:00 AM EST: https://bit.ly/3xYzAbC",
        sale_start_date_time=datetime(2024, 1, 15, 15, 0, tzinfo=UTC),
    ).to_item()


def stream_record(index: int, item: dict[str, Any], *, event_name: str = "INSERT") -> dict[str, Any]:
    """The Lambda Kinesis record of a change of `item`."""
    return kinesis_record(
        sequence_number(index),
        change_data(item, event_name=event_name),
        partition_key=item["PK"],
        stream=STREAM,
    )


def malformed_record(index: int) -> dict[str, Any]:
    """A Kinesis record whose data is not a change record (not even JSON)."""
    return kinesis_record(sequence_number(index), b"\x00not json", stream=STREAM)


def change(index: int, item: dict[str, Any], *, event_name: str = "INSERT") -> ChangeRecord:
    """The parsed change record of `item`."""
    return parse_change_record(stream_record(index, item, event_name=event_name))


def event_id_of(entry: dict[str, Any]) -> str:
    """The event id in a SendMessageBatch entry's body."""
    return str(json.loads(entry["MessageBody"])["eventId"])


class FakeSqs:
    """SendMessageBatch answered like SQS: listed events' entries in `Failed`, or the whole call failing."""

    def __init__(
        self,
        *,
        reject: frozenset[str] = frozenset(),
        sender_fault: bool = False,
        error: Exception | None = None,
        unanswered: frozenset[str] = frozenset(),
    ) -> None:
        self.reject = reject
        self.sender_fault = sender_fault
        self.error = error
        self.unanswered = unanswered
        self.calls: list[list[dict[str, Any]]] = []

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        assert 1 <= len(Entries) <= 10, "SQS takes one to ten entries"
        assert len({entry["Id"] for entry in Entries}) == len(Entries), "entry ids must be distinct"
        self.calls.append(Entries)
        if self.error is not None:
            raise self.error
        successful, failed = [], []
        for entry in Entries:
            event_id = event_id_of(entry)
            if event_id in self.unanswered:
                continue
            if event_id in self.reject:
                failed.append(
                    {
                        "Id": entry["Id"],
                        "SenderFault": self.sender_fault,
                        "Code": "InvalidParameterValue" if self.sender_fault else "InternalError",
                        "Message": "rejected by the fake",
                    }
                )
            else:
                successful.append(
                    {"Id": entry["Id"], "MessageId": f"m-{event_id}", "MD5OfMessageBody": "0" * 32}
                )
        return {"Successful": successful, "Failed": failed}

    @property
    def attempted_event_ids(self) -> list[str]:
        return [event_id_of(entry) for call in self.calls for entry in call]
