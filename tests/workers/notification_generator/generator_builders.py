"""Builders of the generator's test data (an event, its sales, fans' demand, jobs) and a generator run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3

from workers.notification_generator.logic import Deadline, generate
from workers.notification_generator.models import GenerationJob, GenerationOutcome, SaleMessage
from workers.shared.bitly import Bitlink
from workers.shared.models import DemandRecord, EventRecord, SaleRecord, deserialize_item, serialize_item
from workers.shared.repository import DemandRepository
from workers.shared.short_links import UrlShortener

EVENT_ID = "vvG1IZ9KBxv3Tg"
PRESALE_ID = "vvG1IZ9KBxv3Tg-presale-vf"
PUBLIC_SALE_ID = "vvG1IZ9KBxv3Tg-public"
SHORT_URL = "https://bit.ly/3xYz12A"
# 10:00 AM EST on Friday 1 March 2052; the show is Friday 15 March 2052 at 8:00 PM EDT. A sale in
# the future of any clock these tests run on: handler tests use the wall clock, and the generator
# creates nothing for a sale that has already started. (2052 has 2024's calendar and DST dates.)
SALE_START = datetime(2052, 3, 1, 15, 0, tzinfo=UTC)
EVENT_START = datetime(2052, 3, 16, 0, 0, tzinfo=UTC)
GENERATED_AT = datetime(2052, 3, 1, 14, 30, 0, 123000, tzinfo=UTC)
WINDOW_START = datetime(2052, 3, 1, 15, 0, tzinfo=UTC)
WINDOW_END = datetime(2052, 3, 1, 15, 30, tzinfo=UTC)

NOTIFICATION_PREFIX = f"notification#{EVENT_ID}-{PRESALE_ID}#"
PLENTY_OF_TIME = Deadline(lambda: 280_000, margin_seconds=20)
LATE_GRACE = timedelta(minutes=5)
SHORTENED_NOW = "https://bit.ly/4nOwG3n"


def event_record(**overrides: Any) -> EventRecord:
    """Céline Dion at Centre Bell, Montréal (fr-ca event, TM_CA market), short URL stored."""
    fields: dict[str, Any] = {
        "id": EVENT_ID,
        "name": "Céline Dion - Courage World Tour",
        "url": f"https://www.ticketmaster.ca/event/{EVENT_ID}",
        "short_url": SHORT_URL,
        "locale": "fr-ca",
        "market_id": "TM_CA",
        "timezone": "America/Toronto",
        "event_start_date_time": EVENT_START,
        "venue_name": "Centre Bell",
        "venue_city": "Montréal",
        "venue_state_code": "QC",
        "attractions": [{"id": "K8vZ9171o57", "name": "Céline Dion"}],
        "artist_name": "Céline Dion",
        "artist_id": "K8vZ9171o57",
        "country_code": "CA",
        "classification": "music",
        "is_suppressed": False,
        "expires_at": 1_710_000_000,
    }
    return EventRecord(**{**fields, **overrides})


def sale_record(sale_id: str = PRESALE_ID, **overrides: Any) -> SaleRecord:
    """The Verified Fan presale (or, by id, the public onsale) of the event."""
    public = sale_id == PUBLIC_SALE_ID
    fields: dict[str, Any] = {
        "id": sale_id,
        "event_id": EVENT_ID,
        "name": "Public Onsale" if public else "Verified Fan Presale",
        "sale_start_date_time": SALE_START,
        "sale_types": ("PUBLIC",) if public else ("VF",),
        "expires_at": 1_710_000_000,
    }
    return SaleRecord(**{**fields, **overrides})


def demand_record(
    fan_id: str, contact_method: str, sale_id: str = PRESALE_ID, **overrides: Any
) -> DemandRecord:
    """A fan's opt-in with both a phone number and an email address."""
    fields: dict[str, Any] = {
        "fan_id": fan_id,
        "event_id": EVENT_ID,
        "sale_id": sale_id,
        "phone_number": f"+1514555{int(fan_id.rsplit('-', 1)[-1]):04d}",
        "email": f"{fan_id}@example.com",
        "contact_method": contact_method,
    }
    return DemandRecord(**{**fields, **overrides})


def generation_job(sale_id: str = PRESALE_ID, **overrides: Any) -> GenerationJob:
    """The scheduler's job for the sale."""
    fields: dict[str, Any] = {
        "event_id": EVENT_ID,
        "sale_id": sale_id,
        "sale_start_date_time": SALE_START,
        "window_start": WINDOW_START,
        "window_end": WINDOW_END,
    }
    return GenerationJob(**{**fields, **overrides})


def sale_message(**overrides: Any) -> SaleMessage:
    """The reminder facts of the presale, as logic builds them."""
    fields: dict[str, Any] = {
        "event_id": EVENT_ID,
        "sale_id": PRESALE_ID,
        "sale_name": "Verified Fan Presale",
        "artist_name": "Céline Dion",
        "presale_name": "Verified Fan Presale",
        "venue_name": "Centre Bell",
        "venue_city": "Montréal",
        "venue_state_code": "QC",
        "url": SHORT_URL,
        "timezone": ZoneInfo("America/Toronto"),
        "sale_start": SALE_START,
        "event_start": EVENT_START,
    }
    return SaleMessage(**{**fields, **overrides})


@dataclass
class ExpiringContext:
    """A Lambda context whose remaining time drops under any margin at the `expires_at_check`-th look."""

    expires_at_check: int
    checks: int = 0
    function_name: str = "prd3292-test-us-east-1-ntfcn-gnrtr"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:prd3292-test-us-east-1-ntfcn-gnrtr"
    )
    aws_request_id: str = "0f6e8f0e-3c1e-4f57-9a54-7f0d2b6c9e11"

    def get_remaining_time_in_millis(self) -> int:
        self.checks += 1
        return 1_000 if self.checks >= self.expires_at_check else 280_000


@dataclass
class ScriptedBitly:
    """Bitly as the generator sees it: answers `link`, or raises `error`; records what it was asked."""

    link: str = SHORTENED_NOW
    error: Exception | None = None
    asked: list[str] = field(default_factory=list)

    def shorten(self, long_url: str) -> Bitlink:
        self.asked.append(long_url)
        if self.error is not None:
            raise self.error
        return Bitlink(id=self.link.removeprefix("https://"), link=self.link, long_url=long_url)


def run(
    repository: DemandRepository,
    job: GenerationJob | None = None,
    *,
    page_size: int = 10,
    deadline: Deadline = PLENTY_OF_TIME,
    continued: list[GenerationJob] | None = None,
    shortener: UrlShortener | None = None,
    now: Callable[[], datetime] = lambda: GENERATED_AT,
) -> GenerationOutcome:
    sink = continued if continued is not None else []
    return generate(
        job or generation_job(),
        repository,
        page_size=page_size,
        write_parallelism=4,
        deadline=deadline,
        continue_with=sink.append,
        shortener=shortener or ScriptedBitly(),
        late_grace=LATE_GRACE,
        now=now,
    )


def notification_items(table: str) -> dict[tuple[str, str], dict[str, Any]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table):
        items.extend(deserialize_item(item) for item in page["Items"])
    return {(item["PK"], item["SK"]): item for item in items if item.get("type") == "notification"}


def put_demand_without_locale(table: str, record: DemandRecord) -> None:
    item = record.to_item()
    del item["locale"]  # written by an older client: the event's locale applies
    boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=table, Item=serialize_item(item))
