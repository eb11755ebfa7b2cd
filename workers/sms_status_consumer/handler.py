"""SMS status stream → notification status and per-status timestamps."""

from __future__ import annotations

from typing import Any

from workers.shared.clients import demand_repository
from workers.shared.messages import SmsStatusEvent
from workers.shared.observability import instrumented
from workers.shared.records import StreamMessage, process_batch, stream_message
from workers.shared.settings import load_settings
from workers.sms_status_consumer.logic import apply_status_event
from workers.sms_status_consumer.settings import StatusConsumerSettings


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Apply each status event; records that could not be applied come back as batch-item failures."""
    settings = load_settings(StatusConsumerSettings)
    notifications = demand_repository(settings)

    def handle(message: StreamMessage[SmsStatusEvent]) -> None:
        apply_status_event(message.body, notifications)

    return process_batch(
        event,
        context,
        event_type="KinesisDataStreams",
        parser=stream_message(SmsStatusEvent),
        record_handler=handle,
        correlation_id=lambda message: message.body.reference,  # the notification's PK|SK
    )
