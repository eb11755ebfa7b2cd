"""SMS delivery statuses applied to notifications: forward only, and held until their send is recorded.

The status consumer applies the statuses of the SMS status stream; the sender applies those that
arrived before it recorded the message's id (a status can overtake that write, and after a lost
answer the service sends, and reports, before the retry learns the id). Both meet on the message's
item in the table (`SmsMessageRecord`): whichever writes second sees what the other wrote.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from workers.shared.keys import Key, key_from_reference, notification_reference
from workers.shared.messages import SmsStatus
from workers.shared.models import HeldStatus, SendError, expiry
from workers.shared.observability import HELD_STATUSES_APPLIED, LOGGER, STATUS_OUT_OF_ORDER, count
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus, sources_of

# How long a message's item (its notification, held statuses) is kept: the service's de-duplication
# window too, so a held status outlives every retry that could still claim it.
MESSAGE_RECORD_HOURS = 24

NOTIFICATION_STATUS: Mapping[SmsStatus, NotificationStatus] = MappingProxyType(
    {
        SmsStatus.QUEUED: NotificationStatus.QUEUED,
        SmsStatus.SENT: NotificationStatus.SENT,
        SmsStatus.DELIVERED: NotificationStatus.DELIVERED,
        SmsStatus.FAILED: NotificationStatus.FAILED,
        SmsStatus.UNDELIVERED: NotificationStatus.FAILED,
    }
)


class Applied(enum.StrEnum):
    """What applying one status to one notification did."""

    APPLIED = "applied"  # the status moved forward
    ALREADY_APPLIED = "already-applied"  # a replay: the notification is in this status already
    OUT_OF_ORDER = "out-of-order"  # older than the current status: only its timestamp is kept
    NO_NOTIFICATION = "no-notification"  # nothing at that key


@dataclass(frozen=True, kw_only=True)
class DeliveryUpdate:
    """One status of one SMS message, in the notification lifecycle's terms."""

    message_id: str
    status: NotificationStatus
    at: datetime
    vendor_status: str
    error_code: str | None = None
    error_reason: str | None = None

    @property
    def error(self) -> SendError | None:
        """The error history entry of a failed or undelivered SMS: the service's code and reason."""
        if self.status is not NotificationStatus.FAILED:
            return None
        reason = ": ".join(part for part in (self.error_code, self.error_reason) if part)
        return SendError(reason=reason or f"SMS {self.vendor_status}", timestamp=self.at)

    def held(self) -> HeldStatus:
        """This update as kept on the message's item until its notification is named."""
        return HeldStatus(
            vendor_status=self.vendor_status,
            at=self.at,
            error_code=self.error_code,
            error_reason=self.error_reason,
        )

    @classmethod
    def of_held(cls, message_id: str, status: NotificationStatus, held: HeldStatus) -> DeliveryUpdate:
        """A held status, ready to apply."""
        return cls(
            message_id=message_id,
            status=status,
            at=held.at,
            vendor_status=held.vendor_status,
            error_code=held.error_code,
            error_reason=held.error_reason,
        )


def apply_update(notifications: DemandRepository, key: Key, update: DeliveryUpdate) -> Applied:
    """Move the notification at `key` to the update's status if that is forward; never backwards."""
    target = update.status
    moved = notifications.transition(
        key,
        sources_of(target),
        target,
        at=update.at,
        # Also when the status overtook the sender's TRIGGERED write, which then stamps only its date.
        extra_updates={"messageId": update.message_id},
        error=update.error,
    )
    if moved:
        # The notification's key too: `dmd logs query --preset notification --id <key>` finds this line.
        LOGGER.info(
            "Notification status updated",
            extra={
                "status": target,
                "message_id": update.message_id,
                "notification_key": notification_reference(key),
            },
        )
        return Applied.APPLIED
    current = notifications.get_notification(key)
    if current is None:
        return Applied.NO_NOTIFICATION
    if current.status.id is target:
        LOGGER.info(
            "Status already applied",
            extra={
                "status": target,
                "message_id": update.message_id,
                "notification_key": notification_reference(key),
            },
        )
        return Applied.ALREADY_APPLIED
    # An older status arriving late (SENT after DELIVERED): its date is history, the status stays.
    notifications.record_timestamp(key, target, update.at)
    count(STATUS_OUT_OF_ORDER)
    LOGGER.info(
        "Out-of-order status recorded as a timestamp only",
        extra={"status": target, "current_status": current.status.id, "message_id": update.message_id},
    )
    return Applied.OUT_OF_ORDER


def hold_update(notifications: DemandRepository, update: DeliveryUpdate) -> Key | None:
    """Keep a status of a message no notification names yet; the notification's key if one just did."""
    stored = notifications.hold_status(
        update.message_id,
        update.status,
        update.held(),
        expires_at=expiry(update.at, hours=MESSAGE_RECORD_HOURS),
    )
    return key_from_reference(stored.reference) if stored.reference is not None else None


def claim_held_updates(notifications: DemandRepository, key: Key, message_id: str, *, at: datetime) -> int:
    """Name `key` as the notification of `message_id` and apply the statuses held for it; how many."""
    stored = notifications.register_message(
        message_id, notification_reference(key), expires_at=expiry(at, hours=MESSAGE_RECORD_HOURS)
    )
    held = stored.held()
    for status, status_held in held:
        apply_update(notifications, key, DeliveryUpdate.of_held(message_id, status, status_held))
    if held:
        count(HELD_STATUSES_APPLIED, len(held))
        LOGGER.info(
            "Statuses that arrived before the send was recorded applied",
            extra={"message_id": message_id, "statuses": [status.value for status, _ in held]},
        )
    return len(held)
