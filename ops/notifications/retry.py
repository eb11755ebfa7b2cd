"""The operator's retry of a FAILED notification, and why any other notification is not retried.

The retry is one conditional UpdateItem (`retry_notification`): only while the notification is still
FAILED at the status version that was read, it moves to RETRY (which ranks with CREATED) stamping
`date.retry`, and resets exactly the send state that would otherwise stop the sender or send the
notification straight back to FAILED:

- `claimId`, `claimedAt`, `claimExpiresAt` removed: the send trigger's filter skips any image with a
  `claimId` (infra/catalog.py NOTIFICATION_SEND_FILTERS) and the claim needs none to exist;
- `sendAttempts` reset so that no attempt counts as spent (the sender fails a notification whose spent
  attempts reach `maxSendAttempts` without a call): 0, or for SMS the number of lost answers in its
  error history, which the sender does not count as spent;
- `nextAttemptAt` removed (no backoff: the sender sends at once);
- `messageId`, `appId` removed: a late status of the old message must not move the retried
  notification (the status consumer finds notifications by `messageId`; through the message's item
  `message:{id}` it could for 24 hours, during which an SMS the service took is not retried);
- `sweepShard`, `sweepAt` written: on the pending index again, so the sweeper hands it back to the
  sender should the RETRY's stream record be lost.

`errors` and the `date` map are kept: they are the notification's history.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import ValidationError

from infra.config import StackConfig
from infra.config.cross_resource_rules import LATE_GRACE_VARIABLE, RELEASE_AFTER_VARIABLE
from ops.notifications.view import NotificationView, notification_view
from workers.notification_send.channels import EmailChannel, SmsChannel
from workers.shared.errors import validation_reason
from workers.shared.keys import Key
from workers.shared.models import (
    ContactMethod,
    NotificationRecord,
    format_timestamp,
    pending_marks,
    serialize_item,
)
from workers.shared.notification_store import CLAIM_LEASE
from workers.shared.repository import DemandRepository
from workers.shared.sms_status import MESSAGE_RECORD_HOURS
from workers.shared.statuses import NotificationStatus

SEND_WORKER: Final = "notification_send"
# How long the SMS service answers a request with a key it took with that same message, sending
# nothing (docs/contracts/sms.md, "Idempotency"): a re-send of a taken SMS is pointless before it.
SMS_DEDUPLICATION_WINDOW: Final = timedelta(hours=MESSAGE_RECORD_HOURS)
# Whether the sender leaves a lost answer unspent (the channel's de-duplication makes a repeat safe).
_LOST_ANSWERS_UNSPENT: Final[Mapping[ContactMethod, bool]] = {
    ContactMethod.SMS: SmsChannel.confirms_lost_answers,
    ContactMethod.EMAIL: EmailChannel.confirms_lost_answers,
}
# The send state a retry removes (see the module docstring for why each).
RESET_ATTRIBUTES: Final = ("claimId", "claimedAt", CLAIM_LEASE, "nextAttemptAt", "messageId", "appId")


class RetryOutcome(enum.StrEnum):
    """What a retry request did to one notification."""

    RETRIED = "retried"  # FAILED → RETRY: the sender sends it within seconds
    WOULD_RETRY = "would-retry"  # a dry run's answer for a notification that would be retried
    WAITING = "already-waiting"  # CREATED/RETRY: the sender (or the sweeper) has it already
    REFUSED = "refused"  # not FAILED, or a retry could not send it (see the reason)
    CHANGED = "changed"  # it moved between the read and the write: nothing written, look again
    NOT_FOUND = "not-found"

    @property
    def succeeded(self) -> bool:
        """Whether the notification is, or would be, on its way to the sender."""
        return self in {RetryOutcome.RETRIED, RetryOutcome.WOULD_RETRY, RetryOutcome.WAITING}


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """The sender's rules a retry must respect: the never-late grace and the sweeper's release bound."""

    late_grace: timedelta
    release_after: timedelta

    @classmethod
    def of_config(cls, config: StackConfig) -> RetryPolicy:
        """The stack's `lateGraceMinutes` and `releaseAfterMinutes` of notification_send."""
        tunables = config.worker(SEND_WORKER).tunables
        return cls(
            late_grace=timedelta(minutes=float(tunables[LATE_GRACE_VARIABLE])),
            release_after=timedelta(minutes=float(tunables[RELEASE_AFTER_VARIABLE])),
        )


