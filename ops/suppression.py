"""Publishing the cached events' suppression status to TM Publish (the runbook's `publishSuppression`).

The demand table caches each event once, at `event:{id}` / `event#details` with `type: event`
(workers/shared/keys.py `event_key`, models.py `EventRecord`), carrying its suppression verdict
(`isSuppressed`, `suppressionReason`). No index lists events, so every cached event is found by a
paginated Scan filtered on `type` and the sort key (the whole table is read: mind its read
capacity); named events are read by key instead. Each event's extension is then PUT with the TM
Publish client (workers/shared/publish.py), an idempotent replace: publishing twice is harmless.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import ValidationError

from aws_clients import AwsClients
from ops.operator_io import JsonModel
from workers.shared.errors import VendorError, validation_reason
from workers.shared.keys import EVENT_DETAILS_SK, event_key
from workers.shared.models import EventRecord, deserialize_item
from workers.shared.publish import API_KEY_FIELD, API_KEY_HEADER, VENDOR, PublishClient
from workers.shared.vendor_http import VendorClient

EVENT_TYPE: Final = "event"
_EVENT_ID = re.compile(r"^[^:#|\s]{1,256}$")  # what keys.py puts after `event:` (models.py Identifier)

Outcome = Literal["published", "failed", "would-publish"]


class SuppressionError(Exception):
    """Publishing cannot start (no API key, bad event id); the message is one line and holds no secret."""


class EventOutcome(JsonModel):
    """What happened to one event's extension."""

    event_id: str
    is_suppressed: bool | None = None  # None: no valid cached event to read it from
    reason: str | None = None  # the suppression reason published, if any
    outcome: Outcome
    error: str | None = None


class PublishReport(JsonModel):
    """One run: where to, how many events, and each event's outcome."""

    stack: str
    url: str
    dry_run: bool
    events: int
    suppressed: int
    published: int
    failed: int
    results: tuple[EventOutcome, ...]


@dataclass(frozen=True)
class CachedEvents:
    """The events read from the table, and the items or ids that are no usable event."""

    events: tuple[EventRecord, ...]
    unusable: tuple[EventOutcome, ...]


def check_event_ids(ids: Iterable[str]) -> tuple[str, ...]:
    """The ids, duplicates dropped; SuppressionError names the first one no event key can hold."""
    checked = tuple(dict.fromkeys(ids))
    for event_id in checked:
        if not _EVENT_ID.match(event_id):
            raise SuppressionError(
                f"{event_id!r} is not an event id (1 to 256 characters, no ':', '#', '|', space)"
            )
    return checked


def _event(item: dict[str, Any]) -> EventRecord | EventOutcome:
    try:
        return EventRecord.from_item(item)
    except ValidationError as error:
        event_id = str(item.get("id") or str(item.get("PK", "")).removeprefix("event:"))
        return EventOutcome(
            event_id=event_id, outcome="failed", error=f"invalid cached event: {validation_reason(error)}"
        )


def _split(found: Iterable[EventRecord | EventOutcome]) -> CachedEvents:
    found = list(found)
    return CachedEvents(
        events=tuple(item for item in found if isinstance(item, EventRecord)),
        unusable=tuple(item for item in found if isinstance(item, EventOutcome)),
    )


def scan_events(
    clients: AwsClients,
    table_name: str,
    *,
    on_page: Callable[[int, int], None] = lambda _scanned, _found: None,
    page_size: int | None = None,
) -> CachedEvents:
    """Every cached event of the table: a paginated Scan; `on_page(scanned, found)` after each page."""
    paginator = clients.client("dynamodb").get_paginator("scan")
    found: list[EventRecord | EventOutcome] = []
    for page in paginator.paginate(
        TableName=table_name,
        FilterExpression="#type = :event AND SK = :details",
        ExpressionAttributeNames={"#type": "type"},
        ExpressionAttributeValues={":event": {"S": EVENT_TYPE}, ":details": {"S": EVENT_DETAILS_SK}},
        PaginationConfig={"PageSize": page_size} if page_size else {},
    ):
        items = page.get("Items", [])
        found += [_event(deserialize_item(item)) for item in items]
        on_page(int(page.get("ScannedCount", 0)), len(items))
    return _split(found)


