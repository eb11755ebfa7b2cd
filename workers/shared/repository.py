"""The demand table: typed reads and conditional writes for every access pattern of the workers."""

from __future__ import annotations

import base64
import binascii
import contextvars
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from pydantic import BaseModel

from workers.shared.clients import DYNAMODB_POOL_CONNECTIONS, dynamodb
from workers.shared.demand_reading import DemandDeviation, read_demand
from workers.shared.errors import RecordError
from workers.shared.models import (
    HELD_STATUS_ATTRIBUTES,
    PENDING_ATTRIBUTES,
    PENDING_STATUSES,
    DemandRecord,
    DemandTableRecord,
    EventRecord,
    HeldStatus,
    Key,
    NotificationRecord,
    NotificationStatus,
    SaleRecord,
    SendError,
    SmsMessageRecord,
    can_transition,
    demand_sort_key,
    deserialize_item,
    event_key,
    format_sale_time,
    format_timestamp,
    sale_key,
    serialize_item,
    sms_message_key,
    sweep_shard,
)
from workers.shared.observability import LOGGER, quiet_spans, span

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RecordT = TypeVar("RecordT", bound=DemandTableRecord)
CLAIM_LEASE = "claimExpiresAt"  # when a send claim's holder can no longer be running
# The `demand-by-sale` index's LastEvaluatedKey: its keys (eventId, SK) and the table's (PK, SK).
_DEMAND_CURSOR_KEYS = frozenset({"PK", "SK", "eventId"})


@dataclass(frozen=True, kw_only=True)
class DemandPage:
    """One page of a sale's demand: the records to remind from, what the page held, the next cursor."""

    records: list[DemandRecord]
    cursor: str | None
    items: int  # demand items read, kept or skipped: a sale with none found no demand at all
    deviations: dict[DemandDeviation, int] = field(default_factory=dict)


class CreateCounts(NamedTuple):
    """Outcome of conditional creates: new items and ones that already existed."""

    created: int
    duplicates: int


