"""Lambda's Kinesis poller for one mapping: reads the shards, feeds the lanes, runs their batches."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from aws_clients import AwsClients
from sandbox.clock import SandboxClock
from sandbox.function import LambdaFunction
from sandbox.pollers.kinesis_lane_policy import LanePolicy
from sandbox.pollers.kinesis_lanes import Lane, PendingBatch, ShardCursor
from sandbox.pollers.kinesis_records import StreamRecord, filter_subject, kinesis_event
from sandbox.pollers.kinesis_shards import ShardReader
from sandbox.pollers.mapping import EventSourceMapping
from sandbox.pollers.on_failure import OnFailureDestination
from sandbox.polling import PollingThread
from sandbox.trigger_state import TriggerState

LOGGER: Final = logging.getLogger("sandbox.pollers")
_LANE_WAIT_SECONDS: Final = 0.05


class KinesisPoller:
    """Lambda's Kinesis poller for one mapping: filter, batch, invoke, checkpoint, retry, bisect, discard."""

    def __init__(
        self,
        mapping: EventSourceMapping | Mapping[str, Any],
        function: LambdaFunction,
        clients: AwsClients,
        clock: SandboxClock,
        *,
        min_read_interval: float = 0.0,
        state: TriggerState | None = None,
    ) -> None:
        self.mapping = EventSourceMapping.of(mapping)
        self.function = function
        # The mapping's live state in the emulator: while it is disabled, nothing is read or invoked
        # (batches already buffered wait, and go on from their checkpoint once it is enabled again).
        self._state = state
        # Real seconds between two GetRecords on a shard (Kinesis allows 5 a second per shard, and
        # Lambda's poller reads each shard about once a second when idle); 0 reads on every round.
        self.min_read_interval = min_read_interval
        self._clock = clock
        self._region = clients.region
        self._reader = ShardReader(
            clients.client("kinesis"),
            self.mapping.event_source_arn.rsplit("/", 1)[-1],
            starting_position=self.mapping.starting_position,
            lanes_per_shard=self.mapping.parallelization_factor,
        )
        destination = self.mapping.on_failure_destination
        self._policy = LanePolicy(
            self.mapping,
            function,
            clock,
            OnFailureDestination(destination, clients) if destination else None,
            self.event,
        )
        self._lock = threading.Lock()
        self._thread = PollingThread(f"kinesis:{function.worker}", self.poll_once)
        # With ParallelizationFactor > 1 and a background thread, lanes are processed on this pool;
        # otherwise (factor 1, or `poll_once` pumped by a test) one lane after the other, inline.
        self._executor: ThreadPoolExecutor | None = None
        self._lane_finished = threading.Event()
        self._lane_errors = 0
        # The mapping's starting position applies from its creation, as in AWS.
        with self._lock:
            self._reader.refresh()

    def start(self) -> None:
        """Poll on a background thread (and process lanes on a pool when the factor is above 1)."""
        factor = self.mapping.parallelization_factor
        if factor > 1:
            self._executor = ThreadPoolExecutor(
                max_workers=factor * max(1, len(self._reader.cursors)),
                thread_name_prefix=f"kinesis:{self.function.worker}:lane",
            )
        self._thread.start()

    def stop(self, *, wait: bool = True) -> None:
        """Stop the background thread (after its current round, when waiting), then the lanes' pool."""
        self._thread.stop(wait=wait)
        if wait and self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    @property
    def errors(self) -> int:
        """Failed background rounds and lane runs (emulator errors, not function errors)."""
        return self._thread.errors + self._lane_errors

    @property
    def enabled(self) -> bool:
        """Whether the mapping polls: enabled when created and (when its live state is known) now."""
        return self.mapping.enabled and (self._state is None or self._state.enabled())

    def idle(self) -> bool:
        """Whether every shard was read to its tip and nothing is buffered or waiting for a retry."""
        if not self.enabled:
            return True
        with self._lock:
            return all(cursor.drained for cursor in self._reader.cursors)

    def poll_once(self) -> int:
        """One round over the readable shards: read, and at most one batch per lane; work done."""
        if not self.enabled:
            return 0
        with self._lock:
            if self._reader.listing_due():
                self._reader.refresh()
            readable = self._reader.readable()
            work = 0
            for shard_id in readable:
                work += self._poll_shard(shard_id)
            busy = any(lane.busy for shard_id in readable for lane in self._reader.cursor(shard_id).lanes)
        if not work and busy:
            # Every lane with work is running: wait for one to finish rather than back off.
            self._lane_finished.wait(_LANE_WAIT_SECONDS)
            self._lane_finished.clear()
            return 1
        return work

    def event(self, shard_id: str, records: Sequence[StreamRecord]) -> dict[str, Any]:
        """The Lambda event for a batch of Kinesis records."""
        return kinesis_event(
            shard_id,
            records,
            source_arn=self.mapping.event_source_arn,
            role_arn=self.function.settings.role_arn,
            region=self._region,
        )

    def _poll_shard(self, shard_id: str) -> int:
        cursor = self._reader.cursor(shard_id)
        work = 0
        readable = time.monotonic() - cursor.last_read_at >= self.min_read_interval
        if readable and cursor.buffered < self.mapping.batch_size * len(cursor.lanes) and not cursor.ended:
            work += self._read(shard_id, cursor)
        for lane in cursor.lanes:
            if lane.busy:
                continue
            if not lane.pending:
                batch = lane.take_batch(
                    self.mapping.batch_size, self.mapping.batching_window_seconds, self._clock
                )
                if batch:
                    lane.pending.append(PendingBatch(batch))
            if not lane.pending:
                continue
            if self._executor is None:
                work += self._policy.process(shard_id, lane)
            else:
                lane.busy = True
                work += len(lane.pending[0].records)  # before the lane's task may consume it
                self._executor.submit(self._process_in_background, shard_id, lane)
        if cursor.finished:
            self._reader.finish(shard_id)
        return work

    def _read(self, shard_id: str, cursor: ShardCursor) -> int:
        records = self._reader.read(shard_id, cursor)
        if not records:
            return 0
        passing = [record for record in records if self.mapping.record_filter.matches(filter_subject(record))]
        if len(passing) < len(records):
            self.function.counters.add(records_filtered=len(records) - len(passing))
        cursor.distribute(passing, self._clock.now())
        return len(records)

    def _process_in_background(self, shard_id: str, lane: Lane) -> None:
        try:
            self._policy.process(shard_id, lane)
        except Exception:  # an emulator error (the function's own errors are results): retried next round
            LOGGER.exception("%s: lane of %s failed", self.function.worker, shard_id)
            with self._lock:
                self._lane_errors += 1
        finally:
            with self._lock:
                lane.busy = False
            self._lane_finished.set()
