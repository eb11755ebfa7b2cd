"""Backoff policy, the invocation's time budget and the due-first order of a batch."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from send_builders import FakeClock, TableStream, sequence_of, sms_notification
from trigger_records import kinesis_record, sequence_number

from workers.notification_send.models import MAX_BACKOFF, SendPolicy
from workers.notification_send.pacing import (
    WAIT_SLICE_SECONDS,
    SendDeferredError,
    TimeBudget,
    due_first,
    send_reserve_seconds,
)
from workers.shared.models import format_timestamp

# ------------------------------------------------------------------------------------ backoff


@pytest.mark.parametrize(
    ("base", "attempts", "seconds"),
    [
        (30, 1, 30),
        (30, 2, 60),
        (30, 3, 120),
        (30, 4, 240),
        (30, 5, 300),
        (30, 60, 300),
        (900, 1, 300),
        (0, 3, 0),
        (1, 9, 256),
    ],
)
def test_backoff_doubles_per_failed_attempt_and_never_exceeds_five_minutes(
    base: int, attempts: int, seconds: int
) -> None:
    assert SendPolicy(max_attempts=3, backoff_base_seconds=base).backoff(attempts) == timedelta(
        seconds=seconds
    )


@given(base=st.integers(min_value=0, max_value=900), attempts=st.integers(min_value=1, max_value=10_000))
def test_backoff_is_capped_monotonic_exponential(base: int, attempts: int) -> None:
    policy = SendPolicy(max_attempts=10, backoff_base_seconds=base)
    delay = policy.backoff(attempts)
    assert timedelta(0) <= delay <= MAX_BACKOFF
    assert policy.backoff(attempts + 1) >= delay
    if base * 2 ** min(attempts - 1, 20) <= 300:
        assert delay == timedelta(seconds=base * 2 ** (attempts - 1))


def test_backoff_needs_a_failed_attempt() -> None:
    with pytest.raises(ValueError, match="attempts must be at least 1"):
        SendPolicy(max_attempts=3, backoff_base_seconds=30).backoff(0)


# -------------------------------------------------------------------------------- time budget


def budget(clock: FakeClock, *, seconds_left: float, reserve: float = 15.0) -> TimeBudget:
    return TimeBudget(
        deadline=clock.now + seconds_left, reserve_seconds=reserve, clock=clock, sleep=clock.sleep
    )


def test_a_due_record_starts_at_once() -> None:
    clock = FakeClock()
    budget(clock, seconds_left=60).start_when_due(clock.datetime() - timedelta(seconds=1))
    budget(clock, seconds_left=60).start_when_due(None)
    assert clock.sleeps == []


def test_a_record_due_within_the_budget_is_waited_for() -> None:
    clock = FakeClock()
    due = clock.datetime() + timedelta(seconds=30)

    budget(clock, seconds_left=60).start_when_due(due)

    assert clock.sleeps == [30.0]
    assert clock.datetime() == due


def test_a_record_due_beyond_the_budget_sleeps_the_budget_out_then_is_deferred() -> None:
    # Given 60 s left of which 15 s are reserved for the send itself
    clock = FakeClock()
    due = clock.datetime() + timedelta(seconds=60)

    # When the record is due in 60 s
    with pytest.raises(SendDeferredError, match=f"not due until {format_timestamp(due)}"):
        budget(clock, seconds_left=60).start_when_due(due)

    # Then the 45 spare seconds were spent waiting (every redelivery costs one of the trigger's retries)
    assert clock.sleeps == [45.0]


def test_without_time_for_one_send_nothing_starts() -> None:
    clock = FakeClock()
    with pytest.raises(SendDeferredError, match="too little time left"):
        budget(clock, seconds_left=10).start_when_due(None)
    assert clock.sleeps == []


@given(
    seconds_left=st.floats(min_value=0, max_value=900),
    reserve=st.floats(min_value=0, max_value=60),
    due_in=st.floats(min_value=-600, max_value=900),
)
def test_the_budget_never_waits_into_the_reserve(seconds_left: float, reserve: float, due_in: float) -> None:
    clock = FakeClock()
    start = clock.now
    due = datetime.fromtimestamp(start + due_in, UTC)
    try:
        budget(clock, seconds_left=seconds_left, reserve=reserve).start_when_due(due)
    except SendDeferredError:
        started = False
    else:
        started = True
    waited = clock.now - start
    assert waited <= max(0.0, seconds_left - reserve) + 1e-6
    if started:
        assert clock.now >= due.timestamp() - 1e-3
        assert start + seconds_left - clock.now >= reserve - 1e-6


def test_the_reserve_covers_the_vendor_timeout_writes_and_span_flush() -> None:
    assert send_reserve_seconds(10) == 16.0


def test_the_budget_of_an_invocation_ends_at_its_deadline(lambda_context: Any) -> None:
    clock = FakeClock()
    of_invocation = TimeBudget.of_invocation(
        lambda_context, reserve_seconds=15, clock=clock, sleep=clock.sleep
    )
    assert of_invocation.deadline == clock.now + 60
    assert of_invocation.spare_seconds() == 45


@dataclass
class ScaledContext:
    """A context whose time runs `speed` times as fast as the budget's clock (the sandbox's at speed)."""

    clock: FakeClock
    seconds_left: float
    speed: float = 1.0
    shut_down_at: float | None = None  # budget-clock time after which no time is left
    _start: float = field(init=False)

    def __post_init__(self) -> None:
        self._start = self.clock.now

    def get_remaining_time_in_millis(self) -> int:
        if self.shut_down_at is not None and self.clock.now >= self.shut_down_at:
            return 0
        elapsed = (self.clock.now - self._start) * self.speed
        return max(0, int((self.seconds_left - elapsed) * 1000))


def test_a_wait_ends_when_the_context_runs_out_of_time_faster_than_the_clock() -> None:
    # Given an invocation whose context counts down ten times as fast as the worker's clock
    clock = FakeClock()
    context = ScaledContext(clock, seconds_left=60, speed=10)
    of_invocation = TimeBudget.of_invocation(context, reserve_seconds=15, clock=clock, sleep=clock.sleep)

    # When a record due in 30 s (by the worker's clock) is waited for
    with pytest.raises(SendDeferredError, match="too little time left"):
        of_invocation.start_when_due(clock.datetime() + timedelta(seconds=30))

    # Then the wait stopped once the context's spare 45 s were gone (4.5 s of the worker's clock),
    # asking the context between slices of at most one second
    assert clock.now - context._start == pytest.approx(5.0)
    assert max(clock.sleeps) <= WAIT_SLICE_SECONDS


def test_a_context_that_reports_no_time_left_stops_a_wait_at_the_next_slice() -> None:
    # Given an invocation whose environment shuts down 3 s into a wait (the sandbox stopping)
    clock = FakeClock()
    context = ScaledContext(clock, seconds_left=900, shut_down_at=clock.now + 3)
    of_invocation = TimeBudget.of_invocation(context, reserve_seconds=15, clock=clock, sleep=clock.sleep)

    # When a record due in 5 minutes is waited for
    with pytest.raises(SendDeferredError, match="too little time left"):
        of_invocation.start_when_due(clock.datetime() + timedelta(minutes=5))

    # Then the wait ended at the first slice after the shutdown, not after five minutes
    assert clock.now - context._start == pytest.approx(3.0)


def test_a_context_at_the_clocks_pace_waits_the_whole_delay_in_slices() -> None:
    # Given an invocation as in Lambda (context and clock agree) with 60 s left
    clock = FakeClock()
    context = ScaledContext(clock, seconds_left=60)
    of_invocation = TimeBudget.of_invocation(context, reserve_seconds=15, clock=clock, sleep=clock.sleep)
    due = clock.datetime() + timedelta(seconds=30)

    # When a record due in 30 s is waited for
    of_invocation.start_when_due(due)

    # Then it starts when due, the wait cut into one-second slices
    assert clock.datetime() == due
    assert sum(clock.sleeps) == pytest.approx(30.0)
    assert len(clock.sleeps) == 30


# ---------------------------------------------------------------------------------- due first


def test_due_records_come_first_in_shard_order_then_backed_off_ones_by_due_time(stream: TableStream) -> None:
    # Given a batch mixing due, backed-off and undecodable records
    clock = FakeClock()

    def retry_in(seconds: float, fan: str) -> dict[str, Any]:
        notification = sms_notification(fan, next_attempt_at=clock.datetime() + timedelta(seconds=seconds))
        return stream.of_item(notification.to_item())

    due = stream.of_item(sms_notification("fan-due").to_item(), event_name="INSERT")
    later = retry_in(60, "fan-later")
    garbage = kinesis_record(sequence_number(99), b"not json")
    sooner = retry_in(10, "fan-sooner")
    overdue = retry_in(-5, "fan-overdue")
    event = {"Records": [due, later, garbage, sooner, overdue]}

    # When the batch is ordered
    ordered = due_first(event, now=clock.now)

    # Then due and undecodable ones keep their order up front, the rest follow by due time
    assert [sequence_of(record) for record in ordered["Records"]] == [
        sequence_of(record) for record in (due, garbage, overdue, sooner, later)
    ]
    assert event["Records"][1] is later  # the trigger's event is left as it was


def test_a_next_attempt_time_that_is_not_a_time_counts_as_due(stream: TableStream) -> None:
    clock = FakeClock()
    item = sms_notification().to_item()
    record = stream.of_item({**item, "nextAttemptAt": "soon"})
    data = json.loads(base64.b64decode(record["kinesis"]["data"]))
    assert data["dynamodb"]["NewImage"]["nextAttemptAt"] == {"S": "soon"}
    assert due_first({"Records": [record]}, now=clock.now)["Records"] == [record]
