"""Builders of the demand table tests' records: a fan's CREATED SMS notification, created at T0."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from workers.shared.models import NotificationRecord

T0 = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)


def notification(fan_id: str = "fan-1", **overrides: Any) -> NotificationRecord:
    fields: dict[str, Any] = {
        "fan_id": fan_id,
        "event_id": "evt-1",
        "sale_id": "sale-1",
        "contact_method": "sms",
        "phone_number": "+15555550123",
        "message_body": "Tickets go on sale soon",
        "sale_start_date_time": "2024-01-15T15:00:00Z",
    }
    return NotificationRecord.created(at=T0, **{**fields, **overrides})
