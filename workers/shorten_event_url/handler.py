"""Short-url queue → Bitly → `shortUrl` on the cached event."""

from __future__ import annotations

from typing import Any

from workers.shared.bitly import bitly_client
from workers.shared.clients import demand_repository
from workers.shared.messages import ShortUrlJob
from workers.shared.observability import instrumented
from workers.shared.records import QueueMessage, process_batch, queue_message
from workers.shared.settings import load_settings
from workers.shorten_event_url.logic import shorten_event_url
from workers.shorten_event_url.settings import ShortenSettings


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Shorten each job's event URL; jobs not done come back as failures (the queue retries, then its DLQ)."""
    settings = load_settings(ShortenSettings)
    events = demand_repository(settings)
    shortener = bitly_client(
        settings.bitly_url,
        secret_arn=settings.bitly_secret_arn,
        group_guid=settings.bitly_group_guid or None,
        timeout_seconds=settings.vendor_timeout_seconds,
    )

    def handle(message: QueueMessage[ShortUrlJob]) -> None:
        shorten_event_url(message.body, events=events, shortener=shortener)

    return process_batch(
        event, context, event_type="SQS", parser=queue_message(ShortUrlJob), record_handler=handle
    )
