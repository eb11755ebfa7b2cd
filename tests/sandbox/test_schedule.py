"""The scheduled rule on the sandbox clock: cron/rate times, Scheduled Event payloads, async retries."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.clock import SandboxClock
from sandbox.schedule import Schedule, ScheduleError, ScheduleExpression
from sandbox.trigger_state import TriggerState
from workers.shared.records import parse_scheduled_event

START = datetime(2024, 1, 15, 14, 10, tzinfo=UTC)
RULE = "prd3292-local-us-east-1-ntfcn-schdlr-schedule"
RULE_ARN = f"arn:aws:events:us-east-1:123456789012:rule/{RULE}"


class FakeWallClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _schedule(clock: SandboxClock, target: Any, expression: str) -> Schedule:
    return Schedule(
        rule_name=RULE,
        rule_arn=RULE_ARN,
        expression=expression,
        target=target,
        clock=clock,
        account_id="123456789012",
        region="us-east-1",
    )


def test_the_scheduler_rule_fires_every_half_hour_over_accelerated_hours(
    local_stack_graph: Any,
) -> None:
    # Given the scheduler's rule from the local stack, on a clock at 14:10
    expression = local_stack_graph.named("notification_scheduler-schedule").inputs["scheduleExpression"]
    clock = SandboxClock(start=START, wall_time=FakeWallClock())
    events: list[dict[str, Any]] = []
    schedule = _schedule(clock, events.append, expression)
    # When the sandbox runs 5 hours ahead
    clock.advance(5 * 3600)
    schedule.poll_once()
    # Then it fired at each half hour it passed (14:30 … 19:00), in order, once each
    times = [event["time"] for event in events]
    assert times[0] == "2024-01-15T14:30:00Z"
    assert times[-1] == "2024-01-15T19:00:00Z"
    assert len(times) == 10 == schedule.fired
    assert schedule.poll_once() == 0
    # And each is a Scheduled Event the scheduler's parser accepts, naming the rule
    parsed = parse_scheduled_event(events[0])
    assert (parsed.detail_type, parsed.source, parsed.resources) == (
        "Scheduled Event",
        "aws.events",
        (RULE_ARN,),
    )
    assert len({event["id"] for event in events}) == 10


def test_a_faster_clock_fires_without_explicit_jumps() -> None:
    # Given a clock at 3600x (an hour per real second) and a 30-minute schedule
    wall = FakeWallClock()
    clock = SandboxClock(speed=3600, start=START, wall_time=wall)
    events: list[dict[str, Any]] = []
    schedule = _schedule(clock, events.append, "cron(0/30 * * * ? *)")
    # When two real seconds pass
    wall.now += 2
    schedule.poll_once()
    # Then four half hours fired
    assert [event["time"][11:16] for event in events] == ["14:30", "15:00", "15:30", "16:00"]


def test_passing_over_a_stretch_fires_none_of_its_times_and_goes_on_after_it() -> None:
    # Given a minutely rule at 14:10 (the demo's sweeper, an hour before its tick)
    clock = SandboxClock(start=START, wall_time=FakeWallClock())
    events: list[dict[str, Any]] = []
    schedule = _schedule(clock, events.append, "rate(1 minute)")
    tick = START.replace(hour=15, minute=0)
    # When its times up to the tick are passed over and the clock jumps there
    passed = schedule.pass_over(tick)
    clock.advance_to(tick)
    # Then nothing fires for the hour, and the times passed over are counted as skipped
    assert schedule.poll_once() == 0 and events == []
    assert passed == schedule.skipped == 50  # 14:11 … 15:00
    assert schedule.idle()
    # And it fires from its first time after the tick, once a minute
    clock.advance(2 * 60)
    schedule.poll_once()
    assert [event["time"][11:16] for event in events] == ["15:01", "15:02"]
    assert (schedule.fired, schedule.skipped) == (2, 50)


def test_a_failing_target_is_retried_twice_on_the_clock_then_dropped() -> None:
    # Given a target that always fails
    clock = SandboxClock(start=START, wall_time=FakeWallClock())
    calls: list[str] = []

    def failing(event: dict[str, Any]) -> None:
        calls.append(event["id"])
        raise RuntimeError("scheduler down")

    schedule = _schedule(clock, failing, "cron(0/30 * * * ? *)")
    # When the rule fires, then 1 and 2 more minutes pass
    clock.advance(20 * 60)
    schedule.poll_once()
    clock.advance(60)
    schedule.poll_once()
    clock.advance(120)
    schedule.poll_once()
    # Then the same event was attempted 3 times (Lambda's async retries) and then dropped
    assert len(calls) == 3 and len(set(calls)) == 1
    assert (schedule.failed, schedule.dropped) == (3, 1)


def test_a_disabled_rule_fires_nothing_and_does_not_make_up_its_firings_when_enabled_again() -> None:
    # Given a half-hourly rule at 14:10 whose live state says disabled, and a failed firing's retry due
    clock = SandboxClock(start=START, wall_time=FakeWallClock())
    rule_enabled = [True]
    attempts: list[str] = []

    def target(event: dict[str, Any]) -> None:
        attempts.append(event["time"][11:16])
        if len(attempts) == 1:
            raise RuntimeError("first firing fails")

    schedule = Schedule(
        rule_name=RULE,
        rule_arn=RULE_ARN,
        expression="cron(0/30 * * * ? *)",
        target=target,
        clock=clock,
        account_id="123456789012",
        region="us-east-1",
        state=TriggerState(lambda: rule_enabled[0], max_age=0),
    )
    clock.advance(20 * 60)
    schedule.poll_once()  # 14:30 fires and fails: its retry is due a minute later
    rule_enabled[0] = False
    # When the clock passes 15:00, 15:30 and 16:00 while the rule is disabled
    clock.advance(90 * 60)
    schedule.poll_once()
    # Then no firing was delivered, only the earlier firing's retry (Lambda's, not the rule's)
    assert attempts == ["14:30", "14:30"]
    assert (schedule.fired, schedule.skipped, schedule.enabled) == (1, 3, False)
    assert schedule.idle()
    # And enabled again, the rule fires from its next time on, without the firings it skipped
    rule_enabled[0] = True
    clock.advance(30 * 60)
    schedule.poll_once()
    assert attempts == ["14:30", "14:30", "16:30"]
    assert (schedule.fired, schedule.skipped) == (2, 3)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0/30 * * * ? *)", "2024-01-15T14:30:00", "2024-01-15T15:00:00"),
        ("cron(15 10 ? * MON-FRI *)", "2024-01-12T10:15:00", "2024-01-15T10:15:00"),  # Fri → Mon
        ("cron(0 12 1 * ? *)", "2024-01-15T00:00:00", "2024-02-01T12:00:00"),
        ("cron(0 8 ? * 1 *)", "2024-01-15T00:00:00", "2024-01-21T08:00:00"),  # 1 = Sunday
        ("cron(0 0 29 FEB ? 2025-2028)", "2024-03-01T00:00:00", "2028-02-29T00:00:00"),
        ("rate(30 minutes)", "2024-01-15T14:40:00", "2024-01-15T15:10:00"),
    ],
)
def test_schedule_expressions_give_the_next_firing(expression: str, after: str, expected: str) -> None:
    # Given an expression (a rate counts from its anchor, here 14:10)
    parsed = ScheduleExpression(expression, rate_anchor=START)
    # When asked for the next firing strictly after a moment
    firing = parsed.next_after(datetime.fromisoformat(after).replace(tzinfo=UTC))
    # Then it is the one EventBridge would pick
    assert firing == datetime.fromisoformat(expected).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 12 L * ? *)", "L, W and # are not"),
        ("cron(0 25 * * ? *)", "hours"),
        ("cron(0 12 * *)", "6 fields"),
        ("every 5 minutes", "neither cron"),
    ],
)
def test_expressions_the_sandbox_cannot_evaluate_are_refused_by_name(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        ScheduleExpression(expression)


def test_the_schedule_is_busy_while_a_firing_is_due_or_running_and_answers_meanwhile() -> None:
    # Given a schedule whose target blocks until released, and a clock past its next firing
    clock = SandboxClock(start=START, wall_time=FakeWallClock())
    entered, release = threading.Event(), threading.Event()
    idle_seen_inside: list[bool] = []

    def target(event: dict[str, Any]) -> None:
        entered.set()
        release.wait(5)

    schedule = _schedule(clock, target, "cron(0/30 * * * ? *)")
    assert schedule.idle()
    clock.advance(30 * 60)
    # Then a due firing is not idle, even before any round ran
    assert not schedule.idle()
    # When a round delivers it on another thread
    worker = threading.Thread(target=schedule.poll_once)
    worker.start()
    assert entered.wait(5)
    # Then idle() answers at once while the target runs, and says busy
    answered = threading.Thread(target=lambda: idle_seen_inside.append(schedule.idle()))
    answered.start()
    answered.join(1)
    assert idle_seen_inside == [False]
    release.set()
    worker.join(5)
    # And once the firing is done the schedule is idle again
    assert schedule.idle() and schedule.fired == 1


def test_a_stopping_schedule_leaves_the_rest_of_a_long_round_undelivered() -> None:
    # Given a minutely rule an hour behind the clock (its invocations waited, or the clock jumped)
    clock = SandboxClock(start=START, wall_time=FakeWallClock())
    delivered: list[str] = []

    def stop_during_the_first(event: dict[str, Any]) -> None:
        delivered.append(event["time"])
        schedule.stop(wait=False)

    schedule = _schedule(clock, stop_during_the_first, "rate(1 minute)")
    clock.advance(3600)

    # When the sandbox stops it while the round delivers its first firing
    schedule.poll_once()

    # Then the round ends after it: a stopping sandbox does not run an hour of sweeps first
    assert len(delivered) == 1
    assert schedule.fired == 60


def test_a_schedule_paused_mid_round_delivers_the_rest_in_order_when_it_starts_again() -> None:
    # Given a minutely rule three firings behind the clock, paused while it delivers the first
    # (what `Sandbox.restart_emulator` does to the schedules)
    clock = SandboxClock(start=START, wall_time=FakeWallClock())
    delivered: list[str] = []

    def pause_during_the_first(event: dict[str, Any]) -> None:
        delivered.append(event["time"])
        if len(delivered) == 1:
            schedule.stop(wait=False)

    schedule = _schedule(clock, pause_during_the_first, "rate(1 minute)")
    clock.advance(180)
    schedule.poll_once()
    assert len(delivered) == 1 and not schedule.idle()

    # When it starts again
    schedule.start()
    try:
        deadline = time.monotonic() + 5
        while len(delivered) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        schedule.stop()

    # Then the firings it held back are delivered once each, in order, none lost
    assert len(delivered) == 3 and delivered == sorted(set(delivered))
    assert schedule.fired == 3 and schedule.dropped == 0 and schedule.idle()
