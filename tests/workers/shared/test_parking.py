"""Poison records parked: whole, with reason and position, reported handled; transient ones keep retrying."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from workers.shared.errors import (
    PermanentError,
    PermanentVendorError,
    RetryableError,
    SecretError,
    SettingsError,
)
from workers.shared.observability import instrumented
from workers.shared.parking import (
    PARKED_ATTRIBUTE,
    ParkedRecord,
    RecordParking,
    is_poison,
    parked_record,
    record_parking,
)
from workers.shared.queue_sender import QueueSender
from workers.shared.records import ChangeRecord, parse_change_record, process_batch

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
EventLoader = Callable[[str], dict[str, Any]]
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/prd3292-qa1-us-east-1-demand-table-stream"
SHARD = "shardId-000000000003"


def kinesis_record(sequence: str, data: bytes, *, partition_key: str = "pk-1") -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": 1705311900.456,
        },
        "eventSource": "aws:kinesis",
        "eventSourceARN": STREAM_ARN,
        "eventID": f"{SHARD}:{sequence}",
        "eventName": "aws:kinesis:record",
    }


@pytest.fixture
def parking_queue(aws: None) -> str:
    """A moto SQS queue standing for the worker's on-failure queue; returns its URL."""
    return boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="ntfcn-snd-on-failure")[
        "QueueUrl"
    ]


def received(queue_url: str) -> list[dict[str, Any]]:
    client = boto3.client("sqs", region_name="us-east-1")
    answer = client.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
    )
    return list(answer.get("Messages", []))


def stream_batch(
    event: dict[str, Any],
    context: Any,
    parking: RecordParking | None,
    handler: Callable[[ChangeRecord], None],
) -> dict[str, Any]:
    return process_batch(
        event,
        context,
        event_type="KinesisDataStreams",
        parser=parse_change_record,
        record_handler=handler,
        parking=parking,
    )


