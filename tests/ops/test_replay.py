"""Replaying a stream worker's records (ops/replay.py): what is read, filtered, batched, invoked and deleted.

Against moto in process: the local stack's streams and on-failure queues, a fake invoker.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from ops.replay import (
    IDEMPOTENCE,
    MAX_EVENT_BYTES,
    Pacer,
    ReplayError,
    StreamReplay,
    batches_of,
    dry_run_report,
    stream_worker,
    stream_workers,
)
from ops.replay_sources import FailureQueue
from ops.target import FleetWorker, Target
from sandbox.pollers.kinesis_records import StreamRecord, kinesis_event
from tests.infra.fleet import added_names
from tests.ops.replay_harness import (
    REGION,
    ROLE_ARN,
    SEND,
    FakeInvoker,
    all_messages,
    create_stream_resources,
    failing_items,
    function_error,
    local_target,
    notification_change,
    on_failure_record,
    pause_between_arrivals,
    put_changes,
    send_to_queue,
    shard_of,
    table_stream,
)

FAST = 1000.0  # batches a second: the tests never wait for the pacer


@pytest.fixture
def target(local_graph: ResourceGraph) -> Iterator[Target]:
    """The local stack in a fresh in-process moto: its streams and on-failure queues, empty."""
    with mock_aws():
        clients = AwsClients.for_emulator(None, region=REGION)
        stack = local_target(clients, local_graph)
        create_stream_resources(clients, stack.fleet)
        yield stack


def with_batch_size(worker: FleetWorker, size: int) -> FleetWorker:
    """The worker as if its mapping's batch size were `size`."""
    return dataclasses.replace(worker, mapping={**worker.mapping, "batchSize": size})


def failure_queue(target: Target, worker: FleetWorker) -> FailureQueue:
    """The worker's on-failure queue, read without long polling (moto answers at once)."""
    return FailureQueue(target.clients.client("sqs"), str(worker.on_failure_queue), wait_seconds=0)


# --- which worker ---------------------------------------------------------------------------------


def test_only_the_stream_workers_can_be_replayed(target: Target) -> None:
    # Given the local fleet
    # When the stream workers are listed
    # Then they are the three workers an event-source mapping on a Kinesis stream triggers
    # (and any stream worker added after the shipped ones, in name order)
    assert stream_workers(target.fleet) == sorted(
        ["demand_stream_to_sqs", "notification_send", "sms_status_consumer", *added_names("stream")]
    )
    # And each shipped one states why a replay is safe (an added one is told it must be idempotent)
    assert set(IDEMPOTENCE) == set(stream_workers(target.fleet)) - set(added_names("stream"))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("shorten_event_url", "shorten_event_url is triggered by a queue, not a stream"),
        ("notification_scheduler", "notification_scheduler is triggered by a schedule, not a stream"),
        ("no_such_worker", "no worker 'no_such_worker'"),
    ],
)
def test_a_worker_without_a_stream_is_refused_naming_the_stream_workers(
    target: Target, name: str, reason: str
) -> None:
    # Given a worker that is not a stream worker (or no worker at all)
    # When it is chosen for a replay
    with pytest.raises(ReplayError) as refused:
        stream_worker(target.fleet, name)

    # Then the refusal says why and names the workers that can be replayed
    assert str(refused.value).startswith(reason)
    listed = ", ".join(
        sorted(["demand_stream_to_sqs", "notification_send", "sms_status_consumer", *added_names("stream")])
    )
    assert f"(stream workers: {listed})" in str(refused.value)


def test_a_queue_worker_is_refused_naming_the_dlq_redrive_that_re_drives_it(target: Target) -> None:
    # Given the generator, whose failed jobs and parked demand items wait in its queue's DLQ
    # When it is chosen for a replay
    with pytest.raises(ReplayError) as refused:
        stream_worker(target.fleet, "notification_generator")

    # Then the refusal names the command that re-drives them
    dead_letters = target.fleet.workers["notification_generator"].dead_letter_queue
    assert dead_letters is not None and dead_letters.endswith("generation-jobs-dlq")
    assert f"`dmd dlq redrive --queue {dead_letters}`" in str(refused.value)


# --- a time range ---------------------------------------------------------------------------------


