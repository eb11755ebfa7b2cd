"""Backoff at processing time: due records first, then waits for backed-off ones within the deadline."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from workers.shared.errors import RecordError, RetryableError
from workers.shared.models import format_timestamp
from workers.shared.records import parse_change_record

# After waking, one send still needs its vendor call plus the claim and status writes, and the
# handler must flush spans (≤ 3 s) before Lambda's deadline.
WRITES_AND_FLUSH_SECONDS = 5.0
# A vendor answering quickly with a 5xx or 429 is asked again within this window (same idempotency
# key), so a blip costs the lane a fraction of a second, not a RETRY that goes round the stream
# behind the lane's backlog; a slow failure (a timeout) is never repeated in the call.
VENDOR_RETRY_WINDOW_SECONDS = 1.0
VENDOR_CALL_ATTEMPTS = 3
VENDOR_CALL_BACKOFF_SECONDS = 0.05  # full jitter: 0-50 ms, then 0-100 ms
# A wait for a backed-off record sleeps in slices of at most this, asking the context for the time
# left after each: the context is the authority on the deadline (the sandbox's runs on its own clock,
# and reports no time left once the sandbox stops).
WAIT_SLICE_SECONDS = 1.0
_TOO_LITTLE_TIME = "too little time left in this invocation to start a send"


class InvocationContext(Protocol):
    """The part of the Lambda context the budget reads."""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda stops the invocation."""
        ...


class SendDeferredError(RetryableError):
    """A record was not started (not due yet, or too little time left): Lambda delivers it again."""


def send_reserve_seconds(vendor_timeout_seconds: float) -> float:
    """Time one send needs from its start to the handler's return, at worst."""
    return VENDOR_RETRY_WINDOW_SECONDS + vendor_timeout_seconds + WRITES_AND_FLUSH_SECONDS


class TimeBudget:
    """This invocation's deadline less a send's reserve; waits with an injectable clock and sleep."""

    def __init__(
        self,
        *,
        deadline: float,
        reserve_seconds: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        remaining_seconds: Callable[[], float] | None = None,
    ) -> None:
        # `remaining_seconds`, when given, is asked live (the invocation's context); the budget ends
        # at whichever comes first, it or `deadline`.
        self.deadline = deadline
        self.reserve_seconds = reserve_seconds
        self._clock = clock
        self._sleep = sleep
        self._remaining_seconds = remaining_seconds

    @classmethod
    def of_invocation(
        cls,
        context: InvocationContext,
        *,
        reserve_seconds: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> TimeBudget:
        """The budget of the invocation `context` belongs to."""

        def remaining_seconds() -> float:
            return context.get_remaining_time_in_millis() / 1000

        return cls(
            deadline=clock() + remaining_seconds(),
            reserve_seconds=reserve_seconds,
            clock=clock,
            sleep=sleep,
            remaining_seconds=remaining_seconds,
        )

    def now(self) -> datetime:
        """The budget's clock as an aware UTC datetime."""
        return datetime.fromtimestamp(self._clock(), UTC)

    def ends_at(self) -> datetime:
        """When Lambda stops the invocation (its deadline) as an aware UTC datetime."""
        return datetime.fromtimestamp(self.deadline, UTC)

    def spare_seconds(self) -> float:
        """Seconds that may still be spent waiting before a send could no longer finish in time."""
        left = self.deadline - self._clock()
        if self._remaining_seconds is not None:
            left = min(left, self._remaining_seconds())
        return left - self.reserve_seconds

    def start_when_due(self, due: datetime | None) -> None:
        """Return once `due` has passed with a send's time left; SendDeferredError when it cannot."""
        wait = 0.0 if due is None else max(0.0, due.timestamp() - self._clock())
        spare = self.spare_seconds()
        if spare < wait:
            # Sleep the budget out first: Lambda redelivers a failed record at once, and every
            # redelivery spends one of the trigger's bounded retries.
            if spare > 0:
                self._wait(spare)
            if due is not None and wait > 0:
                raise SendDeferredError(f"not due until {format_timestamp(due)}; left for the next delivery")
            raise SendDeferredError(_TOO_LITTLE_TIME)
        if wait > 0 and not self._wait(wait):
            raise SendDeferredError(_TOO_LITTLE_TIME)

    def _wait(self, seconds: float) -> bool:
        """Sleep `seconds`; False when the context ran out of spare time first (asked between slices)."""
        if self._remaining_seconds is None:
            self._sleep(seconds)
            return True
        until = self._clock() + seconds
        while (left := until - self._clock()) > 0:
            if self.spare_seconds() <= 0:
                return False
            self._sleep(min(left, WAIT_SLICE_SECONDS))
        return True


def due_first(event: Mapping[str, Any], *, now: float) -> dict[str, Any]:
    """The batch reordered: due records first in shard order, then backed-off ones by `nextAttemptAt`."""

    def due_at(record: Mapping[str, Any]) -> float:
        try:
            image = parse_change_record(record).new_image or {}
        except RecordError:
            return now  # rejected at once by process_batch, wherever it sits
        value = image.get("nextAttemptAt")
        if not isinstance(value, str):
            return now
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return now
        return max(now, parsed.replace(tzinfo=parsed.tzinfo or UTC).timestamp())

    # sorted() is stable: equal keys (everything due now) keep their shard order.
    return {**event, "Records": sorted(event.get("Records", []), key=due_at)}
