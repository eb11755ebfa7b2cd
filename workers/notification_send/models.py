"""What the sender decides per notification: its outcome, the vendor's acceptance and the retry policy."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from workers.shared.errors import PermanentError
from workers.shared.statuses import NotificationStatus

SENDABLE_STATUSES = frozenset({NotificationStatus.CREATED, NotificationStatus.RETRY})
NOTIFICATION_TYPES = frozenset({"notification", "notification:asu"})
MAX_SEND_ATTEMPTS_EXCEEDED = "MAX_SEND_ATTEMPTS_EXCEEDED"
SALE_ALREADY_STARTED = "SALE_ALREADY_STARTED"  # the error-history reason of an EXPIRED notification
MAX_BACKOFF = timedelta(minutes=5)
# A claim's lease ends this long after its invocation's deadline: covers the clock skew between the
# sender and the sweeper, and a write the invocation sent just before Lambda stopped it.
CLAIM_LEASE_MARGIN = timedelta(seconds=30)


class SendOutcome(enum.StrEnum):
    """What handling one change record did."""

    TRIGGERED = "TRIGGERED"
    RETRY = "RETRY"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
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


APP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class SmsAppIds(BaseModel):
    """The SMS service's app id of each notification `type` (SMS_APP_IDS: a JSON object keyed by type)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, defer_build=True)

    notification: str = Field(pattern=APP_ID_PATTERN)
    asu: str = Field(alias="notification:asu", pattern=APP_ID_PATTERN)

    def of_type(self, notification_type: str) -> str:
        """The app id of a notification of this `type`; ValueError for a type the sender does not send."""
        if notification_type == "notification":
            return self.notification
        if notification_type == "notification:asu":
            return self.asu
        raise ValueError(f"no SMS app id for notification type {notification_type!r}")


class InvalidRecipientError(PermanentError):
    """The notification's address cannot be sent to (e.g. a phone number that is not E.164)."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}")
