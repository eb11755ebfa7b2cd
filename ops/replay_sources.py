"""Where a replay reads: a stream's shards (by time or sequence range) and a worker's on-failure queue.

An on-failure message is Lambda's record of a Kinesis batch it gave up on: metadata only
(`KinesisBatchInfo`: shard, first and last sequence number, stream), the records stay in the stream
for its retention. A parked record (`workers/shared/parking.py`: the worker's own message, attribute
`dmdParked=1`, body `{"parked": {...}}`) holds the record itself, so it is re-driven from its payload
whatever the stream still keeps. Messages are held invisible while their range is replayed, and
deleted only when the caller says the range succeeded.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandbox.pollers.kinesis_records import StreamRecord
from sandbox.shard_lineage import ShardLineage, lineage_of, listed_shards
from workers.shared.parking import ParkedRecord, parked_record

# On-failure messages stay invisible this long while their range is replayed (renewed per range);
# if the replay dies, they are back on the queue after it.
HOLD_SECONDS: Final = 900
_GET_RECORDS_LIMIT: Final = 10_000
_EMPTY_READ_PAUSE_SECONDS: Final = 0.2
_TRIMMED_CODES: Final = frozenset({"InvalidArgumentException", "ResourceNotFoundException"})


class MissingQueueError(Exception):
    """The on-failure queue does not exist."""


class KinesisBatchInfo(BaseModel):
    """The discarded batch's position, as Lambda's on-failure record gives it."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    shard_id: str = Field(alias="shardId", min_length=1)
    start_sequence_number: str = Field(alias="startSequenceNumber", pattern=r"^\d+$")
    end_sequence_number: str = Field(alias="endSequenceNumber", pattern=r"^\d+$")
    approximate_arrival_of_first_record: datetime | None = Field(
        default=None, alias="approximateArrivalOfFirstRecord"
    )
    approximate_arrival_of_last_record: datetime | None = Field(
        default=None, alias="approximateArrivalOfLastRecord"
    )
    batch_size: int = Field(alias="batchSize", ge=1)
    stream_arn: str = Field(alias="streamArn")


class FailureContext(BaseModel):
    """Why Lambda gave the batch up (`requestContext`)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    condition: str | None = None
    approximate_invoke_count: int | None = Field(default=None, alias="approximateInvokeCount")


class OnFailureRecord(BaseModel):
    """Lambda's on-failure record of a Kinesis batch (metadata only: the records stay in the stream)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    request_context: FailureContext = Field(alias="requestContext")
    timestamp: datetime | None = None
    batch: KinesisBatchInfo = Field(alias="KinesisBatchInfo")


@dataclass(frozen=True)
class FailureMessage:
    """One message of an on-failure queue: Lambda's record, a parked record, or why it is neither."""

    message_id: str
    receipt_handle: str
    record: OnFailureRecord | None
    problem: str | None = None
    parked: ParkedRecord | None = None


def parked_stream_record(parked: ParkedRecord) -> StreamRecord:
    """The Kinesis record a parked record holds, as read from its shard (ValueError if it holds none)."""
    kinesis = parked.record.get("kinesis")
    if parked.source.kind != "kinesis" or not isinstance(kinesis, dict) or not parked.source.shard_id:
        raise ValueError("the parked record is not a Kinesis record with its shard")
    try:
        arrival = kinesis.get("approximateArrivalTimestamp")
        if not str(kinesis["sequenceNumber"]).isdigit():
            raise ValueError(f"sequence number {str(kinesis['sequenceNumber'])[:60]!r} is not a number")
        return StreamRecord(
            shard_id=parked.source.shard_id,
            sequence_number=str(kinesis["sequenceNumber"]),
            partition_key=str(kinesis.get("partitionKey", "")),
            data=base64.b64decode(str(kinesis["data"]), validate=True),
            arrival=float(arrival) if arrival is not None else parked.parked_at.timestamp(),
        )
    except (KeyError, binascii.Error, TypeError, ValueError) as error:
        raise ValueError(f"the parked record's Kinesis payload is unreadable: {error}") from None


