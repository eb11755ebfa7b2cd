"""Cached events and short-url job messages for the shortener's tests."""

from __future__ import annotations

import json
from typing import Any

from trigger_records import sqs_record

from workers.shared.models import EventRecord


def cached_event(event_id: str, **overrides: Any) -> EventRecord:
    """An event as the scheduler caches it (no short URL yet)."""
    fields: dict[str, Any] = {
        "id": event_id,
        "name": "Renaissance World Tour",
        "url": f"https://www.ticketmaster.com/event/{event_id}",
        "timezone": "America/New_York",
        "country_code": "US",
        "is_suppressed": False,
        "expires_at": 1705398300,
        **overrides,
    }
    return EventRecord(**fields)


def job_record(message_id: str, event_id: str) -> dict[str, Any]:
    """The SQS record of a short-url job, as the stream forwarder sends it."""
    return sqs_record(
        message_id, json.dumps({"eventId": event_id}), correlationId=f"event:{event_id}|event#details"
    )


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    """A Lambda SQS event."""
    return {"Records": list(records)}
