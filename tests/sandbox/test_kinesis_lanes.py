"""A shard's lanes: records spread by partition key, batches taken when full or when the window closes."""

from __future__ import annotations

from sandbox.clock import SandboxClock
from sandbox.pollers.kinesis_lanes import Lane, PendingBatch, ShardCursor
from sandbox.pollers.kinesis_records import StreamRecord


def _records(*keys: str) -> list[StreamRecord]:
    return [
        StreamRecord(
            shard_id="shardId-000000000000",
            sequence_number=str(100 + index),
            partition_key=key,
            data=b"{}",
            arrival=1000.0,
        )
        for index, key in enumerate(keys)
    ]


def test_each_partition_key_stays_in_order_on_one_lane() -> None:
    # Given a shard with three lanes and records of four keys, interleaved
    cursor = ShardCursor([Lane(), Lane(), Lane()])
    records = _records("a", "b", "c", "d", "a", "b", "c", "d", "a")
    # When they are distributed
    cursor.distribute(records, now=1000.0)
    # Then every record is buffered once, and each key's records sit in order on a single lane
    assert cursor.buffered == len(records)
    for key in "abcd":
        holding = [lane for lane in cursor.lanes if any(r.partition_key == key for r in lane.buffer)]
        assert len(holding) == 1
        assert [r.sequence_number for r in holding[0].buffer if r.partition_key == key] == [
            r.sequence_number for r in records if r.partition_key == key
        ]


def test_a_partial_batch_waits_for_its_window_and_the_rest_starts_a_new_one() -> None:
    # Given a lane holding three records, a batch size of two, and a 5 s window on the sandbox clock
    clock = SandboxClock()
    lane = Lane()
    ShardCursor([lane]).distribute(_records("a", "a", "a"), now=clock.now())
    # When a batch is taken: full batches go at once
    assert [r.sequence_number for r in lane.take_batch(2, 5.0, clock)] == ["100", "101"]
    # Then the record left waits for a window starting now
    clock.advance(4)
    assert lane.take_batch(2, 5.0, clock) == []
    clock.advance(1)
    assert [r.sequence_number for r in lane.take_batch(2, 5.0, clock)] == ["102"]
    assert lane.buffered_since is None


def test_a_shard_is_drained_when_read_to_its_tip_and_finished_only_at_its_end() -> None:
    # Given a shard read to its tip, with one batch pending on its lane
    lane = Lane()
    cursor = ShardCursor([lane], caught_up=True)
    lane.pending.append(PendingBatch(_records("a")))
    # Then it is neither drained nor finished until the batch is done
    assert not cursor.drained
    lane.pending.clear()
    assert cursor.drained and not cursor.finished
    # And it is finished once its iterator ran out
    cursor.ended = True
    assert cursor.finished
