"""notificationGenerator: generation jobs (SQS) → one notification per fan, sale and contact method."""

from __future__ import annotations

import functools
from typing import Any

from workers.notification_generator.logic import Deadline, GenerationQueue, generate
from workers.notification_generator.models import GenerationJob
from workers.notification_generator.settings import GeneratorSettings
from workers.shared.observability import instrumented
from workers.shared.records import QueueMessage, process_batch, queue_message
from workers.shared.repository import DemandRepository
from workers.shared.settings import load_settings


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Generate each job's notifications; failed jobs come back as batch-item failures."""
    settings = load_settings(GeneratorSettings)
    repository = DemandRepository(
        settings.demand_table_name,
        sales_index=settings.demand_table_sales_index,
        demand_index=settings.demand_table_demand_index,
    )
    queue = GenerationQueue(settings.generation_queue_url)
    deadline = Deadline(context.get_remaining_time_in_millis, settings.continuation_margin_seconds)

    def handle(message: QueueMessage[GenerationJob]) -> None:
        generate(
            message.body,
            repository,
            page_size=settings.demand_page_size,
            write_parallelism=settings.write_parallelism,
            deadline=deadline,
            continue_with=functools.partial(queue.send, correlation_id=message.correlation_id),
        )

    return process_batch(
        event, context, event_type="SQS", parser=queue_message(GenerationJob), record_handler=handle
    )
