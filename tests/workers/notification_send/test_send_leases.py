"""Claims are leases: what each sender write leaves for the sweeper, and a dead invocation's claim."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from send_builders import FakeClock, TableStream, sms_notification
from send_harness import RELEASE_AFTER, Harness, ScriptedChannel

from workers.notification_send.models import SendOutcome
from workers.notification_sweeper.logic import sweep
from workers.shared.errors import PermanentVendorError, RetryableVendorError
from workers.shared.models import NotificationRecord, format_timestamp
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
BOUND = RELEASE_AFTER  # the harness's sender lists waiting notifications with this bound
INVOCATION_SECONDS = 60.0
PENDING_ATTRIBUTES = {"sweepShard", "sweepAt", "claimExpiresAt", "claimId"}


class InvocationDied(BaseException):
    """Lambda stopping the invocation mid-call (a timeout, an out-of-memory): nothing after it runs."""


@dataclass
class LeaseHarness(Harness):
    """The logic tests' harness, seeing the stored item while a send is in flight, with the sweeper."""

    in_flight: list[dict[str, Any]] = field(default_factory=list)

    def item(self, notification: NotificationRecord) -> dict[str, Any]:
        return self.stream.item(notification.key)

    def sweep_at(self, now: datetime) -> int:
        """Released by a sweep at `now` (the sweeper's own logic on the same table)."""
        return sweep(
            self.repository, now=now, release_after=BOUND, max_releases=100, out_of_time=lambda: False
        ).released


@pytest.fixture
def harness(repository: DemandRepository, stream: TableStream) -> LeaseHarness:
    clock = FakeClock()
    lease_harness = LeaseHarness(repository, stream, clock, ScriptedChannel(clock))
    lease_harness.channel.on_send = lambda notification: lease_harness.in_flight.append(
        stream.item(notification.key)
    )
    return lease_harness


def created(harness: LeaseHarness) -> NotificationRecord:
    notification = sms_notification()
    harness.repository.create_notification(notification)
    return notification


def ts(moment: datetime) -> str:
    return format_timestamp(moment)


def test_the_claim_is_a_lease_to_the_invocations_deadline_plus_the_margin(harness: LeaseHarness) -> None:
    # Given a CREATED notification and an invocation with 60 s left
    notification = created(harness)
    deadline = datetime.fromtimestamp(harness.clock.now + INVOCATION_SECONDS, UTC)

    # When the sender claims it and calls the vendor
    harness.sender().handle(harness.change(notification, event_name="INSERT"))

    # Then, during the call, the claim carries its lease and the index lists it from the lease's end
    (during,) = harness.in_flight
    lease = ts(deadline + timedelta(seconds=30))
    assert (during["claimExpiresAt"], during["sweepAt"]) == (lease, lease)


def test_an_accepted_send_leaves_nothing_for_the_sweeper(harness: LeaseHarness) -> None:
    # Given a CREATED notification
    notification = created(harness)

    # When it is sent
    outcome = harness.sender().handle(harness.change(notification, event_name="INSERT"))

    # Then the TRIGGERED write removed the claim, its lease and the pending attributes
    assert outcome is SendOutcome.TRIGGERED
    assert PENDING_ATTRIBUTES & set(harness.item(notification)) == set()


def test_a_rejected_send_leaves_nothing_for_the_sweeper(harness: LeaseHarness) -> None:
    notification = created(harness)
    harness.channel.script = [PermanentVendorError("sms-service", "INVALID_NUMBER", status_code=400)]

    assert harness.sender().handle(harness.change(notification, event_name="INSERT")) is SendOutcome.FAILED
    assert PENDING_ATTRIBUTES & set(harness.item(notification)) == set()


def test_an_expired_reminder_leaves_nothing_for_the_sweeper(harness: LeaseHarness) -> None:
    # Given a notification whose sale started long ago
    notification = sms_notification(sale_start_date_time=datetime(2024, 1, 15, 13, 0, tzinfo=UTC))
    harness.repository.create_notification(notification)

    # When the sender sees it / Then it expires it, and the sweeper will never release it
    assert harness.sender().handle(harness.change(notification, event_name="INSERT")) is SendOutcome.EXPIRED
    assert PENDING_ATTRIBUTES & set(harness.item(notification)) == set()


def test_a_retry_is_listed_from_its_backoff_plus_the_bound_without_a_lease(harness: LeaseHarness) -> None:
    # Given a CREATED notification and a vendor that is down
    notification = created(harness)
    harness.channel.script = [RetryableVendorError("sms-service", "Service Unavailable", status_code=503)]

    # When the send fails transiently
    assert harness.sender().handle(harness.change(notification, event_name="INSERT")) is SendOutcome.RETRY

    # Then RETRY is due after the backoff, and the sweeper may only act one bound after that
    item = harness.item(notification)
    assert item["sweepAt"] == ts(datetime.fromisoformat(item["nextAttemptAt"]) + BOUND)
    assert {"claimId", "claimExpiresAt"} & set(item) == set()


def test_an_early_image_handed_back_keeps_its_backoff_plus_the_bound(harness: LeaseHarness) -> None:
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


def test_a_send_abandoned_mid_call_is_released_after_its_lease_and_sent_once(harness: LeaseHarness) -> None:
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
    assert (redelivered, before, len(harness.in_flight)) == (SendOutcome.ALREADY_CLAIMED, 0, 1)
    # ... and once the lease ended it was released, the release's record sent it, exactly once
    assert after == 1
    released = harness.change(notification)
    assert harness.stream.triggers_sender(harness.stream.record(notification.key))
    assert harness.sender().handle(released) is SendOutcome.TRIGGERED
    assert harness.sender().handle(released) is SendOutcome.ALREADY_CLAIMED  # a replay of the release
    stored = NotificationRecord.from_item(harness.item(notification))
    assert (stored.status.id, stored.send_attempts, len(harness.in_flight)) == (
        NotificationStatus.TRIGGERED,
        1,
        2,
    )