def test_a_time_range_delivers_only_the_records_the_workers_filter_passes(target: Target) -> None:
    # Given the table stream holding sendable notifications and changes the send filter drops
    start = datetime.now(UTC) - timedelta(seconds=1)
    stream = table_stream(target.fleet)
    put_changes(
        target.clients,
        stream,
        [
            notification_change("CREATED", fan="a"),
            notification_change("TRIGGERED", fan="b", event="MODIFY"),
            notification_change("RETRY", fan="c", event="MODIFY"),
            notification_change("CREATED", fan="d", claimed=True, event="MODIFY"),
            notification_change("CREATED", fan="e", kind="event"),
        ],
    )
    worker = stream_worker(target.fleet, SEND)
    invoker = FakeInvoker()

    # When the send worker's records of that time are replayed
    replay = StreamReplay(target, worker)
    plan = replay.plan_time_range(start)
    report = replay.run(plan, invoker, pacer=Pacer(FAST))

    # Then five records were read, and only the unclaimed CREATED and RETRY notifications were delivered
    assert (plan.records_read, plan.records_matching, plan.batches) == (5, 2, 1)
    assert [
        [change["dynamodb"]["NewImage"]["PK"]["S"] for change in batch] for batch in invoker.decoded()
    ] == [["fan:a", "fan:c"]]
    assert not report.failed
    assert [result.outcome for result in report.results] == ["replayed"]


def test_each_record_is_delivered_in_the_event_lambda_sends(target: Target) -> None:
    # Given one sendable notification on the table stream
    start = datetime.now(UTC) - timedelta(seconds=1)
    stream = table_stream(target.fleet)
    change = notification_change("CREATED", fan="shape")
    (sequence,) = put_changes(target.clients, stream, [change])
    worker = stream_worker(target.fleet, SEND)
    invoker = FakeInvoker()

    # When it is replayed
    replay = StreamReplay(target, worker)
    replay.run(replay.plan_time_range(start), invoker, pacer=Pacer(FAST))

    # Then the event is Lambda's Kinesis event: the record's data, key and position, the stream and role
    ((record,),) = [event["Records"] for event in invoker.events]
    shard = shard_of(target.clients, stream)
    assert record["kinesis"]["partitionKey"] == "fan:shape"
    assert record["kinesis"]["sequenceNumber"] == sequence
    assert record["kinesis"]["kinesisSchemaVersion"] == "1.0"
    assert json.loads(base64.b64decode(record["kinesis"]["data"])) == change
    assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
    assert record["eventID"] == f"{shard}:{sequence}"
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventSourceARN"] == worker.event_source_arn
    assert record["invokeIdentityArn"] == ROLE_ARN
    assert record["awsRegion"] == REGION
    assert record["eventVersion"] == "1.0"


def test_records_are_delivered_in_batches_of_the_mappings_batch_size(target: Target) -> None:
    # Given five sendable notifications, and a send mapping whose batch size is 2
    start = datetime.now(UTC) - timedelta(seconds=1)
    sequences = put_changes(
        target.clients,
        table_stream(target.fleet),
        [notification_change("CREATED", fan=str(number)) for number in range(5)],
    )
    worker = with_batch_size(stream_worker(target.fleet, SEND), 2)
    invoker = FakeInvoker()

    # When they are replayed
    replay = StreamReplay(target, worker)
    report = replay.run(replay.plan_time_range(start), invoker, pacer=Pacer(FAST))

    # Then three invocations delivered them in order, two, two and one
    assert [
        [record["kinesis"]["sequenceNumber"] for record in event["Records"]] for event in invoker.events
    ] == [
        sequences[0:2],
        sequences[2:4],
        sequences[4:5],
    ]
    assert report.plan.batches == 3


def test_to_ends_the_range_and_records_after_it_are_not_delivered(target: Target) -> None:
    # Given two notifications before a moment and one after it
    start = datetime.now(UTC) - timedelta(seconds=1)
    stream = table_stream(target.fleet)
    before = put_changes(
        target.clients,
        stream,
        [notification_change("CREATED", fan="1"), notification_change("CREATED", fan="2")],
    )
    pause_between_arrivals()
    end = datetime.now(UTC)
    pause_between_arrivals()
    put_changes(target.clients, stream, [notification_change("CREATED", fan="3")])
    invoker = FakeInvoker()

    # When the range up to that moment is replayed
    replay = StreamReplay(target, stream_worker(target.fleet, SEND))
    plan = replay.plan_time_range(start, end)
    replay.run(plan, invoker, pacer=Pacer(FAST))

    # Then only the two records before it were read and delivered
    assert plan.records_read == 2
    assert [record["kinesis"]["sequenceNumber"] for record in invoker.events[0]["Records"]] == before


