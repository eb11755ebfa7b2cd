"""A channel's send breaker: a vendor that keeps failing is left alone for a while, attempts unspent.

After `failures_to_open` transient failures in a row (5xx, 429, timeouts) the channel opens for a
cooldown: its records wait (`not_before`) instead of each spending one of its bounded send attempts
on a vendor that is down. Once the cooldown has passed, the next send is the trial: an answer
(accepted or rejected) closes the breaker, another transient failure opens it again for twice as
long, up to `MAX_COOLDOWN_FACTOR` times the first cooldown. One breaker per channel and process:
Lambda reuses an environment for many invocations, so the breaker remembers across them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from workers.shared.observability import LOGGER, SEND_BREAKER_OPENED, count

# At most 4x the first cooldown (40 s by default): below an invocation's spare time (timeout 60 s
# less a send's reserve), so a record held by the breaker can still go in the same invocation.
MAX_COOLDOWN_FACTOR: Final = 4


class SendBreaker:
    """Counts a channel's consecutive transient failures; says until when its sends should wait."""

    def __init__(
        self,
        channel: str,
        *,
        failures_to_open: int,
        cooldown: timedelta,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if failures_to_open < 1:
            raise ValueError(f"failures_to_open must be at least 1, got {failures_to_open}")
        if cooldown <= timedelta(0):
            raise ValueError(f"cooldown must be positive, got {cooldown}")
        self.channel = channel
        self._failures_to_open = failures_to_open
        self._first_cooldown = cooldown.total_seconds()
        self._clock = clock
        self._lock = threading.Lock()  # the sandbox runs a function's lanes as threads of one process
        self._consecutive = 0
        self._cooldown = self._first_cooldown
        self._open_until: float | None = None

    def not_before(self) -> datetime | None:
        """While open, when the next send (the trial) may go; None when sends may go now."""
        with self._lock:
            if self._open_until is None or self._open_until <= self._clock():
                return None
            return datetime.fromtimestamp(self._open_until, UTC)

    def record_answer(self) -> None:
        """The vendor answered (accepted or rejected): it is up, the breaker closes."""
        with self._lock:
            if self._open_until is not None:
                LOGGER.info("Send breaker closed: the vendor answers again", extra={"channel": self.channel})
            self._consecutive = 0
            self._cooldown = self._first_cooldown
            self._open_until = None

    def record_transient_failure(self) -> None:
        """A transient failure: opens the breaker at the threshold, again (twice as long) per failed trial."""
        with self._lock:
            self._consecutive += 1
            if self._consecutive < self._failures_to_open:
                return
            if self._open_until is not None:  # a failed trial: the vendor is still down
                self._cooldown = min(self._cooldown * 2, self._first_cooldown * MAX_COOLDOWN_FACTOR)
            self._open_until = self._clock() + self._cooldown
            cooldown = self._cooldown
        count(SEND_BREAKER_OPENED, channel=self.channel)
        LOGGER.warning(
            "Send breaker open: the vendor keeps failing; sends wait without spending attempts",
            extra={"channel": self.channel, "cooldown_seconds": cooldown},
        )
