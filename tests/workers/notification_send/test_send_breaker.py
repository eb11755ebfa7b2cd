"""The send breaker: when a channel's sends wait, and for how long, as its vendor fails and recovers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from send_builders import FakeClock, email_notification, sms_notification
from send_harness import Harness

from workers.notification_send.breaker import MAX_COOLDOWN_FACTOR, SendBreaker
from workers.notification_send.models import SendOutcome
from workers.notification_send.pacing import SendDeferredError
from workers.shared.errors import RetryableVendorError
from workers.shared.models import ContactMethod
from workers.shared.statuses import NotificationStatus

COOLDOWN = timedelta(seconds=10)


def breaker(clock: FakeClock, *, failures_to_open: int = 3) -> SendBreaker:
    return SendBreaker("sms", failures_to_open=failures_to_open, cooldown=COOLDOWN, clock=clock)


def fail(subject: SendBreaker, times: int) -> None:
    for _ in range(times):
        subject.record_transient_failure()


def test_sends_go_while_failures_stay_below_the_threshold() -> None:
    # Given a breaker that opens after 3 failures in a row
    clock = FakeClock()
    subject = breaker(clock)
    # When 2 fail, one is answered, and 2 more fail
    fail(subject, 2)
    subject.record_answer()
    fail(subject, 2)
    # Then sends may go: an answer resets the count
    assert subject.not_before() is None


def test_the_threshold_of_failures_in_a_row_opens_the_breaker_for_the_cooldown() -> None:
    # Given a breaker that opens after 3 failures in a row
    clock = FakeClock()
    subject = breaker(clock)
    # When 3 sends fail in a row
    fail(subject, 3)
    # Then sends wait until the cooldown has passed, and may go after it
    assert subject.not_before() == clock.datetime() + COOLDOWN
    clock.sleep(COOLDOWN.total_seconds())
    assert subject.not_before() is None


def test_a_failed_trial_opens_it_again_for_twice_as_long() -> None:
    # Given an open breaker whose cooldown passed
    clock = FakeClock()
    subject = breaker(clock)
    fail(subject, 3)
    clock.sleep(COOLDOWN.total_seconds())
    # When the trial send fails
    subject.record_transient_failure()
    # Then sends wait twice the cooldown
    assert subject.not_before() == clock.datetime() + 2 * COOLDOWN


def test_the_cooldown_stops_doubling_at_its_cap() -> None:
    # Given a vendor that stays down through many trials
    clock = FakeClock()
    subject = breaker(clock)
    fail(subject, 3)
    waits = []
    for _ in range(8):
        not_before = subject.not_before()
        assert not_before is not None
        waits.append((not_before - clock.datetime()).total_seconds())
        clock.sleep(waits[-1])
        subject.record_transient_failure()
    # Then the waits double up to the cap and stay there
    assert waits == [10, 20, 40, 40, 40, 40, 40, 40]
    assert max(waits) == COOLDOWN.total_seconds() * MAX_COOLDOWN_FACTOR


def test_an_answered_trial_closes_it_and_the_next_outage_starts_from_the_first_cooldown() -> None:
    # Given a breaker opened twice (cooldown doubled)
    clock = FakeClock()
    subject = breaker(clock)
    fail(subject, 3)
    clock.sleep(10)
    subject.record_transient_failure()
    clock.sleep(20)
    # When the trial is answered (accepted or rejected: the vendor is up)
    subject.record_answer()
    # Then sends go, and a new run of failures opens it for the first cooldown again
    assert subject.not_before() is None
    fail(subject, 2)
    assert subject.not_before() is None
    subject.record_transient_failure()
    assert subject.not_before() == clock.datetime() + COOLDOWN


@given(outcomes=st.lists(st.booleans(), max_size=60), failures_to_open=st.integers(min_value=1, max_value=6))
def test_the_breaker_never_holds_sends_longer_than_its_cap_nor_after_an_answer(
    outcomes: list[bool], failures_to_open: int
) -> None:
    clock = FakeClock()
    subject = breaker(clock, failures_to_open=failures_to_open)
    for answered in outcomes:
        if answered:
            subject.record_answer()
            assert subject.not_before() is None
        else:
            subject.record_transient_failure()
        not_before = subject.not_before()
        if not_before is not None:
            assert (not_before - clock.datetime()) <= COOLDOWN * MAX_COOLDOWN_FACTOR
        clock.sleep(1)


@pytest.mark.parametrize(
    ("failures_to_open", "cooldown", "message"),
    [(0, COOLDOWN, "failures_to_open must be at least 1"), (3, timedelta(0), "cooldown must be positive")],
)
def test_a_breaker_that_could_never_close_or_open_is_refused(
    failures_to_open: int, cooldown: timedelta, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SendBreaker("sms", failures_to_open=failures_to_open, cooldown=cooldown)


# ------------------------------------------------------------------------------ in the sender


def sms_breaker(clock: FakeClock) -> dict[ContactMethod, SendBreaker]:
    """The SMS channel's breaker: open after 2 transient failures in a row, for 10 s at first."""
    return {ContactMethod.SMS: SendBreaker("sms", failures_to_open=2, cooldown=COOLDOWN, clock=clock)}


