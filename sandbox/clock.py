"""The sandbox's clock: wall time scaled by a speed factor, plus explicit jumps forward."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime


class SandboxClock:
    """Sandbox time in epoch seconds: `speed` sandbox seconds pass per real second, `advance` jumps ahead."""

    # The emulator stamps records with the real wall clock (Kinesis arrival, SQS sent time);
    # `sandbox_time_of` maps such a stamp onto this clock, so ages (record age, batching windows)
    # are measured in sandbox time. Each jump starts a new segment of the piecewise mapping, so a
    # record that arrived before a jump ages by the jump, as it would have in real time.

    def __init__(
        self,
        *,
        speed: float = 1.0,
        start: datetime | None = None,
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self._speed = speed
        self._wall_time = wall_time
        real = wall_time()
        # (real start, sandbox start) of each segment; real starts are increasing.
        self._real_starts: list[float] = [real]
        self._sandbox_starts: list[float] = [start.timestamp() if start is not None else real]
        self._lock = threading.Lock()

    @property
    def speed(self) -> float:
        """Sandbox seconds per real second."""
        return self._speed

    def now(self) -> float:
        """The sandbox time, epoch seconds."""
        with self._lock:
            return self._at(self._wall_time(), len(self._real_starts) - 1)

    def wall_now(self) -> float:
        """The real wall time (epoch seconds) this clock runs from: what handlers' own clocks read."""
        return self._wall_time()

    def now_datetime(self) -> datetime:
        """The sandbox time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        """Jump the sandbox time forward (never back)."""
        if seconds < 0:
            raise ValueError(f"the sandbox clock only moves forward; got {seconds} s")
        with self._lock:
            self._jump(lambda current: current + seconds)

    def advance_to(self, when: datetime) -> None:
        """Jump the sandbox time forward to `when` (no-op when it is already later)."""
        target = when.timestamp()
        with self._lock:  # read and jump at once: two callers cannot both add the difference
            self._jump(lambda current: max(current, target))

    def _jump(self, to: Callable[[float], float]) -> None:
        # A wall clock stepped back (NTP) must not break the increasing segment starts.
        real = max(self._wall_time(), self._real_starts[-1])
        current = self._at(real, len(self._real_starts) - 1)
        self._real_starts.append(real)
        self._sandbox_starts.append(to(current))

    def sandbox_time_of(self, wall_epoch: float) -> float:
        """The sandbox time at the moment the real wall clock read `wall_epoch`."""
        with self._lock:
            # A stamp taken at the very instant of a jump belongs before it.
            segment = max(0, bisect.bisect_left(self._real_starts, wall_epoch) - 1)
            return self._at(wall_epoch, segment)

    def real_seconds(self, sandbox_seconds: float) -> float:
        """How many real seconds a sandbox duration lasts (jumps aside)."""
        return sandbox_seconds / self._speed

    def _at(self, wall_epoch: float, segment: int) -> float:
        return self._sandbox_starts[segment] + (wall_epoch - self._real_starts[segment]) * self._speed


def iso_millis(moment: datetime | float) -> str:
    """An instant (datetime or epoch seconds) as AWS writes it in events: UTC, milliseconds, `Z`."""
    instant = datetime.fromtimestamp(moment, UTC) if isinstance(moment, float | int) else moment
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
