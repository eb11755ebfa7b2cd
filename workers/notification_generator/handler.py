"""Generation jobs (SQS) → one notification per fan, sale and contact method; continuations re-enqueued."""

from __future__ import annotations

import functools
from typing import Any

from workers.notification_generator.logic import Deadline, generate
from workers.notification_generator.models import GenerationJob
from workers.notification_generator.settings import GeneratorSettings
from workers.shared.bitly import bitly_client
from workers.shared.clients import demand_repository
from workers.shared.observability import instrumented
from workers.shared.queue_sender import QueueSender
from workers.shared.records import QueueMessage, process_batch, queue_message
from workers.shared.settings import load_settings


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Generate each job's notifications; failed jobs come back as batch-item failures."""
    settings = load_settings(GeneratorSettings)
    repository = demand_repository(settings)
    queue = QueueSender(url=settings.generation_queue_url)
    deadline = Deadline(context.get_remaining_time_in_millis, settings.continuation_margin_seconds)
    # One attempt within the bound, no retries: a reminder with the full URL beats a late one.
    shortener = bitly_client(
        settings.bitly_url,
        secret_arn=settings.bitly_secret_arn,
        group_guid=settings.bitly_group_guid or None,
        timeout_seconds=settings.short_url_timeout_seconds,
        max_attempts=1,
    )

    def handle(message: QueueMessage[GenerationJob]) -> None:
        # Standard queue: the conditional creates make a duplicate delivery of a continuation harmless.
        generate(
            message.body,
            repository,
            page_size=settings.demand_page_size,
            write_parallelism=settings.write_parallelism,
            deadline=deadline,
            continue_with=functools.partial(queue.send, correlation_id=message.correlation_id),
            shortener=shortener,
            late_grace=settings.late_grace,
            release_after=settings.release_after,
        )

    return process_batch(
        event, context, event_type="SQS", parser=queue_message(GenerationJob), record_handler=handle
    )
