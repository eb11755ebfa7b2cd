"""SMS status events applied to notifications: found by the vendor's messageId, forward only, never lost.

The contract with the SMS service (shapes, case, correlation, each deviation) is docs/contracts/sms.md.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from workers.shared.errors import RecordError, validation_reason
from workers.shared.keys import Key, key_from_reference
from workers.shared.messages import SmsStatusEvent
from workers.shared.observability import (
    LOGGER,
    MALFORMED_STATUS_EVENTS,
    STATUS_HELD,
    UNKNOWN_MESSAGE_ID,
    correlated,
    count,
)
from workers.shared.repository import DemandRepository
from workers.shared.sms_status import (
    NOTIFICATION_STATUS,
    Applied,
    DeliveryUpdate,
    apply_updates,
    hold_updates,
)
from workers.sms_status_consumer.models import StatusOutcome

_OUTCOMES = {
    Applied.APPLIED: StatusOutcome.APPLIED,
    Applied.ALREADY_APPLIED: StatusOutcome.ALREADY_APPLIED,
    Applied.OUT_OF_ORDER: StatusOutcome.OUT_OF_ORDER,
}


def utc(moment: datetime) -> datetime:
    """An aware datetime; a timestamp without an offset is UTC (never the Lambda's local time)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def read_status_event(fields: Mapping[str, object]) -> SmsStatusEvent | None:
    """The record's JSON as a status event; None (counted, logged) when it is not one."""
    try:
        return SmsStatusEvent.model_validate(fields)
    except ValidationError as error:
        # No retry changes a record: drop it, loudly, rather than block the shard on it.
        count(MALFORMED_STATUS_EVENTS)
        LOGGER.warning(
            "Status event dropped: not a status event",
            extra={
                "reason": validation_reason(error)[:300],
                "message_id": str(fields.get("messageId"))[:100],
            },
        )
        return None


def delivery_update(event: SmsStatusEvent, *, received_at: datetime) -> DeliveryUpdate:
    """The event in lifecycle terms; without a timestamp it happened when the stream received it."""
    return DeliveryUpdate(
        message_id=event.message_id,
        status=NOTIFICATION_STATUS[event.status],
        at=utc(event.timestamp if event.timestamp is not None else received_at),
        vendor_status=event.status.value,
        error_code=event.error_code,
        error_reason=event.error_reason,
    )


@dataclass(frozen=True)
class ReceivedStatus:
    """A status event as the stream delivered it, and when the stream received it."""

    event: SmsStatusEvent
    received_at: datetime


# One message's statuses of a batch, as named by the service: (messageId, the echoed notification key).
_GroupKey = tuple[str, Key | None]


@dataclass
class _Group:
    """One message's statuses of a batch (with the same echoed reference, if any): applied together."""

    events: list[SmsStatusEvent] = field(default_factory=list)
    updates: list[DeliveryUpdate] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)


class KnownMessages:
    """The notifications of messages looked up lately (messageId → key), the oldest forgotten first.

    A message's notification never changes once its sender named it (the service gives every
    message its own id), so the lookups of a message's later statuses — in the next batches, when
    its statuses do not share one — can be saved. Kept per execution environment, bounded.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[str, Key] = OrderedDict()
        self._lock = threading.Lock()  # one invocation at a time on Lambda; not so in the sandbox

    def get(self, message_id: str) -> Key | None:
        """The notification last found for the message, if remembered."""
        with self._lock:
            key = self._keys.get(message_id)
            if key is not None:
                self._keys.move_to_end(message_id)
            return key

    def remember(self, message_id: str, key: Key) -> None:
        """Keep the message's notification (forgetting the least recently used beyond the capacity)."""
        with self._lock:
            self._keys[message_id] = key
            self._keys.move_to_end(message_id)
            while len(self._keys) > self._capacity:
                self._keys.popitem(last=False)

    def forget(self, message_id: str) -> None:
        """Drop the message (its notification is gone)."""
        with self._lock:
            self._keys.pop(message_id, None)