def table_item_count(clients: AwsClients, table_name: str) -> int | None:
    """DynamoDB's item count of the table (refreshed about every six hours); None when it says 0."""
    count = int(clients.client("dynamodb").describe_table(TableName=table_name)["Table"].get("ItemCount", 0))
    return count or None


def read_events(
    clients: AwsClients, table_name: str, event_ids: Sequence[str], *, on_event: Callable[[str], None]
) -> CachedEvents:
    """The named events, each read by its key; an id with no cached event is a failed outcome."""
    dynamodb = clients.client("dynamodb")
    found: list[EventRecord | EventOutcome] = []
    for event_id in event_ids:
        key = event_key(event_id)
        item = dynamodb.get_item(
            TableName=table_name, Key={"PK": {"S": key.pk}, "SK": {"S": key.sk}}, ConsistentRead=True
        ).get("Item")
        found.append(
            _event(deserialize_item(item))
            if item
            else EventOutcome(event_id=event_id, outcome="failed", error="no cached event with this id")
        )
        on_event(event_id)
    return _split(found)


def publish_api_key(clients: AwsClients, secret: str) -> str:
    """The TM Publish API key from the stack's secret; SuppressionError when it is unset or unusable."""
    manager = clients.client("secretsmanager")
    try:
        text = manager.get_secret_value(SecretId=secret)["SecretString"]
    except manager.exceptions.ResourceNotFoundException:
        raise SuppressionError(
            f"{secret} has no value (or does not exist): set it with `dmd secrets set publish`"
        ) from None
    try:
        key = json.loads(text).get(API_KEY_FIELD)
    except (ValueError, AttributeError):
        key = None
    if not isinstance(key, str) or not key:
        raise SuppressionError(
            f"{secret} holds no {API_KEY_FIELD!r} string: set it with `dmd secrets set publish`"
        )
    return key


def publish_client(url: str, api_key: str, *, sleep: Callable[[float], None] = time.sleep) -> PublishClient:
    """The TM Publish client at `url`, sending the API key; 3 attempts, backoff on 429/5xx/timeouts."""
    vendor = VendorClient(url, name=VENDOR, headers_provider=lambda: {API_KEY_HEADER: api_key}, sleep=sleep)
    return PublishClient(vendor)


def publish_events(
    client: PublishClient | None,
    events: Sequence[EventRecord],
    *,
    at: datetime,
    on_event: Callable[[EventOutcome], None] = lambda _outcome: None,
) -> list[EventOutcome]:
    """PUT each event's extension (client None: a dry run, nothing sent); one failure never stops the rest."""
    outcomes = []
    for event in events:
        base = {
            "event_id": event.id,
            "is_suppressed": event.is_suppressed,
            "reason": event.suppression_reason,
        }
        if client is None:
            outcome = EventOutcome(**base, outcome="would-publish")
        else:
            try:
                client.publish_suppression(event, at=at)
            except VendorError as error:
                outcome = EventOutcome(**base, outcome="failed", error=str(error))
            else:
                outcome = EventOutcome(**base, outcome="published")
        outcomes.append(outcome)
        on_event(outcome)
    return outcomes


def report(
    *, stack: str, url: str, dry_run: bool, events: Sequence[EventRecord], outcomes: Sequence[EventOutcome]
) -> PublishReport:
    """The run's counts (events are the usable cached events; failures include unusable ones)."""
    return PublishReport(
        stack=stack,
        url=url,
        dry_run=dry_run,
        events=len(events),
        suppressed=sum(1 for event in events if event.is_suppressed),
        published=sum(1 for outcome in outcomes if outcome.outcome == "published"),
        failed=sum(1 for outcome in outcomes if outcome.outcome == "failed"),
        results=tuple(outcomes),
    )
