"""The scheduler's window: half-hour slots plus lead, and the trigger forms that choose it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from workers.notification_scheduler.logic import schedule_window
from workers.notification_scheduler.models import ScheduleWindow, parse_run_request
from workers.shared.errors import RecordError

D = datetime(2024, 1, 15, tzinfo=UTC)


def at(hours: int, minutes: int, seconds: int = 0, *, day: int = 0) -> datetime:
    return D + timedelta(days=day, hours=hours, minutes=minutes, seconds=seconds)


@pytest.mark.parametrize(
    ("run_time", "lead", "width", "start", "end"),
    [
        pytest.param(at(9, 30), 30, 30, at(10, 0), at(10, 30), id="tick-on-the-half-hour"),
        pytest.param(at(10, 0), 30, 30, at(10, 30), at(11, 0), id="next-tick-tiles-the-next-window"),
        pytest.param(at(9, 30, 59), 30, 30, at(10, 0), at(10, 30), id="delivered-late-same-slot"),
        pytest.param(at(9, 29, 30), 30, 30, at(10, 0), at(10, 30), id="delivered-early-same-slot"),
        pytest.param(at(14, 23, 45), 30, 30, at(15, 0), at(15, 30), id="14:23:45-is-the-14:30-slot"),
        pytest.param(at(14, 10), 30, 30, at(14, 30), at(15, 0), id="14:10-is-the-14:00-slot"),
        pytest.param(at(9, 15), 30, 30, at(10, 0), at(10, 30), id="quarter-past-rounds-up"),
        pytest.param(at(9, 14, 59), 30, 30, at(9, 30), at(10, 0), id="just-before-quarter-rounds-down"),
        pytest.param(at(23, 50), 30, 30, at(0, 30, day=1), at(1, 0, day=1), id="crosses-midnight"),
        pytest.param(at(23, 0), 30, 60, at(23, 30), at(0, 30, day=1), id="window-spans-midnight"),
        pytest.param(at(9, 30), 0, 60, at(9, 30), at(10, 30), id="no-lead-one-hour-wide"),
        pytest.param(at(9, 30), 45, 30, at(10, 15), at(10, 45), id="lead-not-a-multiple-of-30"),
    ],
)
def test_the_window_is_the_nearest_half_hour_slot_plus_the_lead(
    run_time: datetime, lead: int, width: int, start: datetime, end: datetime
) -> None:
    # Given a run at run_time / When its window is computed / Then [slot + lead, slot + lead + width)
    assert schedule_window(run_time, lead_minutes=lead, window_minutes=width) == ScheduleWindow(
        start=start, end=end
    )


def test_the_slot_does_not_depend_on_the_time_zone_of_the_run_time() -> None:
    # Given 09:30 UTC expressed in UTC-5 / Then the same window
    eastern = at(9, 30).astimezone(timezone(timedelta(hours=-5)))
    assert schedule_window(eastern, lead_minutes=30, window_minutes=30).describe() == {
        "start": "2024-01-15T10:00:00Z",
        "end": "2024-01-15T10:30:00Z",
    }


def test_the_window_holds_its_start_but_not_its_end() -> None:
    window = ScheduleWindow(start=at(10, 0), end=at(10, 30))
    assert window.contains(at(10, 0)) and window.contains(at(10, 29, 59))
    assert not window.contains(at(10, 30)) and not window.contains(at(9, 59, 59))


RECEIVED = at(11, 7, 3)


def test_a_schedule_tick_uses_its_scheduled_time(load_event: Callable[[str], dict[str, Any]]) -> None:
    # Given EventBridge's scheduled event (time 14:30:00Z), received later (e.g. a Lambda retry)
    request = parse_run_request(load_event("eventbridge-schedule.json"), received_at=RECEIVED)
    # Then the run time is the event's time and no window is imposed
    assert (request.run_time, request.window) == (datetime(2024, 1, 15, 14, 30, tzinfo=UTC), None)


@pytest.mark.parametrize("where", ["top-level", "detail"])
def test_an_explicit_window_on_a_schedule_event_overrides(
    load_event: Callable[[str], dict[str, Any]], where: str
) -> None:
    # Given a scheduled event carrying {startDateTime, endDateTime}
    event = load_event("eventbridge-schedule.json")
    window = {"startDateTime": "2024-01-15T08:00:00-05:00", "endDateTime": "2024-01-15T13:30:00Z"}
    (event if where == "top-level" else event["detail"]).update(window)

    # When parsed / Then that window (in UTC) is used
    request = parse_run_request(event, received_at=RECEIVED)
    assert request.window is not None
    assert request.window.describe() == {"start": "2024-01-15T13:00:00Z", "end": "2024-01-15T13:30:00Z"}


def test_a_manual_run_without_a_window_uses_the_time_it_was_received() -> None:
    request = parse_run_request({}, received_at=RECEIVED)
    assert (request.run_time, request.window) == (RECEIVED, None)


def test_a_manual_run_with_a_window_uses_it() -> None:
    request = parse_run_request(
        {"startDateTime": "2024-01-15T15:00:00Z", "endDateTime": "2024-01-15T15:30:00Z"}, received_at=RECEIVED
    )
    assert request.window == ScheduleWindow(start=at(15, 0), end=at(15, 30))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"startDateTime": "2024-01-15T15:00:00Z"}, "endDateTime"),
        ({"startDateTime": "2024-01-15T15:00:00Z", "endDateTime": "2024-01-15T14:00:00Z"}, "must be after"),
        ({"startDateTime": "2024-01-15T15:00:00Z", "endDateTime": "2024-01-17T15:00:00Z"}, "at most 24"),
        ({"startDateTime": "2024-01-15T15:00:00", "endDateTime": "2024-01-15T16:00:00Z"}, "timezone"),
        ({"startDateTime": "soon", "endDateTime": "2024-01-15T16:00:00Z"}, "startDateTime"),
        ({"detail-type": "Scheduled Event", "detail": {}}, "not a valid ScheduledEvent"),
        ([], "expects a JSON object"),
    ],
)
def test_a_malformed_trigger_is_rejected_naming_the_problem(event: Any, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        parse_run_request(event, received_at=RECEIVED)