def test_from_starts_the_range_and_records_before_it_are_not_read(target: Target) -> None:
    # Given one notification before a moment and one after it
    stream = table_stream(target.fleet)
    put_changes(target.clients, stream, [notification_change("CREATED", fan="early")])
    pause_between_arrivals()
    start = datetime.now(UTC)
    pause_between_arrivals()
    (later,) = put_changes(target.clients, stream, [notification_change("CREATED", fan="late")])

    # When the range from that moment is planned
    plan = StreamReplay(target, stream_worker(target.fleet, SEND)).plan_time_range(start)

    # Then only the later record is in it
    assert [record.sequence_number for item in plan.ranges for batch in item.batches for record in batch] == [
        later
    ]


def test_every_shard_is_read_closed_ones_included_parents_first(target: Target) -> None:
    # Given a table stream whose shard was split after a notification (the parent is closed)
    stream = table_stream(target.fleet)
    start = datetime.now(UTC) - timedelta(seconds=1)
    put_changes(target.clients, stream, [notification_change("CREATED", fan="parent")])
    parent = shard_of(target.clients, stream)
    target.clients.client("kinesis").split_shard(
        StreamName=stream, ShardToSplit=parent, NewStartingHashKey=str(2**127)
    )
    invoker = FakeInvoker()

    # When the range is replayed
    replay = StreamReplay(target, stream_worker(target.fleet, SEND))
    plan = replay.plan_time_range(start)
    replay.run(plan, invoker, pacer=Pacer(FAST))

    # Then the shards are read parent first, and the closed parent's notification was delivered
    assert replay.reader.shards() == [parent, "shardId-000000000001", "shardId-000000000002"]
    assert [item.shard_id for item in plan.ranges] == [parent]
    assert [batch[0]["dynamodb"]["NewImage"]["PK"]["S"] for batch in invoker.decoded()] == ["fan:parent"]


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        (
            timedelta(minutes=-10),
            timedelta(minutes=-20),
            "--to 2026-12-01T07:40:00Z is not after --from 2026-12-01T07:50:00Z",
        ),
        (
            timedelta(minutes=5),
            None,
            "--from 2026-12-01T08:05:00Z is in the future (now 2026-12-01T08:00:00Z)",
        ),
        (
            timedelta(hours=-25),
            None,
            "--from 2026-11-30T07:00:00Z is beyond the stream's retention (24 h): records before "
            "2026-11-30T08:00:00Z are gone; use --from 2026-11-30T08:00:00Z or later",
        ),
    ],
)
def test_a_range_the_stream_cannot_answer_is_refused_with_the_reason(
    target: Target, start: timedelta, end: timedelta | None, reason: str
) -> None:
    # Given a moment on a stream that keeps its records 24 hours
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    replay = StreamReplay(target, stream_worker(target.fleet, SEND))

    # When a range is planned whose end precedes its start, that is in the future or past the retention
    with pytest.raises(ReplayError) as refused:
        replay.plan_time_range(now + start, now + end if end is not None else None, now=now)

    # Then it is refused, saying why
    assert str(refused.value) == reason


# --- the on-failure queue -------------------------------------------------------------------------


def test_a_failure_range_is_replayed_exactly_and_its_message_deleted_after_it_succeeded(
    target: Target,
) -> None:
    # Given five notifications on the table stream, and an on-failure message for the middle three
    stream = table_stream(target.fleet)
    sequences = put_changes(
        target.clients, stream, [notification_change("CREATED", fan=str(number)) for number in range(5)]
    )
    worker = stream_worker(target.fleet, SEND)
    shard = shard_of(target.clients, stream)
    send_to_queue(
        target.clients,
        str(worker.on_failure_queue),
        on_failure_record(str(worker.event_source_arn), shard, sequences[1], sequences[3], batch_size=3),
    )
    queue = failure_queue(target, worker)
    invoker = FakeInvoker()

    # When the worker's failures are replayed
    replay = StreamReplay(target, worker)
    plan = replay.plan_failures(queue.receive_all(str(worker.event_source_arn)))
    report = replay.run(plan, invoker, pacer=Pacer(FAST), queue=queue)

    # Then exactly those three records were delivered, and the message is gone
    assert [record["kinesis"]["sequenceNumber"] for record in invoker.events[0]["Records"]] == sequences[1:4]
    assert [(result.outcome, result.message_deleted) for result in report.results] == [("replayed", True)]
    assert all_messages(target.clients, str(worker.on_failure_queue)) == 0


