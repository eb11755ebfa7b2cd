"""SMS status stream → notification status and per-status timestamps."""

from __future__ import annotations

import weakref
from datetime import UTC, datetime, timedelta
from typing import Any

from workers.shared.clients import demand_repository
from workers.shared.observability import instrumented
from workers.shared.parking import record_parking
from workers.shared.records import StreamMessage, process_batch, stream_message
from workers.shared.repository import DemandRepository
from workers.shared.settings import load_settings
from workers.sms_status_consumer.batch import StatusBatch
from workers.sms_status_consumer.logic import KnownMessages, StatusApplier
from workers.sms_status_consumer.models import StatusRecordBody
from workers.sms_status_consumer.settings import StatusConsumerSettings

_KNOWN: weakref.WeakKeyDictionary[DemandRepository, KnownMessages] = weakref.WeakKeyDictionary()


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Apply the batch's status events, one write per message; records not applied come back as failures."""
    settings = load_settings(StatusConsumerSettings)
    repository = demand_repository(settings)
    applier = StatusApplier(
        repository,
        unknown_max_age=timedelta(seconds=settings.unknown_message_max_age_seconds),
        known=_known_messages(repository),
    )
    batch = StatusBatch(stream_message(StatusRecordBody))
    records = event.get("Records")
    batch.apply(records if isinstance(records, list) else [], applier, now=datetime.now(UTC))
    return process_batch(
        event,
        context,
        event_type="KinesisDataStreams",
        parser=batch.parsed,
        record_handler=batch.outcome,
        correlation_id=_correlation_id,
        parking=record_parking(settings.service_name, settings.parking_queue_url),
    )


def _known_messages(repository: DemandRepository) -> KnownMessages:
    # Kept while the execution environment (and its repository) lives: a new table, a new memory.
    known = _KNOWN.get(repository)
    if known is None:
        known = _KNOWN[repository] = KnownMessages()
    return known


def _correlation_id(message: StreamMessage[StatusRecordBody]) -> str | None:
    # The notification's reference (the sender's correlation id) when echoed, else the message id.
    fields = message.body.fields
    value = fields.get("reference") or fields.get("messageId")
    return str(value)[:300] if value else None
