"""Test data of some fans and events, found by key and index and deleted in batches (`dmd data clear`).

An id is taken as a fan id and as an event id at once (the two partitions do not overlap: `fan:{id}`,
`event:{id}`). What references it, as the data model writes it (workers/shared/keys.py, models.py,
notification_store.py, infra/table.py):

- the fan's partition `fan:{id}`: its demand items (`demand#…`) and notifications
  (`notification#…`, types `notification` and `notification:asu`);
- the event's partition `event:{id}`: the cached event (`event#details`, its `shortUrl` included)
  and its sales (`sale#…`);
- every item whose `eventId` is the id, through the `demand-by-sale` index (partition `eventId`):
  other fans' demand and notifications of the event, and its sales again;
- the SMS message item `message:{messageId}`/`sms` (its `reference` and held statuses) of each SMS
  notification above, by the notification's `messageId`. A notification stores its last message id
  only: items of earlier messages (a retried send the SMS service did not de-duplicate) are found
  only by a Scan of the table (`scan_messages`), paginated; every such item expires 24 h after its
  send anyway.

Index entries (`sales`, `demand-by-sale`, `notification-by-message-id`, `pending-notifications`) are
attributes of those items and go with them. Held statuses no notification ever claimed name no fan
or event and are left to their TTL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from infra.table import DEMAND_INDEX
from workers.shared.errors import RecordError
from workers.shared.keys import Key, event_key, key_from_reference, notification_reference, sms_message_key
from workers.shared.models import RECORD_MODELS

# DynamoDB's limits for one BatchGetItem / BatchWriteItem request.
BATCH_GET_SIZE: Final = 100
BATCH_WRITE_SIZE: Final = 25
# Unprocessed items are sent again after 0.05, 0.1, 0.2 … s; past this many rounds the rest is reported.
MAX_WRITE_ROUNDS: Final = 10
FIRST_BACKOFF_SECONDS: Final = 0.05

FAN_PARTITION: Final = "fan:{}"  # keys.py demand_key / models.py notification_key
MESSAGE_PARTITION_PREFIX: Final = sms_message_key("").pk  # "message:"
UNKNOWN_TYPE: Final = "unknown"
# The item types of the data model, in the order a table shows them (then anything unknown).
ITEM_TYPES: Final = (*RECORD_MODELS, UNKNOWN_TYPE)
# Ids name key parts: ':' ends a partition prefix, '#' and '|' structure sort keys and references.
_MALFORMED = re.compile(r"[:#|\s]")
_PROJECTION = "PK, SK, #type, messageId, contactMethod"


class IdsError(ValueError):
    """The ids given are not usable (empty, or containing ':', '#', '|' or whitespace)."""


def parse_ids(text: str) -> tuple[str, ...]:
    """`a,b,c` → ("a", "b", "c"), duplicates dropped; IdsError names the first bad id."""
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise IdsError("no ids given (expected --ids a,b,c)")
    for index, part in enumerate(parts):
        if not part:
            raise IdsError(f"id {index + 1} of {text!r} is empty")
        if _MALFORMED.search(part):
            raise IdsError(f"{part!r} is not a fan or event id: ids contain no ':', '#', '|' or whitespace")
    return tuple(dict.fromkeys(parts))


@dataclass(frozen=True)
class FoundItem:
    """One item to delete: its key, its `type` attribute and why it was found."""

    key: Key
    type: str
    found_by: str

    def as_json(self) -> dict[str, str]:
        """Stable keys: pk, sk, type, foundBy."""
        return {"pk": self.key.pk, "sk": self.key.sk, "type": self.type, "foundBy": self.found_by}


@dataclass
class ClearPlan:
    """What references the ids, de-duplicated by key, in the order it was found."""

    ids: tuple[str, ...]
    items: dict[Key, FoundItem] = field(default_factory=dict)
    matched_ids: set[str] = field(default_factory=set)
    scanned_items: int = 0  # items a Scan read (scan_messages only)

    def add(self, item: dict[str, Any], *, found_by: str, matched: str | None = None) -> None:
        """Keep an item (raw DynamoDB attributes) unless it is there already."""
        key = Key(item["PK"]["S"], item["SK"]["S"])
        if matched is not None:
            self.matched_ids.add(matched)
        if key not in self.items:
            kind = item.get("type", {}).get("S") or UNKNOWN_TYPE
            self.items[key] = FoundItem(key, kind if kind in RECORD_MODELS else UNKNOWN_TYPE, found_by)

    @property
    def unmatched_ids(self) -> list[str]:
        """Ids no item referenced."""
        return [identifier for identifier in self.ids if identifier not in self.matched_ids]

    def counts(self) -> dict[str, int]:
        """Items per type (every type of the data model, zeros included)."""
        counted = dict.fromkeys(ITEM_TYPES, 0)
        for item in self.items.values():
            counted[item.type] += 1
        return counted


@dataclass(frozen=True)
class ClearResult:
    """What a delete run did: items deleted per type, and keys DynamoDB kept refusing."""

    deleted: dict[str, int]
    unprocessed: tuple[Key, ...]


class TestData:
    """The test data of a table: find what references ids, then delete it."""

    __test__ = False  # a domain noun, not a pytest class

    def __init__(self, client: Any, table_name: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.table_name = table_name
        self._sleep = sleep

    # ------------------------------------------------------------------------------------ finding

    def find(
        self,
        ids: Sequence[str],
        *,
        scan_messages: bool = False,
        on_step: Callable[[str], None] = lambda _: None,
        on_scan_page: Callable[[int], None] = lambda _: None,
    ) -> ClearPlan:
        """Every item referencing the ids, by key and index queries (a Scan only with `scan_messages`)."""
        plan = ClearPlan(ids=tuple(ids))
        for identifier in ids:
            on_step(f"fan {identifier}")
            fan = FAN_PARTITION.format(identifier)
            for item in self._partition(fan):
                plan.add(item, found_by=f"partition {fan}", matched=identifier)
            on_step(f"event {identifier}")
            event = event_key(identifier).pk
            for item in self._partition(event):
                plan.add(item, found_by=f"partition {event}", matched=identifier)
            for item in self._event_index(identifier):
                plan.add(item, found_by=f"{DEMAND_INDEX} eventId={identifier}", matched=identifier)
        on_step("messages of SMS notifications")
        self._add_messages(plan)
        if scan_messages:
            self._scan_messages(plan, on_page=on_scan_page)
        return plan

    def _partition(self, pk: str) -> Iterator[dict[str, Any]]:
        return self._pages(
            "query",
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ProjectionExpression=_PROJECTION,
            ExpressionAttributeNames={"#type": "type"},
        )

    def _event_index(self, event_id: str) -> Iterator[dict[str, Any]]:
        # The index projects type and contactMethod, not messageId: _add_messages reads that.
        return self._pages(
            "query",
            TableName=self.table_name,
            IndexName=DEMAND_INDEX,
            KeyConditionExpression="eventId = :event",
            ExpressionAttributeValues={":event": {"S": event_id}},
        )

    def _pages(self, operation: str, **arguments: Any) -> Iterator[dict[str, Any]]:
        call = getattr(self.client, operation)
        while True:
            response = call(**arguments)
            yield from response.get("Items", [])
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return
            arguments["ExclusiveStartKey"] = last_key

    def _add_messages(self, plan: ClearPlan) -> None:
        notifications = [item.key for item in plan.items.values() if item.type.startswith("notification")]
        sms = [key for key in notifications if key.sk.endswith("#sms")]
        message_ids = {
            item["messageId"]["S"] for item in self._get(sms, projection=_PROJECTION) if "messageId" in item
        }
        candidates = [sms_message_key(message_id) for message_id in sorted(message_ids)]
        for item in self._get(candidates, projection=_PROJECTION):
            plan.add(item, found_by="messageId of a notification")

    def _scan_messages(self, plan: ClearPlan, *, on_page: Callable[[int], None]) -> None:
        references = {
            notification_reference(item.key)
            for item in plan.items.values()
            if item.type.startswith("notification")
        }
        fans = {FAN_PARTITION.format(identifier) for identifier in plan.ids}
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(PK, :message)",
            "ExpressionAttributeValues": {":message": {"S": MESSAGE_PARTITION_PREFIX}},
            "ProjectionExpression": "PK, SK, #type, #reference",
            "ExpressionAttributeNames": {"#type": "type", "#reference": "reference"},
        }
        while True:
            response = self.client.scan(**arguments)
            plan.scanned_items += response.get("ScannedCount", 0)
            for item in response.get("Items", []):
                reference = item.get("reference", {}).get("S")
                if reference and (reference in references or _reference_partition(reference) in fans):
                    plan.add(item, found_by="Scan: reference of a notification")
            on_page(response.get("ScannedCount", 0))
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return
            arguments["ExclusiveStartKey"] = last_key

    def _get(self, keys: Sequence[Key], *, projection: str) -> Iterator[dict[str, Any]]:
        for chunk in _chunks(keys, BATCH_GET_SIZE):
            pending: list[dict[str, Any]] = [_key(key) for key in chunk]
            for round_ in range(MAX_WRITE_ROUNDS):
                response = self.client.batch_get_item(
                    RequestItems={
                        self.table_name: {
                            "Keys": pending,
                            "ProjectionExpression": projection,
                            "ExpressionAttributeNames": {"#type": "type"},
                            "ConsistentRead": True,
                        }
                    }
                )
                yield from response.get("Responses", {}).get(self.table_name, [])
                pending = response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
                if not pending:
                    break
                self._sleep(FIRST_BACKOFF_SECONDS * 2**round_)

    # ----------------------------------------------------------------------------------- deleting

    def delete(self, plan: ClearPlan, *, on_deleted: Callable[[int], None] = lambda _: None) -> ClearResult:
        """BatchWriteItem deletes of every planned item, unprocessed items sent again with backoff."""
        deleted = dict.fromkeys(ITEM_TYPES, 0)
        refused: list[Key] = []
        for chunk in _chunks(list(plan.items.values()), BATCH_WRITE_SIZE):
            pending = {item.key: item for item in chunk}
            for round_ in range(MAX_WRITE_ROUNDS):
                response = self.client.batch_write_item(
                    RequestItems={self.table_name: [{"DeleteRequest": {"Key": _key(key)}} for key in pending]}
                )
                left = {
                    Key(
                        request["DeleteRequest"]["Key"]["PK"]["S"], request["DeleteRequest"]["Key"]["SK"]["S"]
                    )
                    for request in response.get("UnprocessedItems", {}).get(self.table_name, [])
                }
                done = [item for key, item in pending.items() if key not in left]
                for item in done:
                    deleted[item.type] += 1
                on_deleted(len(done))
                pending = {key: item for key, item in pending.items() if key in left}
                if not pending:
                    break
                self._sleep(FIRST_BACKOFF_SECONDS * 2**round_)
            refused.extend(pending)
        return ClearResult(deleted=deleted, unprocessed=tuple(refused))


def _key(key: Key) -> dict[str, Any]:
    return {"PK": {"S": key.pk}, "SK": {"S": key.sk}}


def _reference_partition(reference: str) -> str | None:
    try:
        return key_from_reference(reference).pk
    except RecordError:
        return None


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