@pytest.mark.parametrize(
    ("answer", "function_errors"),
    [(failing_items("2"), []), (function_error, ["Unhandled"])],
    ids=["batch-item-failure", "function-error"],
)
def test_a_failure_range_the_worker_fails_again_keeps_its_message(
    target: Target, answer: object, function_errors: list[str]
) -> None:
    # Given an on-failure message for two notifications, and a worker that fails again
    stream = table_stream(target.fleet)
    sequences = put_changes(
        target.clients,
        stream,
        [notification_change("CREATED", fan="x"), notification_change("CREATED", fan="y")],
    )
    worker = stream_worker(target.fleet, SEND)
    send_to_queue(
        target.clients,
        str(worker.on_failure_queue),
        on_failure_record(str(worker.event_source_arn), shard_of(target.clients, stream), *sequences),
    )
    queue = failure_queue(target, worker)
    invoker = FakeInvoker(answer=answer)  # type: ignore[arg-type]

    # When the failures are replayed
    replay = StreamReplay(target, worker)
    report = replay.run(
        replay.plan_failures(queue.receive_all(str(worker.event_source_arn))),
        invoker,
        pacer=Pacer(FAST),
        queue=queue,
    )

    # Then the range is reported failed with the records and errors, and its message is still there
    (result,) = report.results
    assert result.outcome == "failed"
    assert result.failed_records == (["2"] if not function_errors else sequences)
    assert result.function_errors == function_errors
    assert not result.message_deleted
    assert report.failed
    assert all_messages(target.clients, str(worker.on_failure_queue)) == 1


def test_a_range_the_stream_no_longer_holds_is_reported_and_its_message_kept(target: Target) -> None:
    # Given on-failure messages for a record trimmed from the shard and for a shard that is gone
    stream = table_stream(target.fleet)
    sequences = put_changes(target.clients, stream, [notification_change("CREATED", fan="kept")])
    worker = stream_worker(target.fleet, SEND)
    arn = str(worker.event_source_arn)
    shard = shard_of(target.clients, stream)
    trimmed = str(int(sequences[0]) - 1)
    send_to_queue(
        target.clients, str(worker.on_failure_queue), on_failure_record(arn, shard, trimmed, trimmed)
    )
    send_to_queue(
        target.clients, str(worker.on_failure_queue), on_failure_record(arn, "shardId-000000000099", "1", "1")
    )
    queue = failure_queue(target, worker)
    invoker = FakeInvoker()

    # When the failures are replayed
    replay = StreamReplay(target, worker)
    report = replay.run(replay.plan_failures(queue.receive_all(arn)), invoker, pacer=Pacer(FAST), queue=queue)

    # Then nothing was invoked, both ranges are reported trimmed with the reason, and both messages stay
    assert invoker.events == []
    assert [(result.outcome, result.planned.shard_id) for result in report.results] == [
        ("trimmed", shard),
        ("trimmed", "shardId-000000000099"),
    ]
    assert f"{trimmed} is no longer in {shard}" in str(report.results[0].planned.reason)
    assert all_messages(target.clients, str(worker.on_failure_queue)) == 2


