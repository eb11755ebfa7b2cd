"""SMS status events applied to notifications: found by the vendor's messageId, forward only, never lost.

The contract with the SMS service (shapes, case, correlation, each deviation) is docs/contracts/sms.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from workers.shared.errors import RecordError
from workers.shared.keys import Key, key_from_reference
from workers.shared.messages import SmsStatusEvent
from workers.shared.models import validation_reason
from workers.shared.observability import (
    LOGGER,
    MALFORMED_STATUS_EVENTS,
    STATUS_HELD,
    UNKNOWN_MESSAGE_ID,
    count,
)
from workers.shared.repository import DemandRepository
from workers.shared.sms_status import NOTIFICATION_STATUS, Applied, DeliveryUpdate, apply_update, hold_update
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


class StatusApplier:
    """Applies status events: by reference when the service echoes a valid one, else by messageId."""

    def __init__(self, notifications: DemandRepository, *, unknown_max_age: timedelta) -> None:
        self._notifications = notifications
        self._unknown_max_age = unknown_max_age

    def apply(self, event: SmsStatusEvent, *, received_at: datetime, now: datetime) -> StatusOutcome:
        """Apply one event to its notification(s), or hold it for the sender, or drop it as unknown."""
        update = delivery_update(event, received_at=received_at)
        for key in (self._referenced_key(event), self._registered_key(event)):
            if key is not None:
                applied = apply_update(self._notifications, key, update)
                if applied is not Applied.NO_NOTIFICATION:
                    return _OUTCOMES[applied]
        # The message's item names no notification (the sender's write of it failed, or it expired):
        # the index of the notifications' messageId still may.
        keys = self._notifications.notification_keys_for_message(event.message_id)
        if keys:
            return self._apply_to_each(event, keys, update)
        return self._unknown(event, update, now=now)

    def _referenced_key(self, event: SmsStatusEvent) -> Key | None:
        if event.reference is None:
            return None
        try:
            return key_from_reference(event.reference)
        except RecordError:
            # Not ours (another client's correlation id, or mangled): the messageId still is.
            LOGGER.info("Status event reference ignored", extra={"reference": event.reference[:300]})
            return None

    def _registered_key(self, event: SmsStatusEvent) -> Key | None:
        # The sender names the notification on the message's item right after its TRIGGERED write:
        # one strongly consistent read, where the index lags that write.
        reference = self._notifications.message_reference(event.message_id)
        if reference is None:
            return None
        try:
            return key_from_reference(reference)
        except RecordError:
            LOGGER.warning("Message item names no valid notification", extra={"reference": reference[:300]})
            return None

    def _apply_to_each(self, event: SmsStatusEvent, keys: list[Key], update: DeliveryUpdate) -> StatusOutcome:
        if len(keys) > 1:
            # The service promises one messageId per message; applying to each is harmless (forward only).
            LOGGER.warning(
                "One messageId names several notifications",
                extra={"message_id": update.message_id, "notifications": len(keys)},
            )
        outcomes = [apply_update(self._notifications, key, update) for key in keys]
        found = [outcome for outcome in outcomes if outcome is not Applied.NO_NOTIFICATION]
        # The index lags deletions as it lags writes: a key it lists may be gone already.
        return _OUTCOMES[found[0]] if found else self._drop(event, update, "the indexed notification is gone")

    def _unknown(self, event: SmsStatusEvent, update: DeliveryUpdate, *, now: datetime) -> StatusOutcome:
        age = now - update.at
        if age > self._unknown_max_age:
            return self._drop(
                event, update, f"no notification names it and it is {age.total_seconds():.0f} s old"
            )
        # Recent: its send may not be recorded yet (a status overtaking the TRIGGERED write, or a
        # retry after a lost answer). The sender applies it when it names the message.
        named = hold_update(self._notifications, update)
        if named is not None:  # the sender named it between the lookup and the hold
            applied = apply_update(self._notifications, named, update)
            if applied is not Applied.NO_NOTIFICATION:
                return _OUTCOMES[applied]
        count(STATUS_HELD)
        LOGGER.info(
            "Status held until its send is recorded",
            extra={"message_id": update.message_id, "status": update.status},
        )
        return StatusOutcome.HELD

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
