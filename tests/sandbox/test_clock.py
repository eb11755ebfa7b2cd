"""The sandbox clock: faster than real time, explicit jumps, emulator timestamps mapped onto it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sandbox.clock import SandboxClock, iso_millis


class FakeWallClock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


START = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)


def test_a_faster_clock_runs_speed_times_real_time() -> None:
    # Given a clock at 60x starting at a fixed sandbox time
    wall = FakeWallClock(1000.0)
    clock = SandboxClock(speed=60, start=START, wall_time=wall)
    # When 30 real seconds pass
    wall.now += 30
    # Then 30 sandbox minutes passed
    assert clock.now_datetime() == datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
    assert clock.real_seconds(1800) == 30


def test_advancing_jumps_forward_and_ages_what_arrived_before() -> None:
    # Given a real-time clock and a record stamped by the emulator's wall clock
    wall = FakeWallClock(1000.0)
    clock = SandboxClock(start=START, wall_time=wall)
    wall.now += 5
    arrival = wall.now
    # When the sandbox jumps an hour ahead and a second passes
    clock.advance(3600)
    wall.now += 1
    # Then the record arrived at its sandbox time, and is now an hour and a second old
    assert clock.sandbox_time_of(arrival) == START.timestamp() + 5
    assert clock.now() - clock.sandbox_time_of(arrival) == pytest.approx(3601)
    # And a record stamped after the jump maps after it
    assert clock.sandbox_time_of(wall.now) == pytest.approx(START.timestamp() + 3606)


def test_the_clock_never_moves_back() -> None:
    clock = SandboxClock()
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="speed"):
        SandboxClock(speed=0)


def test_advance_to_a_past_moment_keeps_the_time() -> None:
    # Given a clock at a fixed time
    wall = FakeWallClock(1000.0)
    clock = SandboxClock(start=START, wall_time=wall)
    # When asked to advance to an earlier moment, then to a later one
    clock.advance_to(datetime(2024, 1, 15, 13, 0, tzinfo=UTC))
    assert clock.now_datetime() == START
    clock.advance_to(datetime(2024, 1, 15, 16, 0, tzinfo=UTC))
    # Then only the later one moved it
    assert clock.now_datetime() == datetime(2024, 1, 15, 16, 0, tzinfo=UTC)


def test_instants_are_written_as_aws_writes_them_in_events() -> None:
    # Given the same instant as epoch seconds, as a UTC datetime and as a datetime in another zone
    epoch = 1_800_000_000.1234
    as_utc = datetime.fromtimestamp(epoch, UTC)
    elsewhere = as_utc.astimezone(timezone(timedelta(hours=-5)))

    # When each is written
    written = {iso_millis(epoch), iso_millis(as_utc), iso_millis(elsewhere)}

    # Then all read the same UTC instant with milliseconds and a Z
    assert written == {"2027-01-15T08:00:00.123Z"}
