"""Table stream → short-url queue: one job per event that still needs a short URL."""

from __future__ import annotations

from typing import Any

from workers.demand_stream_to_sqs.batch import ParsedChanges
from workers.demand_stream_to_sqs.logic import forward, verify_forwarded
from workers.demand_stream_to_sqs.settings import StreamToSqsSettings
from workers.shared.clients import sqs
from workers.shared.observability import instrumented
from workers.shared.parking import record_parking
from workers.shared.records import ChangeRecord, process_batch
from workers.shared.settings import load_settings


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One short-url job per event of the batch; records whose job was not enqueued come back as failures."""
    settings = load_settings(StreamToSqsSettings)
    # Deduplication spans the batch: send first, then let process_batch answer record by record.
    batch = ParsedChanges(event.get("Records") or [])
    report = forward(batch.changes, sqs(), settings.short_url_queue_url)

    def handle(change: ChangeRecord) -> None:
        verify_forwarded(change, report)

    return process_batch(
        event,
        context,
        event_type="KinesisDataStreams",
        parser=batch.parse,
        record_handler=handle,
        parking=record_parking(settings.service_name, settings.parking_queue_url),
    )
