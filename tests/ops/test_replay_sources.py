"""Where a replay reads (ops/replay_sources.py): Kinesis answers as AWS gives them; the on-failure queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from aws_clients import AwsClients
from ops.replay_sources import FailureQueue, MissingQueueError, RangeUnavailableError, StreamReader
from tests.ops.replay_harness import REGION, on_failure_record, send_to_queue, visible_messages

STREAM_ARN = "arn:aws:kinesis:us-east-1:343550350117:stream/prd3292-qa1-dmnd-table-stream"
SHARD = "shardId-000000000003"
QUEUE = "prd3292-qa1-us-east-1-ntfcn-snd-on-failure"


@pytest.fixture
def kinesis() -> Iterator[tuple[Any, Stubber]]:
    """A Kinesis client whose answers are scripted (AWS's, where moto differs: empty reads behind the tip)."""
    client = boto3.client(
        "kinesis", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber


def record(sequence: str, arrival: datetime) -> dict[str, Any]:
    """One record of a GetRecords answer."""
    return {
        "SequenceNumber": sequence,
        "Data": b"{}",
        "PartitionKey": "fan:1",
        "ApproximateArrivalTimestamp": arrival,
    }


def test_an_empty_answer_behind_the_tip_reads_on_and_a_closed_shards_end_stops(
    kinesis: tuple[Any, Stubber],
) -> None:
    # Given a closed shard whose first answer is empty though records follow (AWS does this past gaps),
    # then one record, then the shard's end (no next iterator)
    client, stubber = kinesis
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    stubber.add_response("get_shard_iterator", {"ShardIterator": "it-0"})
    stubber.add_response(
        "get_records", {"Records": [], "NextShardIterator": "it-1", "MillisBehindLatest": 60_000}
    )
    stubber.add_response(
        "get_records",
        {"Records": [record("49590338271490256608559692538361571095921575989136588898", start)]},
    )
    pauses: list[float] = []
    reader = StreamReader(client, STREAM_ARN, pause=pauses.append)
    counted: list[int] = []
    reader.on_read = counted.append

    # When the shard's records from a moment are read
    found = list(reader.records_between(SHARD, start, datetime(2026, 12, 1, 9, 0, tzinfo=UTC)))

    # Then the empty answer was read past (after a pause), and reading stopped at the shard's end
    assert [item.sequence_number for item in found] == [
        "49590338271490256608559692538361571095921575989136588898"
    ]
    assert pauses == [0.2]
    assert counted == [0, 1]
    stubber.assert_no_pending_responses()


def test_an_empty_answer_at_the_tip_of_an_open_shard_ends_the_read(kinesis: tuple[Any, Stubber]) -> None:
    # Given an open shard with nothing after the position (0 ms behind its tip)
    client, stubber = kinesis
    stubber.add_response("get_shard_iterator", {"ShardIterator": "it-0"})
    stubber.add_response("get_records", {"Records": [], "NextShardIterator": "it-1", "MillisBehindLatest": 0})
    reader = StreamReader(client, STREAM_ARN, pause=lambda seconds: None)

    # When it is read
    found = list(reader.records_between(SHARD, datetime(2026, 12, 1, 8, 0, tzinfo=UTC), datetime.now(UTC)))

    # Then the read ends with nothing (no endless polling of the tip)
    assert found == []
    stubber.assert_no_pending_responses()


def test_a_position_kinesis_no_longer_has_is_a_trimmed_range(kinesis: tuple[Any, Stubber]) -> None:
    # Given Kinesis refusing an iterator at a sequence number past the retention
    client, stubber = kinesis
    stubber.add_client_error(
        "get_shard_iterator", service_error_code="InvalidArgumentException", service_message="trimmed"
    )
    reader = StreamReader(client, STREAM_ARN)

    # When that range is read
    with pytest.raises(RangeUnavailableError) as unavailable:
        reader.records_in_range(SHARD, "100", "200")

    # Then it is reported trimmed with Kinesis's reason
    assert unavailable.value.kind == "trimmed"
    assert str(unavailable.value) == f"{SHARD} no longer holds 100: trimmed"


@pytest.fixture
def sqs() -> Iterator[AwsClients]:
    """A fresh in-process moto with the send worker's on-failure queue."""
    with mock_aws():
        clients = AwsClients.for_emulator(None, region=REGION)
        clients.client("sqs").create_queue(QueueName=QUEUE)
        yield clients


def test_received_messages_are_held_and_released_visible_again(sqs: AwsClients) -> None:
    # Given two on-failure messages
    for first in ("1", "5"):
        send_to_queue(sqs, QUEUE, on_failure_record(STREAM_ARN, SHARD, first, first))
    queue = FailureQueue(sqs.client("sqs"), QUEUE, wait_seconds=0)

    # When they are received for a replay
    held = queue.receive_all(STREAM_ARN)

    # Then both are parsed and held invisible, and released they are visible again at once
    assert sorted(message.record.batch.start_sequence_number for message in held if message.record) == [
        "1",
        "5",
    ]
    assert visible_messages(sqs, QUEUE) == 0
    queue.release(held)
    assert visible_messages(sqs, QUEUE) == 2


def test_a_missing_on_failure_queue_is_named(sqs: AwsClients) -> None:
    # Given a queue name the account does not have
    queue = FailureQueue(sqs.client("sqs"), "prd3292-qa1-us-east-1-nothing-on-failure")

    # When its URL is needed
    # Then the error names it
    with pytest.raises(
        MissingQueueError, match="no on-failure queue 'prd3292-qa1-us-east-1-nothing-on-failure'"
    ):
        _ = queue.url
