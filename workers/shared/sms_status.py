"""SMS delivery statuses applied to notifications: forward only, and held until their send is recorded.

The status consumer applies the statuses of the SMS status stream; the sender applies those that
arrived before it recorded the message's id (a status can overtake that write, and after a lost
answer the service sends, and reports, before the retry learns the id). Both meet on the message's
item in the table (`SmsMessageRecord`): whichever writes second sees what the other wrote.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from workers.shared.keys import Key, key_from_reference, notification_reference
from workers.shared.messages import SmsStatus
from workers.shared.models import HeldStatus, SendError, expiry
from workers.shared.observability import HELD_STATUSES_APPLIED, LOGGER, STATUS_OUT_OF_ORDER, count
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus, can_transition, sources_of

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


@dataclass(frozen=True, kw_only=True)
class Coalesced:
    """A message's statuses of one batch as one move: the most advanced status and every status's date."""

    target: DeliveryUpdate  # the status the notification moves to (the first terminal, else the latest)
    stamps: Mapping[NotificationStatus, datetime]  # each status's date: its first occurrence wins

    @classmethod
    def of(cls, updates: Sequence[DeliveryUpdate]) -> Coalesced:
        """Fold the updates in arrival order, as applying them one by one would."""
        if not updates:
            raise ValueError("at least one update is required")
        target = updates[0]
        stamps: dict[NotificationStatus, datetime] = {}
        for update in updates:
            if can_transition(target.status, update.status):
                target = update
            stamps.setdefault(update.status, update.at)
        return cls(target=target, stamps=MappingProxyType(stamps))


def apply_update(notifications: DemandRepository, key: Key, update: DeliveryUpdate) -> Applied:
    """Move the notification at `key` to the update's status if that is forward; never backwards."""
    return apply_updates(notifications, key, [update])[0]


def apply_updates(
    notifications: DemandRepository, key: Key, updates: Sequence[DeliveryUpdate]
) -> list[Applied]:
    """Apply one message's statuses to the notification at `key` in one write; what each one did.

    One conditional UpdateItem moves the notification to the most advanced status if that is forward
    (its sources are the condition) and stamps every status's date, first stamp wins; its answer
    tells the status it met. Only when it is refused and dates are missing (older statuses arriving
    late) does a second write stamp them; a replay changes nothing. The outcomes are those of
    applying the updates one by one (the fold is the same).
    """
    coalesced = Coalesced.of(updates)
    target = coalesced.target
    write = notifications.advance_status(
        key,
        sources_of(target.status),
        target.status,
        at=target.at,
        stamps=coalesced.stamps,
        # Also when the status overtook the sender's TRIGGERED write, which then stamps only its date.
        extra_updates={"messageId": target.message_id},
        error=target.error,
    )
    if not write.exists:
        return [Applied.NO_NOTIFICATION] * len(updates)
    outcomes = _one_by_one(write.previous, updates)
    reference = notification_reference(key)
    if write.moved:
        # The notification's key too: `dmd logs query --preset notification --id <key>` finds this line.
        LOGGER.info(
            "Notification status updated",
            extra={
                "status": target.status,
                "message_id": target.message_id,
                "notification_key": reference,
                "statuses": len(updates),
            },
        )
    else:
        # Older statuses arriving late (SENT after DELIVERED): their dates are history, the status stays.
        missing = {
            status: moment
            for status, moment in coalesced.stamps.items()
            if status.date_attribute not in write.stamped
        }
        if missing:
            notifications.record_timestamps(key, missing)
    for update, outcome in zip(updates, outcomes, strict=True):
        if outcome is Applied.ALREADY_APPLIED:
            LOGGER.info(
                "Status already applied",
                extra={
                    "status": update.status,
                    "message_id": update.message_id,
                    "notification_key": reference,
                },
            )
        elif outcome is Applied.OUT_OF_ORDER:
            count(STATUS_OUT_OF_ORDER)
            LOGGER.info(
                "Out-of-order status recorded as a timestamp only",
                extra={
                    "status": update.status,
                    "current_status": write.previous,
                    "message_id": update.message_id,
                    "notification_key": reference,
                },
            )
    return outcomes


def _one_by_one(previous: NotificationStatus | None, updates: Sequence[DeliveryUpdate]) -> list[Applied]:
    """What each update did, applied in order to a notification in `previous` (forward only)."""
    current = previous
    outcomes: list[Applied] = []
    for update in updates:
        if current is None or can_transition(current, update.status):
            current = update.status
            outcomes.append(Applied.APPLIED)
        elif current is update.status:
            outcomes.append(Applied.ALREADY_APPLIED)
        else:
            outcomes.append(Applied.OUT_OF_ORDER)
    return outcomes


def hold_update(notifications: DemandRepository, update: DeliveryUpdate) -> Key | None:
    """Keep a status of a message no notification names yet; the notification's key if one just did."""
    return hold_updates(notifications, [update])


def hold_updates(notifications: DemandRepository, updates: Sequence[DeliveryUpdate]) -> Key | None:
    """Keep one message's statuses in one write (first per status wins); the notification's key if named."""
    if not updates:
        raise ValueError("at least one update is required")
    held: dict[NotificationStatus, HeldStatus] = {}
    for update in updates:
        held.setdefault(update.status, update.held())
    stored = notifications.hold_statuses(
        updates[0].message_id, held, expires_at=expiry(updates[0].at, hours=MESSAGE_RECORD_HOURS)
    )
    return key_from_reference(stored.reference) if stored.reference is not None else None


def claim_held_updates(notifications: DemandRepository, key: Key, message_id: str, *, at: datetime) -> int:
    """Name `key` as the notification of `message_id` and apply the statuses held for it; how many."""
    stored = notifications.register_message(
        message_id, notification_reference(key), expires_at=expiry(at, hours=MESSAGE_RECORD_HOURS)
    )
    held = stored.held()
    if held:
        # Oldest first, in one write: as if they had arrived after the send was recorded.
        apply_updates(
            notifications,
            key,
            [DeliveryUpdate.of_held(message_id, status, status_held) for status, status_held in held],
        )
        count(HELD_STATUSES_APPLIED, len(held))
        LOGGER.info(
            "Statuses that arrived before the send was recorded applied",
            extra={"message_id": message_id, "statuses": [status.value for status, _ in held]},
        )
    return len(held)
