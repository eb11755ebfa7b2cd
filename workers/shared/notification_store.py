"""Notifications on the demand table: creates, send claims, status moves, the pending index, SMS messages."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel

from workers.shared.clients import DYNAMODB_POOL_CONNECTIONS
from workers.shared.keys import PENDING_ATTRIBUTES, Key, sms_message_key, sweep_shard
from workers.shared.models import (
    HELD_STATUS_ATTRIBUTES,
    HeldStatus,
    NotificationRecord,
    SendError,
    SmsMessageRecord,
    deserialize_item,
    format_timestamp,
    serialize_item,
)
from workers.shared.observability import quiet_spans, span
from workers.shared.statuses import PENDING_STATUSES, NotificationStatus, can_transition
from workers.shared.table_access import DemandTable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CLAIM_LEASE = "claimExpiresAt"  # when a send claim's holder can no longer be running


class CreateCounts(NamedTuple):
    """Outcome of conditional creates: new items and ones that already existed."""

    created: int
    duplicates: int


class NotificationLifecycle(DemandTable):
    """A notification's lifecycle in the table: create, claim, move, release, and its SMS message's item."""

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
        # botocore builds a client's exception classes on first use, unlocked: two pool threads doing it
        # at once can raise one class and catch another (a duplicate then fails the job). Build them here.
        client.exceptions.ConditionalCheckFailedException  # noqa: B018 - warms the lazy property
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

    def message_reference(self, message_id: str) -> str | None:
        """The reference of the notification the sender named on the message's item (a strong read)."""
        response = self.client.get_item(
            TableName=self.table_name,
            Key=serialize_item(sms_message_key(message_id).item()),
            ProjectionExpression="#reference",
            ExpressionAttributeNames={"#reference": "reference"},
            ConsistentRead=True,
        )
        reference = response.get("Item", {}).get("reference", {}).get("S")
        return str(reference) if reference is not None else None

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
