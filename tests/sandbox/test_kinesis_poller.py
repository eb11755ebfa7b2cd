"""Lambda's Kinesis poller: filters, batches, checkpoints partial failures, retries, bisects, discards."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from sandbox.clock import SandboxClock
from sandbox.pollers import KinesisPoller
from sandbox.trigger_state import TriggerState
from tests.sandbox.conftest import ACCOUNT, REGION, FunctionFactory

pytestmark = pytest.mark.slow

STREAM = "prd3292-local-dmnd-table-stream"
ON_FAILURE = "prd3292-local-us-east-1-ntfcn-snd-on-failure"
STREAM_ARN = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{STREAM}"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:prd3292-test-test_worker:live"


@pytest.fixture
def stream(aws: AwsClients) -> str:
    """An empty one-shard stream and an on-failure queue; the queue's URL."""
    aws.client("kinesis").create_stream(StreamName=STREAM, ShardCount=1)
    return str(aws.client("sqs").create_queue(QueueName=ON_FAILURE)["QueueUrl"])


def _mapping(**overrides: Any) -> dict[str, Any]:
    """A resolved CreateEventSourceMapping request, as `materialize` keeps it."""
    return {
        "FunctionName": FUNCTION_ARN,
        "EventSourceArn": STREAM_ARN,
        "Enabled": True,
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "StartingPosition": "LATEST",
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{ON_FAILURE}"}},
        **overrides,
    }


def _put(aws: AwsClients, *payloads: dict[str, Any]) -> list[str]:
    kinesis = aws.client("kinesis")
    return [
        kinesis.put_record(StreamName=STREAM, Data=json.dumps(payload).encode(), PartitionKey=f"pk-{index}")[
            "SequenceNumber"
        ]
        for index, payload in enumerate(payloads)
    ]


def _on_failure_records(aws: AwsClients, queue_url: str) -> list[dict[str, Any]]:
    messages = (
        aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    )
    return [json.loads(message["Body"]) for message in messages]


def test_a_reported_failure_checkpoints_the_records_before_it_and_retries_from_it(
    aws: AwsClients, stream: str, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a record written before the mapping exists (LATEST skips it), then a poller
    _put(aws, {"n": "before"})
    function = make_function("report_poisoned")
    poller = KinesisPoller(_mapping(), function, aws, clock)
    # And five records, the third one poisoned for one attempt
    handlers.reset(failures_per_poisoned_record=1)
    sequence = _put(aws, {"n": 1}, {"n": 2}, {"n": 3, "poison": True}, {"n": 4}, {"n": 5})
    # When the poller runs twice
    poller.poll_once()
    poller.poll_once()
    # Then the first batch held the five records, and the retry started at the failed one
    calls = handlers.invocations("report_poisoned")
    assert [call.identifiers for call in calls] == [sequence, sequence[2:]]
    counters = function.counters.snapshot()
    assert (counters.invocations, counters.records_processed, counters.records_failed) == (2, 5, 3)
    # And nothing more is delivered
    assert poller.poll_once() == 0
    # And each record is shaped like Lambda's Kinesis event record
    record = calls[0].event["Records"][0]
    assert record["eventID"] == f"shardId-000000000000:{sequence[0]}"
    assert record["eventSourceARN"] == STREAM_ARN
    assert (record["eventSource"], record["eventName"], record["awsRegion"]) == (
        "aws:kinesis",
        "aws:kinesis:record",
        REGION,
    )
    assert record["invokeIdentityArn"] == f"arn:aws:iam::{ACCOUNT}:role/prd3292-test-test_worker"
    assert record["kinesis"]["partitionKey"] == "pk-0"
    assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)


def test_a_handler_that_always_raises_sends_the_batch_to_the_on_failure_destination_and_moves_on(
    aws: AwsClients, stream: str, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a mapping allowing 2 retries, no bisecting, and a handler that always fails
    function = make_function("always_raise")
    poller = KinesisPoller(_mapping(MaximumRetryAttempts=2), function, aws, clock)
    sequence = _put(aws, {"n": 1}, {"n": 2}, {"n": 3})
    # When the poller runs three times (the first try and two retries)
    for _ in range(3):
        poller.poll_once()
    # Then the same batch was invoked three times and its metadata reached the on-failure queue
    assert [call.identifiers for call in handlers.invocations("always_raise")] == [sequence] * 3
    [failure] = _on_failure_records(aws, stream)
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["functionArn"] == FUNCTION_ARN
    assert failure["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "1",
        "functionError": "Unhandled",
    }
    assert failure["version"] == "1.0"
    assert failure["timestamp"].endswith("Z")
    info = failure["KinesisBatchInfo"]
    assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"]) == (
        "shardId-000000000000",
        sequence[0],
        sequence[-1],
    )
    assert (info["batchSize"], info["streamArn"]) == (3, STREAM_ARN)
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert info["approximateArrivalOfLastRecord"] >= info["approximateArrivalOfFirstRecord"]
    assert function.counters.snapshot().records_discarded == 3
    # And the shard moved on: a new record is delivered on its own
    [later] = _put(aws, {"n": 4})
    poller.poll_once()
    assert handlers.invocations("always_raise")[-1].identifiers == [later]


