"""Claims are leases: what each sender write leaves for the sweeper, and a dead invocation's claim."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from send_builders import FakeClock, TableStream, sms_notification

from workers.notification_send.logic import NotificationSender
from workers.notification_send.models import Accepted, SendOutcome, SendPolicy
from workers.notification_send.pacing import TimeBudget
from workers.notification_sweeper.logic import sweep
from workers.shared.errors import PermanentVendorError, RetryableVendorError
from workers.shared.models import ContactMethod, NotificationRecord, format_timestamp
from workers.shared.records import ChangeRecord, parse_change_record
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
BOUND = timedelta(minutes=5)
INVOCATION_SECONDS = 60.0
PENDING_ATTRIBUTES = {"sweepShard", "sweepAt", "claimExpiresAt", "claimId"}


class InvocationDied(BaseException):
    """Lambda stopping the invocation mid-call (a timeout, an out-of-memory): nothing after it runs."""


@dataclass
class Channel:
    """A channel answering from a script; sees the stored item while its call is in flight."""

    clock: FakeClock
    stream: TableStream
    script: list[Accepted | BaseException] = field(default_factory=list)
    in_flight: list[dict[str, Any]] = field(default_factory=list)
    accepted_metric: str = "SmsAccepted"
    failed_metric: str = "SmsFailed"
    confirms_lost_answers: bool = True

    def preflight(self) -> None:
        """Nothing to resolve."""

    def send(self, notification: NotificationRecord) -> Accepted:
        self.in_flight.append(self.stream.item(notification.key))
        outcome = self.script.pop(0) if self.script else Accepted(f"SM{len(self.in_flight)}")
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def reason_code(self, error: Any) -> str:
        return str(error.reason)


@dataclass
class Harness:
    repository: DemandRepository
    stream: TableStream
    clock: FakeClock
    channel: Channel

    def sender(self) -> NotificationSender:
        budget = TimeBudget(
            deadline=self.clock.now + INVOCATION_SECONDS,
            reserve_seconds=15.0,
            clock=self.clock,
            sleep=self.clock.sleep,
        )
        return NotificationSender(
            self.repository,
            {ContactMethod.SMS: self.channel, ContactMethod.EMAIL: self.channel},
            policy=SendPolicy(max_attempts=3, backoff_base_seconds=30),
            budget=budget,
            late_grace=timedelta(minutes=5),
            release_after=BOUND,
        )

    def change(self, notification: NotificationRecord, *, event_name: str = "MODIFY") -> ChangeRecord:
        return parse_change_record(self.stream.record(notification.key, event_name=event_name))

    def item(self, notification: NotificationRecord) -> dict[str, Any]:
        return self.stream.item(notification.key)

    def sweep_at(self, now: datetime) -> int:
        """Released by a sweep at `now` (the sweeper's own logic on the same table)."""
        return sweep(
            self.repository, now=now, release_after=BOUND, max_releases=100, out_of_time=lambda: False
        ).released


@pytest.fixture
def harness(repository: DemandRepository, stream: TableStream) -> Harness:
    clock = FakeClock()
    return Harness(repository, stream, clock, Channel(clock, stream))


def created(harness: Harness) -> NotificationRecord:
    notification = sms_notification()
    harness.repository.create_notification(notification)
    return notification


def ts(moment: datetime) -> str:
    return format_timestamp(moment)


def test_the_claim_is_a_lease_to_the_invocations_deadline_plus_the_margin(harness: Harness) -> None:
    # Given a CREATED notification and an invocation with 60 s left
    notification = created(harness)
    deadline = datetime.fromtimestamp(harness.clock.now + INVOCATION_SECONDS, UTC)

    # When the sender claims it and calls the vendor
    harness.sender().handle(harness.change(notification, event_name="INSERT"))

    # Then, during the call, the claim carries its lease and the index lists it from the lease's end
    (during,) = harness.channel.in_flight
    lease = ts(deadline + timedelta(seconds=30))
    assert (during["claimExpiresAt"], during["sweepAt"]) == (lease, lease)


def test_an_accepted_send_leaves_nothing_for_the_sweeper(harness: Harness) -> None:
    # Given a CREATED notification
    notification = created(harness)

    # When it is sent
    outcome = harness.sender().handle(harness.change(notification, event_name="INSERT"))

    # Then the TRIGGERED write removed the claim, its lease and the pending attributes
    assert outcome is SendOutcome.TRIGGERED
    assert PENDING_ATTRIBUTES & set(harness.item(notification)) == set()


def test_a_rejected_send_leaves_nothing_for_the_sweeper(harness: Harness) -> None:
    notification = created(harness)
    harness.channel.script = [PermanentVendorError("sms-service", "INVALID_NUMBER", status_code=400)]

    assert harness.sender().handle(harness.change(notification, event_name="INSERT")) is SendOutcome.FAILED
    assert PENDING_ATTRIBUTES & set(harness.item(notification)) == set()


def test_an_expired_reminder_leaves_nothing_for_the_sweeper(harness: Harness) -> None:
    # Given a notification whose sale started long ago
    notification = sms_notification(sale_start_date_time=datetime(2024, 1, 15, 13, 0, tzinfo=UTC))
    harness.repository.create_notification(notification)

    # When the sender sees it / Then it expires it, and the sweeper will never release it
    assert harness.sender().handle(harness.change(notification, event_name="INSERT")) is SendOutcome.EXPIRED
    assert PENDING_ATTRIBUTES & set(harness.item(notification)) == set()


def test_a_retry_is_listed_from_its_backoff_plus_the_bound_without_a_lease(harness: Harness) -> None:
    # Given a CREATED notification and a vendor that is down
    notification = created(harness)
    harness.channel.script = [RetryableVendorError("sms-service", "Service Unavailable", status_code=503)]

    # When the send fails transiently
    assert harness.sender().handle(harness.change(notification, event_name="INSERT")) is SendOutcome.RETRY

    # Then RETRY is due after the backoff, and the sweeper may only act one bound after that
    item = harness.item(notification)
    assert item["sweepAt"] == ts(datetime.fromisoformat(item["nextAttemptAt"]) + BOUND)
    assert {"claimId", "claimExpiresAt"} & set(item) == set()


def test_an_early_image_handed_back_keeps_its_backoff_plus_the_bound(harness: Harness) -> None:
    # Given a RETRY notification due in two minutes, and a replayed older image that reaches the
    # sender before that (so it claims, sees the stored backoff, and hands it back)
    notification = created(harness)
    insert = harness.change(notification, event_name="INSERT")
    due = harness.clock.datetime() + timedelta(minutes=2)
    harness.repository.transition(
        notification.key,
        {NotificationStatus.CREATED},
        NotificationStatus.RETRY,
        at=harness.clock.datetime(),
        extra_updates={"nextAttemptAt": due},
    )

    # When the sender handles the old image
    assert harness.sender().handle(insert) is SendOutcome.REQUEUED

    # Then the hand-back keeps the backoff and lists the notification from it plus the bound
    item = harness.item(notification)
    assert (item["nextAttemptAt"], item["sweepAt"]) == (ts(due), ts(due + BOUND))
    assert {"claimId", "claimExpiresAt"} & set(item) == set()


def test_a_send_abandoned_mid_call_is_released_after_its_lease_and_sent_once(harness: Harness) -> None:
    # Given an invocation that claimed a notification and died during the vendor call
    notification = created(harness)
    insert = harness.change(notification, event_name="INSERT")
    harness.channel.script = [InvocationDied()]
    with pytest.raises(InvocationDied):
        harness.sender().handle(insert)
    lease_end = datetime.fromisoformat(harness.item(notification)["claimExpiresAt"])

    # When Lambda redelivers the record, and the sweeper runs before and after the lease ended
    redelivered = harness.sender().handle(insert)
    before = harness.sweep_at(lease_end - timedelta(seconds=1))
    after = harness.sweep_at(lease_end + timedelta(seconds=1))

    # Then the claim held while it could still be in use (no second call, no release) ...
    assert (redelivered, before, len(harness.channel.in_flight)) == (SendOutcome.ALREADY_CLAIMED, 0, 1)
    # ... and once the lease ended it was released, the release's record sent it, exactly once
    assert after == 1
    released = harness.change(notification)
    assert harness.stream.triggers_sender(harness.stream.record(notification.key))
    assert harness.sender().handle(released) is SendOutcome.TRIGGERED
    assert harness.sender().handle(released) is SendOutcome.ALREADY_CLAIMED  # a replay of the release
    stored = NotificationRecord.from_item(harness.item(notification))
    assert (stored.status.id, stored.send_attempts, len(harness.channel.in_flight)) == (
        NotificationStatus.TRIGGERED,
        1,
        2,
    )
