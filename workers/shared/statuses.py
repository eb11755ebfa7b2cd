"""The notification status lifecycle: its statuses, the moves allowed between them, the waiting ones."""

from __future__ import annotations

import enum


class NotificationStatus(enum.StrEnum):
    """Lifecycle of a notification; see `can_transition` for the allowed moves."""

    CREATED = "CREATED"
    TRIGGERED = "TRIGGERED"
    QUEUED = "QUEUED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    RETRY = "RETRY"
    # Never sent: its sale started (plus the configured grace) before it could leave.
    EXPIRED = "EXPIRED"

    @property
    def date_attribute(self) -> str:
        """The `date.<name>` attribute this status stamps."""
        return self.value.lower()


# RETRY is the transient pre-send state: it ranks with CREATED for forward moves.
_RANK = {
    NotificationStatus.CREATED: 0,
    NotificationStatus.RETRY: 0,
    NotificationStatus.TRIGGERED: 1,
    NotificationStatus.QUEUED: 2,
    NotificationStatus.SENT: 3,
    NotificationStatus.DELIVERED: 4,
}
TERMINAL_STATUSES = frozenset(
    {NotificationStatus.DELIVERED, NotificationStatus.FAILED, NotificationStatus.EXPIRED}
)
_RETRYABLE_FROM = frozenset(
    {NotificationStatus.CREATED, NotificationStatus.TRIGGERED, NotificationStatus.RETRY}
)
# Only a notification nobody has sent can expire: once TRIGGERED the vendor has it.
_EXPIRABLE_FROM = frozenset({NotificationStatus.CREATED, NotificationStatus.RETRY})


def can_transition(current: NotificationStatus, target: NotificationStatus) -> bool:
    """Forward only (CREATED < TRIGGERED < QUEUED < SENT < DELIVERED); FAILED from any live state.

    EXPIRED only from CREATED or RETRY; DELIVERED, FAILED and EXPIRED are terminal.
    """
    if current in TERMINAL_STATUSES or target is NotificationStatus.CREATED:
        return False
    if target is NotificationStatus.FAILED:
        return True
    if target is NotificationStatus.RETRY:
        return current in _RETRYABLE_FROM
    if target is NotificationStatus.EXPIRED:
        return current in _EXPIRABLE_FROM
    return _RANK[target] > _RANK[current]


def sources_of(target: NotificationStatus) -> frozenset[NotificationStatus]:
    """Every status a record may be in to move to `target`."""
    return frozenset(status for status in NotificationStatus if can_transition(status, target))


# A notification waits to be sent in these statuses; only then does it carry sweepShard/sweepAt.
PENDING_STATUSES = frozenset({NotificationStatus.CREATED, NotificationStatus.RETRY})
