"""Send each notification at most once: re-check, wait until due, claim, call the vendor, record it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime

from workers.notification_send.channels import Channel
from workers.notification_send.models import (
    MAX_SEND_ATTEMPTS_EXCEEDED,
    NOTIFICATION_TYPES,
    SENDABLE_STATUSES,
    Accepted,
    InvalidRecipientError,
    SendOutcome,
    SendPolicy,
)
from workers.notification_send.pacing import TimeBudget
from workers.shared.errors import PermanentVendorError, RetryableVendorError, VendorError
from workers.shared.models import (
    ContactMethod,
    NotificationRecord,
    NotificationStatus,
    SendError,
    format_timestamp,
)
from workers.shared.observability import (
    LOGGER,
    SALE_TO_SEND_LATENCY_SECONDS,
    SEND_ATTEMPTS,
    count,
    observe_seconds,
)
from workers.shared.records import ChangeRecord
from workers.shared.repository import DemandRepository

# Written once a notification leaves CREATED/RETRY: the claim is released, the backoff is spent.
_RELEASED = ("claimId", "nextAttemptAt")


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
        claim_ids: Callable[[], str] = new_claim_id,
    ) -> None:
        self._repository = repository
        self._channels = channels
        self._policy = policy
        self._budget = budget
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
        channel = self._channels[image.contact_method]
        self._budget.start_when_due(image.next_attempt_at)
        # Credentials first: a broken secret or role fails this record without stranding a claim.
        channel.preflight()
        claim_id = self._claim_ids()
        stored = self._repository.claim_notification(
            image.key, claim_id, from_statuses=SENDABLE_STATUSES, at=self._budget.now()
        )
        if stored is None:
            LOGGER.info("Notification already claimed or moved on; skipped (a replay)")
            return SendOutcome.ALREADY_CLAIMED
        return self._send_claimed(stored, channel, claim_id)

    def _send_claimed(self, stored: NotificationRecord, channel: Channel, claim_id: str) -> SendOutcome:
        now = self._budget.now()
        if stored.send_attempts >= self._policy.max_attempts:
            error = SendError(reason=MAX_SEND_ATTEMPTS_EXCEEDED, timestamp=now)
            self._finish(stored, claim_id, NotificationStatus.FAILED, at=now, error=error, attempted=False)
            count(channel.failed_metric, reason=MAX_SEND_ATTEMPTS_EXCEEDED)
            return SendOutcome.FAILED
        if stored.next_attempt_at is not None and stored.next_attempt_at > now:
            # A replayed older image got here ahead of the backoff: hand the record back to the
            # stream (releasing the claim re-emits it) instead of sending early.
            self._finish(stored, claim_id, NotificationStatus.RETRY, at=now, attempted=False, keep_due=True)
            LOGGER.info("Notification not due yet; re-queued through the stream")
            return SendOutcome.REQUEUED
        count(SEND_ATTEMPTS)
        try:
            accepted = channel.send(stored)
        except RetryableVendorError as error:
            return self._record_transient(stored, channel, claim_id, error)
        except (PermanentVendorError, InvalidRecipientError) as error:
            return self._record_rejection(stored, channel, claim_id, error)
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
        count(channel.accepted_metric)
        # Notifications are created when their sale's send window opens (the generator's run).
        observe_seconds(SALE_TO_SEND_LATENCY_SECONDS, (now - stored.date.created).total_seconds())
        LOGGER.info("Notification sent", extra={"message_id": accepted.message_id})
        return SendOutcome.TRIGGERED

    def _record_transient(
        self, stored: NotificationRecord, channel: Channel, claim_id: str, error: VendorError
    ) -> SendOutcome:
        now = self._budget.now()
        attempts = stored.send_attempts + 1
        failure = SendError(status_code=error.status_code, reason=error.reason, timestamp=now)
        details = {"status_code": error.status_code, "reason": error.reason, "attempts": attempts}
        if attempts >= self._policy.max_attempts:
            self._finish(stored, claim_id, NotificationStatus.FAILED, at=now, error=failure)
            count(channel.failed_metric, reason=MAX_SEND_ATTEMPTS_EXCEEDED)
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
        )
        LOGGER.warning(
            "Send failed transiently; retry scheduled",
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
        count(channel.failed_metric, reason=reason)
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
    ) -> bool:
        """One conditional write that records the outcome and releases our claim."""
        moved = self._repository.transition(
            stored.key,
            SENDABLE_STATUSES,
            status,
            at=at,
            extra_updates=updates,
            remove=("claimId",) if keep_due else _RELEASED,
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