class StatusApplier:
    """Applies status events: by reference when the service echoes a valid one, else by messageId.

    A batch is applied per message: one conditional write moves its notification to the most
    advanced status and stamps every status's date (`workers.shared.sms_status.apply_updates`),
    however many of the message's statuses the batch holds.
    """

    def __init__(
        self,
        notifications: DemandRepository,
        *,
        unknown_max_age: timedelta,
        known: KnownMessages | None = None,
    ) -> None:
        self._notifications = notifications
        self._unknown_max_age = unknown_max_age
        self._known = known if known is not None else KnownMessages()

    def apply(self, event: SmsStatusEvent, *, received_at: datetime, now: datetime) -> StatusOutcome:
        """Apply one event to its notification(s), or hold it for the sender, or drop it as unknown."""
        [outcome] = self.apply_all([ReceivedStatus(event, received_at)], now=now)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def apply_all(
        self, received: Sequence[ReceivedStatus], *, now: datetime
    ) -> list[StatusOutcome | Exception]:
        """Apply a batch's events, one write per message; each event's outcome, or its group's error.

        A message whose write fails (throttled past the SDK's retries, say) fails every event of it:
        the caller reports them all as batch-item failures, and the stream delivers them again.
        """
        groups: dict[_GroupKey, _Group] = {}
        for position, status in enumerate(received):
            event = status.event
            group = groups.setdefault((event.message_id, self._referenced_key(event)), _Group())
            group.events.append(event)
            group.updates.append(delivery_update(event, received_at=status.received_at))
            group.positions.append(position)
        outcomes: list[StatusOutcome | Exception] = [StatusOutcome.APPLIED] * len(received)
        for (message_id, referenced), group in groups.items():  # in the order of their first event
            # Logged as each record's lines were: the echoed reference, else the message id.
            correlation = (group.events[0].reference or message_id)[:300]
            try:
                with correlated(correlation):
                    results = self._apply_group(message_id, referenced, group, now=now)
            except Exception as error:  # noqa: BLE001 - reported per record by the caller
                results = [error] * len(group.positions)
            for position, result in zip(group.positions, results, strict=True):
                outcomes[position] = result
        return outcomes

    def _apply_group(
        self, message_id: str, referenced: Key | None, group: _Group, *, now: datetime
    ) -> list[StatusOutcome | Exception]:
        if referenced is not None:
            applied = apply_updates(self._notifications, referenced, group.updates)
            if applied[0] is not Applied.NO_NOTIFICATION:
                return [_OUTCOMES[outcome] for outcome in applied]
        remembered = self._known.get(message_id)  # an earlier batch looked this message up
        if remembered is not None:
            applied = apply_updates(self._notifications, remembered, group.updates)
            if applied[0] is not Applied.NO_NOTIFICATION:
                return [_OUTCOMES[outcome] for outcome in applied]
            self._known.forget(message_id)
        registered = self._registered_key(message_id)  # read only when the reference did not serve
        if registered is not None:
            applied = apply_updates(self._notifications, registered, group.updates)
            if applied[0] is not Applied.NO_NOTIFICATION:
                self._known.remember(message_id, registered)
                return [_OUTCOMES[outcome] for outcome in applied]
        # The message's item names no notification (the sender's write of it failed, or it expired):
        # the index of the notifications' messageId still may.
        keys = self._notifications.notification_keys_for_message(message_id)
        if keys:
            return self._apply_to_each(message_id, keys, group)
        return self._unknown(group, now=now)

    def _referenced_key(self, event: SmsStatusEvent) -> Key | None:
        if event.reference is None:
            return None
        try:
            return key_from_reference(event.reference)
        except RecordError:
            # Not ours (another client's correlation id, or mangled): the messageId still is.
            LOGGER.info("Status event reference ignored", extra={"reference": event.reference[:300]})
            return None

    def _registered_key(self, message_id: str) -> Key | None:
        # The sender names the notification on the message's item right after its TRIGGERED write:
        # one strongly consistent read, where the index lags that write.
        reference = self._notifications.message_reference(message_id)
        if reference is None:
            return None
        try:
            return key_from_reference(reference)
        except RecordError:
            LOGGER.warning("Message item names no valid notification", extra={"reference": reference[:300]})
            return None

    def _apply_to_each(
        self, message_id: str, keys: list[Key], group: _Group
    ) -> list[StatusOutcome | Exception]:
        if len(keys) > 1:
            # The service promises one messageId per message; applying to each is harmless (forward only).
            LOGGER.warning(
                "One messageId names several notifications",
                extra={"message_id": message_id, "notifications": len(keys)},
            )
        applied = [apply_updates(self._notifications, key, group.updates) for key in keys]
        found = [outcomes for outcomes in applied if outcomes[0] is not Applied.NO_NOTIFICATION]
        if found:
            if len(keys) == 1:
                self._known.remember(message_id, keys[0])
            return [_OUTCOMES[outcome] for outcome in found[0]]
        # The index lags deletions as it lags writes: a key it lists may be gone already.
        return [
            self._drop(event, update, "the indexed notification is gone")
            for event, update in zip(group.events, group.updates, strict=True)
        ]

    def _unknown(self, group: _Group, *, now: datetime) -> list[StatusOutcome | Exception]:
        outcomes: list[StatusOutcome | Exception] = []
        recent: list[int] = []  # indexes into the group of the statuses worth holding
        for index, (event, update) in enumerate(zip(group.events, group.updates, strict=True)):
            age = now - update.at
            if age > self._unknown_max_age:
                reason = f"no notification names it and it is {age.total_seconds():.0f} s old"
                outcomes.append(self._drop(event, update, reason))
            else:
                outcomes.append(StatusOutcome.HELD)
                recent.append(index)
        if not recent:
            return outcomes
        # Recent: its send may not be recorded yet (a status overtaking the TRIGGERED write, or a
        # retry after a lost answer). The sender applies them when it names the message.
        updates = [group.updates[index] for index in recent]
        named = hold_updates(self._notifications, updates)
        if named is not None:  # the sender named it between the lookup and the hold
            applied = apply_updates(self._notifications, named, updates)
            if applied[0] is not Applied.NO_NOTIFICATION:
                for index, outcome in zip(recent, applied, strict=True):
                    outcomes[index] = _OUTCOMES[outcome]
                return outcomes
        count(STATUS_HELD, len(updates))
        for update in updates:
            LOGGER.info(
                "Status held until its send is recorded",
                extra={"message_id": update.message_id, "status": update.status},
            )
        return outcomes

    @staticmethod
    def _drop(event: SmsStatusEvent, update: DeliveryUpdate, reason: str) -> StatusOutcome:
        # Retrying cannot make an unknown message known: count it for the runbook, do not fail the record.
        count(UNKNOWN_MESSAGE_ID)
        LOGGER.warning(
            "Status event for an unknown message dropped",
            extra={
                "message_id": update.message_id,
                "status": update.status,
                "reference": (event.reference or "")[:300],
                "reason": reason,
            },
        )
        return StatusOutcome.UNKNOWN_MESSAGE
