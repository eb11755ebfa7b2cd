"""The demand table: typed reads and conditional writes for every access pattern of the workers."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from workers.shared.demand_reading import DemandDeviation, Deviation, read_demand
from workers.shared.errors import RecordError
from workers.shared.keys import demand_sort_key, event_key, sale_key
from workers.shared.models import (
    DemandRecord,
    EventRecord,
    SaleRecord,
    deserialize_item,
    format_sale_time,
    serialize_item,
)
from workers.shared.notification_store import NotificationLifecycle
from workers.shared.observability import LOGGER

# The `demand-by-sale` index's LastEvaluatedKey: its keys (eventId, SK) and the table's (PK, SK).
_DEMAND_CURSOR_KEYS = frozenset({"PK", "SK", "eventId"})


@dataclass(frozen=True, kw_only=True)
class SkippedDemand:
    """A demand item no reminder can come from: the item as DynamoDB returned it, its key and why."""

    item: dict[str, Any]  # DynamoDB JSON (attribute values), exactly as the query read it
    key: dict[str, str]  # PK and SK (as far as the item has them as strings)
    deviation: Deviation


@dataclass(frozen=True, kw_only=True)
class DemandPage:
    """One page of a sale's demand: the records to remind from, what the page held, the next cursor."""

    records: list[DemandRecord]
    cursor: str | None
    items: int  # demand items read, kept or skipped: a sale with none found no demand at all
    deviations: dict[DemandDeviation, int] = field(default_factory=dict)
    skipped: list[SkippedDemand] = field(default_factory=list)  # the items behind the skipping deviations


class DemandRepository(NotificationLifecycle):
    """Typed access to the demand table (low-level client: thread-safe, and the stream's item format)."""

    # ---------------------------------------------------------------------------------- events

    def get_event(self, event_id: str) -> EventRecord | None:
        """The cached event, or None."""
        return self._get(event_key(event_id), EventRecord)

    def put_event(self, record: EventRecord) -> None:
        """Write the event cache; an existing shortUrl is kept (Bitly is called once per event)."""
        self._upsert(record, preserve=("shortUrl",))

    def set_short_url(self, event_id: str, url: str) -> bool:
        """Store the short URL if the event is cached and has none yet; False otherwise."""
        return self._conditional_update(
            event_key(event_id),
            update="SET #short = :url",
            condition="attribute_exists(PK) AND attribute_not_exists(#short)",
            names={"#short": "shortUrl"},
            values={":url": url},
        )

    # ----------------------------------------------------------------------------------- sales

    def get_sale(self, event_id: str, sale_id: str) -> SaleRecord | None:
        """The cached sale, or None."""
        return self._get(sale_key(event_id, sale_id), SaleRecord)

    def put_sale(self, record: SaleRecord) -> None:
        """Write the sale cache (replaces the item)."""
        self.client.put_item(TableName=self.table_name, Item=serialize_item(record.to_item()))

    def sales_for_event(self, event_id: str) -> list[SaleRecord]:
        """Every cached sale of an event."""
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues=serialize_item({":pk": f"event:{event_id}", ":prefix": "sale#"}),
        )
        return [SaleRecord.from_item(item) for item in items]

    def sales_in_window(self, start: datetime, end: datetime) -> list[SaleRecord]:
        """Sales starting in [start, end) from the `sales` index, one query per UTC date spanned."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("sales_in_window needs timezone-aware datetimes")
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return []
        # Sort keys are stored to the second: [start, end) becomes [first, last] in whole seconds.
        first = start if start.microsecond == 0 else start.replace(microsecond=0) + timedelta(seconds=1)
        last = end - timedelta(seconds=1) if end.microsecond == 0 else end.replace(microsecond=0)
        sales: list[SaleRecord] = []
        for day_start, day_end in _days(first, last):
            items = self._query(
                IndexName=self.sales_index,
                KeyConditionExpression="saleStartDate = :date AND saleStartDateTime BETWEEN :from AND :to",
                ExpressionAttributeValues=serialize_item(
                    {
                        ":date": day_start.date().isoformat(),
                        ":from": format_sale_time(day_start),
                        ":to": format_sale_time(day_end),
                    }
                ),
            )
            sales.extend(SaleRecord.from_item(item) for item in items)
        return sales

    # ---------------------------------------------------------------------------------- demand

    def put_demand(self, record: DemandRecord) -> None:
        """Write a fan's opt-in (the fan-facing API owns these; used by tooling and tests)."""
        self.client.put_item(TableName=self.table_name, Item=serialize_item(record.to_item()))

    def demand_for_sale(
        self, event_id: str, sale_id: str, *, page_size: int = 1000, cursor: str | None = None
    ) -> DemandPage:
        """One page of a sale's demand (`demand-by-sale` index), read as the fan-facing system writes it."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": self.demand_index,
            **_demand_of_sale(event_id, sale_id),
            "Limit": page_size,
        }
        if cursor is not None:
            arguments["ExclusiveStartKey"] = serialize_item(_decode_cursor(cursor, event_id, sale_id))
        response = self.client.query(**arguments)
        raw_items = response.get("Items", [])
        records: list[DemandRecord] = []
        deviations: dict[DemandDeviation, int] = {}
        skipped: list[SkippedDemand] = []
        for raw in raw_items:
            item = deserialize_item(raw)
            reading = read_demand(item, event_id=event_id, sale_id=sale_id)
            for deviation in reading.deviations:
                if deviation.kind.skips_the_record:
                    key = {name: value for name in ("PK", "SK") if isinstance(value := item.get(name), str)}
                    skipped.append(SkippedDemand(item=dict(raw), key=key, deviation=deviation))
                deviations[deviation.kind] = deviations.get(deviation.kind, 0) + 1
                # One odd opt-in must not block the sale's other 49,999 fans; the log names the fan
                # and the field, never the phone number or email.
                LOGGER.warning(
                    "Demand record skipped"
                    if deviation.kind.skips_the_record
                    else "Demand record kept with a deviation",
                    extra={
                        "pk": item.get("PK"),
                        "sk": item.get("SK"),
                        "fan_id": item.get("fanId"),
                        "deviation": deviation.kind.value,
                        "field": deviation.field,
                        "reason": deviation.detail,
                    },
                )
            if reading.record is not None:
                records.append(reading.record)
        last_key = response.get("LastEvaluatedKey")
        return DemandPage(
            records=records,
            cursor=_encode_cursor(deserialize_item(last_key)) if last_key else None,
            items=len(raw_items),
            deviations=deviations,
            skipped=skipped,
        )

    def count_demand_for_sale(self, event_id: str, sale_id: str) -> int:
        """How many demand items name the sale (a COUNT query on `demand-by-sale`, every page)."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": self.demand_index,
            **_demand_of_sale(event_id, sale_id),
            "Select": "COUNT",
        }
        total = 0
        while True:
            response = self.client.query(**arguments)
            total += response.get("Count", 0)
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return total
            arguments["ExclusiveStartKey"] = last_key


