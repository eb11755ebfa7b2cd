"""The table's CDC into Kinesis: tail the DynamoDB stream, write Kinesis-for-DynamoDB records.

AWS's Kinesis streaming destination for DynamoDB is not implemented by moto; `materialize` enables
the table's own stream instead and reports a `CdcRoute`. `CdcTailer` does what the managed
destination does: every item change becomes one Kinesis record whose data is the change as JSON,

    {"awsRegion", "eventID", "eventName", "userIdentity", "recordFormat": "application/json",
     "tableName", "dynamodb": {"ApproximateCreationDateTime", "Keys", "NewImage", "OldImage",
     "SizeBytes"}, "eventSource": "aws:dynamodb"}

with `ApproximateCreationDateTime` in epoch milliseconds (the destination's default precision,
MILLISECOND) or microseconds (MICROSECOND), and the partition key derived from the item's keys, so
changes to one item stay in order on one shard.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal

from botocore.exceptions import ClientError

from aws_clients import AwsClients
from sandbox.materialize import CdcRoute
from sandbox.polling import PolledInBackground, PollingThread
from sandbox.shard_lineage import ShardLineage

Precision = Literal["MILLISECOND", "MICROSECOND"]
StartingPosition = Literal["TRIM_HORIZON", "LATEST"]
LOGGER: Final = logging.getLogger("sandbox.cdc")
RECORD_FORMAT: Final = "application/json"
_EVENT_ID_NAMESPACE: Final = uuid.UUID("6f1c1d2e-5b0a-4a51-9a8e-2b7c0c9d4e10")
_GET_RECORDS_LIMIT: Final = 1000  # DynamoDB Streams' maximum
_PUT_RECORDS_LIMIT: Final = 500  # Kinesis PutRecords' maximum
_PUT_ATTEMPTS: Final = 5
_LISTING_SECONDS: Final = 1.0  # how often the shard listing is refreshed (splits, new shards)
_EPOCH_SCALE: Final[Mapping[Precision, int]] = {"MILLISECOND": 1000, "MICROSECOND": 1_000_000}

# Called with each batch of DynamoDB stream records once they are in the Kinesis stream, in order.
ChangeObserver = Callable[[Sequence[Mapping[str, Any]]], None]


class CdcError(Exception):
    """Changes could not be written to the Kinesis stream."""


class CdcTailer(PolledInBackground):
    """Copies a table's DynamoDB stream into a Kinesis stream in the Kinesis-for-DynamoDB format."""

    # `poll_once()` drains every readable shard (children after parents); `start()` runs it on a
    # thread. The tailer is the Kinesis stream's only writer and writes in stream order, and an
    # item's changes share a partition key (one shard), so per-item order is preserved.

    def __init__(
        self,
        route: CdcRoute,
        clients: AwsClients,
        *,
        precision: Precision = "MILLISECOND",
        starting_position: StartingPosition = "TRIM_HORIZON",
        min_poll_interval: float = 0.0,
        observers: Sequence[ChangeObserver] = (),
    ) -> None:
        self.route = route
        # Who else sees the changes (the pipeline's notification ledger): no extra emulator reads.
        self._observers = tuple(observers)
        # Real seconds between rounds that read the stream (DynamoDB Streams allows about 4 reads a
        # second per shard); 0 reads on every call.
        self.min_poll_interval = min_poll_interval
        self._last_poll = -float("inf")
        self._streams = clients.client("dynamodbstreams")
        self._kinesis = clients.client("kinesis")
        self._region = clients.region
        self._scale = _EPOCH_SCALE[precision]
        self._starting_position = starting_position
        self._kinesis_stream_name = route.kinesis_stream_arn.rsplit("/", 1)[-1]
        self._lineage = ShardLineage()
        self._iterators: dict[str, str] = {}
        self._positions: dict[str, str] = {}
        self._initial_shards: set[str] | None = None
        self._next_listing = 0.0
        self._lock = threading.Lock()
        self._thread = PollingThread(f"cdc:{route.table}", self.poll_once)
        self.copied = 0
        self.caught_up = False  # whether the last round found nothing new to copy

    def poll_once(self) -> int:
        """Copy every change available now; the number copied."""
        with self._lock:
            if time.monotonic() - self._last_poll < self.min_poll_interval:
                return 0
            self._last_poll = time.monotonic()
            if time.monotonic() >= self._next_listing:
                self._refresh_shards()
            copied = 0
            for shard_id in self._lineage.readable():
                copied += self._drain(shard_id)
            self.copied += copied
            self.caught_up = copied == 0
            return copied

    def _refresh_shards(self) -> None:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self.route.table_stream_arn}
        while True:
            description = self._streams.describe_stream(**request)["StreamDescription"]
            shards.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            request["ExclusiveStartShardId"] = last
        self._lineage.update((shard["ShardId"], [shard.get("ParentShardId")]) for shard in shards)
        self._next_listing = time.monotonic() + _LISTING_SECONDS
        if self._initial_shards is None:
            # Children found later are read from their start, whatever the starting position.
            self._initial_shards = {shard["ShardId"] for shard in shards}

    def _drain(self, shard_id: str) -> int:
        iterator = self._iterators.get(shard_id) or self._new_iterator(shard_id)
        copied = 0
        while True:
            try:
                answer = self._streams.get_records(ShardIterator=iterator, Limit=_GET_RECORDS_LIMIT)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ExpiredIteratorException":
                    raise
                iterator = self._new_iterator(shard_id)
                continue
            records = answer.get("Records", [])
            if records:
                self._put([self.kinesis_record(record) for record in records])
                self._positions[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                copied += len(records)
                self._notify(records)
            following = answer.get("NextShardIterator")
            if not following:
                self._iterators.pop(shard_id, None)
                self._lineage.finish(shard_id)
                self._next_listing = 0.0  # look for its children now
                return copied
            iterator = following
            self._iterators[shard_id] = iterator
            if len(records) < _GET_RECORDS_LIMIT:
                # Read to the tip as it was: what arrives meanwhile waits for the next round, so a
                # steady trickle of changes is copied in one read per round, not one per change.
                return copied

    def _notify(self, records: Sequence[Mapping[str, Any]]) -> None:
        # After the copy is recorded: an observer's failure must not make the tailer copy again.
        for observer in self._observers:
            try:
                observer(records)
            except Exception:
                LOGGER.exception("cdc:%s: a change observer failed", self.route.table)

    def _new_iterator(self, shard_id: str) -> str:
        """From the last copied change, else the starting position (first shards) or the shard's start."""
        position: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
        if shard_id in self._positions:
            position = {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "SequenceNumber": self._positions[shard_id],
            }
        elif shard_id in (self._initial_shards or set()):
            position = {"ShardIteratorType": self._starting_position}
        answer = self._streams.get_shard_iterator(
            StreamArn=self.route.table_stream_arn, ShardId=shard_id, **position
        )
        return str(answer["ShardIterator"])

    def kinesis_record(self, stream_record: Mapping[str, Any]) -> dict[str, Any]:
        """A DynamoDB stream record → the PutRecords entry AWS's destination would write."""
        change = stream_record["dynamodb"]
        payload = {
            "awsRegion": self._region,
            "eventID": self._event_id(change["SequenceNumber"]),
            "eventName": stream_record["eventName"],
            "userIdentity": stream_record.get("userIdentity"),
            "recordFormat": RECORD_FORMAT,
            "tableName": self.route.table,
            "dynamodb": {
                key: value
                for key, value in {
                    "ApproximateCreationDateTime": self._epoch(change.get("ApproximateCreationDateTime")),
                    "Keys": change["Keys"],
                    "NewImage": change.get("NewImage"),
                    "OldImage": change.get("OldImage"),
                    "SizeBytes": change.get("SizeBytes"),
                }.items()
                if value is not None
            },
            "eventSource": "aws:dynamodb",
        }
        return {
            "Data": json.dumps(payload, default=_json_bytes, separators=(",", ":")).encode(),
            "PartitionKey": partition_key(change["Keys"]),
        }

    def _event_id(self, sequence_number: str) -> str:
        # Stable per change: re-tailing the same stream record gives the same event id.
        return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{self.route.table_stream_arn}/{sequence_number}"))

    def _epoch(self, created: datetime | float | None) -> int | None:
        if created is None:
            return None
        seconds = created.timestamp() if isinstance(created, datetime) else float(created)
        return round(seconds * self._scale)

    def _put(self, entries: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(entries), _PUT_RECORDS_LIMIT):
            pending = list(entries[start : start + _PUT_RECORDS_LIMIT])
            for _ in range(_PUT_ATTEMPTS):
                answer = self._kinesis.put_records(StreamName=self._kinesis_stream_name, Records=pending)
                if not answer.get("FailedRecordCount"):
                    break
                # Resend from the first failure on, in order: later successes repeat (at-least-once,
                # like the managed destination), but no change overtakes an earlier one of its item.
                first = next(index for index, item in enumerate(answer["Records"]) if item.get("ErrorCode"))
                pending = pending[first:]
            else:
                raise CdcError(f"{len(pending)} changes could not be written to {self._kinesis_stream_name}")


def partition_key(keys: Mapping[str, Any]) -> str:
    """The Kinesis partition key of an item: a hash of its primary key (32 hex digits, as AWS writes)."""
    canonical = json.dumps(keys, sort_keys=True, default=_json_bytes, separators=(",", ":"))
    return hashlib.md5(canonical.encode(), usedforsecurity=False).hexdigest().upper()


def _json_bytes(value: Any) -> Any:
    # Binary attributes (B, BS) arrive from boto3 as bytes; DynamoDB JSON carries them base64-encoded.
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
