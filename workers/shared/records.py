"""Trigger payloads parsed into models, and partial-batch processing for stream and queue workers."""

from __future__ import annotations

import base64
import binascii
import functools
import importlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from workers.shared.errors import PermanentError, RecordError, validation_reason
from workers.shared.keys import Key
from workers.shared.models import DemandTableRecord, UtcInstant, deserialize_item
from workers.shared.observability import (
    BATCH_RECORDS_FAILED,
    BATCH_RECORDS_PARKED,
    LOGGER,
    correlated,
    count,
    extract_context,
    inject_context,
    span,
)

# The resolvers' events live apart (no table models to build for a resolver that has no table).
from workers.shared.resolver_events import (  # noqa: F401 - re-exported
    ResolverEvent,
    ResolverInfo,
    ResolverRequest,
    parse_resolver_event,
)

if TYPE_CHECKING:
    from types import ModuleType

    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

    from workers.shared.parking import RecordParking

ModelT = TypeVar("ModelT", bound=BaseModel)
RecordT = TypeVar("RecordT", bound=DemandTableRecord)
ParsedT = TypeVar("ParsedT")
BatchEventType = Literal["SQS", "KinesisDataStreams"]
BatchResponse = dict[str, list[dict[str, str]]]

CORRELATION_ATTRIBUTE = "correlationId"
TTL_PRINCIPAL = "dynamodb.amazonaws.com"


# --------------------------------------------------------------------------------------------
# Kinesis records carrying DynamoDB change records (Kinesis Data Streams for DynamoDB)
# --------------------------------------------------------------------------------------------


class ChangeRecord(BaseModel):
    """One item change of the demand table, images unmarshalled to plain python."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    sequence_number: str
    change_id: str
    event_name: Literal["INSERT", "MODIFY", "REMOVE"]
    table_name: str
    aws_region: str | None = None
    keys: dict[str, Any]
    new_image: dict[str, Any] | None = None
    old_image: dict[str, Any] | None = None
    approximate_creation_time: AwareDatetime | None = None
    size_bytes: int | None = None
    removed_by_ttl: bool = False

    @property
    def key(self) -> Key:
        """The changed item's primary key."""
        return Key(str(self.keys["PK"]), str(self.keys["SK"]))

    @property
    def record_type(self) -> str | None:
        """The item's `type` attribute (new image first, else old)."""
        image = self.new_image or self.old_image or {}
        value = image.get("type")
        return str(value) if value is not None else None

    @property
    def correlation_id(self) -> str:
        """`PK|SK` of the item: for a notification, the same reference the SMS service echoes."""
        key = self.key
        return f"{key.pk}|{key.sk}"

    def new(self, model: type[RecordT]) -> RecordT:
        """The new image as a typed record; RecordError when absent or invalid."""
        return _image_as(self.new_image, model, self, "new")

    def old(self, model: type[RecordT]) -> RecordT:
        """The old image as a typed record; RecordError when absent or invalid."""
        return _image_as(self.old_image, model, self, "old")


def _image_as(
    image: dict[str, Any] | None, model: type[RecordT], record: ChangeRecord, which: str
) -> RecordT:
    if image is None:
        raise RecordError(f"{record.event_name} change {record.change_id} has no {which} image")
    try:
        return model.from_item(image)
    except ValidationError as error:
        raise RecordError(
            f"{which} image is not a valid {model.__name__}: {validation_reason(error)}"
        ) from None