def _days(first: datetime, last: datetime) -> Iterator[tuple[datetime, datetime]]:
    """(first second, last second) of each UTC date from `first` to `last`, clipped to them."""
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= last:
        end_of_day = day + timedelta(days=1) - timedelta(seconds=1)
        yield max(day, first), min(end_of_day, last)
        day += timedelta(days=1)


def _encode_cursor(last_key: Mapping[str, Any]) -> str:
    raw = json.dumps(dict(last_key), sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _demand_of_sale(event_id: str, sale_id: str) -> dict[str, Any]:
    """The `demand-by-sale` key condition of a sale: its event's partition, its demand items' exact SK."""
    # An exact match, never a prefix: "public" and "public-2" are different sales of one event.
    return {
        "KeyConditionExpression": "eventId = :event AND SK = :sk",
        "ExpressionAttributeValues": serialize_item(
            {":event": event_id, ":sk": demand_sort_key(event_id, sale_id)}
        ),
    }


def _decode_cursor(cursor: str, event_id: str, sale_id: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise RecordError(f"demand cursor {cursor[:40]!r} is not valid: {error}") from None
    if not isinstance(decoded, dict) or set(decoded) != _DEMAND_CURSOR_KEYS:
        raise RecordError(f"demand cursor {cursor[:40]!r} does not hold a demand-by-sale position")
    position = (decoded["eventId"], decoded["SK"])
    expected = (event_id, demand_sort_key(event_id, sale_id))
    if position != expected:
        raise RecordError(f"demand cursor belongs to {position!r}, not to sale {expected!r}")
    return decoded
