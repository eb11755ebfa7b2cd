"""What the sender decides per notification: its outcome, the vendor's acceptance and the retry policy."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from workers.shared.errors import PermanentError
from workers.shared.models import NotificationStatus

SENDABLE_STATUSES = frozenset({NotificationStatus.CREATED, NotificationStatus.RETRY})
NOTIFICATION_TYPES = frozenset({"notification", "notification:asu"})
MAX_SEND_ATTEMPTS_EXCEEDED = "MAX_SEND_ATTEMPTS_EXCEEDED"
MAX_BACKOFF = timedelta(minutes=5)


class SendOutcome(enum.StrEnum):
    """What handling one change record did."""

    TRIGGERED = "TRIGGERED"
    RETRY = "RETRY"
    FAILED = "FAILED"
    ALREADY_CLAIMED = "ALREADY_CLAIMED"
    REQUEUED = "REQUEUED"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class Accepted:
    """The vendor took the message: its id (SMS service messageId or SES MessageId)."""

    message_id: str
    app_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SendPolicy:
    """At most `max_attempts` vendor calls per notification, backing off exponentially between them."""

    max_attempts: int
    backoff_base_seconds: float

    def backoff(self, attempts: int) -> timedelta:
        """Wait after the `attempts`-th failed attempt: base × 2^(attempts-1), never more than 5 minutes."""
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        # min() before the power would overflow: 2^(n-1) is only computed while it can matter.
        exponent = min(attempts - 1, 32)
        return min(timedelta(seconds=self.backoff_base_seconds * 2.0**exponent), MAX_BACKOFF)


class InvalidRecipientError(PermanentError):
    """The notification's address cannot be sent to (e.g. a phone number that is not E.164)."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}")