def parse_change_record(record: Mapping[str, Any]) -> ChangeRecord:
    """A Lambda Kinesis record whose data is a DynamoDB change record → ChangeRecord."""
    try:
        kinesis = record["kinesis"]
        payload = _decode_json(kinesis["data"])
        if payload.get("eventSource") != "aws:dynamodb":
            raise RecordError(f"eventSource is {payload.get('eventSource')!r}, not 'aws:dynamodb'")
        change = payload["dynamodb"]
        identity = payload.get("userIdentity") or {}
        return ChangeRecord(
            sequence_number=kinesis["sequenceNumber"],
            change_id=payload["eventID"],
            event_name=payload["eventName"],
            table_name=payload["tableName"],
            aws_region=payload.get("awsRegion"),
            keys=deserialize_item(change["Keys"]),
            new_image=deserialize_item(change["NewImage"]) if "NewImage" in change else None,
            old_image=deserialize_item(change["OldImage"]) if "OldImage" in change else None,
            approximate_creation_time=_epoch(change.get("ApproximateCreationDateTime")),
            size_bytes=change.get("SizeBytes"),
            removed_by_ttl=identity.get("type") == "Service" and identity.get("principalId") == TTL_PRINCIPAL,
        )
    except RecordError:
        raise
    except ValidationError as error:
        raise RecordError(f"not a DynamoDB change record: {validation_reason(error)}") from None
    except KeyError as error:
        raise RecordError(f"not a DynamoDB change record: missing {error}") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise RecordError(f"not a DynamoDB change record: {error}") from None


def _decode_json(data: object) -> dict[str, Any]:
    if not isinstance(data, str | bytes):
        raise RecordError(f"data is a JSON {type(data).__name__}, not a base64 string")
    try:
        decoded = json.loads(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError) as error:
        raise RecordError(f"data is not base64-encoded JSON: {error}") from None
    if not isinstance(decoded, dict):
        raise RecordError("data is JSON but not an object")
    return decoded


def _epoch(value: float | None) -> datetime | None:
    """ApproximateCreationDateTime: epoch milliseconds or microseconds (table setting), or seconds."""
    if value is None:
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        raise RecordError(f"ApproximateCreationDateTime {value} is out of range") from None
    if number > 1e14:
        number /= 1_000_000
    elif number > 1e11:
        number /= 1000
    return _instant(number)


def _instant(epoch_seconds: float) -> datetime:
    """An epoch time as an aware datetime; RecordError when no datetime can hold it."""
    try:
        return datetime.fromtimestamp(epoch_seconds, UTC)
    except (OverflowError, OSError, ValueError):
        # OverflowError/OSError: beyond the platform's time_t; ValueError: NaN or beyond year 9999.
        raise RecordError(f"epoch time {epoch_seconds!r} is out of range") from None


def _mapping(record: Mapping[str, Any], name: str, kind: str) -> Mapping[str, Any]:
    """`record[name]` when it is a JSON object; RecordError naming what it is otherwise."""
    value = record.get(name) if isinstance(record, Mapping) else None
    if not isinstance(value, Mapping):
        raise RecordError(f"not {kind}: {name} is {type(value).__name__}, not an object")
    return value


# --------------------------------------------------------------------------------------------
# Kinesis JSON messages (e.g. SMS status events) and SQS messages
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamMessage(Generic[ModelT]):
    """A Kinesis record whose data is a JSON document."""

    sequence_number: str
    partition_key: str
    arrival_time: datetime | None
    body: ModelT

    @property
    def correlation_id(self) -> str | None:
        """None: the body model knows better (pass `correlation_id=` to `process_batch`)."""
        return None


def stream_message(model: type[ModelT]) -> Callable[[Mapping[str, Any]], StreamMessage[ModelT]]:
    """A parser of Kinesis JSON records into `model` bodies, for `process_batch`."""

    def parse(record: Mapping[str, Any]) -> StreamMessage[ModelT]:
        kinesis = _mapping(record, "kinesis", "a Kinesis record")
        try:
            sequence_number, data = kinesis["sequenceNumber"], kinesis["data"]
        except KeyError as error:
            raise RecordError(f"not a Kinesis record: missing {error}") from None
        return StreamMessage(
            sequence_number=_text(sequence_number, "sequenceNumber"),
            partition_key=_text(kinesis.get("partitionKey", ""), "partitionKey"),
            arrival_time=_arrival(kinesis.get("approximateArrivalTimestamp")),
            body=_validate(model, _decode_json(data)),
        )

    return parse


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise RecordError(f"not a Kinesis record: {name} is {type(value).__name__}, not a string")
    return value