def unavailable() -> RetryableVendorError:
    return RetryableVendorError("sms-service", "Service Unavailable", status_code=503)


def test_once_the_vendor_keeps_failing_the_next_send_waits_for_the_cooldown_attempts_unspent(
    harness: Harness,
) -> None:
    # Given three notifications and an SMS service that fails twice, then answers
    first, second, third = (sms_notification(fan) for fan in ("fan-1", "fan-2", "fan-3"))
    for notification in (first, second, third):
        harness.repository.create_notification(notification)
    harness.channel.script = [unavailable(), unavailable()]
    breakers = sms_breaker(harness.clock)
    start = harness.clock.now

    # When the sender handles them in turn
    outcomes = [
        harness.sender(breakers=breakers).handle(harness.change(notification, event_name="INSERT"))
        for notification in (first, second, third)
    ]

    # Then the two failures opened the breaker, and the third waited out its cooldown before the
    # trial, which was its first and only attempt
    assert outcomes == [SendOutcome.RETRY, SendOutcome.RETRY, SendOutcome.TRIGGERED]
    assert [call - start for call in harness.channel.calls] == [0.0, 0.0, COOLDOWN.total_seconds()]
    assert harness.stored(third).send_attempts == 1
    # And the answer closed it
    assert breakers[ContactMethod.SMS].not_before() is None


def test_a_breaker_open_past_the_invocations_budget_defers_the_record_unclaimed_and_unattempted(
    harness: Harness,
) -> None:
    # Given an open SMS breaker (10 s) and an invocation with only 5 s to spare
    notification = sms_notification()
    harness.repository.create_notification(notification)
    breakers = sms_breaker(harness.clock)
    fail(breakers[ContactMethod.SMS], 2)

    # When the notification is handled
    with pytest.raises(SendDeferredError):
        harness.sender(seconds_left=20, breakers=breakers).handle(
            harness.change(notification, event_name="INSERT")
        )

    # Then the vendor was not called, and it stays CREATED with no claim and no attempt spent
    assert harness.channel.calls == []
    stored = harness.stored(notification)
    assert stored.status.id is NotificationStatus.CREATED
    assert (stored.claim_id, stored.send_attempts) == (None, 0)


def test_an_email_waits_for_no_sms_breaker(harness: Harness) -> None:
    # Given an open SMS breaker and an email notification
    notification = email_notification()
    harness.repository.create_notification(notification)
    breakers = sms_breaker(harness.clock)
    fail(breakers[ContactMethod.SMS], 2)

    # When it is handled
    outcome = harness.sender(breakers=breakers).handle(harness.change(notification, event_name="INSERT"))

    # Then it went at once: each channel has its own breaker
    assert outcome is SendOutcome.TRIGGERED
    assert harness.clock.sleeps == []
