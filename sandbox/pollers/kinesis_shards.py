"""Reading a Kinesis stream's shards: listing and lineage, iterators from the starting position, records."""

from __future__ import annotations

import time
from typing import Any, Final

from botocore.exceptions import ClientError

from sandbox.pollers.kinesis_lanes import Lane, ShardCursor
from sandbox.pollers.kinesis_records import StreamRecord
from sandbox.shard_lineage import ShardLineage, lineage_of, listed_shards

_GET_RECORDS_LIMIT: Final = 10_000
_LISTING_SECONDS: Final = 1.0


class ShardReader:
    """The shards of one stream, each with its cursor; which to read now, and reading one."""

    def __init__(
        self, kinesis: Any, stream_name: str, *, starting_position: str, lanes_per_shard: int
    ) -> None:
        self._kinesis = kinesis
        self._stream_name = stream_name
        self._starting_position = starting_position
        self._lanes_per_shard = lanes_per_shard
        self._lineage = ShardLineage()
        self._cursors: dict[str, ShardCursor] = {}
        self._initial_shards: set[str] | None = None
        self._next_listing = 0.0

    @property
    def cursors(self) -> list[ShardCursor]:
        """The cursor of every shard seen so far."""
        return list(self._cursors.values())

    def cursor(self, shard_id: str) -> ShardCursor:
        """The shard's cursor (with its lanes), created on first use."""
        cursor = self._cursors.get(shard_id)
        if cursor is None:
            lanes = [Lane() for _ in range(self._lanes_per_shard)]
            cursor = self._cursors[shard_id] = ShardCursor(lanes)
        return cursor

    def listing_due(self) -> bool:
        """Whether it is time to list the shards again (to see splits and merges)."""
        return time.monotonic() >= self._next_listing

    def refresh(self) -> None:
        """List the shards; the first listing positions every shard at the mapping's starting position."""
        shards = listed_shards(self._kinesis, self._stream_name)
        self._lineage.update(lineage_of(shards))
        self._next_listing = time.monotonic() + _LISTING_SECONDS
        first_listing = self._initial_shards is None
        if first_listing:
            self._initial_shards = {shard["ShardId"] for shard in shards}
        for shard in shards:
            cursor = self.cursor(shard["ShardId"])
            if cursor.iterator is None and not cursor.ended and first_listing:
                cursor.iterator = self._new_iterator(shard["ShardId"], cursor)

    def readable(self) -> list[str]:
        """The shards to read now: children only after their parents (see `ShardLineage`)."""
        return self._lineage.readable()

    def finish(self, shard_id: str) -> None:
        """Mark a shard as read to its end and processed."""
        self._lineage.finish(shard_id)

    def read(self, shard_id: str, cursor: ShardCursor) -> list[StreamRecord]:
        """One GetRecords on the shard from its cursor, which moves on; the records read."""
        if cursor.iterator is None:
            cursor.iterator = self._new_iterator(shard_id, cursor)
        cursor.last_read_at = time.monotonic()
        try:
            answer = self._kinesis.get_records(ShardIterator=cursor.iterator, Limit=_GET_RECORDS_LIMIT)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExpiredIteratorException":
                raise
            cursor.iterator = None
            return []
        cursor.iterator = answer.get("NextShardIterator")
        cursor.ended = cursor.iterator is None
        cursor.caught_up = not answer.get("Records")
        records = [StreamRecord.from_answer(shard_id, item) for item in answer.get("Records", [])]
        if records:
            cursor.last_read = records[-1].sequence_number
        return records

    def _new_iterator(self, shard_id: str, cursor: ShardCursor) -> str:
        position: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
        if cursor.last_read is not None:
            position = {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": cursor.last_read,
            }
        elif shard_id in (self._initial_shards or set()):
            position = {"ShardIteratorType": self._starting_position}
        answer = self._kinesis.get_shard_iterator(StreamName=self._stream_name, ShardId=shard_id, **position)
        return str(answer["ShardIterator"])