def _arrival(value: object) -> datetime | None:
    """approximateArrivalTimestamp: epoch seconds (a JSON number), None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"approximateArrivalTimestamp is {type(value).__name__}, not a number")
    return _instant(float(value))


@dataclass(frozen=True)
class QueueMessage(Generic[ModelT]):
    """An SQS message with its JSON body parsed into a model."""

    message_id: str
    body: ModelT
    attributes: Mapping[str, str]
    receive_count: int

    @property
    def correlation_id(self) -> str:
        """The producer's correlation id attribute, else the message id."""
        return self.attributes.get(CORRELATION_ATTRIBUTE) or self.message_id


def queue_message(model: type[ModelT]) -> Callable[[Mapping[str, Any]], QueueMessage[ModelT]]:
    """A parser of SQS records into `model` bodies, for `process_batch`."""

    def parse(record: Mapping[str, Any]) -> QueueMessage[ModelT]:
        raw = record.get("body") if isinstance(record, Mapping) else None
        if not isinstance(raw, str):
            raise RecordError(f"not an SQS record: body is {type(raw).__name__}, not a string")
        try:
            body = json.loads(raw)
        except ValueError as error:
            raise RecordError(f"body is not JSON: {error}") from None
        return QueueMessage(
            message_id=str(record.get("messageId", "")),
            body=_validate(model, body),
            attributes=_string_attributes(record),
            receive_count=_receive_count(record),
        )

    return parse


def _receive_count(record: Mapping[str, Any]) -> int:
    """ApproximateReceiveCount (a numeric string in SQS records); 1 when absent or not a count."""
    attributes = record.get("attributes")
    value = attributes.get("ApproximateReceiveCount", 1) if isinstance(attributes, Mapping) else 1
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(value) if isinstance(value, str) else 1
    except ValueError:
        return 1


def _string_attributes(record: Mapping[str, Any]) -> dict[str, str]:
    attributes = record.get("messageAttributes") if isinstance(record, Mapping) else None
    if not isinstance(attributes, Mapping):
        return {}
    return {
        str(name): str(value["stringValue"])
        for name, value in attributes.items()
        if isinstance(value, Mapping) and value.get("stringValue") is not None
    }


def queue_message_attributes(correlation_id: str | None = None) -> dict[str, MessageAttributeValueTypeDef]:
    """SQS MessageAttributes carrying the trace context (W3C) and correlation id to the consumer."""
    carrier = inject_context({})
    if correlation_id:
        carrier[CORRELATION_ATTRIBUTE] = correlation_id
    return {name: {"DataType": "String", "StringValue": value} for name, value in carrier.items()}


def _validate(model: type[ModelT], payload: Any) -> ModelT:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise RecordError(f"not a valid {model.__name__}: {validation_reason(error)}") from None


# --------------------------------------------------------------------------------------------
# EventBridge schedule and AppSync direct resolver events
# --------------------------------------------------------------------------------------------


class ScheduledEvent(BaseModel):
    """An EventBridge scheduled-rule event ("detail-type": "Scheduled Event")."""

    model_config = ConfigDict(frozen=True, defer_build=True, validate_by_name=True, validate_by_alias=True)

    id: str
    detail_type: str = Field(alias="detail-type")
    source: str
    account: str
    time: UtcInstant
    region: str
    resources: tuple[str, ...] = ()
    detail: dict[str, Any] = Field(default_factory=dict)


def parse_scheduled_event(event: Mapping[str, Any]) -> ScheduledEvent:
    """The scheduler's trigger event; RecordError names what is wrong."""
    return _validate(ScheduledEvent, event)


# --------------------------------------------------------------------------------------------
# Partial batch processing
# --------------------------------------------------------------------------------------------


