"""Where a Kinesis shard's reading stands: its cursor, and the ParallelizationFactor lanes it feeds."""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from sandbox.clock import SandboxClock
from sandbox.pollers.kinesis_records import StreamRecord


@dataclass
class PendingBatch:
    """A batch taken from a lane and not finished yet: its records left, attempts and invocations."""

    records: list[StreamRecord]
    attempts: int = 0  # failed invocations so far (bisecting costs none)
    invokes: int = 0
    function_error: str | None = None


@dataclass
class Lane:
    """One of a shard's ParallelizationFactor batch processors: records buffered, batches pending."""

    # The reader owns `buffer`; whoever processes the lane (the polling thread, or one background task
    # while `busy`) owns `pending`.
    buffer: deque[StreamRecord] = field(default_factory=deque)
    buffered_since: float | None = None  # sandbox time the oldest buffered record was read
    pending: deque[PendingBatch] = field(default_factory=deque)
    busy: bool = False

    @property
    def empty(self) -> bool:
        """Whether nothing is buffered, pending or being processed."""
        return not self.buffer and not self.pending and not self.busy

    def take_batch(self, batch_size: int, window_seconds: float, clock: SandboxClock) -> list[StreamRecord]:
        """The next batch once it is full or its batching window closed; else nothing."""
        if not self.buffer:
            return []
        full = len(self.buffer) >= batch_size
        waited = clock.now() - (self.buffered_since or 0.0)
        if not full and waited < window_seconds:
            return []
        count = min(batch_size, len(self.buffer))
        batch = [self.buffer.popleft() for _ in range(count)]
        # The next batch gathers from now on (its window starts now), with what is left as its head.
        self.buffered_since = clock.now() if self.buffer else None
        return batch


@dataclass
class ShardCursor:
    """A shard's iterator and reading state, and its lanes."""

    lanes: list[Lane]
    iterator: str | None = None
    last_read: str | None = None
    ended: bool = False
    caught_up: bool = False  # the last GetRecords returned nothing
    last_read_at: float = -float("inf")  # time.monotonic() of the last GetRecords

    @property
    def buffered(self) -> int:
        """Records read and not yet taken into a batch, over all lanes."""
        return sum(len(lane.buffer) for lane in self.lanes)

    @property
    def finished(self) -> bool:
        """Whether the shard was read to its end and every lane is empty."""
        return self.ended and all(lane.empty for lane in self.lanes)

    @property
    def drained(self) -> bool:
        """Whether the shard was read to its tip (or end) and every lane is empty."""
        return (self.caught_up or self.ended) and all(lane.empty for lane in self.lanes)

    def distribute(self, records: Sequence[StreamRecord], now: float) -> None:
        """Buffer records on their lanes by partition key (a key's records stay in order on one lane)."""
        lanes = self.lanes
        for record in records:
            lane = lanes[zlib.crc32(record.partition_key.encode()) % len(lanes)]
            if not lane.buffer:
                lane.buffered_since = now
            lane.buffer.append(record)
