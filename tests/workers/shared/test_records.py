"""Trigger parsing and partial batch processing: bad records are reported, never dropped or contagious."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.events.models import EventPattern
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from record_strategies import notification_like, text
from runtime_fakes import OtlpReceiver

from infra.catalog import DEMAND_STREAM_TO_SQS_FILTERS, NOTIFICATION_SEND_FILTERS
from workers.shared.errors import RecordError, RetryableError
from workers.shared.models import EventRecord, NotificationRecord, SaleRecord, serialize_item
from workers.shared.observability import instrumented, span
from workers.shared.records import (
    ChangeRecord,
    QueueMessage,
    parse_change_record,
    parse_resolver_event,
    parse_scheduled_event,
    process_batch,
    queue_message,
    queue_message_attributes,
    stream_message,
)
from workers.shared.statuses import NotificationStatus

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
EventLoader = Callable[[str], dict[str, Any]]


class GenerationJob(BaseModel):
    """The generation-job body the scheduler enqueues (as a worker would declare it)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True)

    event_id: str
    sale_id: str


def decoded_data(record: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.b64decode(record["kinesis"]["data"]))
    return decoded


def kinesis_record(sequence: str, data: bytes) -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "pk",
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": 1705311900.456,
        },
        "eventSource": "aws:kinesis",
        "eventID": f"shardId-000000000000:{sequence}",
        "eventName": "aws:kinesis:record",
    }


def change_payload(item: dict[str, Any], *, event_name: str = "INSERT") -> bytes:
    payload = {
        "awsRegion": "us-east-1",
        "eventID": "c7a3b0f2-6e1d-4d3a-9f0e-2b8c1d5e7a90",
        "eventName": event_name,
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": "prd3292-qa1-us-east-1-demand-table",
        "dynamodb": {
            "ApproximateCreationDateTime": 1705311900123,
            "Keys": serialize_item({"PK": item["PK"], "SK": item["SK"]}),
            "NewImage": serialize_item(item),
            "SizeBytes": 512,
        },
        "eventSource": "aws:dynamodb",
    }
    return json.dumps(payload).encode()


def sqs_record(message_id: str, body: str, **attributes: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "2"},
        "messageAttributes": {
            name: {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}
            for name, value in attributes.items()
        },
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:prd3292-test-us-east-1-generation",
        "awsRegion": "us-east-1",
    }


# ------------------------------------------------------------------------- change records


def test_a_kinesis_dynamodb_insert_is_parsed_into_plain_python(load_event: EventLoader) -> None:
    # Given a realistic Kinesis-for-DynamoDB record of a new notification
    record = load_event("kinesis-dynamodb-insert.json")["Records"][0]

    # When it is parsed
    change = parse_change_record(record)

    # Then the envelope, keys and image are plain python (ints, not Decimal or typed JSON)
    assert change.sequence_number == record["kinesis"]["sequenceNumber"]
    assert change.change_id == "c7a3b0f2-6e1d-4d3a-9f0e-2b8c1d5e7a90"
    assert change.event_name == "INSERT"
    assert change.table_name == "prd3292-qa1-us-east-1-demand-table"
    assert change.keys == {
        "PK": "fan:a1b2c3d4e5",
        "SK": "notification#vvG1IZ9KBxv3Tg-vvG1IZ9KBxv3Tg-presale-vf#sms",
    }
    assert change.approximate_creation_time == datetime(2024, 1, 15, 9, 45, 0, 123000, tzinfo=UTC)
    assert change.new_image is not None
    assert change.new_image["sendAttempts"] == 0
    assert type(change.new_image["sendAttempts"]) is int
    assert change.new_image["status"] == {"id": "CREATED", "date": "2024-01-15T09:45:00.123Z"}
    assert change.old_image is None
    assert change.record_type == "notification"
    assert change.removed_by_ttl is False
    assert change.correlation_id == "fan:a1b2c3d4e5|notification#vvG1IZ9KBxv3Tg-vvG1IZ9KBxv3Tg-presale-vf#sms"

    # And the image is the typed notification the send worker acts on
    notification = change.new(NotificationRecord)
    assert notification.status.id is NotificationStatus.CREATED
    assert notification.key == change.key


def test_a_modify_carries_both_images(load_event: EventLoader) -> None:
    change = parse_change_record(load_event("kinesis-dynamodb-modify.json")["Records"][0])
    assert change.event_name == "MODIFY"
    assert change.old(EventRecord).name == "Beyonce - Renaissance"
    assert change.new(EventRecord).name == "Beyoncé - Renaissance World Tour"
    assert change.new(EventRecord).attractions[0].name == "Beyoncé"