def test_a_range_whose_end_the_shard_does_not_reach_is_reported_incomplete(target: Target) -> None:
    # Given an on-failure message whose end sequence number is past the shard's last record
    stream = table_stream(target.fleet)
    (only,) = put_changes(target.clients, stream, [notification_change("CREATED", fan="short")])
    worker = stream_worker(target.fleet, SEND)
    shard = shard_of(target.clients, stream)
    send_to_queue(
        target.clients,
        str(worker.on_failure_queue),
        on_failure_record(str(worker.event_source_arn), shard, only, str(int(only) + 5)),
    )
    queue = failure_queue(target, worker)

    # When it is planned
    plan = StreamReplay(target, worker).plan_failures(queue.receive_all(str(worker.event_source_arn)))

    # Then the range is incomplete (kept), nothing of it is replayed
    (item,) = plan.ranges
    assert item.skip == "incomplete"
    assert plan.batches == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not a Kinesis on-failure record"),
        (json.dumps({"requestContext": {}, "responseContext": {}}), "KinesisBatchInfo: Field required"),
        (
            json.dumps(
                on_failure_record(
                    "arn:aws:kinesis:us-east-1:123456789012:stream/other", "shardId-000000000000", "1", "1"
                )
            ),
            "a batch of arn:aws:kinesis:us-east-1:123456789012:stream/other, not of",
        ),
    ],
    ids=["not-json", "no-batch-info", "another-stream"],
)
def test_a_message_that_is_no_on_failure_record_of_the_stream_is_reported_malformed_and_kept(
    target: Target, body: str, reason: str
) -> None:
    # Given a message in the on-failure queue that is not an on-failure record of the worker's stream
    worker = stream_worker(target.fleet, SEND)
    send_to_queue(target.clients, str(worker.on_failure_queue), body)
    queue = failure_queue(target, worker)
    invoker = FakeInvoker()

    # When the failures are replayed
    replay = StreamReplay(target, worker)
    report = replay.run(
        replay.plan_failures(queue.receive_all(str(worker.event_source_arn))),
        invoker,
        pacer=Pacer(FAST),
        queue=queue,
    )

    # Then it is reported malformed with the reason, nothing is invoked, and it stays
    (result,) = report.results
    assert result.outcome == "malformed"
    assert reason in str(result.planned.reason)
    assert invoker.events == []
    assert all_messages(target.clients, str(worker.on_failure_queue)) == 1


def parked_in_queue(
    target: Target, worker: FleetWorker, record: StreamRecord, *, stream_arn: str = ""
) -> None:
    """The worker parks `record` (as its handler got it) in its on-failure queue, as the runtime does."""
    from workers.shared.errors import RecordError
    from workers.shared.parking import RecordParking
    from workers.shared.queue_sender import QueueSender

    sqs = target.clients.client("sqs")
    url = sqs.get_queue_url(QueueName=str(worker.on_failure_queue))["QueueUrl"]
    (raw,) = kinesis_event(
        record.shard_id,
        [record],
        source_arn=stream_arn or str(worker.event_source_arn),
        role_arn=ROLE_ARN,
        region=REGION,
    )["Records"]
    parking = RecordParking(worker=worker.name, queue=QueueSender(url=url, client=sqs))
    assert parking.park(raw, "kinesis", RecordError("new image is not a valid NotificationRecord: x"))


def test_a_parked_record_is_re_driven_alone_from_its_payload_and_its_message_deleted(target: Target) -> None:
    # Given a poison record the worker parked (the stream itself need not hold it any more)
    worker = stream_worker(target.fleet, SEND)
    change = notification_change("CREATED", fan="poison")
    record = StreamRecord(
        "shardId-000000000000",
        "49650000000000000000000000000000000000000000000000000007",
        "fan:poison",
        json.dumps(change).encode(),
        1_764_000_000.25,
    )
    parked_in_queue(target, worker, record)
    queue = failure_queue(target, worker)
    invoker = FakeInvoker()

    # When the worker's failures are replayed, once the worker is fixed
    replay = StreamReplay(target, worker)
    plan = replay.plan_failures(queue.receive_all(str(worker.event_source_arn)))
    report = replay.run(plan, invoker, pacer=Pacer(FAST), queue=queue)

    # Then one one-record event carrying exactly that record was invoked, and the message is gone
    (event,) = invoker.events
    (delivered,) = event["Records"]
    assert delivered["kinesis"]["sequenceNumber"] == record.sequence_number
    assert delivered["kinesis"]["partitionKey"] == "fan:poison"
    assert json.loads(base64.b64decode(delivered["kinesis"]["data"])) == change
    assert (delivered["eventID"], delivered["eventSourceARN"]) == (
        f"shardId-000000000000:{record.sequence_number}",
        worker.event_source_arn,
    )
    (result,) = report.results
    assert (result.planned.parked, result.outcome, result.message_deleted) == (True, "replayed", True)
    assert report.summary("local").ranges[0].parked is True
    assert all_messages(target.clients, str(worker.on_failure_queue)) == 0


