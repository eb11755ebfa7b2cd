"""The shared record parsers: any JSON in, a typed record or a RecordError out, never another error.

Each parser meets arbitrary JSON and near-valid mutations of a realistic record (record_strategies.py).
A parser that let a KeyError, TypeError, OverflowError or a pydantic ValidationError escape would make
its record look transient to `process_batch` and `is_poison`: retried, never parked, a stalled shard.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from record_strategies import (
    VALID_DEMAND,
    VALID_EVENT,
    VALID_GENERATION_JOB,
    VALID_NOTIFICATION,
    VALID_RESOLVER_EVENT,
    VALID_SALE,
    VALID_SCHEDULE_EVENT,
    VALID_SHORT_URL_JOB,
    VALID_STATUS_EVENT,
    change_payload,
    documents,
    json_objects,
    json_values,
    kinesis_records,
    near_valid,
    sqs_records,
    text,
)
from trigger_records import kinesis_record, sequence_number

from workers.shared.errors import RecordError
from workers.shared.keys import Key, key_from_reference, notification_reference
from workers.shared.messages import GenerationJob, ShortUrlJob, SmsStatusEvent
from workers.shared.models import (
    DemandTableRecord,
    EventRecord,
    NotificationRecord,
    SaleRecord,
    SmsMessageRecord,
    format_timestamp,
)
from workers.shared.parking import ParkedMessage, RecordParking, parked_record
from workers.shared.queue_sender import QueueSender
from workers.shared.records import (
    ChangeRecord,
    parse_change_record,
    parse_resolver_event,
    parse_scheduled_event,
    process_batch,
    queue_message,
    stream_message,
)
from workers.sms_status_consumer.models import StatusRecordBody

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

IMAGE_MODELS: tuple[type[DemandTableRecord], ...] = (
    NotificationRecord,
    EventRecord,
    SaleRecord,
    SmsMessageRecord,
)
VALID_ITEMS = (VALID_NOTIFICATION, VALID_EVENT, VALID_SALE)
# A table stream payload: one of the demand table's items, valid or not, in a valid or damaged change.
change_payloads = st.sampled_from(VALID_ITEMS).flatmap(lambda item: documents(change_payload(item)))


def typed_or_record_error(parse: Any, *arguments: Any) -> Any:
    """The parser's result, or None when it raised RecordError; any other exception fails the test."""
    try:
        return parse(*arguments)
    except RecordError as error:
        assert str(error), "a RecordError says what is wrong"
        return None


# ------------------------------------------------------------------------------ table stream records


@example(  # found: an ApproximateCreationDateTime beyond any float escaped as OverflowError
    record=kinesis_record(
        "1",
        json.dumps(
            {**change_payload(VALID_SALE), "dynamodb": {"Keys": {}, "ApproximateCreationDateTime": 10**400}}
        ).encode(),
    )
)
@given(record=kinesis_records(change_payloads))
def test_any_table_stream_record_is_a_change_or_a_record_error(record: dict[str, Any]) -> None:
    # Given any record on the table stream: a valid change, a damaged one, garbage data or envelope
    # When it is parsed
    change = typed_or_record_error(parse_change_record, record)

    # Then it is a typed change whose images are typed records or RecordErrors, never anything else
    if change is not None:
        assert isinstance(change, ChangeRecord)
        assert change.event_name in ("INSERT", "MODIFY", "REMOVE")
        assert change.approximate_creation_time is None or change.approximate_creation_time.tzinfo is not None
        for model in IMAGE_MODELS:
            for image in (change.new, change.old):
                parsed = typed_or_record_error(image, model)
                assert parsed is None or isinstance(parsed, model)


@example(  # found: an instant UTC cannot hold escaped the Timestamp validator as OverflowError
    item={**VALID_NOTIFICATION, "status": {"id": "SENT", "date": "0001-01-01T00:00:00+05:00"}},
    model=NotificationRecord,
)
@given(
    item=st.sampled_from(VALID_ITEMS).flatmap(lambda item: st.just(item) | near_valid(item)) | json_objects,
    model=st.sampled_from(IMAGE_MODELS),
)
def test_any_image_is_a_typed_record_or_a_record_error(
    item: dict[str, Any], model: type[DemandTableRecord]
) -> None:
    # Given any item as a change's new image
    change = ChangeRecord(
        sequence_number="1", change_id="c", event_name="MODIFY", table_name="t", keys={}, new_image=item
    )

    # When the worker reads it as its record type, then a typed record or a RecordError
    parsed = typed_or_record_error(change.new, model)
    assert parsed is None or isinstance(parsed, model)

    # And reading the item directly (ops' tooling) fails only with the ValidationError it catches
    with contextlib.suppress(ValidationError):
        model.from_item(item)


