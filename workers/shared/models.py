"""Records of the demand table (event, sale, demand, notification) and their item conversion."""

from __future__ import annotations

import enum
import math
from abc import abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from workers.shared.errors import RecordError
from workers.shared.keys import (
    DEFAULT_RELEASE_AFTER,
    Key,
    demand_key,
    event_key,
    notification_reference,
    sale_key,
    sms_message_key,
    sweep_shard,
)
from workers.shared.statuses import NotificationStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------


class RecordType(enum.StrEnum):
    """The `type` attribute of each item kind."""

    EVENT = "event"
    SALE = "sale"
    DEMAND = "demand"
    NOTIFICATION = "notification"


class ContactMethod(enum.StrEnum):
    """How a fan is reminded."""

    SMS = "sms"
    EMAIL = "email"


# --------------------------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------------------------


def format_timestamp(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds, e.g. 2024-01-15T10:00:00.000Z (status dates, attempts)."""
    value = value.astimezone(UTC)
    # The year by hand: strftime's %Y drops leading zeros (year 999 → "999-…", which reads back as nothing).
    return f"{value.year:04d}" + value.strftime("-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def format_sale_time(value: datetime) -> str:
    """ISO-8601 UTC to the second, e.g. 2024-01-15T10:00:00Z: the sales index sort key format."""
    value = value.astimezone(UTC)
    return f"{value.year:04d}" + value.strftime("-%m-%dT%H:%M:%SZ")


def in_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; ValueError (a validation error in a model) when UTC cannot hold it."""
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00: the UTC instant is before year 1
        raise ValueError(f"{value.isoformat()} is out of range in UTC") from None


def _utc_milli(value: datetime) -> datetime:
    value = in_utc(value)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _utc_second(value: datetime) -> datetime:
    return in_utc(value).replace(microsecond=0)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _contact_methods(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    methods: list[str] = []
    for part in value.split(","):
        method = ContactMethod(part.strip().lower()).value  # ValueError names the bad method
        if method not in methods:
            methods.append(method)
    return ",".join(methods)


# An aware instant held in UTC: one UTC cannot hold is a validation error, never a later OverflowError.
UtcInstant = Annotated[AwareDatetime, AfterValidator(in_utc)]
Timestamp = Annotated[
    AwareDatetime, AfterValidator(_utc_milli), PlainSerializer(format_timestamp, return_type=str)
]
SaleTime = Annotated[
    AwareDatetime, AfterValidator(_utc_second), PlainSerializer(format_sale_time, return_type=str)
]
Locale = Annotated[Literal["en-us", "en-ca", "fr-ca"], BeforeValidator(_lower)]
# '#' and '|' structure the sort keys and the SMS reference, so ids may not contain them.
Identifier = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^#|\s]+$")]
ContactMethods = Annotated[str, BeforeValidator(_contact_methods), Field(min_length=3)]


def expiry(at: datetime, *, hours: float) -> int:
    """The `expiresAt` TTL value (epoch seconds) `hours` after `at`."""
    # In epoch seconds, not datetimes: `at` late in year 9999 (a vendor's timestamp) has no datetime after it.
    return int(at.timestamp() + hours * 3600)


# --------------------------------------------------------------------------------------------
# Keys that need the vocabulary or the timestamp format (every other key: keys.py)
# --------------------------------------------------------------------------------------------


def notification_key(fan_id: str, event_id: str, sale_id: str, contact_method: ContactMethod | str) -> Key:
    """Key of one reminder: one per fan, sale and contact method."""
    return Key(f"fan:{fan_id}", f"notification#{event_id}-{sale_id}#{ContactMethod(contact_method).value}")


def pending_marks(key: Key, sweep_at: datetime) -> dict[str, str]:
    """The attributes that list a waiting notification in the pending index, due for a sweep at `sweep_at`."""
    return {"sweepShard": sweep_shard(key), "sweepAt": format_timestamp(sweep_at)}


# --------------------------------------------------------------------------------------------
# DynamoDB item conversion
# --------------------------------------------------------------------------------------------

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _storable(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"DynamoDB cannot store {value}")
        return Decimal(str(value))  # str() keeps the short repr: 0.1 stays 0.1
    if isinstance(value, Mapping):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, set):
        return {_plain(item) for item in value}
    return value


def serialize_item(item: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    """Plain python item → DynamoDB attribute values (floats become Decimal, tuples lists)."""
    return {key: _SERIALIZER.serialize(_storable(value)) for key, value in item.items()}


def deserialize_item(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values → plain python (integral numbers int, others Decimal)."""
    return {key: _plain(_DESERIALIZER.deserialize(value)) for key, value in attributes.items()}


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


class _Model(BaseModel):
    # camelCase attributes in the table, snake_case in python; build schemas on first use only
    # (a worker touches two or three of these models, cold start should not pay for all).
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        frozen=True,
        defer_build=True,
    )


class DemandTableRecord(_Model):
    """An item of the demand table: knows its key and converts to and from items."""

    @property
    @abstractmethod
    def key(self) -> Key:
        """Primary key of this item."""

    def _derived(self) -> dict[str, str]:
        return {}

    def to_item(self) -> dict[str, Any]:
        """Plain python item including PK, SK and derived index attributes."""
        body = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return _storable({**self.key.item(), **self._derived(), **body})  # type: ignore[no-any-return]

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Self:
        """Validate a plain item (PK/SK and derived attributes are ignored)."""
        return cls.model_validate(item)


class Attraction(_Model):
    """An artist or act of an event."""

    id: str
    name: str


class EventRecord(DemandTableRecord):
    """Cached event details (Discovery API) with its suppression verdict and TTL."""

    type: Literal["event"] = "event"
    id: Identifier
    name: str
    url: str
    short_url: str | None = None
    locale: Locale = "en-us"
    market_id: str | None = None
    timezone: str
    event_start_date_time: Timestamp | None = None
    venue_name: str | None = None
    venue_city: str | None = None
    venue_state_code: str | None = None
    attractions: tuple[Attraction, ...] = ()
    artist_name: str | None = None
    artist_id: str | None = None
    country_code: str
    classification: str | None = None
    # Always written: the stream filter matches isSuppressed=false or absent, never a guess.
    is_suppressed: bool
    suppression_reason: str | None = None
    expires_at: int

    @property
    def key(self) -> Key:
        return event_key(self.id)


class SaleRecord(DemandTableRecord):
    """A cached sale of an event; `saleStartDate`/`saleStartDateTime` feed the `sales` index."""

    type: Literal["sale"] = "sale"
    id: Identifier
    event_id: Identifier
    name: str
    sale_start_date_time: SaleTime
    sale_types: tuple[str, ...] = ()
    is_suppressed: bool = False
    suppression_reason: str | None = None
    expires_at: int

    @property
    def key(self) -> Key:
        return sale_key(self.event_id, self.id)

    @property
    def sale_start_date(self) -> str:
        """UTC date of the sale start: the `sales` index partition."""
        return self.sale_start_date_time.date().isoformat()

    def _derived(self) -> dict[str, str]:
        return {"saleStartDate": self.sale_start_date}


class DemandRecord(DemandTableRecord):
    """A fan's opt-in to be reminded of a sale, strict: as tooling, tests and the demo write it."""

    # The fan-facing system owns these items; the generator reads them leniently
    # (workers/shared/demand_reading.py, docs/contracts/demand.md). Only the reference's attributes
    # are written: nothing the writer would not write itself.

    type: Literal["demand"] = "demand"
    fan_id: Identifier
    event_id: Identifier
    sale_id: Identifier
    phone_number: str | None = None
    email: str | None = None
    contact_method: ContactMethods
    market_id: str = "TM_US"
    locale: Locale = "en-us"

    @property
    def key(self) -> Key:
        return demand_key(self.fan_id, self.event_id, self.sale_id)

    @property
    def contact_methods(self) -> tuple[ContactMethod, ...]:
        """The methods of `contactMethod` ("sms,email" → SMS, EMAIL)."""
        return tuple(ContactMethod(method) for method in self.contact_method.split(","))


class StatusStamp(_Model):
    """The current status and when it was reached."""

    id: NotificationStatus
    date: Timestamp


class StatusDates(_Model):
    """When each status was reached (`date.<status>`)."""

    created: Timestamp
    triggered: Timestamp | None = None
    queued: Timestamp | None = None
    sent: Timestamp | None = None
    delivered: Timestamp | None = None
    failed: Timestamp | None = None
    retry: Timestamp | None = None
    expired: Timestamp | None = None


class SendError(_Model):
    """One failed attempt, kept in the notification's error history."""

    status_code: int | None = None
    reason: str
    timestamp: Timestamp
    # The request left but no answer came back (the vendor may have taken it); None otherwise.
    answer_lost: bool | None = None


class NotificationRecord(DemandTableRecord):
    """One reminder for a fan, sale and contact method, with its delivery lifecycle."""

    type: Literal["notification", "notification:asu"] = "notification"
    fan_id: Identifier
    event_id: Identifier
    sale_id: Identifier
    sale_name: str | None = None
    contact_method: ContactMethod
    status: StatusStamp
    date: StatusDates
    send_attempts: int = Field(default=0, ge=0)
    errors: tuple[SendError, ...] = ()
    message_id: str | None = None
    app_id: str | None = None
    phone_number: str | None = None
    email: str | None = None
    message_body: str | None = None
    template_variables: dict[str, str] | None = None
    locale: Locale = "en-us"
    market_id: str | None = None
    sale_start_date_time: SaleTime
    next_attempt_at: Timestamp | None = None
    claim_id: str | None = None
    claimed_at: Timestamp | None = None
    # The claim's lease: past it the holding invocation cannot be running any more.
    claim_expires_at: Timestamp | None = None
    # Only while CREATED/RETRY: the pending index lists it, and the sweeper may release it after sweepAt.
    sweep_shard: str | None = None
    sweep_at: Timestamp | None = None
    expires_at: int | None = None

    @model_validator(mode="after")
    def _channel_fields(self) -> Self:
        if self.contact_method is ContactMethod.SMS and not (self.phone_number and self.message_body):
            raise ValueError("an sms notification needs phoneNumber and messageBody")
        if self.contact_method is ContactMethod.EMAIL and not (self.email and self.template_variables):
            raise ValueError("an email notification needs email and templateVariables")
        return self

    @classmethod
    def created(
        cls, *, at: datetime, release_after: timedelta = DEFAULT_RELEASE_AFTER, **fields: Any
    ) -> Self:
        """A new notification in status CREATED stamped at `at`, pending until `release_after` later."""
        record = cls(
            status=StatusStamp(id=NotificationStatus.CREATED, date=at),
            date=StatusDates(created=at),
            **fields,
        )
        # Written with the item itself: the sweeper finds it if its stream record never gets sent.
        return record.model_copy(
            update={"sweep_shard": sweep_shard(record.key), "sweep_at": _utc_milli(at + release_after)}
        )

    @property
    def key(self) -> Key:
        return notification_key(self.fan_id, self.event_id, self.sale_id, self.contact_method)

    @property
    def reference(self) -> str:
        """The SMS correlation reference (see `notification_reference`)."""
        return notification_reference(self.key)

    def _derived(self) -> dict[str, str]:
        return {"groupId": self.key.sk}


class HeldStatus(_Model):
    """A delivery status of an SMS message whose notification was not known yet when it arrived."""

    vendor_status: str
    at: Timestamp
    error_code: str | None = None
    error_reason: str | None = None


# One attribute per status (not one map): concurrent holds of different statuses never collide.
HELD_STATUS_ATTRIBUTES: Mapping[NotificationStatus, str] = {
    NotificationStatus.QUEUED: "heldQueued",
    NotificationStatus.SENT: "heldSent",
    NotificationStatus.DELIVERED: "heldDelivered",
    NotificationStatus.FAILED: "heldFailed",
}


class SmsMessageRecord(DemandTableRecord):
    """The rendezvous of an SMS message: which notification sent it, and statuses held until then.

    No `messageId` attribute on purpose: the sparse message index lists notifications only.
    """

    type: Literal["sms-message"] = "sms-message"
    vendor_message_id: str
    reference: str | None = None
    held_queued: HeldStatus | None = None
    held_sent: HeldStatus | None = None
    held_delivered: HeldStatus | None = None
    held_failed: HeldStatus | None = None
    expires_at: int

    @property
    def key(self) -> Key:
        return sms_message_key(self.vendor_message_id)

    def held(self) -> list[tuple[NotificationStatus, HeldStatus]]:
        """The held statuses, oldest first (lifecycle order between equal times)."""
        found = [
            (status, held)
            for status, held in (
                (NotificationStatus.QUEUED, self.held_queued),
                (NotificationStatus.SENT, self.held_sent),
                (NotificationStatus.DELIVERED, self.held_delivered),
                (NotificationStatus.FAILED, self.held_failed),
            )
            if held is not None
        ]
        return sorted(found, key=lambda pair: pair[1].at)  # stable: lifecycle order on ties


RECORD_MODELS: Mapping[str, type[DemandTableRecord]] = {
    "event": EventRecord,
    "sale": SaleRecord,
    "demand": DemandRecord,
    "notification": NotificationRecord,
    "notification:asu": NotificationRecord,
    "sms-message": SmsMessageRecord,
}


def record_from_item(item: Mapping[str, Any]) -> DemandTableRecord:
    """The typed record of an item, chosen by its `type` attribute."""
    model = RECORD_MODELS.get(str(item.get("type")))
    if model is None:
        raise RecordError(f"item {item.get('PK')!r}/{item.get('SK')!r} has unknown type {item.get('type')!r}")
    return model.from_item(item)