def test_a_ttl_expiry_is_recognized_and_microsecond_timestamps_are_read(load_event: EventLoader) -> None:
    # Given a sale removed by TTL, streamed with microsecond precision
    change = parse_change_record(load_event("kinesis-dynamodb-ttl-remove.json")["Records"][0])

    # Then the removal is attributed to TTL and the time is right
    assert change.event_name == "REMOVE"
    assert change.removed_by_ttl is True
    assert change.new_image is None
    assert change.old(SaleRecord).sale_start_date == "2024-01-14"
    assert change.approximate_creation_time == datetime(2024, 1, 15, 10, 1, 1, tzinfo=UTC)
    with pytest.raises(RecordError, match=r"REMOVE change .* has no new image"):
        change.new(SaleRecord)


def test_sample_records_match_the_trigger_filters_infra_declares(load_event: EventLoader) -> None:
    # Given the filter patterns Lambda applies to {"data": <decoded record>}
    def matches(patterns: tuple[dict[str, Any], ...], record: dict[str, Any]) -> bool:
        document = {"data": decoded_data(record)}
        return any(EventPattern.load(json.dumps(pattern)).matches_event(document) for pattern in patterns)

    insert = load_event("kinesis-dynamodb-insert.json")["Records"][0]
    modify = load_event("kinesis-dynamodb-modify.json")["Records"][0]
    removal = load_event("kinesis-dynamodb-ttl-remove.json")["Records"][0]

    # Then the new CREATED notification reaches the sender, the event without short URL the forwarder
    assert matches(NOTIFICATION_SEND_FILTERS, insert)
    assert not matches(NOTIFICATION_SEND_FILTERS, modify)
    assert matches(DEMAND_STREAM_TO_SQS_FILTERS, modify)
    assert not matches(DEMAND_STREAM_TO_SQS_FILTERS, insert)
    assert not matches(NOTIFICATION_SEND_FILTERS + DEMAND_STREAM_TO_SQS_FILTERS, removal)