def test_an_unparseable_record_is_parked_whole_with_its_position_and_reported_handled(
    load_event: EventLoader,
    lambda_context: Any,
    parking_queue: str,
    emf_blobs: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given a good change record and an unreadable one in the same shard batch
    good = load_event("kinesis-dynamodb-insert.json")["Records"][0]
    garbage = kinesis_record("49600000000000000000000000000000000000000000000000000042", b"\x00garbage")
    handled: list[ChangeRecord] = []
    parking = record_parking("notification_send", parking_queue)

    @instrumented
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return stream_batch(event, context, parking, handled.append)

    # When the batch is processed with parking by an instrumented handler
    response = lambda_handler({"Records": [good, garbage]}, lambda_context)

    # Then nothing is reported failed: the good record was handled and the garbage parked
    assert response == {"batchItemFailures": []}
    assert len(handled) == 1
    (message,) = received(parking_queue)
    assert message["MessageAttributes"][PARKED_ATTRIBUTE]["StringValue"] == "1"
    assert message["MessageAttributes"]["dmdWorker"]["StringValue"] == "notification_send"
    parked = parked_record(message["Body"])
    assert parked is not None

    # And the parked message holds the raw record (data, partition key, sequence), reason and position
    assert parked.record == garbage
    assert base64.b64decode(parked.record["kinesis"]["data"]) == b"\x00garbage"
    assert (parked.worker, parked.reason.error_type) == ("notification_send", "RecordError")
    assert parked.reason.message.startswith("data is not base64-encoded JSON")
    assert (parked.source.kind, parked.source.event_source_arn, parked.source.shard_id) == (
        "kinesis",
        STREAM_ARN,
        SHARD,
    )
    assert parked.source.sequence_number == garbage["kinesis"]["sequenceNumber"]
    assert parked.event() == {"Records": [garbage]}
    body = json.loads(message["Body"])
    assert set(body) == {"parked"} and body["parked"]["source"]["eventSourceARN"] == STREAM_ARN

    # And the parked record is counted, the failed metric is not emitted
    blobs = emf_blobs()
    assert [blob["BatchRecordsParked"] for blob in blobs if "BatchRecordsParked" in blob] == [[1.0]]
    assert not [blob for blob in blobs if "BatchRecordsFailed" in blob]


def test_a_permanent_error_of_the_handler_parks_the_record(
    load_event: EventLoader, lambda_context: Any, parking_queue: str
) -> None:
    # Given a record the handler rejects for good (an invalid phone number, say)
    record = load_event("kinesis-dynamodb-insert.json")["Records"][0]

    def handler(change: ChangeRecord) -> None:
        raise PermanentError("phone number +1555 is not valid")

    # When processed with parking
    response = stream_batch(
        {"Records": [record]}, lambda_context, record_parking("w", parking_queue), handler
    )

    # Then it is parked with the error's type and message, and reported handled
    assert response == {"batchItemFailures": []}
    (message,) = received(parking_queue)
    parked = parked_record(message["Body"])
    assert parked is not None and parked.record == record
    assert (parked.reason.error_type, parked.reason.message) == (
        "PermanentError",
        "phone number +1555 is not valid",
    )


def test_a_transient_failure_keeps_lambdas_retry_path(
    load_event: EventLoader, lambda_context: Any, parking_queue: str
) -> None:
    # Given a record whose handling is throttled
    record = load_event("kinesis-dynamodb-insert.json")["Records"][0]

    def handler(change: ChangeRecord) -> None:
        raise RetryableError("DynamoDB throttled")

    # When processed with parking
    response = stream_batch(
        {"Records": [record]}, lambda_context, record_parking("w", parking_queue), handler
    )

    # Then it is reported failed by sequence number, and nothing is parked
    assert response == {"batchItemFailures": [{"itemIdentifier": record["kinesis"]["sequenceNumber"]}]}
    assert received(parking_queue) == []


def test_a_record_that_cannot_be_parked_is_reported_failed_as_before(
    lambda_context: Any, aws: None, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given parking to a queue that does not exist
    missing = "https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue"
    garbage = kinesis_record("49600000000000000000000000000000000000000000000000000043", b"not json")

    # When the poison record is processed
    response = stream_batch(
        {"Records": [garbage]}, lambda_context, record_parking("w", missing), lambda change: None
    )

    # Then it is reported failed (never lost), and the log says why it was not parked
    assert response == {"batchItemFailures": [{"itemIdentifier": garbage["kinesis"]["sequenceNumber"]}]}
    assert any(line["message"] == "Record not parked: reported failed instead" for line in log_lines())


def test_without_a_parking_queue_poison_records_are_reported_failed(lambda_context: Any) -> None:
    # Given a worker whose environment names no parking queue
    garbage = kinesis_record("49600000000000000000000000000000000000000000000000000044", b"not json")

    # When the poison record is processed, then it comes back failed as before parking existed
    response = stream_batch({"Records": [garbage]}, lambda_context, record_parking("w", None), lambda _: None)
    assert response == {"batchItemFailures": [{"itemIdentifier": garbage["kinesis"]["sequenceNumber"]}]}


def test_a_queue_message_is_parked_with_its_body_attributes_and_message_id(
    lambda_context: Any, parking_queue: str
) -> None:
    # Given an SQS record whose body is not JSON
    from tests.workers.shared.test_records import GenerationJob, sqs_record
    from workers.shared.records import queue_message

    record = sqs_record("m-1", "{not json", correlationId="corr-1")

    # When processed with parking
    response = process_batch(
        {"Records": [record]},
        lambda_context,
        event_type="SQS",
        parser=queue_message(GenerationJob),
        record_handler=lambda _: None,
        parking=record_parking("notification_generator", parking_queue),
    )

    # Then the message is parked with its body, attributes, queue ARN and message id
    assert response == {"batchItemFailures": []}
    (message,) = received(parking_queue)
    parked = parked_record(message["Body"])
    assert parked is not None
    assert (parked.record["body"], parked.record["messageAttributes"]) == (
        "{not json",
        record["messageAttributes"],
    )
    assert (parked.source.kind, parked.source.event_source_arn, parked.source.message_id) == (
        "sqs",
        record["eventSourceARN"],
        "m-1",
    )


@pytest.mark.parametrize(
    ("error", "poison"),
    [
        (PermanentError("bad input"), True),
        (PermanentVendorError("sms", "invalid number", status_code=400), True),
        (RetryableError("throttled"), False),
        (ValueError("a bug"), False),
        (SettingsError("SMS_SERVICE_URL is not set"), False),
        (SecretError("secret is not JSON"), False),
        (PermanentVendorError("sms", "bad credentials", status_code=401), False),
        (PermanentVendorError("sms", "forbidden", status_code=403), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_only_errors_of_the_record_itself_are_poison(error: Exception, poison: bool) -> None:
    # Given an error a record handler raised; then it parks the record only if the record is at fault
    assert is_poison(error) is poison


def test_anything_but_a_parked_body_is_not_a_parked_record() -> None:
    # Given Lambda's own on-failure record and plain text; then neither reads as parked
    assert parked_record('{"requestContext": {"condition": "RetryAttemptsExhausted"}}') is None
    assert parked_record("not json") is None
    # And a parked body round-trips
    parked = ParkedRecord.model_validate(
        {
            "worker": "w",
            "parkedAt": "2026-12-01T09:00:00+00:00",
            "reason": {"errorType": "RecordError", "message": "m"},
            "source": {"kind": "sqs", "messageId": "m-1"},
            "record": {"messageId": "m-1", "body": "x"},
        }
    )
    assert parked_record(json.dumps({"parked": parked.model_dump(mode="json", by_alias=True)})) == parked


def test_parking_sends_one_message_per_record(parking_queue: str) -> None:
    # Given parking on the queue's sender
    parking = RecordParking(worker="w", queue=QueueSender(url=parking_queue))

    # When two records are parked, then each is one message
    assert parking.park({"messageId": "a", "body": "x"}, "sqs", PermanentError("a"))
    assert parking.park({"messageId": "b", "body": "y"}, "sqs", PermanentError("b"))
    bodies = sorted(
        parked.source.message_id or ""
        for parked in map(parked_record, [m["Body"] for m in received(parking_queue)])
        if parked
    )
    assert bodies == ["a", "b"]