@functools.cache
def _batch_module() -> ModuleType:
    # Powertools' batch types import every parser model (~80 ms here, a quarter of `import boto3`)
    # whenever pydantic is already loaded, only to annotate a `model=` argument we never pass.
    # Hiding pydantic for this one import skips them; the batch package does not use pydantic.
    name = "aws_lambda_powertools.utilities.batch"
    hidden = sys.modules.pop("pydantic", None) if name not in sys.modules else None
    duplicate = None
    try:
        module = importlib.import_module(name)
    finally:
        if hidden is not None:
            duplicate = sys.modules.get("pydantic")
            sys.modules["pydantic"] = hidden
    if duplicate is not None:
        # A second pydantic would break isinstance checks: fail loudly (tests run this path).
        raise ImportError(f"{name} imported pydantic while it was hidden; drop the workaround")
    return module


def _record_id(record: Mapping[str, Any], event_type: BatchEventType) -> str:
    if event_type == "SQS":
        return str(record.get("messageId", "?"))
    kinesis = record.get("kinesis")
    return str(kinesis.get("sequenceNumber", "?")) if isinstance(kinesis, Mapping) else "?"


def process_batch(
    event: Mapping[str, Any],
    context: Any,
    *,
    event_type: BatchEventType,
    parser: Callable[[Mapping[str, Any]], ParsedT],
    record_handler: Callable[[ParsedT], None],
    correlation_id: Callable[[ParsedT], str | None] | None = None,
    parking: RecordParking | None = None,
) -> BatchResponse:
    """Parse and handle each record; failures (parse or handler) come back as batchItemFailures.

    One record never fails its neighbours, and a batch where every record fails is still
    answered with every id (never BatchProcessingError), so Lambda retries exactly those.
    With `parking`, a record that cannot succeed on retry (`parking.is_poison`: unparseable or a
    `PermanentError` of its own) is parked in the worker's dead-letter queue with its payload and
    reported handled, so its shard moves on; if parking fails it is reported failed as without.
    """
    batch = _batch_module()
    processor = batch.BatchProcessor(
        event_type=batch.EventType(event_type), raise_on_entire_batch_failure=False
    )
    parked = 0

    def parked_instead(raw: Mapping[str, Any], error: Exception) -> bool:
        nonlocal parked
        if parking is None or not parking.is_poison(error):
            return False
        if not parking.park(dict(raw), "sqs" if event_type == "SQS" else "kinesis", error):
            return False
        parked += 1
        return True

    def handle(record: Any) -> None:
        raw: Mapping[str, Any] = record.raw_event
        record_id = _record_id(raw, event_type)
        parent = extract_context(_string_attributes(raw)) if event_type == "SQS" else None
        with span(
            "process record", kind="consumer", parent=parent, attributes={"messaging.message.id": record_id}
        ):
            try:
                parsed = parser(raw)
            except Exception as error:
                reason = str(error) if isinstance(error, RecordError) else f"{type(error).__name__}: {error}"
                LOGGER.error(
                    "Record rejected: cannot parse", extra={"record_id": record_id, "reason": reason}
                )
                if parked_instead(raw, error):
                    return
                raise
            correlation = (
                correlation_id(parsed) if correlation_id else getattr(parsed, "correlation_id", None)
            )
            with correlated(correlation, record_id=record_id):
                try:
                    record_handler(parsed)
                except Exception as error:
                    LOGGER.exception(
                        "Record failed",
                        extra={
                            "record_id": record_id,
                            "error_type": type(error).__name__,
                            "retryable": not isinstance(error, PermanentError),
                        },
                    )
                    if parked_instead(raw, error):
                        return
                    raise

    response: BatchResponse = batch.process_partial_response(
        event=dict(event), record_handler=handle, processor=processor, context=context
    )
    failed = len(response["batchItemFailures"])
    if failed:
        count(BATCH_RECORDS_FAILED, failed)
    if parked:
        count(BATCH_RECORDS_PARKED, parked)
    LOGGER.info(
        "Batch processed",
        extra={"records": len(event.get("Records", [])), "failed": failed, "parked": parked},
    )
    return response