@given(
    moment=st.datetimes(timezones=st.just(UTC)),
    field=st.sampled_from(["status.date", "date.created", "nextAttemptAt", "sweepAt"]),
)
def test_every_instant_a_notification_holds_is_written_as_it_reads_back(moment: datetime, field: str) -> None:
    # Given a valid notification holding any instant of years 1 to 9999 in one of its timestamps
    item = json.loads(json.dumps(VALID_NOTIFICATION))
    *parents, name = field.split(".")
    holder = item
    for parent in parents:
        holder = holder[parent]
    holder[name] = format_timestamp(moment)

    # When it is read, written back as an item and read again, then nothing changed
    record = NotificationRecord.from_item(item)
    assert NotificationRecord.from_item(record.to_item()) == record


# ---------------------------------------------------------------------------- Kinesis JSON messages


@given(
    record=kinesis_records(documents(VALID_STATUS_EVENT)),
    model=st.sampled_from([StatusRecordBody, SmsStatusEvent]),
)
def test_any_status_stream_record_is_a_message_or_a_record_error(
    record: dict[str, Any], model: type[BaseModel]
) -> None:
    # Given any record on the SMS status stream, when it is parsed into the consumer's body model
    message = typed_or_record_error(stream_message(model), record)

    # Then a typed message at a known position, or a RecordError
    if message is not None:
        assert isinstance(message.body, model)
        assert isinstance(message.sequence_number, str)
        assert message.arrival_time is None or message.arrival_time.tzinfo is not None


# ------------------------------------------------------------------------------------- SQS messages


@example(job=(ShortUrlJob, {"messageId": "m-1", "body": None}))  # found: escaped as TypeError
@given(
    job=st.sampled_from([(GenerationJob, VALID_GENERATION_JOB), (ShortUrlJob, VALID_SHORT_URL_JOB)]).flatmap(
        lambda pair: st.tuples(st.just(pair[0]), sqs_records(documents(pair[1])))
    )
)
def test_any_queue_message_is_a_job_or_a_record_error(job: tuple[type[BaseModel], dict[str, Any]]) -> None:
    # Given any SQS record on the generation or short-url queue
    model, record = job

    # When it is parsed into its job, then a typed job or a RecordError
    message = typed_or_record_error(queue_message(model), record)
    if message is not None:
        assert isinstance(message.body, model)
        assert isinstance(message.receive_count, int)
        assert all(isinstance(value, str) for value in message.attributes.values())


# --------------------------------------------------------------------- EventBridge and AppSync events


@given(event=documents(VALID_SCHEDULE_EVENT))
def test_any_schedule_event_is_a_scheduled_event_or_a_record_error(event: Any) -> None:
    parsed = typed_or_record_error(parse_scheduled_event, event)
    if parsed is not None:
        # An instant UTC can hold: the scheduler computes its window from it
        assert parsed.time.utcoffset() is not None
        assert parsed.time == parsed.time.astimezone(UTC)


@given(event=documents(VALID_RESOLVER_EVENT), arguments_model=st.sampled_from([ShortUrlJob, GenerationJob]))
def test_any_resolver_event_is_a_resolver_event_or_a_record_error(
    event: Any, arguments_model: type[BaseModel]
) -> None:
    # Given any AppSync direct resolver event, when parsed and its arguments validated into a model
    parsed = typed_or_record_error(parse_resolver_event, event)

    # Then typed values or RecordErrors all the way
    if parsed is not None:
        assert isinstance(parsed.info.field_name, str)
        arguments = typed_or_record_error(parsed.arguments_as, arguments_model)
        assert arguments is None or isinstance(arguments, arguments_model)


# ------------------------------------------------------------------------------ demand table pieces


