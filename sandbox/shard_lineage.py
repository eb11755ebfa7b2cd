"""Shard lineage of a stream (Kinesis or DynamoDB Streams): read a child only after its parents end."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def listed_shards(kinesis: Any, stream_name: str) -> list[dict[str, Any]]:
    """Every shard a Kinesis stream still lists (closed ones too), following ListShards' pages."""
    shards: list[dict[str, Any]] = []
    request: dict[str, Any] = {"StreamName": stream_name}
    while True:
        answer = kinesis.list_shards(**request)
        shards.extend(answer.get("Shards", []))
        token = answer.get("NextToken")
        if not token:
            return shards
        request = {"NextToken": token}  # ListShards refuses StreamName together with a token


def lineage_of(shards: Iterable[dict[str, Any]]) -> Iterable[tuple[str, list[str | None]]]:
    """(shard id, parent ids) of ListShards' shards, as `ShardLineage.update` takes them."""
    return (
        (shard["ShardId"], [shard.get("ParentShardId"), shard.get("AdjacentParentShardId")])
        for shard in shards
    )


class ShardLineage:
    """Known shards, their parents, and which were read to their end; `readable()` is what to read now."""

    # A shard is readable once every parent it names is finished or no longer listed (trimmed),
    # which keeps per-key order across splits and merges, as the KCL and Lambda's pollers do.

    def __init__(self) -> None:
        self._parents: dict[str, tuple[str, ...]] = {}
        self._finished: set[str] = set()

    def update(self, shards: Iterable[tuple[str, Iterable[str | None]]]) -> None:
        """Record the current listing: (shard id, parent ids) pairs; shards no longer listed are forgotten."""
        listed = {shard_id: tuple(parent for parent in parents if parent) for shard_id, parents in shards}
        self._parents = listed
        self._finished &= set(listed)

    def finish(self, shard_id: str) -> None:
        """Mark a shard as read to its end (its iterator ran out)."""
        self._finished.add(shard_id)

    def readable(self) -> list[str]:
        """Unfinished shards whose parents are finished or gone, in listing order."""
        return [
            shard_id
            for shard_id, parents in self._parents.items()
            if shard_id not in self._finished
            and all(parent in self._finished or parent not in self._parents for parent in parents)
        ]