def test_bisecting_isolates_the_bad_record_and_only_it_is_discarded(
    aws: AwsClients, stream: str, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a bisecting mapping with one retry, and a batch of four whose third record always fails
    function = make_function("raise_on_poisoned")
    poller = KinesisPoller(
        _mapping(BisectBatchOnFunctionError=True, MaximumRetryAttempts=1), function, aws, clock
    )
    sequence = _put(aws, {"n": 1}, {"n": 2}, {"n": 3, "poison": True}, {"n": 4})
    # When the poller runs until it has nothing left
    while poller.poll_once():
        pass
    # Then the batch was halved (at no retry cost) down to the bad record, which was retried once
    batches = [call.identifiers for call in handlers.invocations("raise_on_poisoned")]
    assert batches == [
        sequence,
        sequence[:2],
        sequence[2:],
        [sequence[2]],
        [sequence[2]],
        [sequence[3]],
    ]
    # And only the bad record went to the on-failure destination; its neighbours succeeded
    [failure] = _on_failure_records(aws, stream)
    info = failure["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequence[2],
        sequence[2],
        1,
    )
    counters = function.counters.snapshot()
    assert (counters.records_processed, counters.records_discarded) == (3, 1)


def _change(event_name: str, image: dict[str, Any]) -> dict[str, Any]:
    """A Kinesis-for-DynamoDB change record (the table stream's data)."""
    return {
        "awsRegion": REGION,
        "eventID": f"{event_name}-{image['SK']['S']}",
        "eventName": event_name,
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": "prd3292-local-us-east-1-demand-table",
        "dynamodb": {"Keys": {"PK": image["PK"], "SK": image["SK"]}, "NewImage": image, "SizeBytes": 100},
        "eventSource": "aws:dynamodb",
    }


def _notification(sk: str, status: str, **extra: dict[str, str]) -> dict[str, Any]:
    return {
        "PK": {"S": "fan:1"},
        "SK": {"S": sk},
        "type": {"S": "notification"},
        "status": {"M": {"id": {"S": status}}},
        **extra,
    }


@pytest.mark.usefixtures("stream")
def test_the_send_workers_filter_criteria_drop_what_it_must_not_see(
    aws: AwsClients,
    clock: SandboxClock,
    make_function: FunctionFactory,
    handlers: Any,
    local_stack_graph: ResourceGraph,
) -> None:
    # Given notification_send's mapping filters, as the local stack declares them
    filters = local_stack_graph.named("notification_send-trigger").inputs["filterCriteria"]["filters"]
    criteria = {"Filters": [{"Pattern": item["pattern"]} for item in filters]}
    function = make_function("succeed")
    poller = KinesisPoller(_mapping(FilterCriteria=criteria), function, aws, clock)
    # And table changes: two sendable notifications among others the sender must not see
    sequence = _put(
        aws,
        _change("INSERT", _notification("created", "CREATED")),
        _change("MODIFY", _notification("sent", "SENT")),
        _change("INSERT", {"PK": {"S": "event:1"}, "SK": {"S": "event#details"}, "type": {"S": "event"}}),
        _change("MODIFY", _notification("claimed", "CREATED", claimId={"S": "claim-1"})),
        _change("MODIFY", _notification("retry", "RETRY")),
        _change("REMOVE", _notification("removed", "CREATED")),
    )
    # When the poller runs
    poller.poll_once()
    # Then only the CREATED insert and the RETRY modification were delivered, the rest counted as filtered
    assert [call.identifiers for call in handlers.invocations("succeed")] == [[sequence[0], sequence[4]]]
    counters = function.counters.snapshot()
    assert (counters.records_processed, counters.records_filtered) == (2, 4)


def test_records_older_than_the_maximum_age_are_discarded_without_an_invocation(
    aws: AwsClients, stream: str, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a mapping whose records expire after 60 s, and a record in the stream
    function = make_function("succeed")
    poller = KinesisPoller(_mapping(MaximumRecordAgeInSeconds=60), function, aws, clock)
    [sequence] = _put(aws, {"n": 1})
    # When the sandbox clock jumps two minutes before the poller gets to it
    clock.advance(120)
    poller.poll_once()
    # Then the handler never saw it, and its metadata says it was too old
    assert handlers.invocations("succeed") == []
    [failure] = _on_failure_records(aws, stream)
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["requestContext"]["approximateInvokeCount"] == 0
    assert failure["KinesisBatchInfo"]["startSequenceNumber"] == sequence


def test_a_partial_batch_waits_for_the_batching_window_on_the_sandbox_clock(
    aws: AwsClients, stream: str, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a mapping that gathers up to 100 records for at most 5 s
    poller = KinesisPoller(
        _mapping(BatchSize=100, MaximumBatchingWindowInSeconds=5), make_function("succeed"), aws, clock
    )
    sequence = _put(aws, {"n": 1}, {"n": 2})
    # When the poller runs before the window closed, then after
    poller.poll_once()
    assert handlers.invocations("succeed") == []
    clock.advance(5)
    poller.poll_once()
    # Then the two records were delivered together once the window closed
    assert [call.identifiers for call in handlers.invocations("succeed")] == [sequence]


def test_a_parallelization_factor_runs_that_many_batches_at_once_keeping_each_keys_order(
    aws: AwsClients, stream: str, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a mapping with ParallelizationFactor 3 and batches of 4, polling in the background
    function = make_function("overlap")
    poller = KinesisPoller(_mapping(ParallelizationFactor=3, BatchSize=4), function, aws, clock)
    assert poller.mapping.parallelization_factor == 3
    # And 60 records over 12 partition keys, 5 per key in order
    kinesis = aws.client("kinesis")
    written: dict[str, list[str]] = {}
    for n in range(60):
        key = f"fan:{n % 12}"
        answer = kinesis.put_record(StreamName=STREAM, Data=json.dumps({"n": n}).encode(), PartitionKey=key)
        written.setdefault(key, []).append(answer["SequenceNumber"])
    # When the poller runs until it is idle
    poller.start()
    try:
        deadline = time.monotonic() + 20
        while not (poller.idle() and function.counters.snapshot().records_processed == 60):
            assert time.monotonic() < deadline, "the poller did not drain the stream"
            time.sleep(0.05)
    finally:
        poller.stop()
    calls = handlers.invocations("overlap")
    # Then every record was delivered once, at most 3 batches ran at a time, and more than one did
    delivered = [
        (record["kinesis"]["partitionKey"], record["kinesis"]["sequenceNumber"])
        for call in calls
        for record in call.event["Records"]
    ]
    assert sorted(sequence for _, sequence in delivered) == sorted(
        sequence for sequences in written.values() for sequence in sequences
    )
    assert all(len(call.identifiers) <= 4 for call in calls)
    assert 1 < handlers.RUNNING["peak"] <= 3
    # And each partition key's records arrived in the order they were written
    for key, sequences in written.items():
        assert [sequence for seen, sequence in delivered if seen == key] == sequences


def test_while_its_mapping_is_disabled_the_poller_reads_nothing_and_resumes_where_it_was(
    aws: AwsClients, stream: str, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a poller that delivered a first record, then its mapping disabled
    mapping_enabled = [True]
    function = make_function("succeed")
    poller = KinesisPoller(
        _mapping(), function, aws, clock, state=TriggerState(lambda: mapping_enabled[0], max_age=0)
    )
    first = _put(aws, {"n": 1})
    poller.poll_once()
    mapping_enabled[0] = False
    # When records arrive while it is disabled
    later = _put(aws, {"n": 2}, {"n": 3})
    # Then it reads and invokes nothing (and counts as idle: nothing is in flight)
    assert poller.poll_once() == 0
    assert [call.identifiers for call in handlers.invocations("succeed")] == [first]
    assert poller.idle()
    # And once enabled again, it delivers exactly the records that arrived meanwhile
    mapping_enabled[0] = True
    poller.poll_once()
    poller.poll_once()
    assert [call.identifiers for call in handlers.invocations("succeed")] == [first, later]


def test_a_timed_out_invocation_retries_the_whole_batch_its_handled_part_included(
    aws: AwsClients, stream: str, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a poller whose function times out on its next invocation (the `timeout` drill)
    function = make_function("succeed")
    poller = KinesisPoller(_mapping(BisectBatchOnFunctionError=False), function, aws, clock)
    sequence = _put(aws, {"n": 1}, {"n": 2}, {"n": 3}, {"n": 4})
    function.injected_timeouts.configure(rate=1.0, seed=0)
    # When the poller runs once: the handler gets through the first half, then the invocation times out
    poller.poll_once()
    # And once more without the drill
    function.injected_timeouts.configure(rate=0.0, seed=0)
    poller.poll_once()
    # Then the retry held the whole batch again, the records handled before the timeout included
    assert [call.identifiers for call in handlers.invocations("succeed")] == [sequence[:2], sequence]
    counters = function.counters.snapshot()
    assert (counters.timeouts_injected, counters.records_in_timed_out_batches) == (1, 4)
    assert (counters.records_failed, counters.records_processed, counters.records_discarded) == (4, 4, 0)
    assert poller.poll_once() == 0
