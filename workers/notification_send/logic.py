"""Send each notification at most once: re-check, wait until due, claim, call the vendor, record it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

from botocore.exceptions import BotoCoreError, ClientError

from workers.notification_send.breaker import SendBreaker
from workers.notification_send.channels import Channel
from workers.notification_send.models import (
    CLAIM_LEASE_MARGIN,
    MAX_SEND_ATTEMPTS_EXCEEDED,
    NOTIFICATION_TYPES,
    SALE_ALREADY_STARTED,
    SENDABLE_STATUSES,
    Accepted,
    InvalidRecipientError,
    SendOutcome,
    SendPolicy,
)
from workers.notification_send.pacing import TimeBudget
from workers.shared.errors import AnswerLostError, PermanentVendorError, RetryableVendorError, VendorError
from workers.shared.models import (
    ContactMethod,
    NotificationRecord,
    SendError,
    format_timestamp,
    pending_marks,
)
from workers.shared.observability import (
    LOGGER,
    NOTIFICATIONS_EXPIRED,
    SALE_TO_SEND_LATENCY_SECONDS,
    SEND_ATTEMPTS,
    count,
    observe_seconds,
)
from workers.shared.records import ChangeRecord
from workers.shared.repository import DemandRepository
from workers.shared.sms_status import claim_held_updates
from workers.shared.statuses import PENDING_STATUSES, NotificationStatus

# Written once a notification leaves CREATED/RETRY: the claim and its lease are released, the
# backoff is spent. A RETRY write keeps the backoff (`nextAttemptAt`).
_RELEASED = ("claimId", "claimExpiresAt", "nextAttemptAt")
_RELEASED_KEEPING_DUE = ("claimId", "claimExpiresAt")


def new_claim_id() -> str:
    """A fresh, unique send-claim id."""
    return uuid.uuid4().hex


class NotificationSender:
    """Handles the table's change records of notifications; one vendor call per claimed attempt."""

    def __init__(
        self,
        repository: DemandRepository,
        channels: Mapping[ContactMethod, Channel],
        *,
        policy: SendPolicy,
        budget: TimeBudget,
        late_grace: timedelta,
        release_after: timedelta,
        breakers: Mapping[ContactMethod, SendBreaker] = MappingProxyType({}),
        claim_ids: Callable[[], str] = new_claim_id,
    ) -> None:
        self._repository = repository
        self._channels = channels
        self._breakers = breakers
        self._policy = policy
        self._budget = budget
        self._late_grace = late_grace
        self._release_after = release_after
        self._claim_ids = claim_ids

    def handle(self, change: ChangeRecord) -> SendOutcome:
        """Send the changed notification if it is sendable and due; RecordError for an invalid image."""
        if change.record_type not in NOTIFICATION_TYPES or change.event_name == "REMOVE":
            # The trigger's filter lets only notifications through: this is a filter defect, not data.
            LOGGER.warning(
                "Not a notification change; skipped",
                extra={"record_type": change.record_type, "event_name": change.event_name},
            )
            return SendOutcome.SKIPPED
        image = change.new(NotificationRecord)
        if image.status.id not in SENDABLE_STATUSES or image.claim_id is not None:
            LOGGER.info(
                "Notification not sendable in this change; skipped",
                extra={"status": image.status.id.value, "claimed": image.claim_id is not None},
            )
            return SendOutcome.SKIPPED
        if self._is_late(image):
            return self._expire(image)
        channel = self._channels[image.contact_method]
        # Due at its backoff, and not while its channel's breaker holds sends (a vendor that is down).
        self._budget.start_when_due(_later(image.next_attempt_at, self._breaker_holds(image.contact_method)))
        if self._is_late(image):  # the wait for the backoff crossed the sale's start
            return self._expire(image)
        # Credentials first: a broken secret or role fails this record without stranding a claim.
        channel.preflight()
        claim_id = self._claim_ids()
        # A lease, not a lock: once this invocation cannot be running any more (its deadline plus a
        # clock-skew margin) the sweeper may hand the notification back to the stream.
        stored = self._repository.claim_notification(
            image.key,
            claim_id,
            from_statuses=SENDABLE_STATUSES,
            at=self._budget.now(),
            lease_expires_at=self._budget.ends_at() + CLAIM_LEASE_MARGIN,
        )
        if stored is None:
            LOGGER.info("Notification already claimed or moved on; skipped (a replay)")
            return SendOutcome.ALREADY_CLAIMED
        return self._send_claimed(stored, channel, claim_id)

    def _breaker_holds(self, method: ContactMethod) -> datetime | None:
        breaker = self._breakers.get(method)
        return breaker.not_before() if breaker is not None else None

    def _is_late(self, image: NotificationRecord) -> bool:
        """Whether the sale started more than the grace ago: "on sale at 10:00" must not arrive at 11:00."""
        return self._budget.now() > image.sale_start_date_time + self._late_grace

    def _expire(self, image: NotificationRecord) -> SendOutcome:
        """CREATED/RETRY → EXPIRED in one conditional write, unless a claim is held (a send in flight)."""
        now = self._budget.now()
        expired = self._repository.transition(
            image.key,
            SENDABLE_STATUSES,
            NotificationStatus.EXPIRED,
            at=now,
            error=SendError(reason=SALE_ALREADY_STARTED, timestamp=now),
            remove=("nextAttemptAt",),
            unclaimed=True,
        )
        if not expired:
            LOGGER.info("Late notification already claimed or moved on; left to its holder (a replay)")
            return SendOutcome.ALREADY_CLAIMED
        count(NOTIFICATIONS_EXPIRED)
        LOGGER.warning(
            "Notification expired unsent: its sale already started",
            extra={
                "sale_start_date_time": format_timestamp(image.sale_start_date_time),
                "late_grace_minutes": self._late_grace.total_seconds() / 60,
                "send_attempts": image.send_attempts,
            },
        )
        return SendOutcome.EXPIRED

    def _send_claimed(self, stored: NotificationRecord, channel: Channel, claim_id: str) -> SendOutcome:
        now = self._budget.now()
        if _spent_attempts(stored, channel) >= self._policy.max_attempts:
            error = SendError(reason=MAX_SEND_ATTEMPTS_EXCEEDED, timestamp=now)
            self._finish(stored, claim_id, NotificationStatus.FAILED, at=now, error=error, attempted=False)
            _count_failure(channel, MAX_SEND_ATTEMPTS_EXCEEDED)
            return SendOutcome.FAILED
        if stored.next_attempt_at is not None and stored.next_attempt_at > now:
            # A replayed older image got here ahead of the backoff: hand the record back to the
            # stream (releasing the claim re-emits it) instead of sending early.
            self._finish(
                stored,
                claim_id,
                NotificationStatus.RETRY,
                at=now,
                attempted=False,
                keep_due=True,
                due=stored.next_attempt_at,
            )
            LOGGER.info("Notification not due yet; re-queued through the stream")
            return SendOutcome.REQUEUED
        count(SEND_ATTEMPTS)
        breaker = self._breakers.get(stored.contact_method)
        try:
            accepted = channel.send(stored)
        except RetryableVendorError as error:
            if breaker is not None:
                breaker.record_transient_failure()
            return self._record_transient(stored, channel, claim_id, error)
        except (PermanentVendorError, InvalidRecipientError) as error:
            if breaker is not None and isinstance(error, PermanentVendorError):
                breaker.record_answer()
            return self._record_rejection(stored, channel, claim_id, error)
        if breaker is not None:
            breaker.record_answer()
        return self._record_accepted(stored, channel, claim_id, accepted)

    def _record_accepted(
        self, stored: NotificationRecord, channel: Channel, claim_id: str, accepted: Accepted
    ) -> SendOutcome:
        now = self._budget.now()
        updates: dict[str, str] = {"messageId": accepted.message_id}
        if accepted.app_id:
            updates["appId"] = accepted.app_id
        moved = self._finish(stored, claim_id, NotificationStatus.TRIGGERED, at=now, updates=updates)
        if not moved:
            # The vendor's status event overtook this write (e.g. already QUEUED): keep its stamp.
            self._repository.record_timestamp(stored.key, NotificationStatus.TRIGGERED, now)
        if stored.contact_method is ContactMethod.SMS:
            self._claim_held_statuses(stored, accepted.message_id, now)
        count(channel.accepted_metric)
        # Notifications are created when their sale's send window opens (the generator's run).
        latency = (now - stored.date.created).total_seconds()
        observe_seconds(SALE_TO_SEND_LATENCY_SECONDS, latency)
        # The latency on the line too: the `send-latency` Logs Insights query reads it (infra/log_queries.py).
        LOGGER.info(
            "Notification sent",
            extra={"message_id": accepted.message_id, "sale_to_send_seconds": round(latency, 3)},
        )
        return SendOutcome.TRIGGERED

    def _claim_held_statuses(self, stored: NotificationRecord, message_id: str, now: datetime) -> None:
        """Apply the statuses the service published before this send was recorded (docs/contracts/sms.md)."""
        try:
            claim_held_updates(self._repository, stored.key, message_id, at=now)
        except (ClientError, BotoCoreError):
            # The send is recorded: failing the record would not redo this step, so report and go on.
            # Later statuses still find the notification by its messageId.
            LOGGER.exception(
                "Statuses held for the message could not be claimed", extra={"message_id": message_id}
            )

    def _record_transient(
        self, stored: NotificationRecord, channel: Channel, claim_id: str, error: VendorError
    ) -> SendOutcome:
        now = self._budget.now()
        attempts = stored.send_attempts + 1
        lost = isinstance(error, AnswerLostError)
        failure = SendError(
            status_code=error.status_code, reason=error.reason, timestamp=now, answer_lost=lost or None
        )
        details = {"status_code": error.status_code, "reason": error.reason, "attempts": attempts}
        # A lost answer does not spend an SMS attempt: the service may have taken the message, and
        # the next request with the same Idempotency-Key finds out (2xx with its id, sent once).
        # Failing it would leave a sent message untracked; the never-late rule bounds the repeats.
        unknown = lost and channel.confirms_lost_answers
        if _spent_attempts(stored, channel) + (0 if unknown else 1) >= self._policy.max_attempts:
            self._finish(stored, claim_id, NotificationStatus.FAILED, at=now, error=failure)
            _count_failure(channel, MAX_SEND_ATTEMPTS_EXCEEDED)
            LOGGER.warning("Notification failed: send attempts exhausted", extra=details)
            return SendOutcome.FAILED
        next_attempt = now + self._policy.backoff(attempts)
        self._finish(
            stored,
            claim_id,
            NotificationStatus.RETRY,
            at=now,
            error=failure,
            updates={"nextAttemptAt": format_timestamp(next_attempt)},
            keep_due=True,
            due=next_attempt,
        )
        LOGGER.warning(
            "Send answer lost; the same request is repeated (attempt not spent)"
            if unknown
            else "Send failed transiently; retry scheduled",
            extra={**details, "next_attempt_at": format_timestamp(next_attempt)},
        )
        return SendOutcome.RETRY

    def _record_rejection(
        self,
        stored: NotificationRecord,
        channel: Channel,
        claim_id: str,
        error: VendorError | InvalidRecipientError,
    ) -> SendOutcome:
        now = self._budget.now()
        status_code = error.status_code if isinstance(error, VendorError) else None
        failure = SendError(status_code=status_code, reason=error.reason, timestamp=now)
        self._finish(stored, claim_id, NotificationStatus.FAILED, at=now, error=failure)
        reason = channel.reason_code(error)
        _count_failure(channel, reason)
        LOGGER.warning(
            "Notification failed: rejected",
            extra={"status_code": status_code, "reason": error.reason, "reason_code": reason},
        )
        return SendOutcome.FAILED

    def _finish(
        self,
        stored: NotificationRecord,
        claim_id: str,
        status: NotificationStatus,
        *,
        at: datetime,
        error: SendError | None = None,
        updates: Mapping[str, str] | None = None,
        attempted: bool = True,
        keep_due: bool = False,
        due: datetime | None = None,
    ) -> bool:
        """One conditional write that records the outcome and releases our claim (RETRY: due at `due`)."""
        if status in PENDING_STATUSES:
            # Still waiting to be sent: listed for the sweeper again, should this write's stream
            # record be lost (leaving CREATED/RETRY, the repository takes it off the index).
            updates = {**(updates or {}), **pending_marks(stored.key, (due or at) + self._release_after)}
        moved = self._repository.transition(
            stored.key,
            SENDABLE_STATUSES,
            status,
            at=at,
            extra_updates=updates,
            remove=_RELEASED_KEEPING_DUE if keep_due else _RELEASED,
            increment_attempts=attempted,
            error=error,
            expected_claim=claim_id,
        )
        if not moved:
            LOGGER.warning(
                "Status write refused: the notification moved on or lost our claim",
                extra={"target_status": status.value},
            )
        return moved


def _count_failure(channel: Channel, reason: str) -> None:
    """A notification ended FAILED: the channel's total (alarmed) and its count by reason."""
    # An alarm matches a metric only with its exact dimensions: the total carries service and
    # environment alone (the send-failures alarm), the per-reason count is there for diagnosis.
    count(channel.failed_metric)
    count(channel.failed_metric, reason=reason)


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    """The later of two optional instants (None: no constraint)."""
    if first is None or second is None:
        return first or second
    return max(first, second)


def _spent_attempts(stored: NotificationRecord, channel: Channel) -> int:
    """Attempts that count towards the limit: all, less the lost answers of a de-duplicating channel."""
    if not channel.confirms_lost_answers:
        return stored.send_attempts
    return stored.send_attempts - sum(1 for error in stored.errors if error.answer_lost)