@dataclass(frozen=True, kw_only=True)
class RetryAssessment:
    """Whether a notification can be retried, why (not), and the record and status version read."""

    key: Key
    status: str | None
    outcome: RetryOutcome | None  # None: retryable
    reason: str
    record: NotificationRecord | None = None
    version: str | None = None  # `status.date` as read: the retry's write requires it unchanged

    @property
    def retryable(self) -> bool:
        """FAILED and nothing stands in the way."""
        return self.outcome is None


@dataclass(frozen=True, kw_only=True)
class RetryResult:
    """One notification's retry: its key, the status it was found in, what happened and why."""

    key: Key
    status_before: str | None
    outcome: RetryOutcome
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON row of `dmd notifications retry --json`."""
        return {
            "pk": self.key.pk,
            "sk": self.key.sk,
            "statusBefore": self.status_before,
            "outcome": self.outcome.value,
            "reason": self.reason,
        }


def assess_retry(item: Mapping[str, Any], policy: RetryPolicy, *, now: datetime) -> RetryAssessment:
    """Whether the notification item can be retried at `now`; the reason of a refusal in one line."""
    key = Key(str(item.get("PK")), str(item.get("SK")))
    view = notification_view(item)
    status = view.status

    def verdict(outcome: RetryOutcome | None, reason: str) -> RetryAssessment:
        return RetryAssessment(key=key, status=status, outcome=outcome, reason=reason)

    if item.get("type") not in ("notification", "notification:asu"):
        return verdict(RetryOutcome.REFUSED, f"not a notification (type {item.get('type')!r})")
    if status != NotificationStatus.FAILED:
        outcome, reason = _not_failed(view, now)
        return verdict(outcome, reason)
    try:
        record = NotificationRecord.from_item(item)
    except ValidationError as error:
        return verdict(
            RetryOutcome.REFUSED, f"FAILED, but not a valid notification: {validation_reason(error)}"
        )
    deadline = record.sale_start_date_time + policy.late_grace
    if now > deadline:
        return verdict(
            RetryOutcome.REFUSED,
            f"FAILED, but its sale started at {format_timestamp(record.sale_start_date_time)} "
            f"(+ {_minutes(policy.late_grace)} grace): the sender would expire it unsent (never late)",
        )
    taken_at = _sms_taken_at(record)
    if taken_at is not None and now < taken_at + SMS_DEDUPLICATION_WINDOW:
        return verdict(
            RetryOutcome.REFUSED,
            f"FAILED after the SMS service took message {record.message_id} at {format_timestamp(taken_at)}: "
            f"until {format_timestamp(taken_at + SMS_DEDUPLICATION_WINDOW)} it answers a retry with that "
            "message and sends nothing (docs/contracts/sms.md, Idempotency)",
        )
    last = record.errors[-1].reason if record.errors else "no error recorded"
    return RetryAssessment(
        key=key,
        status=status,
        outcome=None,
        reason=f"FAILED at {format_timestamp(record.status.date)}: {last}",
        record=record,
        version=str(item["status"]["date"]),
    )


def retry_notification(
    repository: DemandRepository, assessment: RetryAssessment, policy: RetryPolicy, *, now: datetime
) -> RetryResult:
    """FAILED → RETRY with the send state reset, in one conditional UpdateItem (see the module docstring).

    Written only if the notification is still FAILED at the status version assessed; CHANGED otherwise.
    """
    record = assessment.record
    if assessment.outcome is not None or record is None or assessment.version is None:
        outcome = assessment.outcome or RetryOutcome.REFUSED
        return RetryResult(
            key=assessment.key, status_before=assessment.status, outcome=outcome, reason=assessment.reason
        )
    stamp = format_timestamp(now)
    marks = pending_marks(record.key, now + policy.release_after)
    names = {
        "#status": "status",
        "#id": "id",
        "#date": "date",
        "#retry": NotificationStatus.RETRY.date_attribute,
        "#attempts": "sendAttempts",
        "#shard": "sweepShard",
        "#sweepAt": "sweepAt",
        **{f"#r{index}": name for index, name in enumerate(RESET_ATTRIBUTES)},
    }
    values = {
        ":status": {"id": NotificationStatus.RETRY.value, "date": stamp},
        ":at": stamp,
        ":attempts": unspent_attempts(record),
        ":shard": marks["sweepShard"],
        ":sweepAt": marks["sweepAt"],
        ":failed": NotificationStatus.FAILED.value,
        ":version": assessment.version,
    }
    client = repository.client
    try:
        client.update_item(
            TableName=repository.table_name,
            Key=serialize_item(record.key.item()),
            UpdateExpression=(
                "SET #status = :status, #date.#retry = :at, #attempts = :attempts, "
                "#shard = :shard, #sweepAt = :sweepAt REMOVE "
                + ", ".join(f"#r{index}" for index in range(len(RESET_ATTRIBUTES)))
            ),
            ConditionExpression="#status.#id = :failed AND #status.#date = :version",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize_item(values),
        )
    except client.exceptions.ConditionalCheckFailedException:
        return RetryResult(
            key=assessment.key,
            status_before=assessment.status,
            outcome=RetryOutcome.CHANGED,
            reason="changed since it was read (another retry, or a late status): nothing written; look again",
        )
    return RetryResult(
        key=assessment.key,
        status_before=assessment.status,
        outcome=RetryOutcome.RETRIED,
        reason=f"RETRY: handed back to the sender ({assessment.reason})",
    )


def unspent_attempts(record: NotificationRecord) -> int:
    """The `sendAttempts` at which the sender counts none spent (its lost SMS answers are never spent)."""
    if not _LOST_ANSWERS_UNSPENT[record.contact_method]:
        return 0
    return sum(1 for error in record.errors if error.answer_lost)


def dry_run_result(assessment: RetryAssessment) -> RetryResult:
    """What a dry run reports for one notification: would-retry, or the refusal it would get."""
    outcome = RetryOutcome.WOULD_RETRY if assessment.retryable else assessment.outcome or RetryOutcome.REFUSED
    reason = f"would go back to RETRY ({assessment.reason})" if assessment.retryable else assessment.reason
    return RetryResult(key=assessment.key, status_before=assessment.status, outcome=outcome, reason=reason)


def not_found(key: Key) -> RetryResult:
    """The result for a key with no notification."""
    return RetryResult(
        key=key, status_before=None, outcome=RetryOutcome.NOT_FOUND, reason="no such notification"
    )


def count_outcomes(results: Iterable[RetryResult]) -> dict[str, int]:
    """How many results of each outcome (every outcome listed, zeros included: stable JSON keys)."""
    counts = dict.fromkeys((outcome.value for outcome in RetryOutcome), 0)
    for result in results:
        counts[result.outcome.value] += 1
    return counts


def _not_failed(view: NotificationView, now: datetime) -> tuple[RetryOutcome, str]:
    """Why a notification that is not FAILED is not retried: waiting already, or nothing to retry."""
    status = view.status
    message = view.sms_message_id or view.ses_message_id
    if status in (NotificationStatus.CREATED, NotificationStatus.RETRY):
        if view.claim_id is None:
            if status == NotificationStatus.CREATED:
                return RetryOutcome.WAITING, "CREATED: waiting for its first send"
            return RetryOutcome.WAITING, "RETRY: already waiting for the sender"
        if view.claim_expires_at is None:
            return RetryOutcome.REFUSED, (
                f"{status}: claimed since {view.claimed_at or '?'} by a send without a lease "
                "(written before leases): the sweeper never releases it; check the sender's log for it"
            )
        if view.claim_expires_at > format_timestamp(now):
            return RetryOutcome.WAITING, f"{status}: being sent (claimed until {view.claim_expires_at})"
        return RetryOutcome.WAITING, (
            f"{status}: its send claim ended at {view.claim_expires_at}; "
            "the sweeper hands it back to the sender within a minute"
        )
    if status == NotificationStatus.TRIGGERED:
        return RetryOutcome.REFUSED, (
            f"TRIGGERED: the vendor accepted it at {view.status_at} (message {message}); nothing to retry"
        )
    if status in (NotificationStatus.QUEUED, NotificationStatus.SENT):
        return RetryOutcome.REFUSED, f"{status}: the SMS service has it (message {message}); nothing to retry"
    if status == NotificationStatus.DELIVERED:
        return RetryOutcome.REFUSED, "DELIVERED: already delivered, nothing to retry"
    if status == NotificationStatus.EXPIRED:
        return RetryOutcome.REFUSED, (
            "EXPIRED: its sale started before it could be sent (never late); it is not sent any more"
        )
    return RetryOutcome.REFUSED, f"status {status!r} is not a notification status"


def _sms_taken_at(record: NotificationRecord) -> datetime | None:
    """When the SMS service took the notification's message (the earliest stamp after it), if it did."""
    if record.contact_method is not ContactMethod.SMS or record.message_id is None:
        return None
    dates = record.date
    stamps = [moment for moment in (dates.triggered, dates.queued, dates.sent, dates.delivered) if moment]
    return min(stamps) if stamps else (dates.failed or record.status.date)


def _minutes(duration: timedelta) -> str:
    return f"{duration.total_seconds() / 60:g} min"


def utc_now() -> datetime:
    """The operator's clock (what the retry stamps and the never-late check compares with)."""
    return datetime.now(UTC)