class RangeUnavailableError(Exception):
    """An on-failure range the stream no longer holds in full; `kind` is trimmed or incomplete."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


class StreamReader:
    """One Kinesis stream's shards and records, read from a time or a sequence number."""

    def __init__(self, kinesis: Any, stream_arn: str, *, pause: Callable[[float], None] = time.sleep) -> None:
        self._kinesis = kinesis
        self.stream_arn = stream_arn
        self.stream_name = stream_arn.rsplit("/", 1)[-1]
        self._pause = pause
        # Told how many records each GetRecords answered (the command's progress while reading).
        self.on_read: Callable[[int], None] = _ignore

    def retention(self) -> timedelta:
        """How long the stream keeps its records."""
        summary = self._kinesis.describe_stream_summary(StreamName=self.stream_name)
        return timedelta(hours=int(summary["StreamDescriptionSummary"]["RetentionPeriodHours"]))

    def shards(self) -> list[str]:
        """Every shard still listed (closed ones too), parents before their children."""
        shards = listed_shards(self._kinesis, self.stream_name)
        lineage = ShardLineage()
        lineage.update(lineage_of(shards))
        ordered: list[str] = []
        while readable := lineage.readable():
            for shard_id in readable:
                ordered.append(shard_id)
                lineage.finish(shard_id)
        return ordered

    def records_between(self, shard_id: str, start: datetime, end: datetime) -> Iterator[StreamRecord]:
        """The shard's records that arrived from `start` to `end`."""
        iterator = self._iterator(shard_id, ShardIteratorType="AT_TIMESTAMP", Timestamp=start)
        last = end.timestamp()
        for record in self._records(shard_id, iterator):
            if record.arrival > last:
                return
            yield record

    def records_in_range(self, shard_id: str, first: str, last: str) -> list[StreamRecord]:
        """The shard's records from sequence number `first` to `last`; RangeUnavailableError if gone."""
        try:
            iterator = self._iterator(
                shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=first
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _TRIMMED_CODES:
                raise
            raise RangeUnavailableError(
                "trimmed", f"{shard_id} no longer holds {first}: {error.response['Error'].get('Message')}"
            ) from None
        end = int(last)
        found: list[StreamRecord] = []
        for record in self._records(shard_id, iterator):
            if not found and record.sequence_number != first:
                raise RangeUnavailableError(
                    "trimmed", f"{first} is no longer in {shard_id} (past the stream's retention)"
                )
            if record.position > end:
                break
            found.append(record)
            if record.position == end:
                return found
        if not found:
            raise RangeUnavailableError(
                "trimmed", f"{first} is no longer in {shard_id} (past the stream's retention)"
            )
        raise RangeUnavailableError(
            "incomplete", f"{shard_id} ends at {found[-1].sequence_number}, before the range's end {last}"
        )

    def _iterator(self, shard_id: str, **position: Any) -> str:
        answer = self._kinesis.get_shard_iterator(StreamName=self.stream_name, ShardId=shard_id, **position)
        return str(answer["ShardIterator"])

    def _records(self, shard_id: str, iterator: str | None) -> Iterator[StreamRecord]:
        # The end of a closed shard has no next iterator; an open one's tip answers no records and
        # is 0 ms behind (an empty answer further back only means "read on").
        while iterator:
            answer = self._kinesis.get_records(ShardIterator=iterator, Limit=_GET_RECORDS_LIMIT)
            items = answer.get("Records", [])
            self.on_read(len(items))
            for item in items:
                yield StreamRecord.from_answer(shard_id, item)
            iterator = answer.get("NextShardIterator")
            if not items:
                if int(answer.get("MillisBehindLatest") or 0) == 0:
                    return
                self._pause(_EMPTY_READ_PAUSE_SECONDS)


def _ignore(count: int) -> None:
    """No progress to tell."""


class FailureQueue:
    """A stream worker's on-failure queue: its messages held while replayed, deleted once done."""

    def __init__(self, sqs: Any, name: str, *, wait_seconds: int = 1) -> None:
        self._sqs = sqs
        self.name = name
        self._wait_seconds = wait_seconds
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The queue's URL; MissingQueueError when it does not exist."""
        if self._url is None:
            try:
                self._url = str(self._sqs.get_queue_url(QueueName=self.name)["QueueUrl"])
            except self._sqs.exceptions.QueueDoesNotExist:
                raise MissingQueueError(f"no on-failure queue {self.name!r}") from None
        return self._url

    def receive_all(self, stream_arn: str) -> list[FailureMessage]:
        """Every message, read and held invisible (HOLD_SECONDS); each parsed as an on-failure record."""
        messages: dict[str, FailureMessage] = {}
        while True:
            answer = self._sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=HOLD_SECONDS,
                WaitTimeSeconds=self._wait_seconds,
            )
            received = answer.get("Messages", [])
            if not received:
                break
            for message in received:
                messages.setdefault(message["MessageId"], _failure_message(message, stream_arn))
        return list(messages.values())

    def hold(self, message: FailureMessage) -> None:
        """Keep the message invisible for another HOLD_SECONDS (while its range is replayed)."""
        self._sqs.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=HOLD_SECONDS
        )

    def release(self, messages: Sequence[FailureMessage]) -> None:
        """Make kept messages visible again at once (for the next replay or `dmd dlq list`)."""
        for message in messages:
            with contextlib.suppress(ClientError):  # already deleted, or its receipt expired
                self._sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=0
                )

    def delete(self, message: FailureMessage) -> None:
        """Delete a message whose range was replayed."""
        self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt_handle)


def _failure_message(message: dict[str, Any], stream_arn: str) -> FailureMessage:
    identifier, handle = str(message["MessageId"]), str(message["ReceiptHandle"])
    parked = parked_record(message.get("Body") or "")
    if parked is not None:
        return _parked_message(identifier, handle, parked, stream_arn)
    try:
        record = OnFailureRecord.model_validate_json(message.get("Body") or "")
    except ValidationError as error:
        problem = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'body'}: {item['msg']}"
            for item in error.errors()[:3]
        )
        return FailureMessage(identifier, handle, None, f"not a Kinesis on-failure record ({problem})")
    if record.batch.stream_arn != stream_arn:
        return FailureMessage(
            identifier, handle, None, f"a batch of {record.batch.stream_arn}, not of {stream_arn}"
        )
    if int(record.batch.end_sequence_number) < int(record.batch.start_sequence_number):
        return FailureMessage(identifier, handle, None, "its end sequence number is before its start")
    return FailureMessage(identifier, handle, record)


def _parked_message(identifier: str, handle: str, parked: ParkedRecord, stream_arn: str) -> FailureMessage:
    if parked.source.event_source_arn != stream_arn:
        return FailureMessage(
            identifier,
            handle,
            None,
            f"a parked record of {parked.source.event_source_arn}, not of {stream_arn}",
            parked=parked,
        )
    try:
        parked_stream_record(parked)
    except ValueError as error:
        return FailureMessage(identifier, handle, None, str(error), parked=parked)
    return FailureMessage(identifier, handle, None, parked=parked)
