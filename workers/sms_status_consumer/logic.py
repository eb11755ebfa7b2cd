"""SMS status events applied to notifications: forward only, late ones kept as timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

from workers.shared.errors import RecordError
from workers.shared.messages import SmsStatusEvent
from workers.shared.models import NotificationStatus, SendError, key_from_reference, sources_of
from workers.shared.observability import LOGGER, STATUS_OUT_OF_ORDER, UNKNOWN_MESSAGE_ID, count
from workers.shared.repository import DemandRepository
from workers.sms_status_consumer.models import NOTIFICATION_STATUS, StatusOutcome


def event_time(event: SmsStatusEvent) -> datetime:
    """When the status happened; a timestamp without an offset is UTC (never the Lambda's local time)."""
    stamp = event.timestamp
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def delivery_error(event: SmsStatusEvent, at: datetime) -> SendError:
    """The error history entry of a failed or undelivered SMS: the vendor's code and reason."""
    reason = ": ".join(part for part in (event.error_code, event.error_reason) if part)
    return SendError(reason=reason or f"SMS {event.status.value}", timestamp=at)


def apply_status_event(event: SmsStatusEvent, notifications: DemandRepository) -> StatusOutcome:
    """Move the referenced notification to the event's status if that is forward; never backwards."""
    try:
        key = key_from_reference(event.reference)
    except RecordError as malformed:
        return _unknown(event, str(malformed))
    target = NOTIFICATION_STATUS[event.status]
    at = event_time(event)
    failure = delivery_error(event, at) if target is NotificationStatus.FAILED else None
    moved = notifications.transition(
        key, sources_of(target), target, at=at, extra_updates={"messageId": event.message_id}, error=failure
    )
    if moved:
        LOGGER.info("Notification status updated", extra={"status": target, "message_id": event.message_id})
        return StatusOutcome.APPLIED
    current = notifications.get_notification(key)
    if current is None:
        return _unknown(event, "no notification has this reference")
    if current.status.id is target:
        LOGGER.info("Status already applied", extra={"status": target, "message_id": event.message_id})
        return StatusOutcome.ALREADY_APPLIED
    # An older status arriving late (SENT after DELIVERED): its date is history, the status stays.
    notifications.record_timestamp(key, target, at)
    count(STATUS_OUT_OF_ORDER)
    LOGGER.info(
        "Out-of-order status recorded as a timestamp only",
        extra={"status": target, "current_status": current.status.id, "message_id": event.message_id},
    )
    return StatusOutcome.OUT_OF_ORDER


def _unknown(event: SmsStatusEvent, reason: str) -> StatusOutcome:
    # Retrying cannot make an unknown reference known: count it for the runbook, do not fail the record.
    count(UNKNOWN_MESSAGE_ID)
    LOGGER.warning(
        "Status event for an unknown notification",
        extra={"message_id": event.message_id, "reference": event.reference[:300], "reason": reason},
    )
    return StatusOutcome.UNKNOWN_NOTIFICATION
