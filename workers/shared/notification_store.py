"""Notifications on the demand table: creates, send claims, status moves, the pending index, SMS messages."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from workers.shared.clients import DYNAMODB_POOL_CONNECTIONS
from workers.shared.keys import Key, sms_message_key, sweep_shard
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
from workers.shared.notification_updates import (
    CLAIM_LEASE,
    claim_expression,
    status_condition_values,
    transition_expression,
)
from workers.shared.observability import quiet_spans, span
from workers.shared.statuses import PENDING_STATUSES, NotificationStatus
from workers.shared.table_access import DemandTable

# CLAIM_LEASE is read from here by the sender's callers and ops (it lives with the expressions).
__all__ = ["CLAIM_LEASE", "CreateCounts", "NotificationLifecycle", "StatusWrite"]

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class CreateCounts(NamedTuple):
    """Outcome of conditional creates: new items and ones that already existed."""

    created: int
    duplicates: int


@dataclass(frozen=True, kw_only=True)
class StatusWrite:
    """What a status move found: whether it moved, the status before it, the dates already stamped."""

    moved: bool
    exists: bool  # False: no item at the key (a refused move of nothing)
    previous: NotificationStatus | None  # the status the move started from, or that refused it
    stamped: frozenset[str]  # `date.<status>` names the item had (refused moves only; empty after a move)

    @classmethod
    def of(cls, *, moved: bool, item: Mapping[str, Any] | None) -> StatusWrite:
        """Read the UpdateItem's answer: the changed attributes before a move, or the refusing item."""
        if not moved and not item:
            return cls(moved=False, exists=False, previous=None, stamped=frozenset())
        attributes = item or {}
        status = attributes.get("status")
        previous = status.get("id") if isinstance(status, Mapping) else None
        dates = attributes.get("date")
        return cls(
            moved=moved,
            exists=True,
            previous=NotificationStatus(previous) if isinstance(previous, str) else None,
            stamped=frozenset(dates) if isinstance(dates, Mapping) and not moved else frozenset(),
        )


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
            key, **claim_expression(key, claim_id, from_statuses, at, lease_expires_at)
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
        expression = claim_expression(key, claim_id, from_statuses, at, lease_expires_at)
        try:
            response = self.client.update_item(
                **self._update_arguments(key, expression),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return NotificationRecord.from_item(deserialize_item(response["Attributes"]))

    def _update_arguments(self, key: Key, expression: Mapping[str, Any]) -> dict[str, Any]:
        """UpdateItem's table, key and expression arguments for an expression of notification_updates."""
        return {
            "TableName": self.table_name,
            "Key": serialize_item(key.item()),
            "UpdateExpression": expression["update"],
            "ConditionExpression": expression["condition"],
            "ExpressionAttributeNames": expression["names"],
            "ExpressionAttributeValues": serialize_item(expression["values"]),
        }

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
        expression = transition_expression(
            from_statuses,
            to_status,
            at=at,
            extra_updates=extra_updates,
            remove=remove,
            increment_attempts=increment_attempts,
            error=error,
            expected_claim=expected_claim,
            unclaimed=unclaimed,
            override=override,
        )
        return self._conditional_update(key, **expression)

    def advance_status(
        self,
        key: Key,
        from_statuses: Iterable[NotificationStatus],
        to_status: NotificationStatus,
        *,
        at: datetime,
        stamps: Mapping[NotificationStatus, datetime] = MappingProxyType({}),
        extra_updates: Mapping[str, Any] | None = None,
        error: SendError | None = None,
    ) -> StatusWrite:
        """`transition` that also stamps other `date.<status>` (first time only), and says what it found.

        One conditional UpdateItem whose answer carries the status it moved from, or (refused) the
        item as it is: the caller learns the current status and dates without a second read.
        """
        expression = transition_expression(
            from_statuses, to_status, at=at, extra_updates=extra_updates, error=error, stamps=stamps
        )
        client = self.client
        try:
            response = client.update_item(
                **self._update_arguments(key, expression),
                ReturnValues="UPDATED_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except client.exceptions.ConditionalCheckFailedException as refused:
            # ALL_OLD: the item that refused the move (none when there is no item at the key).
            item = refused.response.get("Item")
            return StatusWrite.of(
                moved=False, item=deserialize_item(item) if isinstance(item, Mapping) and item else None
            )
        return StatusWrite.of(moved=True, item=deserialize_item(response.get("Attributes", {})))

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
        status_values = status_condition_values(PENDING_STATUSES)
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
        return self.record_timestamps(key, {status: at})

    def record_timestamps(self, key: Key, stamps: Mapping[NotificationStatus, datetime]) -> bool:
        """Stamp each `date.<status>` not stamped yet, in one write, without moving the status."""
        if not stamps:
            raise ValueError("at least one timestamp is required")
        names: dict[str, str] = {"#date": "date"}
        values: dict[str, Any] = {}
        sets = []
        for index, (status, at) in enumerate(stamps.items()):
            names[f"#s{index}"] = status.date_attribute
            values[f":s{index}"] = format_timestamp(at)
            sets.append(f"#date.#s{index} = if_not_exists(#date.#s{index}, :s{index})")
        return self._conditional_update(
            key,
            update="SET " + ", ".join(sets),
            condition="attribute_exists(PK)",
            names=names,
            values=values,
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
        return self.hold_statuses(message_id, {status: held}, expires_at=expires_at)

    def hold_statuses(
        self, message_id: str, held: Mapping[NotificationStatus, HeldStatus], *, expires_at: int
    ) -> SmsMessageRecord:
        """Keep several statuses of a message in one write (first per status wins); the item after."""
        sets = {
            HELD_STATUS_ATTRIBUTES[status]: status_held.model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
            for status, status_held in held.items()
        }
        if not sets:
            raise ValueError("at least one held status is required")
        return self._update_message(
            message_id, sets=sets, first_only=(*sets, "expiresAt"), expires_at=expires_at
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
