"""Messages the workers hand each other through queues, and the SMS service's wire format."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from workers.shared.models import UtcInstant, in_utc

IDENTIFIER = r"^[^#|\s]+$"


class _Message(BaseModel):
    # Built on first use: a worker imports every message type but validates one or two.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore", defer_build=True
    )


class GenerationJob(_Message):
    """Scheduler → generator: create the notifications of one sale (resumable from a page cursor)."""

    event_id: str = Field(pattern=IDENTIFIER)
    sale_id: str = Field(pattern=IDENTIFIER)
    sale_start_date_time: UtcInstant
    window_start: UtcInstant
    window_end: UtcInstant
    cursor: str | None = None
    part: int = Field(default=0, ge=0, description="continuation number (0 = first job of the sale)")

    @property
    def deduplication_id(self) -> str:
        """Same sale, window and part → same id: a re-run of the window is recognisably a duplicate."""
        return f"{self.event_id}-{self.sale_id}-{self.window_start:%Y%m%dT%H%M}-{self.part}"


class ShortUrlJob(_Message):
    """Stream/AppSync → shortener: the cached event that still needs a short URL."""

    event_id: str = Field(pattern=IDENTIFIER)


class SmsStatus(enum.StrEnum):
    """Delivery statuses the SMS service publishes (upper-case on the wire, read in any case)."""

    QUEUED = "QUEUED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    UNDELIVERED = "UNDELIVERED"


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _text(value: Any) -> Any:
    # Vendors send codes and ids as JSON numbers as often as strings (30003 vs "30003").
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


VendorText = Annotated[str, BeforeValidator(_text)]


def _storable_instant(value: datetime) -> datetime:
    # Kept as sent (a naive one is read as UTC by the consumer), but it must exist in UTC, where every
    # status date is stored: 0001-01-01T00:00:00+05:00 does not, and is no status time.
    if value.tzinfo is not None:
        in_utc(value)
    return value


class SmsSendRequest(_Message):
    """The JSON body of POST {SMS_SERVICE_URL}/v1/messages (docs/contracts/sms.md)."""

    to: str = Field(pattern=r"^\+[1-9]\d{6,14}$")
    body: str = Field(min_length=1)
    reference: str = Field(description="notification reference (PK|SK); the service may echo it")
    app_id: str | None = None


class SmsSendAccepted(_Message):
    """202 answer of the SMS service."""

    message_id: str


class SmsStatusEvent(_Message):
    """One record of the SMS status Kinesis stream, as the service publishes it (docs/contracts/sms.md)."""

    message_id: VendorText = Field(min_length=1, max_length=256)
    status: Annotated[SmsStatus, BeforeValidator(_upper)]
    # Absent: the record's arrival time stands in (the consumer's call, not the model's).
    timestamp: Annotated[datetime, AfterValidator(_storable_instant)] | None = None
    # Echoed by services that return the request's `reference`; correlation falls back to messageId.
    reference: str | None = None
    error_code: VendorText | None = None
    error_reason: VendorText | None = None