def test_a_parked_record_the_worker_fails_again_keeps_its_message(target: Target) -> None:
    # Given a parked record the worker still cannot handle
    worker = stream_worker(target.fleet, SEND)
    record = StreamRecord("shardId-000000000000", "7", "fan:poison", b"{}", 1_764_000_000.0)
    parked_in_queue(target, worker, record)
    queue = failure_queue(target, worker)

    # When it is re-driven and reported failed again
    replay = StreamReplay(target, worker)
    report = replay.run(
        replay.plan_failures(queue.receive_all(str(worker.event_source_arn))),
        FakeInvoker(answer=failing_items("7")),
        pacer=Pacer(FAST),
        queue=queue,
    )

    # Then it is reported failed and stays parked
    assert [(result.outcome, result.message_deleted) for result in report.results] == [("failed", False)]
    assert all_messages(target.clients, str(worker.on_failure_queue)) == 1


def test_a_parked_record_of_another_stream_is_reported_malformed_and_kept(target: Target) -> None:
    # Given a parked record whose source is another stream
    worker = stream_worker(target.fleet, SEND)
    other = "arn:aws:kinesis:us-east-1:123456789012:stream/other"
    parked_in_queue(
        target, worker, StreamRecord("shardId-000000000000", "8", "pk", b"{}", 1.0), stream_arn=other
    )
    queue = failure_queue(target, worker)
    invoker = FakeInvoker()

    # When the failures are replayed
    replay = StreamReplay(target, worker)
    report = replay.run(
        replay.plan_failures(queue.receive_all(str(worker.event_source_arn))),
        invoker,
        pacer=Pacer(FAST),
        queue=queue,
    )

    # Then nothing is invoked and the message stays, with the reason
    (result,) = report.results
    assert result.outcome == "malformed" and f"a parked record of {other}" in str(result.planned.reason)
    assert invoker.events == []
    assert all_messages(target.clients, str(worker.on_failure_queue)) == 1


# --- what is shown --------------------------------------------------------------------------------


def test_the_json_summary_has_the_documented_keys(target: Target) -> None:
    # Given a plan of one range
    start = datetime.now(UTC) - timedelta(seconds=1)
    put_changes(target.clients, table_stream(target.fleet), [notification_change("CREATED")])
    plan = StreamReplay(target, stream_worker(target.fleet, SEND)).plan_time_range(start)

    # When its dry run is summarized for --json
    document = dry_run_report(plan).summary("local").model_dump()

    # Then the keys are the documented ones, camelCase
    assert set(document) == {
        *("stack", "worker", "functionName", "qualifier", "mode", "dryRun", "start", "end"),
        *("recordsRead", "recordsMatching", "batches", "batchesFailed", "messagesDeleted", "ranges"),
    }
    assert set(document["ranges"][0]) == {
        *("shardId", "startSequenceNumber", "endSequenceNumber", "recordsRead", "recordsMatching"),
        *("batches", "batchesFailed", "failedRecords", "functionErrors", "outcome", "reason"),
        *("messageId", "messageDeleted", "parked"),
    }
    assert (document["dryRun"], document["ranges"][0]["outcome"], document["qualifier"]) == (
        True,
        "planned",
        "live",
    )


# --- pacing and batching --------------------------------------------------------------------------


def test_the_pacer_spaces_calls_by_the_rate() -> None:
    # Given a pacer of two batches a second on a clock that does not move by itself
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(2.0, clock=lambda: now[0], sleep=sleep)

    # When three batches are started back to back
    for _ in range(3):
        pacer.wait()

    # Then the first goes at once and each next one half a second after the previous
    assert slept == [0.5, 0.5]


def test_a_rate_of_zero_is_refused() -> None:
    with pytest.raises(ReplayError, match="--rate must be above 0"):
        Pacer(0)


def test_a_batch_is_cut_before_its_event_would_pass_lambdas_payload_limit() -> None:
    # Given records of 1.5 MB each (2 MB in base64)
    records = [
        StreamRecord("shardId-000000000000", str(number), "key", b"x" * 1_500_000, 0.0) for number in range(5)
    ]

    # When they are batched by a batch size of 100
    batches = batches_of(records, 100)

    # Then each batch's event stays under the limit: two records a batch
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert all(sum(len(record.data) * 4 // 3 for record in batch) < MAX_EVENT_BYTES for batch in batches)
