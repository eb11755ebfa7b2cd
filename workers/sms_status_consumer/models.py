"""The SMS service's statuses in our lifecycle, and what applying one status event came to."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from workers.shared.messages import SmsStatus
from workers.shared.models import NotificationStatus

NOTIFICATION_STATUS: Mapping[SmsStatus, NotificationStatus] = MappingProxyType(
    {
        SmsStatus.QUEUED: NotificationStatus.QUEUED,
        SmsStatus.SENT: NotificationStatus.SENT,
        SmsStatus.DELIVERED: NotificationStatus.DELIVERED,
        SmsStatus.FAILED: NotificationStatus.FAILED,
        SmsStatus.UNDELIVERED: NotificationStatus.FAILED,
    }
)


class StatusOutcome(enum.StrEnum):
    """What a status event did to its notification; each is a success (nothing to retry)."""

    APPLIED = "applied"  # the status moved forward
    ALREADY_APPLIED = "already-applied"  # a replay: the notification is in this status already
    OUT_OF_ORDER = "out-of-order"  # older than the current status: only its timestamp is kept
    UNKNOWN_NOTIFICATION = "unknown-notification"  # no such notification, or no valid reference
