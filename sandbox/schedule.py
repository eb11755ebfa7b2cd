"""An EventBridge scheduled rule firing its Lambda target on the sandbox clock."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from sandbox.clock import SandboxClock
from sandbox.polling import PolledInBackground, PollingThread
from sandbox.trigger_state import TriggerState

LOGGER: Final = logging.getLogger("sandbox.schedule")
ASYNC_RETRY_ATTEMPTS: Final = 2  # Lambda's default for asynchronous invocations
ASYNC_RETRY_DELAYS: Final = (60.0, 120.0)  # Lambda waits about 1, then 2 minutes between attempts
SCHEDULE_ROUND_SECONDS: Final = 0.05  # real seconds between two looks at the clock when nothing fired
_SEARCH_DAYS: Final = 366 * 5
_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_WEEKDAYS: Final = {
    name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)
}
_RATE: Final = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON: Final = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS: Final = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleError(ValueError):
    """A schedule expression the sandbox cannot evaluate; the message names the part."""


@dataclass(frozen=True)
class _CronField:
    values: frozenset[int]
    any_value: bool  # `*` or `?`


def _parse_field(text: str, low: int, high: int, names: Mapping[str, int], label: str) -> _CronField:
    if text in ("*", "?"):
        return _CronField(frozenset(range(low, high + 1)), any_value=True)
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = _value(first, names, label), _value(last, names, label)
        else:
            start = _value(body, names, label)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ScheduleError(f"cron {label} field {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return _CronField(frozenset(values), any_value=False)


def _value(text: str, names: Mapping[str, int], label: str) -> int:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleError(
            f"cron {label} value {text!r} is not supported by the sandbox (L, W and # are not)"
        )
    return int(text)


class ScheduleExpression:
    """An EventBridge `cron(…)` (UTC; minutes hours day-of-month month day-of-week year) or `rate(…)`."""

    def __init__(self, expression: str, *, rate_anchor: datetime | None = None) -> None:
        self.expression = expression.strip()
        self._rate: timedelta | None = None
        self._anchor = rate_anchor or datetime.now(UTC)
        rate = _RATE.match(self.expression)
        cron = _CRON.match(self.expression)
        if rate:
            amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
            if amount < 1:
                raise ScheduleError(f"{self.expression}: the rate must be at least 1")
            self._rate = timedelta(seconds=amount * _UNIT_SECONDS[unit])
        elif cron:
            fields = cron.group(1).split()
            if len(fields) != 6:
                raise ScheduleError(f"{self.expression}: a cron expression has 6 fields, found {len(fields)}")
            self._minutes = _parse_field(fields[0], 0, 59, {}, "minutes")
            self._hours = _parse_field(fields[1], 0, 23, {}, "hours")
            self._days = _parse_field(fields[2], 1, 31, {}, "day-of-month")
            self._months = _parse_field(fields[3], 1, 12, _MONTHS, "month")
            self._weekdays = _parse_field(fields[4], 1, 7, _WEEKDAYS, "day-of-week")
            self._years = _parse_field(fields[5], 1970, 2199, {}, "year")
        else:
            raise ScheduleError(f"{expression!r} is neither cron(…) nor rate(…)")

    def next_after(self, moment: datetime) -> datetime:
        """The first firing strictly after `moment` (UTC)."""
        moment = moment.astimezone(UTC)
        if self._rate is not None:
            periods = (moment - self._anchor) // self._rate + 1
            return self._anchor + max(periods, 0) * self._rate
        start = (moment + timedelta(minutes=1)).replace(second=0, microsecond=0)
        times = sorted((hour, minute) for hour in self._hours.values for minute in self._minutes.values)
        for offset in range(_SEARCH_DAYS):
            day = start.date() + timedelta(days=offset)
            if not self._day_matches(day):
                continue
            earliest = (start.hour, start.minute) if offset == 0 else (0, 0)
            for hour, minute in times:
                if (hour, minute) >= earliest:
                    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        raise ScheduleError(f"{self.expression} never fires in the {_SEARCH_DAYS} days after {moment}")

    def _day_matches(self, day: date) -> bool:
        if day.year not in self._years.values or day.month not in self._months.values:
            return False
        weekday = (day.weekday() + 1) % 7 + 1  # EventBridge: 1 = SUN … 7 = SAT
        by_day = day.day in self._days.values
        by_weekday = weekday in self._weekdays.values
        if self._days.any_value and not self._weekdays.any_value:
            return by_weekday
        if self._weekdays.any_value and not self._days.any_value:
            return by_day
        return by_day and by_weekday


@dataclass
class _Retry:
    due: float
    attempt: int
    event: dict[str, Any]


class Schedule(PolledInBackground):
    """Fires a scheduled rule's target at each cron/rate time the sandbox clock passes."""

    # When the clock jumps over several times, each one fires, in order, with its own scheduled
    # `time`. AWS invokes the target asynchronously: a function error is retried
    # `ASYNC_RETRY_ATTEMPTS` times, 1 and 2 minutes later on the sandbox clock, then dropped
    # (counted in `dropped`), as Lambda does without an on-failure destination. While the rule is
    # disabled in the emulator (`state`), the times the clock passes fire nothing (counted in
    # `skipped`) and are not made up later, as in EventBridge; retries of earlier firings still run
    # (they are Lambda's, not the rule's).

    def __init__(
        self,
        *,
        rule_name: str,
        rule_arn: str,
        expression: str,
        target: Callable[[dict[str, Any]], Any],
        clock: SandboxClock,
        worker: str = "",
        account_id: str,
        region: str,
        retry_attempts: int = ASYNC_RETRY_ATTEMPTS,
        state: TriggerState | None = None,
    ) -> None:
        self.rule_name = rule_name
        self.rule_arn = rule_arn
        self.worker = worker  # the target's worker
        self._clock = clock
        self._target = target
        self._account_id = account_id
        self._region = region
        self._retry_attempts = retry_attempts
        self._state = state
        created = clock.now_datetime()
        self.expression = ScheduleExpression(expression, rate_anchor=created)
        self.next_fire = self.expression.next_after(created)
        self._retries: list[_Retry] = []
        self._lock = threading.Lock()  # next_fire, retries and counters
        self._delivering = threading.Lock()  # one round of deliveries at a time, in order
        self._in_flight = 0
        self._thread = PollingThread(f"schedule:{rule_name}", self.poll_once, idle_max=SCHEDULE_ROUND_SECONDS)
        self.fired = 0
        self.failed = 0
        self.dropped = 0
        self.skipped = 0

    def idle(self) -> bool:
        """Whether nothing is due or running: no firing the clock has passed, no retry waiting."""
        with self._lock:
            due = self.next_fire.timestamp() <= self._clock.now()
            return not due and not self._retries and not self._in_flight

    def poll_once(self) -> int:
        """Fire every firing (and due retry) the clock has passed; how many invocations ran."""
        # The state is read and advanced under the lock, the target runs outside it (a scheduled run
        # can take minutes; `idle()` must answer meanwhile).
        with self._delivering:
            now = self._clock.now()
            enabled = self._rule_enabled(now)
            with self._lock:
                due: list[tuple[dict[str, Any], int]] = []
                while self.next_fire.timestamp() <= now:
                    if enabled:
                        due.append((self.event(self.next_fire), 0))
                        self.fired += 1
                    else:
                        self.skipped += 1
                    self.next_fire = self.expression.next_after(self.next_fire)
                for retry in sorted(self._retries, key=lambda item: item.due):
                    if retry.due <= now:
                        self._retries.remove(retry)
                        due.append((retry.event, retry.attempt))
                self._in_flight = len(due)
            try:
                for index, (event, attempt) in enumerate(due):
                    # A round can hold many firings (a minutely rule whose invocations waited for
                    # the environment gate, a clock jump): a stopping sandbox does not run them all.
                    # The rest are kept for the next round, in order: a pause (the emulator's
                    # restart, `Sandbox.restart_emulator`) delivers them when it resumes.
                    if self._thread.stopping:
                        with self._lock:
                            self._retries.extend(_Retry(now, left, rest) for rest, left in due[index:])
                        break
                    self._deliver(event, attempt=attempt)
                    with self._lock:
                        self._in_flight -= 1
            finally:
                with self._lock:
                    self._in_flight = 0
            return len(due)

    def pass_over(self, until: datetime) -> int:
        """Fire nothing for the times up to `until` (counted in `skipped`); how many were passed over.

        For a clock that will jump over a stretch where the rule's runs have nothing to do (the demo
        seeds an hour before its tick, when no notification exists for the sweeper to find): the
        rule goes on from its first time after `until` instead of replaying each one on arrival.
        """
        with self._lock:
            passed = 0
            while self.next_fire <= until:
                self.next_fire = self.expression.next_after(self.next_fire)
                passed += 1
            self.skipped += passed
            return passed

    @property
    def enabled(self) -> bool:
        """Whether the rule fires: always, unless its live state is known and disabled."""
        return self._state is None or self._state.enabled()

    def _rule_enabled(self, now: float) -> bool:
        # Read from the emulator only when a firing is due (a round runs every 50 ms when idle).
        with self._lock:
            due = self.next_fire.timestamp() <= now
        return not due or self.enabled

    def event(self, when: datetime) -> dict[str, Any]:
        """The EventBridge "Scheduled Event" for a firing at `when`."""
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self._account_id,
            "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._region,
            "resources": [self.rule_arn],
            "detail": {},
        }

    def _deliver(self, event: dict[str, Any], *, attempt: int) -> None:
        try:
            self._target(event)
        except Exception as error:  # noqa: BLE001 - whatever the handler raises is a function error
            with self._lock:
                self.failed += 1
            if attempt < self._retry_attempts:
                delay = ASYNC_RETRY_DELAYS[min(attempt, len(ASYNC_RETRY_DELAYS) - 1)]
                with self._lock:
                    self._retries.append(_Retry(self._clock.now() + delay, attempt + 1, event))
                LOGGER.info(
                    "%s: function error %s, retry %d in %.0f s", self.rule_name, error, attempt + 1, delay
                )
            else:
                with self._lock:
                    self.dropped += 1
                LOGGER.warning(
                    "%s: event %s dropped after %d attempts: %s",
                    self.rule_name,
                    event["id"],
                    attempt + 1,
                    error,
                )
