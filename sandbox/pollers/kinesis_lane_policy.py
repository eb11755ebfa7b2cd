"""What Lambda does with a Kinesis lane's next batch: expire, invoke, checkpoint, bisect, retry, discard."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

from sandbox.clock import SandboxClock, iso_millis
from sandbox.function import LambdaFunction
from sandbox.pollers.batch import BatchResult, invoke_batch
from sandbox.pollers.kinesis_lanes import Lane, PendingBatch
from sandbox.pollers.kinesis_records import StreamRecord
from sandbox.pollers.mapping import EventSourceMapping
from sandbox.pollers.on_failure import OnFailureDestination

LOGGER: Final = logging.getLogger("sandbox.pollers")
RETRIES_EXHAUSTED: Final = "RetryAttemptsExhausted"
RECORD_TOO_OLD: Final = "RecordAgeExceeded"

# (shard id, records) → the Lambda event of that batch.
EventBuilder = Callable[[str, Sequence[StreamRecord]], dict[str, Any]]


class LanePolicy:
    """Runs a lane's first pending batch once and applies the mapping's checkpoint and retry rules."""

    # Kinesis semantics: with ReportBatchItemFailures, everything before the lowest failed sequence
    # number is checkpointed and the batch retried from it; a function error retries the whole batch,
    # halved first when BisectBatchOnFunctionError is set (which costs no retry). Past
    # MaximumRetryAttempts or MaximumRecordAgeInSeconds the records go to the on-failure destination.

    def __init__(
        self,
        mapping: EventSourceMapping,
        function: LambdaFunction,
        clock: SandboxClock,
        destination: OnFailureDestination | None,
        event: EventBuilder,
    ) -> None:
        self.mapping = mapping
        self.function = function
        self._clock = clock
        self._destination = destination
        self._event = event

    def process(self, shard_id: str, lane: Lane) -> int:
        """Invoke the lane's first pending batch once and act on the result; the records handled."""
        pending = lane.pending
        batch = pending[0]
        expired = self._expired(batch.records)
        if expired:
            self._discard(shard_id, batch, expired, RECORD_TOO_OLD)
            batch.records = batch.records[len(expired) :]
            if not batch.records:
                pending.popleft()
                return len(expired)
        records = batch.records
        identifiers = [record.sequence_number for record in records]
        result = invoke_batch(
            self.function,
            self._event(shard_id, records),
            identifiers,
            report=self.mapping.report_batch_item_failures,
        )
        batch.invokes += 1
        if not result.failed:
            self.function.counters.add(records_processed=len(records))
            pending.popleft()
            return len(records)
        batch.function_error = result.function_error
        if result.whole_batch:
            self.function.counters.add(records_failed=len(records))
            if self._bisects(result, records):
                self._bisect(lane)
                return len(records)
        else:
            self._checkpoint(batch, result)
        batch.attempts += 1
        limit = self.mapping.maximum_retry_attempts
        if limit >= 0 and batch.attempts > limit:
            self._discard(shard_id, batch, batch.records, RETRIES_EXHAUSTED)
            pending.popleft()
        return len(records)

    def _checkpoint(self, batch: PendingBatch, result: BatchResult) -> None:
        # Checkpoint before the lowest failed sequence number; retry from it (Kinesis semantics).
        records = batch.records
        lowest = min(int(identifier) for identifier in result.failed)
        done = [record for record in records if record.position < lowest]
        self.function.counters.add(records_processed=len(done), records_failed=len(records) - len(done))
        batch.records = records[len(done) :]

    def _bisects(self, result: BatchResult, records: Sequence[StreamRecord]) -> bool:
        return bool(result.function_error) and self.mapping.bisect_on_function_error and len(records) > 1

    @staticmethod
    def _bisect(lane: Lane) -> None:
        # The halves replace the batch, first half first, each keeping its attempts (halving is free).
        batch = lane.pending.popleft()
        records = batch.records
        middle = (len(records) + 1) // 2
        for half in (records[middle:], records[:middle]):
            lane.pending.appendleft(PendingBatch(half, batch.attempts, batch.invokes, batch.function_error))

    def _expired(self, records: Sequence[StreamRecord]) -> list[StreamRecord]:
        limit = self.mapping.maximum_record_age_seconds
        if limit < 0:
            return []
        now = self._clock.now()
        expired: list[StreamRecord] = []
        for record in records:  # arrival order: the expired ones are a prefix
            if now - self._clock.sandbox_time_of(record.arrival) <= limit:
                break
            expired.append(record)
        return expired

    def _discard(
        self, shard_id: str, batch: PendingBatch, records: Sequence[StreamRecord], condition: str
    ) -> None:
        self.function.counters.add(records_discarded=len(records))
        LOGGER.warning(
            "%s: %d records of %s discarded (%s)", self.function.worker, len(records), shard_id, condition
        )
        if self._destination is not None:
            self._destination.send(self.on_failure_record(shard_id, batch, records, condition))

    def on_failure_record(
        self, shard_id: str, batch: PendingBatch, records: Sequence[StreamRecord], condition: str
    ) -> dict[str, Any]:
        """The metadata Lambda sends to an on-failure destination for a discarded Kinesis batch."""
        first, last = records[0], records[-1]
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.mapping.function_arn,
                "condition": condition,
                "approximateInvokeCount": batch.invokes,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": self.function.settings.version,
                "functionError": batch.function_error,
            },
            "version": "1.0",
            "timestamp": iso_millis(self._clock.now()),
            "KinesisBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first.sequence_number,
                "endSequenceNumber": last.sequence_number,
                # On the sandbox clock, like `timestamp` (the emulator stamps arrivals in real time).
                "approximateArrivalOfFirstRecord": iso_millis(self._clock.sandbox_time_of(first.arrival)),
                "approximateArrivalOfLastRecord": iso_millis(self._clock.sandbox_time_of(last.arrival)),
                "batchSize": len(records),
                "streamArn": self.mapping.event_source_arn,
            },
        }
