"""Lambda's event-source pollers for Kinesis streams and SQS queues, run against the emulator.

Built from a resolved CreateEventSourceMapping request (`Materialized.event_source_mappings`, read
into an `EventSourceMapping`) and the worker's `LambdaFunction`, each poller does what Lambda's
managed poller does:

Kinesis (`kinesis.KinesisPoller`): reads each shard, children after parents (`kinesis_shards`),
drops records the filter criteria reject (counted as filtered), batches up to BatchSize or until
MaximumBatchingWindowInSeconds passes on the sandbox clock, invokes with a Lambda Kinesis event, and
checkpoints only what succeeded (`kinesis_lane_policy`): with ReportBatchItemFailures, everything
before the lowest failed sequence number; a function error retries the whole batch (halved first
when BisectBatchOnFunctionError is set, which costs no retry). Past MaximumRetryAttempts or
MaximumRecordAgeInSeconds the batch's metadata goes to the on-failure destination and the shard
moves on. ParallelizationFactor N splits each shard into N lanes by partition key (`kinesis_lanes`;
a key's records stay in order on one lane): up to N batches per shard are processed at once on
background threads, each lane with its own retries, bisection and checkpoint (the pool is sized for
the shards at start: after a reshard, lanes may wait for a thread).

SQS (`sqs.SqsPoller`): receives up to BatchSize messages with the queue's visibility timeout (scaled
by the clock's speed), deletes the messages the filter rejects (as Lambda does), invokes with a Lambda
SQS event, deletes what succeeded and leaves failures to reappear after the visibility timeout; the
queue's redrive policy (moto's ReceiveMessage) moves a message to its DLQ after maxReceiveCount
receives. `MaximumConcurrency` background threads poll and invoke concurrently (Lambda's default: 5).

Both poll only while their mapping is enabled: the request's `Enabled`, and (given a `state`, as the
sandbox does) the mapping's live state in the emulator, so `dmd maintenance start` pauses them.
"""

from sandbox.pollers.batch import UNHANDLED, BatchResult, invoke_batch, reported_failures
from sandbox.pollers.kinesis import KinesisPoller
from sandbox.pollers.kinesis_lane_policy import RECORD_TOO_OLD, RETRIES_EXHAUSTED
from sandbox.pollers.kinesis_records import StreamRecord
from sandbox.pollers.mapping import EventSourceMapping
from sandbox.pollers.on_failure import OnFailureDestination
from sandbox.pollers.record_filter import RecordFilter
from sandbox.pollers.sqs import SqsPoller

__all__ = [
    "RECORD_TOO_OLD",
    "RETRIES_EXHAUSTED",
    "UNHANDLED",
    "BatchResult",
    "EventSourceMapping",
    "KinesisPoller",
    "OnFailureDestination",
    "RecordFilter",
    "SqsPoller",
    "StreamRecord",
    "invoke_batch",
    "reported_failures",
]
