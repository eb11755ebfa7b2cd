"""Lambda's event-source pollers for Kinesis streams and SQS queues, run against the emulator.

Built from a resolved CreateEventSourceMapping request (`Materialized.event_source_mappings`) and
the worker's `LambdaFunction`, each poller does what Lambda's managed poller does:

Kinesis: reads each shard (children after parents), drops records the filter criteria reject
(counted as filtered), batches up to BatchSize or until MaximumBatchingWindowInSeconds passes on the
sandbox clock, invokes with a Lambda Kinesis event, and checkpoints only what succeeded: with
ReportBatchItemFailures, everything before the lowest failed sequence number; a function error
retries the whole batch (halved first when BisectBatchOnFunctionError is set, which costs no retry).
Past MaximumRetryAttempts or MaximumRecordAgeInSeconds the batch's metadata goes to the on-failure
destination and the shard moves on. ParallelizationFactor N splits each shard into N lanes by
partition key (a key's records stay in order on one lane): up to N batches per shard are processed
at once on background threads, each lane with its own retries, bisection and checkpoint (the pool
is sized for the shards at start: after a reshard, lanes may wait for a thread).

SQS: receives up to BatchSize messages with the queue's visibility timeout (scaled by the clock's
speed), deletes the messages the filter rejects (as Lambda does), invokes with a Lambda SQS event,
deletes what succeeded and leaves failures to reappear after the visibility timeout; the queue's
redrive policy (moto's ReceiveMessage) moves a message to its DLQ after maxReceiveCount receives.
`MaximumConcurrency` background threads poll and invoke concurrently (Lambda's default: 5).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from botocore.exceptions import ClientError

from aws_clients import AwsClients
from sandbox.clock import SandboxClock
from sandbox.function import LambdaFunction
from sandbox.polling import PollingThread
from sandbox.record_filter import RecordFilter, json_or_text
from sandbox.shard_lineage import ShardLineage

LOGGER: Final = logging.getLogger("sandbox.pollers")
KINESIS_DEFAULT_BATCH: Final = 100
SQS_DEFAULT_BATCH: Final = 10
SQS_DEFAULT_CONCURRENCY: Final = 5  # Lambda starts with five concurrent SQS pollers
LONG_POLL_SECONDS: Final = 1  # short, so that stopping a poller takes at most a second
UNHANDLED: Final = "Unhandled"
RETRIES_EXHAUSTED: Final = "RetryAttemptsExhausted"
RECORD_TOO_OLD: Final = "RecordAgeExceeded"
_GET_RECORDS_LIMIT: Final = 10_000
_RECEIVE_LIMIT: Final = 10
_DELETE_LIMIT: Final = 10
_LISTING_SECONDS: Final = 1.0
_WINDOW_PAUSE_SECONDS: Final = 0.01
_LANE_WAIT_SECONDS: Final = 0.05


@dataclass(frozen=True, kw_only=True)
class EventSourceMapping:
    """What a poller acts on from a CreateEventSourceMapping request, with Lambda's defaults filled in."""

    function_arn: str
    event_source_arn: str
    batch_size: int
    batching_window_seconds: float = 0.0
    starting_position: str = "LATEST"
    maximum_retry_attempts: int = -1  # -1: until the record expires
    maximum_record_age_seconds: int = -1  # -1: no limit
    bisect_on_function_error: bool = False
    report_batch_item_failures: bool = False
    on_failure_destination: str | None = None
    maximum_concurrency: int | None = None
    parallelization_factor: int = 1
    enabled: bool = True
    record_filter: RecordFilter = field(default_factory=RecordFilter)

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> EventSourceMapping:
        """Read a resolved request (as `materialize` keeps it)."""
        source = str(request["EventSourceArn"])
        queue = _arn_parts(source)[0] == "sqs"
        return cls(
            function_arn=str(request["FunctionName"]),
            event_source_arn=source,
            batch_size=int(
                request.get("BatchSize") or (SQS_DEFAULT_BATCH if queue else KINESIS_DEFAULT_BATCH)
            ),
            batching_window_seconds=float(request.get("MaximumBatchingWindowInSeconds") or 0),
            starting_position=str(request.get("StartingPosition") or "LATEST"),
            maximum_retry_attempts=int(request.get("MaximumRetryAttempts", -1)),
            maximum_record_age_seconds=int(request.get("MaximumRecordAgeInSeconds", -1)),
            bisect_on_function_error=bool(request.get("BisectBatchOnFunctionError", False)),
            report_batch_item_failures="ReportBatchItemFailures"
            in (request.get("FunctionResponseTypes") or []),
            on_failure_destination=((request.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
                "Destination"
            ),
            maximum_concurrency=(request.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            parallelization_factor=int(request.get("ParallelizationFactor") or 1),
            enabled=bool(request.get("Enabled", True)),
            record_filter=RecordFilter.of_mapping(request),
        )


@dataclass(frozen=True)
class BatchResult:
    """How an invocation ended: the identifiers that failed, and whether the handler raised."""

    failed: tuple[str, ...]
    whole_batch: bool
    function_error: str | None = None


def invoke_batch(
    function: LambdaFunction, event: Mapping[str, Any], identifiers: Sequence[str], *, report: bool
) -> BatchResult:
    """Invoke and read the response as Lambda does (`batchItemFailures` only when reported)."""
    try:
        response = function.invoke(event)
    except Exception as error:  # noqa: BLE001 - whatever the handler raises is a function error
        LOGGER.info("%s: function error %s: %s", function.worker, type(error).__name__, error)
        return BatchResult(tuple(identifiers), whole_batch=True, function_error=UNHANDLED)
    if not report:
        return BatchResult((), whole_batch=False)
    failed = reported_failures(response, identifiers)
    if failed is None:
        LOGGER.info("%s: invalid batchItemFailures, the whole batch failed: %r", function.worker, response)
        return BatchResult(tuple(identifiers), whole_batch=True)
    return BatchResult(failed, whole_batch=len(set(failed)) == len(identifiers))


def reported_failures(response: Any, identifiers: Sequence[str]) -> tuple[str, ...] | None:
    """The failed identifiers of a partial batch response; None when Lambda would fail the whole batch."""
    # An empty or absent list (or no response object) is a complete success; an item without a
    # non-empty `itemIdentifier` naming a record of the batch makes the whole batch a failure.
    if not isinstance(response, Mapping):
        return ()
    items = response.get("batchItemFailures")
    if items is None:
        return ()
    if not isinstance(items, list):
        return None
    known = set(identifiers)
    failed: list[str] = []
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not isinstance(identifier, str) or identifier not in known:
            return None
        failed.append(identifier)
    return tuple(failed)


class OnFailureDestination:
    """An SQS queue or SNS topic that receives the metadata of discarded stream batches."""

    def __init__(self, arn: str, clients: AwsClients) -> None:
        self.arn = arn
        self._service, self._account, self._name = _arn_parts(arn)
        if self._service not in ("sns", "sqs"):
            raise ValueError(f"unsupported on-failure destination {arn} (the sandbox sends to SQS or SNS)")
        # Created here: lanes of a ParallelizationFactor send from several threads at once.
        self._client = clients.client(self._service)
        self._lock = threading.Lock()
        self._queue_url: str | None = None

    def send(self, document: Mapping[str, Any]) -> None:
        """Deliver one on-failure record."""
        body = json.dumps(document)
        if self._service == "sns":
            self._client.publish(TopicArn=self.arn, Message=body)
            return
        with self._lock:
            if self._queue_url is None:
                answer = self._client.get_queue_url(
                    QueueName=self._name, QueueOwnerAWSAccountId=self._account
                )
                self._queue_url = str(answer["QueueUrl"])
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)


# --------------------------------------------------------------------------------------------------
# Kinesis
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamRecord:
    """One Kinesis record as read from the shard."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float  # the emulator's wall clock, epoch seconds

    @property
    def position(self) -> int:
        """The sequence number as a number (ordering within the shard)."""
        return int(self.sequence_number)


@dataclass
class _PendingBatch:
    records: list[StreamRecord]
    attempts: int = 0  # failed invocations so far (bisecting costs none)
    invokes: int = 0
    function_error: str | None = None


@dataclass
class _Lane:
    # One of a shard's ParallelizationFactor batch processors. The reader owns `buffer`; whoever
    # processes the lane (the polling thread, or one background task while `busy`) owns `pending`.
    buffer: deque[StreamRecord] = field(default_factory=deque)
    buffered_since: float | None = None  # sandbox time the oldest buffered record was read
    pending: deque[_PendingBatch] = field(default_factory=deque)
    busy: bool = False

    @property
    def empty(self) -> bool:
        return not self.buffer and not self.pending and not self.busy


@dataclass
class _ShardCursor:
    lanes: list[_Lane]
    iterator: str | None = None
    last_read: str | None = None
    ended: bool = False
    caught_up: bool = False  # the last GetRecords returned nothing
    last_read_at: float = -float("inf")  # time.monotonic() of the last GetRecords

    @property
    def buffered(self) -> int:
        return sum(len(lane.buffer) for lane in self.lanes)


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
    ) -> None:
        self.mapping = (
            mapping if isinstance(mapping, EventSourceMapping) else EventSourceMapping.from_request(mapping)
        )
        self.function = function
        # Real seconds between two GetRecords on a shard (Kinesis allows 5 a second per shard, and
        # Lambda's poller reads each shard about once a second when idle); 0 reads on every round.
        self.min_read_interval = min_read_interval
        self._clock = clock
        self._kinesis = clients.client("kinesis")
        self._region = clients.region
        self._stream_name = self.mapping.event_source_arn.rsplit("/", 1)[-1]
        destination = self.mapping.on_failure_destination
        self._destination = OnFailureDestination(destination, clients) if destination else None
        self._lineage = ShardLineage()
        self._cursors: dict[str, _ShardCursor] = {}
        self._initial_shards: set[str] | None = None
        self._next_listing = 0.0
        self._lock = threading.Lock()
        self._thread = PollingThread(f"kinesis:{function.worker}", self.poll_once)
        # With ParallelizationFactor > 1 and a background thread, lanes are processed on this pool;
        # otherwise (factor 1, or `poll_once` pumped by a test) one lane after the other, inline.
        self._executor: ThreadPoolExecutor | None = None
        self._lane_finished = threading.Event()
        self._lane_errors = 0
        # The mapping's starting position applies from its creation, as in AWS.
        with self._lock:
            self._refresh_shards()

    def start(self) -> None:
        """Poll on a background thread (and process lanes on a pool when the factor is above 1)."""
        factor = self.mapping.parallelization_factor
        if factor > 1:
            self._executor = ThreadPoolExecutor(
                max_workers=factor * max(1, len(self._cursors)),
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

    def idle(self) -> bool:
        """Whether every shard was read to its tip and nothing is buffered or waiting for a retry."""
        if not self.mapping.enabled:
            return True
        with self._lock:
            return all(
                (cursor.caught_up or cursor.ended) and all(lane.empty for lane in cursor.lanes)
                for cursor in self._cursors.values()
            )

    def poll_once(self) -> int:
        """One round over the readable shards: read, and at most one batch per lane; work done."""
        if not self.mapping.enabled:
            return 0
        with self._lock:
            if time.monotonic() >= self._next_listing:
                self._refresh_shards()
            readable = self._lineage.readable()
            work = 0
            for shard_id in readable:
                work += self._poll_shard(shard_id)
            busy = any(lane.busy for shard_id in readable for lane in self._cursor(shard_id).lanes)
        if not work and busy:
            # Every lane with work is running: wait for one to finish rather than back off.
            self._lane_finished.wait(_LANE_WAIT_SECONDS)
            self._lane_finished.clear()
            return 1
        return work

    def _cursor(self, shard_id: str) -> _ShardCursor:
        cursor = self._cursors.get(shard_id)
        if cursor is None:
            lanes = [_Lane() for _ in range(self.mapping.parallelization_factor)]
            cursor = self._cursors[shard_id] = _ShardCursor(lanes)
        return cursor

    # ---------------------------------------------------------------------------------------------

    def _refresh_shards(self) -> None:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamName": self._stream_name}
        while True:
            answer = self._kinesis.list_shards(**request)
            shards.extend(answer.get("Shards", []))
            token = answer.get("NextToken")
            if not token:
                break
            request = {"NextToken": token}
        self._lineage.update(
            (shard["ShardId"], [shard.get("ParentShardId"), shard.get("AdjacentParentShardId")])
            for shard in shards
        )
        self._next_listing = time.monotonic() + _LISTING_SECONDS
        first_listing = self._initial_shards is None
        if first_listing:
            self._initial_shards = {shard["ShardId"] for shard in shards}
        for shard in shards:
            cursor = self._cursor(shard["ShardId"])
            if cursor.iterator is None and not cursor.ended and first_listing:
                cursor.iterator = self._new_iterator(shard["ShardId"], cursor)

    def _new_iterator(self, shard_id: str, cursor: _ShardCursor) -> str:
        position: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
        if cursor.last_read is not None:
            position = {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": cursor.last_read,
            }
        elif shard_id in (self._initial_shards or set()):
            position = {"ShardIteratorType": self.mapping.starting_position}
        answer = self._kinesis.get_shard_iterator(StreamName=self._stream_name, ShardId=shard_id, **position)
        return str(answer["ShardIterator"])

    def _poll_shard(self, shard_id: str) -> int:
        cursor = self._cursor(shard_id)
        work = 0
        readable = time.monotonic() - cursor.last_read_at >= self.min_read_interval
        if readable and cursor.buffered < self.mapping.batch_size * len(cursor.lanes) and not cursor.ended:
            work += self._read(shard_id, cursor)
        for lane in cursor.lanes:
            if lane.busy:
                continue
            if not lane.pending:
                batch = self._next_batch(lane)
                if batch:
                    lane.pending.append(_PendingBatch(batch))
            if not lane.pending:
                continue
            if self._executor is None:
                work += self._process(shard_id, lane)
            else:
                lane.busy = True
                work += len(lane.pending[0].records)  # before the lane's task may consume it
                self._executor.submit(self._process_in_background, shard_id, lane)
        if cursor.ended and all(lane.empty for lane in cursor.lanes):
            self._lineage.finish(shard_id)
        return work

    def _process_in_background(self, shard_id: str, lane: _Lane) -> None:
        try:
            self._process(shard_id, lane)
        except Exception:  # an emulator error (the function's own errors are results): retried next round
            LOGGER.exception("%s: lane of %s failed", self.function.worker, shard_id)
            with self._lock:
                self._lane_errors += 1
        finally:
            with self._lock:
                lane.busy = False
            self._lane_finished.set()

    def _read(self, shard_id: str, cursor: _ShardCursor) -> int:
        if cursor.iterator is None:
            cursor.iterator = self._new_iterator(shard_id, cursor)
        cursor.last_read_at = time.monotonic()
        try:
            answer = self._kinesis.get_records(ShardIterator=cursor.iterator, Limit=_GET_RECORDS_LIMIT)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExpiredIteratorException":
                raise
            cursor.iterator = None
            return 0
        cursor.iterator = answer.get("NextShardIterator")
        cursor.ended = cursor.iterator is None
        cursor.caught_up = not answer.get("Records")
        records = [
            StreamRecord(
                shard_id=shard_id,
                sequence_number=item["SequenceNumber"],
                partition_key=item["PartitionKey"],
                data=bytes(item["Data"]),
                arrival=_epoch(item.get("ApproximateArrivalTimestamp")),
            )
            for item in answer.get("Records", [])
        ]
        if not records:
            return 0
        cursor.last_read = records[-1].sequence_number
        passing = [
            record for record in records if self.mapping.record_filter.matches(self._filter_subject(record))
        ]
        if len(passing) < len(records):
            self.function.counters.add(records_filtered=len(records) - len(passing))
        now = self._clock.now()
        lanes = cursor.lanes
        for record in passing:
            lane = lanes[zlib.crc32(record.partition_key.encode()) % len(lanes)]
            if not lane.buffer:
                lane.buffered_since = now
            lane.buffer.append(record)
        return len(records)

    def _next_batch(self, lane: _Lane) -> list[StreamRecord]:
        if not lane.buffer:
            return []
        full = len(lane.buffer) >= self.mapping.batch_size
        waited = self._clock.now() - (lane.buffered_since or 0.0)
        if not full and waited < self.mapping.batching_window_seconds:
            return []
        count = min(self.mapping.batch_size, len(lane.buffer))
        batch = [lane.buffer.popleft() for _ in range(count)]
        # The next batch gathers from now on (its window starts now), with what is left as its head.
        lane.buffered_since = self._clock.now() if lane.buffer else None
        return batch

    def _process(self, shard_id: str, lane: _Lane) -> int:
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
            self.event(shard_id, records),
            identifiers,
            report=self.mapping.report_batch_item_failures,
        )
        batch.invokes += 1
        counters = self.function.counters
        if not result.failed:
            counters.add(records_processed=len(records))
            pending.popleft()
            return len(records)
        batch.function_error = result.function_error
        if not result.whole_batch:
            # Checkpoint before the lowest failed sequence number; retry from it (Kinesis semantics).
            lowest = min(int(identifier) for identifier in result.failed)
            done = [record for record in records if record.position < lowest]
            counters.add(records_processed=len(done), records_failed=len(records) - len(done))
            batch.records = records[len(done) :]
        else:
            counters.add(records_failed=len(records))
            if result.function_error and self.mapping.bisect_on_function_error and len(records) > 1:
                middle = (len(records) + 1) // 2
                pending.popleft()
                for half in (records[middle:], records[:middle]):
                    pending.appendleft(
                        _PendingBatch(half, batch.attempts, batch.invokes, batch.function_error)
                    )
                return len(records)
        batch.attempts += 1
        limit = self.mapping.maximum_retry_attempts
        if limit >= 0 and batch.attempts > limit:
            self._discard(shard_id, batch, batch.records, RETRIES_EXHAUSTED)
            pending.popleft()
        return len(records)

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
        self, shard_id: str, batch: _PendingBatch, records: Sequence[StreamRecord], condition: str
    ) -> None:
        self.function.counters.add(records_discarded=len(records))
        LOGGER.warning(
            "%s: %d records of %s discarded (%s)", self.function.worker, len(records), shard_id, condition
        )
        if self._destination is not None:
            self._destination.send(self.on_failure_record(shard_id, batch, records, condition))

    def on_failure_record(
        self, shard_id: str, batch: _PendingBatch, records: Sequence[StreamRecord], condition: str
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
            "timestamp": _iso_millis(self._clock.now()),
            "KinesisBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first.sequence_number,
                "endSequenceNumber": last.sequence_number,
                # On the sandbox clock, like `timestamp` (the emulator stamps arrivals in real time).
                "approximateArrivalOfFirstRecord": _iso_millis(self._clock.sandbox_time_of(first.arrival)),
                "approximateArrivalOfLastRecord": _iso_millis(self._clock.sandbox_time_of(last.arrival)),
                "batchSize": len(records),
                "streamArn": self.mapping.event_source_arn,
            },
        }

    def event(self, shard_id: str, records: Sequence[StreamRecord]) -> dict[str, Any]:
        """The Lambda event for a batch of Kinesis records."""
        return {
            "Records": [
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": record.partition_key,
                        "sequenceNumber": record.sequence_number,
                        "data": base64.b64encode(record.data).decode(),
                        "approximateArrivalTimestamp": round(record.arrival, 3),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{shard_id}:{record.sequence_number}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": self.function.settings.role_arn,
                    "awsRegion": self._region,
                    "eventSourceARN": self.mapping.event_source_arn,
                }
                for record in records
            ]
        }

    @staticmethod
    def _filter_subject(record: StreamRecord) -> dict[str, Any]:
        # Lambda filters Kinesis records on their metadata and `data` (decoded, parsed when JSON).
        return {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.partition_key,
            "sequenceNumber": record.sequence_number,
            "approximateArrivalTimestamp": record.arrival,
            "data": json_or_text(record.data.decode("utf-8", errors="replace")),
        }


# --------------------------------------------------------------------------------------------------
# SQS
# --------------------------------------------------------------------------------------------------


class SqsPoller:
    """Lambda's SQS poller for one mapping: receive, filter (delete), invoke, delete what succeeded."""

    def __init__(
        self,
        mapping: EventSourceMapping | Mapping[str, Any],
        function: LambdaFunction,
        clients: AwsClients,
        clock: SandboxClock,
    ) -> None:
        self.mapping = (
            mapping if isinstance(mapping, EventSourceMapping) else EventSourceMapping.from_request(mapping)
        )
        self.function = function
        self._clock = clock
        self._sqs = clients.client("sqs")
        self._region = clients.region
        _, account, name = _arn_parts(self.mapping.event_source_arn)
        self.queue_url = str(
            self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        )
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"]
        )
        self.queue_visibility_timeout = int(attributes["Attributes"].get("VisibilityTimeout", 30))
        concurrency = self.mapping.maximum_concurrency or SQS_DEFAULT_CONCURRENCY
        self._threads = [
            PollingThread(f"sqs:{function.worker}:{index}", self._long_poll) for index in range(concurrency)
        ]

    @property
    def visibility_timeout(self) -> int:
        """What each receive asks for, in real seconds: the queue's timeout (sandbox time) over the speed."""
        return math.ceil(self._clock.real_seconds(self.queue_visibility_timeout))

    def start(self) -> None:
        """Poll on `MaximumConcurrency` background threads."""
        for thread in self._threads:
            thread.start()

    def stop(self, *, wait: bool = True) -> None:
        """Stop the background threads (after their current rounds, when waiting)."""
        for thread in self._threads:
            thread.stop(wait=False)  # all at once: each may be in a long poll
        if wait:
            for thread in self._threads:
                thread.stop()

    @property
    def errors(self) -> int:
        """Failed background rounds (emulator errors, not function errors)."""
        return sum(thread.errors for thread in self._threads)

    def idle(self) -> bool:
        """Whether the queue holds no message, visible, in flight or delayed."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return all(int(value) == 0 for value in attributes.values())

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive a batch (long-polling `wait_seconds` for the first message), invoke; how many received."""
        if not self.mapping.enabled:
            return 0
        messages = self._receive(wait_seconds)
        if not messages:
            return 0
        records = [self.record(message) for message in messages]
        passing: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for record in records:
            matches = self.mapping.record_filter.matches(_sqs_filter_subject(record))
            (passing if matches else rejected).append(record)
        if rejected:
            self._delete(rejected)  # Lambda deletes the messages its filter rejects
            self.function.counters.add(records_filtered=len(rejected))
        if passing:
            self._invoke(passing)
        return len(records)

    def _invoke(self, records: list[dict[str, Any]]) -> None:
        identifiers = [record["messageId"] for record in records]
        result = invoke_batch(
            self.function, {"Records": records}, identifiers, report=self.mapping.report_batch_item_failures
        )
        failed = set(result.failed)
        succeeded = [record for record in records if record["messageId"] not in failed]
        if succeeded:
            self._delete(succeeded)
        # Failures stay in the queue: visible again after the timeout, to the DLQ after maxReceiveCount.
        self.function.counters.add(
            records_processed=len(succeeded), records_failed=len(records) - len(succeeded)
        )

    def _long_poll(self) -> int:
        # Long polling, as Lambda's pollers do: an idle queue costs one request per second per thread.
        return self.poll_once(wait_seconds=LONG_POLL_SECONDS)

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        started = self._clock.now()
        while len(messages) < self.mapping.batch_size:
            answer = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(_RECEIVE_LIMIT, self.mapping.batch_size - len(messages)),
                VisibilityTimeout=self.visibility_timeout,
                WaitTimeSeconds=0 if messages else wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = answer.get("Messages", [])
            messages.extend(received)
            if received:
                continue
            if not messages or self._clock.now() - started >= self.mapping.batching_window_seconds:
                break
            time.sleep(_WINDOW_PAUSE_SECONDS)  # gather until the batching window closes
        return messages

    def _delete(self, records: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(records), _DELETE_LIMIT):
            chunk = records[start : start + _DELETE_LIMIT]
            answer = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                    for index, record in enumerate(chunk)
                ],
            )
            for failure in answer.get("Failed", []):
                LOGGER.warning("%s: delete failed: %s", self.function.worker, failure)

    def record(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """A received SQS message → the record of a Lambda SQS event."""
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _lambda_message_attribute(value)
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        record.update(
            {
                "eventSource": "aws:sqs",
                "eventSourceARN": self.mapping.event_source_arn,
                "awsRegion": self._region,
            }
        )
        return record


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """SQS's MessageAttributeValue (StringValue, DataType …) in the Lambda event's lowercase shape."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(bytes(value["BinaryValue"])).decode()
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [
        base64.b64encode(bytes(item)).decode() for item in value.get("BinaryListValues", [])
    ]
    attribute["dataType"] = value.get("DataType", "String")
    return attribute


def _sqs_filter_subject(record: Mapping[str, Any]) -> dict[str, Any]:
    # Lambda filters SQS records on their fields, with `body` parsed when it is a JSON object.
    return {**record, "body": json_or_text(str(record.get("body", "")))}


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(service, account, last name segment) of an ARN."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[2], parts[4], parts[5].rsplit("/", 1)[-1]


def _epoch(value: datetime | float | None) -> float:
    if value is None:
        return time.time()
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _iso_millis(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