def test_an_invalid_image_is_a_record_error_naming_the_field(load_event: EventLoader) -> None:
    change = parse_change_record(load_event("kinesis-dynamodb-insert.json")["Records"][0])
    broken = change.model_copy(update={"new_image": {**(change.new_image or {}), "status": {"id": "LOST"}}})
    with pytest.raises(RecordError, match=r"new image is not a valid NotificationRecord: status\.id"):
        broken.new(NotificationRecord)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe not json", "data is not base64-encoded JSON"),
        (b"[1, 2]", "data is JSON but not an object"),
        (b'{"eventSource": "aws:sqs"}', "eventSource is 'aws:sqs', not 'aws:dynamodb'"),
        (b'{"eventSource": "aws:dynamodb", "eventID": "x"}', "missing 'dynamodb'"),
        (
            b'{"eventSource": "aws:dynamodb", "eventID": "x", "eventName": "UPSERT", "tableName": "t",'
            b' "dynamodb": {"Keys": {"PK": {"S": "a"}, "SK": {"S": "b"}}}}',
            "event_name: Input should be 'INSERT', 'MODIFY' or 'REMOVE'",
        ),
        (
            b'{"eventSource": "aws:dynamodb", "eventID": "x", "eventName": "INSERT", "tableName": "t",'
            b' "dynamodb": {"Keys": {"PK": {"Q": "a"}}}}',
            "not a DynamoDB change record",
        ),
    ],
)
def test_malformed_change_records_are_record_errors_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(RecordError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_change_record(kinesis_record("1", data))


@settings(max_examples=75, deadline=None)
@given(item=notification_like)
def test_any_serialized_item_parses_back_equal(item: dict[str, Any]) -> None:
    # Given a notification-like item serialized with TypeSerializer into a change record
    record = kinesis_record("4964", change_payload(item))

    # When it is parsed, then the new image equals the original item
    change = parse_change_record(record)
    assert change.new_image == item
    assert change.keys == {"PK": item["PK"], "SK": item["SK"]}


@settings(max_examples=75, deadline=None)
@given(
    data=st.binary(max_size=200)
    | st.builds(lambda value: json.dumps(value).encode(), st.dictionaries(text, text))
)
def test_arbitrary_data_never_escapes_as_anything_but_a_record_error(data: bytes) -> None:
    # When junk arrives on the stream, then parsing fails only with RecordError
    with pytest.raises(RecordError):
        parse_change_record(kinesis_record("1", data))


# ----------------------------------------------------------------------- messages and events


def test_an_sqs_message_is_parsed_with_its_attributes(load_event: EventLoader) -> None:
    # Given the generation-job message the scheduler sends
    record = load_event("sqs-message.json")["Records"][0]

    # When it is parsed into the job model
    message = queue_message(GenerationJob)(record)

    # Then body, id, string attributes and receive count are there
    assert message.body == GenerationJob(event_id="vvG1IZ9KBxv3Tg", sale_id="vvG1IZ9KBxv3Tg-presale-vf")
    assert message.message_id == "059f36b4-87a3-44ab-83d2-661975830a7d"
    assert message.correlation_id == "schedule-2024-01-15T15:00:00Z"
    assert message.attributes["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert message.receive_count == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "body is not JSON"),
        ('{"eventId": "e"}', "not a valid GenerationJob: saleId: Field required"),
    ],
)
def test_an_invalid_sqs_body_is_a_record_error_naming_the_problem(body: str, reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        queue_message(GenerationJob)(sqs_record("m-1", body))


def test_a_kinesis_json_message_is_parsed_into_its_model() -> None:
    # Given an SMS status event on its Kinesis stream
    class SmsStatus(BaseModel):
        reference: str
        status: str

    record = kinesis_record("77", b'{"reference": "fan:1|notification#e-s#sms", "status": "DELIVERED"}')

    # When parsed, then the body and stream position are typed
    message = stream_message(SmsStatus)(record)
    assert message.body.status == "DELIVERED"
    assert message.sequence_number == "77"
    assert message.arrival_time == datetime.fromtimestamp(1705311900.456, UTC)
    with pytest.raises(RecordError, match="not a valid SmsStatus: status: Field required"):
        stream_message(SmsStatus)(kinesis_record("78", b'{"reference": "x"}'))


def test_the_eventbridge_schedule_event_is_parsed(load_event: EventLoader) -> None:
    event = parse_scheduled_event(load_event("eventbridge-schedule.json"))
    assert event.detail_type == "Scheduled Event"
    assert event.time == datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
    assert event.resources[0].endswith(":rule/prd3292-qa1-us-east-1-ntfcn-schdlr-schedule")
    without_time = {
        key: value for key, value in load_event("eventbridge-schedule.json").items() if key != "time"
    }
    with pytest.raises(RecordError, match="not a valid ScheduledEvent: time: Field required"):
        parse_scheduled_event(without_time)


def test_the_appsync_direct_resolver_event_is_parsed(load_event: EventLoader) -> None:
    # Given an eventDetails query through a direct Lambda resolver
    class EventDetailsArguments(BaseModel):
        eventId: str  # noqa: N815 - GraphQL argument name
        tmMarketId: str = "TM_US"  # noqa: N815

    event = parse_resolver_event(load_event("appsync-direct-resolver.json"))

    # Then the field, arguments, identity and headers are typed
    assert (event.info.parent_type_name, event.info.field_name) == ("Query", "eventDetails")
    assert event.info.selection_set_list[:2] == ("eventId", "eventName")
    assert event.arguments_as(EventDetailsArguments).eventId == "vvG1IZ9KBxv3Tg"
    assert event.identity is not None
    assert event.identity["accountId"] == "123456789012"
    assert event.request.headers["x-amzn-trace-id"].startswith("Root=1-")
    with pytest.raises(RecordError, match="eventId: Field required"):
        event.model_copy(update={"arguments": {}}).arguments_as(EventDetailsArguments)
    with pytest.raises(RecordError, match="info: Field required"):
        parse_resolver_event({"arguments": {}})


# --------------------------------------------------------------------------- batch processing


def test_a_mixed_batch_reports_exactly_the_failing_records(
    lambda_context: Any, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given good, malformed, invalid and failing messages in one SQS batch
    good = '{"eventId": "e1", "saleId": "s1"}'
    event = {
        "Records": [
            sqs_record("m-good-1", good, correlationId="corr-1"),
            sqs_record("m-bad-json", "{not json"),
            sqs_record("m-invalid", '{"eventId": "e1"}'),
            sqs_record("m-fails", '{"eventId": "e1", "saleId": "explode"}'),
            sqs_record("m-good-2", '{"eventId": "e2", "saleId": "s2"}'),
        ]
    }
    handled: list[str] = []

    def handle(message: QueueMessage[GenerationJob]) -> None:
        if message.body.sale_id == "explode":
            raise RetryableError("DynamoDB throttled")
        handled.append(message.message_id)
        from workers.shared.observability import LOGGER

        LOGGER.info("handled")

    # When the batch is processed
    response = process_batch(
        event, lambda_context, event_type="SQS", parser=queue_message(GenerationJob), record_handler=handle
    )

    # Then exactly the three bad records come back, and the good ones were processed
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": "m-bad-json"},
            {"itemIdentifier": "m-invalid"},
            {"itemIdentifier": "m-fails"},
        ]
    }
    assert handled == ["m-good-1", "m-good-2"]

    # And every failure has a log line that says which record and why; good records are correlated
    lines = log_lines()
    rejected = {
        line["record_id"]: line["reason"]
        for line in lines
        if line["message"] == "Record rejected: cannot parse"
    }
    assert rejected["m-bad-json"].startswith("body is not JSON")
    assert rejected["m-invalid"] == "not a valid GenerationJob: saleId: Field required"
    (failed,) = [line for line in lines if line["message"] == "Record failed"]
    assert (failed["record_id"], failed["error_type"], failed["retryable"]) == (
        "m-fails",
        "RetryableError",
        True,
    )
    correlations = [line["correlation_id"] for line in lines if line["message"] == "handled"]
    assert correlations == ["corr-1", "m-good-2"]
    summary = next(line for line in lines if line["message"] == "Batch processed")
    assert (summary["records"], summary["failed"]) == (5, 3)