class DemandRepository:
    """Typed access to the demand table (low-level client: thread-safe, and the stream's item format)."""

    def __init__(
        self,
        table_name: str,
        *,
        sales_index: str,
        demand_index: str,
        message_index: str = "notification-by-message-id",
        pending_index: str = "pending-notifications",
        client: DynamoDBClient | None = None,
    ) -> None:
        self.table_name = table_name
        self.sales_index = sales_index
        self.demand_index = demand_index
        self.message_index = message_index
        self.pending_index = pending_index
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        """The injected client, else the cached factory's (resolved at call time, never at import)."""
        return self._client if self._client is not None else dynamodb()

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
        items = [deserialize_item(item) for item in response.get("Items", [])]
        records: list[DemandRecord] = []
        deviations: dict[DemandDeviation, int] = {}
        for item in items:
            reading = read_demand(item, event_id=event_id, sale_id=sale_id)
            for deviation in reading.deviations:
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
            items=len(items),
            deviations=deviations,
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

    # --------------------------------------------------------------------------- notifications

    def get_notification(self, key: Key) -> NotificationRecord | None:
        """The notification at `key`, or None."""
        return self._get(key, NotificationRecord)

    def create_notification(self, record: NotificationRecord) -> bool:
        """Create the notification unless it exists; False (never an error) for a duplicate."""
        return self._put_new(self.client, record)

    def create_notifications(
        self, records: Iterable[NotificationRecord], *, parallelism: int = 16
    ) -> CreateCounts:
        """Conditionally create many notifications with at most `parallelism` writes in flight."""
        from concurrent.futures import ThreadPoolExecutor

        pending = list(records)
        if not pending:
            return CreateCounts(0, 0)
        workers = max(1, min(parallelism, DYNAMODB_POOL_CONNECTIONS, len(pending)))
        client = self.client  # resolved once, on this thread
        with span("DynamoDB.PutItem batch", kind="client", attributes={"dmd.items": len(pending)}) as current:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dmd-write") as pool:
                # Each task runs in a copy of this context: log keys and the parent span carry over.
                futures = [
                    pool.submit(contextvars.copy_context().run, self._create_quietly, client, record)
                    for record in pending
                ]
            outcomes = [future.result() for future in futures]  # re-raises the first failure
            counts = CreateCounts(created=sum(outcomes), duplicates=len(outcomes) - sum(outcomes))
            current.set_attribute("dmd.created", counts.created)
            current.set_attribute("dmd.duplicates", counts.duplicates)
        return counts

    def _create_quietly(self, client: DynamoDBClient, record: NotificationRecord) -> bool:
        with quiet_spans():
            return self._put_new(client, record)

    def _put_new(self, client: DynamoDBClient, record: NotificationRecord) -> bool:
        try:
            client.put_item(
                TableName=self.table_name,
                Item=serialize_item(record.to_item()),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def claim(
        self,
        key: Key,
        claim_id: str,
        *,
        from_statuses: Iterable[NotificationStatus],
        at: datetime,
        lease_expires_at: datetime,
    ) -> bool:
        """Take the send claim until `lease_expires_at`: only one invocation may call the vendor for it."""
        return self._conditional_update(
            key, **_claim_expression(key, claim_id, from_statuses, at, lease_expires_at)
        )

    def claim_notification(
        self,
        key: Key,
        claim_id: str,
        *,
        from_statuses: Iterable[NotificationStatus],
        at: datetime,
        lease_expires_at: datetime,
    ) -> NotificationRecord | None:
        """Take the send claim until `lease_expires_at`; the record as stored after it (None when lost)."""
        # The stored attempts and next-attempt time are the truth: a replayed change record
        # carries an older image of the notification.
        expression = _claim_expression(key, claim_id, from_statuses, at, lease_expires_at)
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=serialize_item(key.item()),
                UpdateExpression=expression["update"],
                ConditionExpression=expression["condition"],
                ExpressionAttributeNames=expression["names"],
                ExpressionAttributeValues=serialize_item(expression["values"]),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return NotificationRecord.from_item(deserialize_item(response["Attributes"]))

    def transition(
        self,
        key: Key,
        from_statuses: Iterable[NotificationStatus],
        to_status: NotificationStatus,
        *,
        at: datetime,
        extra_updates: Mapping[str, Any] | None = None,
        remove: Sequence[str] = (),
        increment_attempts: bool = False,
        error: SendError | None = None,
        expected_claim: str | None = None,
        unclaimed: bool = False,
        override: bool = False,
    ) -> bool:
        """Move a notification to `to_status` if it is in `from_statuses`, stamping `date.<status>`.

        One conditional UpdateItem; False when the record is elsewhere (e.g. an out-of-order event).
        `expected_claim` requires that send claim; `unclaimed` requires that nobody holds one. A move
        out of CREATED/RETRY also takes the notification off the pending index and drops any lease.
        """
        if unclaimed and expected_claim is not None:
            raise ValueError("a transition cannot both expect a claim and require none")
        sources = frozenset(from_statuses)
        illegal = sorted(status for status in sources if not can_transition(status, to_status))
        if illegal and not override:
            raise ValueError(f"{', '.join(illegal)} -> {to_status} moves a notification backwards")
        stamp = format_timestamp(at)
        names = {"#status": "status", "#id": "id", "#date": "date", "#stamp": to_status.date_attribute}
        values: dict[str, Any] = {":status": {"id": to_status.value, "date": stamp}, ":at": stamp}
        sets = ["#status = :status", "#date.#stamp = :at"]
        for index, (attribute, value) in enumerate((extra_updates or {}).items()):
            names[f"#x{index}"] = attribute
            values[f":x{index}"] = _attribute_value(value)
            sets.append(f"#x{index} = :x{index}")
        if increment_attempts:
            names["#attempts"] = "sendAttempts"
            values.update({":zero": 0, ":one": 1})
            sets.append("#attempts = if_not_exists(#attempts, :zero) + :one")
        if error is not None:
            names["#errors"] = "errors"
            values.update({":empty": [], ":error": [error.model_dump(mode="json", exclude_none=True)]})
            sets.append("#errors = list_append(if_not_exists(#errors, :empty), :error)")
        update = "SET " + ", ".join(sets)
        removed = list(dict.fromkeys(remove))  # a path named twice would be refused by DynamoDB
        if to_status not in PENDING_STATUSES:
            # No longer waiting to be sent: nothing for the sweeper to find, no lease to expire.
            removed += [name for name in (*PENDING_ATTRIBUTES, CLAIM_LEASE) if name not in removed]
        if removed:
            names.update({f"#r{index}": attribute for index, attribute in enumerate(removed)})
            update += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(removed)))
        status_values = _status_values(sources)
        condition = f"#status.#id IN ({', '.join(status_values)})"
        if expected_claim is not None:
            names["#claim"] = "claimId"
            values[":claim"] = expected_claim
            condition += " AND #claim = :claim"
        if unclaimed:
            names["#claim"] = "claimId"
            condition += " AND attribute_not_exists(#claim)"
        return self._conditional_update(
            key, update=update, condition=condition, names=names, values={**values, **status_values}
        )

    def pending_notification_keys(
        self, shard: str, *, due_before: datetime, page_size: int = 500
    ) -> Iterator[Key]:
        """Keys of a pending-index shard whose `sweepAt` is before `due_before`, oldest first (every page)."""
        items = self._query(
            IndexName=self.pending_index,
            KeyConditionExpression="#shard = :shard AND #sweepAt < :due",
            ExpressionAttributeNames={"#shard": "sweepShard", "#sweepAt": "sweepAt"},
            ExpressionAttributeValues=serialize_item({":shard": shard, ":due": format_timestamp(due_before)}),
            Limit=page_size,
        )
        # KEYS_ONLY: the table's keys come with the index's; the release's condition reads the rest.
        return (Key(str(item["PK"]), str(item["SK"])) for item in items)

    def release_notification(self, key: Key, *, at: datetime, sweep_at: datetime) -> bool:
        """Hand a waiting notification whose trigger is gone back to the sender: RETRY, unclaimed.

        Only if it still waits (CREATED/RETRY), its `sweepAt` has passed and nobody holds a live claim
        (none, or one whose lease ended); attempts and `nextAttemptAt` are kept. False otherwise.
        """
        stamp = format_timestamp(at)
        status_values = _status_values(PENDING_STATUSES)
        return self._conditional_update(
            key,
            update=(
                "SET #status = :status, #date.#retry = :at, #shard = :shard, #sweepAt = :next "
                "REMOVE #claim, #claimedAt, #lease"
            ),
            condition=(
                f"#status.#id IN ({', '.join(status_values)}) AND #sweepAt < :at "
                "AND (attribute_not_exists(#claim) OR #lease < :at)"
            ),
            names={
                "#status": "status",
                "#id": "id",
                "#date": "date",
                "#retry": NotificationStatus.RETRY.date_attribute,
                "#shard": "sweepShard",
                "#sweepAt": "sweepAt",
                "#claim": "claimId",
                "#claimedAt": "claimedAt",
                "#lease": CLAIM_LEASE,
            },
            values={
                ":status": {"id": NotificationStatus.RETRY.value, "date": stamp},
                ":at": stamp,
                ":shard": sweep_shard(key),
                ":next": format_timestamp(sweep_at),
                **status_values,
            },
        )

    def record_timestamp(self, key: Key, status: NotificationStatus, at: datetime) -> bool:
        """Stamp `date.<status>` (first time only) without moving the status, e.g. a late QUEUED event."""
        return self._conditional_update(
            key,
            update="SET #date.#stamp = if_not_exists(#date.#stamp, :at)",
            condition="attribute_exists(PK)",
            names={"#date": "date", "#stamp": status.date_attribute},
            values={":at": format_timestamp(at)},
        )

    # ---------------------------------------------------------------------------- sms messages

    def notification_keys_for_message(self, message_id: str) -> list[Key]:
        """Keys of the SMS notifications carrying `messageId` (sparse index: eventually consistent)."""
        items = self._query(
            IndexName=self.message_index,
            KeyConditionExpression="messageId = :id",
            ExpressionAttributeValues=serialize_item({":id": message_id}),
        )
        # Email notifications carry SES's MessageId in the same attribute: never an SMS status's.
        return [
            Key(str(item["PK"]), str(item["SK"]))
            for item in items
            if str(item["SK"]).startswith("notification#") and str(item["SK"]).endswith("#sms")
        ]

    def hold_status(
        self, message_id: str, status: NotificationStatus, held: HeldStatus, *, expires_at: int
    ) -> SmsMessageRecord:
        """Keep a status of a message no notification names yet (first per status wins); the item after."""
        attribute = HELD_STATUS_ATTRIBUTES[status]
        return self._update_message(
            message_id,
            sets={attribute: held.model_dump(mode="json", by_alias=True, exclude_none=True)},
            first_only=(attribute, "expiresAt"),
            expires_at=expires_at,
        )

    def register_message(self, message_id: str, reference: str, *, expires_at: int) -> SmsMessageRecord:
        """Name the notification that sent a message; the item after, with any statuses held for it."""
        return self._update_message(
            message_id, sets={"reference": reference}, first_only=(), expires_at=expires_at
        )

    def _update_message(
        self, message_id: str, *, sets: Mapping[str, Any], first_only: Sequence[str], expires_at: int
    ) -> SmsMessageRecord:
        # One UpdateItem returning the whole item: whichever of the sender and the status consumer
        # writes second sees what the other wrote (the item is the rendezvous, read strongly).
        values = {"type": "sms-message", "vendorMessageId": message_id, "expiresAt": expires_at, **sets}
        names = {f"#a{index}": name for index, name in enumerate(values)}
        assignments = [
            f"#a{index} = if_not_exists(#a{index}, :a{index})"
            if name in first_only
            else f"#a{index} = :a{index}"
            for index, name in enumerate(values)
        ]
        response = self.client.update_item(
            TableName=self.table_name,
            Key=serialize_item(sms_message_key(message_id).item()),
            UpdateExpression="SET " + ", ".join(assignments),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize_item(
                {f":a{index}": value for index, value in enumerate(values.values())}
            ),
            ReturnValues="ALL_NEW",
        )
        return SmsMessageRecord.from_item(deserialize_item(response["Attributes"]))

    # -------------------------------------------------------------------------------- internals

    def _get(self, key: Key, model: type[RecordT]) -> RecordT | None:
        response = self.client.get_item(TableName=self.table_name, Key=serialize_item(key.item()))
        item = response.get("Item")
        return model.from_item(deserialize_item(item)) if item else None

    def _query(self, **arguments: Any) -> Iterator[dict[str, Any]]:
        arguments["TableName"] = self.table_name
        while True:
            response = self.client.query(**arguments)
            yield from map(deserialize_item, response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return
            arguments["ExclusiveStartKey"] = last_key

    def _upsert(self, record: DemandTableRecord, *, preserve: Sequence[str] = ()) -> None:
        item = record.to_item()
        key = record.key
        attributes = {name: value for name, value in item.items() if name not in ("PK", "SK")}
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        for index, (name, value) in enumerate(attributes.items()):
            names[f"#a{index}"], values[f":a{index}"] = name, value
            target = f"if_not_exists(#a{index}, :a{index})" if name in preserve else f":a{index}"
            sets.append(f"#a{index} = {target}")
        # Optional attributes the new record lacks must not linger from the previous version.
        stale = [
            field.alias or name
            for name, field in type(record).model_fields.items()
            if (field.alias or name) not in attributes and (field.alias or name) not in preserve
        ]
        names.update({f"#r{index}": name for index, name in enumerate(stale)})
        update = "SET " + ", ".join(sets)
        if stale:
            update += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(stale)))
        self.client.update_item(
            TableName=self.table_name,
            Key=serialize_item(key.item()),
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize_item(values),
        )

    def _conditional_update(
        self, key: Key, *, update: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=serialize_item(key.item()),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize_item(values),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


def _claim_expression(
    key: Key, claim_id: str, from_statuses: Iterable[NotificationStatus], at: datetime, lease: datetime
) -> dict[str, Any]:
    status_values = _status_values(from_statuses)
    # The lease doubles as the pending index's sweepAt: a claim nobody finishes is found once it
    # ends. The shard is written again so that a notification created without one is listed too.
    return {
        "update": (
            "SET #claim = :claim, #claimedAt = :at, #lease = :lease, #shard = :shard, #sweepAt = :lease"
        ),
        "condition": f"attribute_not_exists(#claim) AND #status.#id IN ({', '.join(status_values)})",
        "names": {
            "#claim": "claimId",
            "#claimedAt": "claimedAt",
            "#lease": CLAIM_LEASE,
            "#shard": "sweepShard",
            "#sweepAt": "sweepAt",
            "#status": "status",
            "#id": "id",
        },
        "values": {
            ":claim": claim_id,
            ":at": format_timestamp(at),
            ":lease": format_timestamp(lease),
            ":shard": sweep_shard(key),
            **status_values,
        },
    }


def _status_values(statuses: Iterable[NotificationStatus]) -> dict[str, str]:
    ordered = sorted(NotificationStatus(status).value for status in statuses)
    if not ordered:
        raise ValueError("at least one source status is required")
    return {f":from{index}": value for index, value in enumerate(ordered)}


def _attribute_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


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
