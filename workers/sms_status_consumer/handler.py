"""SMS status stream → notification status and per-status timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from workers.shared.clients import demand_repository
from workers.shared.observability import instrumented
from workers.shared.parking import record_parking
from workers.shared.records import StreamMessage, process_batch, stream_message
from workers.shared.settings import load_settings
from workers.sms_status_consumer.logic import StatusApplier, read_status_event
from workers.sms_status_consumer.models import StatusRecordBody
from workers.sms_status_consumer.settings import StatusConsumerSettings


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Apply each status event; records that could not be applied come back as batch-item failures."""
    settings = load_settings(StatusConsumerSettings)
    applier = StatusApplier(
        demand_repository(settings),
        unknown_max_age=timedelta(seconds=settings.unknown_message_max_age_seconds),
    )

    def handle(message: StreamMessage[StatusRecordBody]) -> None:
        status_event = read_status_event(message.body.fields)
        if status_event is None:
            return  # counted and logged: a record no retry can change
        now = datetime.now(UTC)
        applier.apply(status_event, received_at=message.arrival_time or now, now=now)

    return process_batch(
        event,
        context,
        event_type="KinesisDataStreams",
        parser=stream_message(StatusRecordBody),
        record_handler=handle,
        correlation_id=_correlation_id,
        parking=record_parking(settings.service_name, settings.parking_queue_url),
    )


def _correlation_id(message: StreamMessage[StatusRecordBody]) -> str | None:
    # The notification's reference (the sender's correlation id) when echoed, else the message id.
    fields = message.body.fields
    value = fields.get("reference") or fields.get("messageId")
    return str(value)[:300] if value else None