def test_an_all_failing_batch_returns_every_id_without_raising(lambda_context: Any) -> None:
    # Given a batch where nothing can be processed
    event = {"Records": [sqs_record(f"m-{index}", "{not json") for index in range(4)]}

    # When it is processed, then no BatchProcessingError: all ids are reported for retry
    response = process_batch(
        event,
        lambda_context,
        event_type="SQS",
        parser=queue_message(GenerationJob),
        record_handler=lambda _: None,
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": f"m-{index}"} for index in range(4)]}


def test_a_kinesis_batch_reports_failures_by_sequence_number(
    load_event: EventLoader, lambda_context: Any, emf_blobs: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given a good change record and an unreadable one on the table stream
    good = load_event("kinesis-dynamodb-insert.json")["Records"][0]
    garbage = kinesis_record("49648716598215543873812372847206581349879125512704245999", b"\x00garbage")
    seen: list[ChangeRecord] = []

    @instrumented
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return process_batch(
            event,
            context,
            event_type="KinesisDataStreams",
            parser=parse_change_record,
            record_handler=seen.append,
        )

    # When processed by an instrumented handler
    response = lambda_handler({"Records": [good, garbage]}, lambda_context)

    # Then only the garbage is reported, by its sequence number, and counted in a metric
    assert response == {"batchItemFailures": [{"itemIdentifier": garbage["kinesis"]["sequenceNumber"]}]}
    assert [change.record_type for change in seen] == ["notification"]
    failures = [blob["BatchRecordsFailed"] for blob in emf_blobs() if "BatchRecordsFailed" in blob]
    assert failures == [[1.0]]


def test_trace_context_travels_with_the_queue_message(
    otlp_receiver: OtlpReceiver, lambda_context: Any
) -> None:
    # Given a producer that sends a message with the runtime's message attributes
    with span("enqueue generation job", kind="producer"):
        attributes = queue_message_attributes(correlation_id="corr-9")
    record = sqs_record("m-1", '{"eventId": "e", "saleId": "s"}')
    record["messageAttributes"] = {
        name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
        for name, value in attributes.items()
    }

    # When the consumer processes it
    @instrumented
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return process_batch(
            event,
            context,
            event_type="SQS",
            parser=queue_message(GenerationJob),
            record_handler=lambda _: None,
        )

    lambda_handler({"Records": [record]}, lambda_context)

    # Then the record's span continues the producer's trace
    spans = {exported.name: exported for exported in otlp_receiver.spans()}
    producer, consumer = spans["enqueue generation job"], spans["process record"]
    assert attributes["correlationId"] == {"DataType": "String", "StringValue": "corr-9"}
    assert consumer.trace_id == producer.trace_id
    assert consumer.parent_span_id == producer.span_id
    assert consumer.attributes["messaging.message.id"] == "m-1"


def test_batch_processing_does_not_load_the_powertools_parser() -> None:
    # Given a fresh interpreter processing an SQS batch with the runtime
    code = (
        "import sys\n"
        "import pydantic\n"
        "from workers.shared.records import process_batch, queue_message\n"
        "class Body(pydantic.BaseModel):\n"
        "    x: int\n"
        "event = {'Records': [{'messageId': 'm', 'body': '{\"x\": 1}', 'attributes': {}}]}\n"
        "result = process_batch(event, None, event_type='SQS', parser=queue_message(Body),"
        " record_handler=lambda m: None)\n"
        "assert result == {'batchItemFailures': []}, result\n"
        "assert sys.modules['pydantic'] is pydantic\n"
        "print('aws_lambda_powertools.utilities.parser' in sys.modules)\n"
    )

    # When it runs, then the parser package (~80 ms of imports) was never loaded
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False"