@given(reference=text | st.builds(lambda pk, sk: f"{pk}|{sk}", text, text))
def test_any_reference_is_a_notification_key_or_a_record_error(reference: str) -> None:
    key = typed_or_record_error(key_from_reference, reference)
    if key is not None:
        assert key.pk.startswith("fan:") and key.sk.startswith("notification#")
        assert notification_reference(key) == reference


@given(item=near_valid(VALID_DEMAND) | json_objects | st.just(VALID_DEMAND))
def test_any_demand_item_is_read_or_skipped_with_a_reason(item: dict[str, Any]) -> None:
    from workers.shared.demand_reading import read_demand

    # Given any item on a sale's demand index, when the generator reads it (it never raises)
    reading = read_demand(item, event_id="vvG1IZ9KBxv3Tg", sale_id="vvG1IZ9KBxv3Tg-presale-vf")

    # Then a reminder-ready record, or a skip that names its reason
    skipped = [deviation for deviation in reading.deviations if deviation.kind.skips_the_record]
    assert (reading.record is None) == bool(skipped)
    assert reading.record is None or reading.record.contact_methods


# ---------------------------------------------------------------------------------- parked records


@given(
    body=text
    | json_values.map(json.dumps)
    | near_valid({"parked": {"worker": "w", "record": {}}}).map(json.dumps)
)
def test_any_queue_body_is_a_parked_record_or_none(body: str) -> None:
    # Given any message body on a dead-letter queue, when `dmd dlq`/`replay` look for a parked record
    parked = parked_record(body)

    # Then a typed parked record, or None (Lambda's own on-failure records, a redriven message...)
    assert parked is None or parked.event() == {"Records": [parked.record]}


@pytest.fixture
def parking(aws: None) -> RecordParking:
    queue_url = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="ntfcn-snd-on-failure")[
        "QueueUrl"
    ]
    return RecordParking(worker="notification_send", queue=QueueSender(url=queue_url))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(
    record={"kinesis": "x", "eventSourceARN": 5, "eventID": ["shard"]}, kind="kinesis"
)  # found: not parked
@example(record={"messageId": 7, "body": "{"}, kind="sqs")
@given(
    record=st.one_of(
        kinesis_records(change_payloads), sqs_records(documents(VALID_SHORT_URL_JOB)), json_objects
    ),
    kind=st.sampled_from(["kinesis", "sqs"]),
)
def test_any_poison_record_is_parked_whole(parking: RecordParking, record: dict[str, Any], kind: Any) -> None:
    # Given any record a worker could not parse, its envelope malformed or not
    error = RecordError("not a DynamoDB change record")

    # When it is parked, then the queue holds it whole (the queue is shared: one message per example)
    assert parking.park(record, kind, error) is True
    messages = parking.queue._client().receive_message(
        QueueUrl=parking.queue.url, MaxNumberOfMessages=1, MessageAttributeNames=["All"]
    )["Messages"]
    parked = ParkedMessage.model_validate_json(messages[0]["Body"]).parked
    assert parked.record == record
    assert parked.reason.error_type == "RecordError"
    parking.queue._client().delete_message(
        QueueUrl=parking.queue.url, ReceiptHandle=messages[0]["ReceiptHandle"]
    )


# ---------------------------------------------------------------------------------- whole batches


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payloads=st.lists(change_payloads, min_size=1, max_size=4),
)
def test_any_stream_batch_is_answered_record_by_record(lambda_context: Any, payloads: list[Any]) -> None:
    # Given a table stream batch whose records carry any data
    records = [
        kinesis_record(sequence_number(index), json.dumps(payload).encode())
        for index, payload in enumerate(payloads)
    ]
    handled: list[Key] = []

    # When it is processed by a handler that reads each image as a notification
    response = process_batch(
        {"Records": records},
        lambda_context,
        event_type="KinesisDataStreams",
        parser=parse_change_record,
        record_handler=lambda change: handled.append(change.new(NotificationRecord).key),
    )

    # Then nothing escapes: each record is handled or reported failed by its own sequence number
    failed = [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
    assert len(failed) + len(handled) == len(records)
    assert set(failed) <= {record["kinesis"]["sequenceNumber"] for record in records}
