"""EventBridge schedule (every 30 minutes): enqueue generation jobs for the sales of the next window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from workers.notification_scheduler.logic import schedule_notifications, schedule_window
from workers.notification_scheduler.models import parse_run_request
from workers.notification_scheduler.settings import SchedulerSettings
from workers.shared.clients import demand_repository
from workers.shared.discovery.client import DiscoveryClient, api_key_from_secret
from workers.shared.observability import EVENTBRIDGE_CORRELATION_PATH, instrumented
from workers.shared.queue_sender import QueueSender
from workers.shared.settings import load_settings

# Infra gives the scheduler no vendor-timeout tunable; a batch run can afford the full retries.
DISCOVERY_TIMEOUT_SECONDS = 10.0


@instrumented(correlation_id_path=EVENTBRIDGE_CORRELATION_PATH)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001 - Lambda's signature
    settings = load_settings(SchedulerSettings)
    now = datetime.now(UTC)
    request = parse_run_request(event, received_at=now)
    window = request.window or schedule_window(
        request.run_time, lead_minutes=settings.lead_minutes, window_minutes=settings.window_minutes
    )
    summary = schedule_notifications(
        window,
        repository=demand_repository(settings),
        discovery=DiscoveryClient(
            settings.discovery_url,
            api_key=lambda: api_key_from_secret(settings.discovery_secret_arn),
            timeout_seconds=DISCOVERY_TIMEOUT_SECONDS,
        ),
        rules=settings.event_rules(),
        queue=QueueSender(url=settings.generation_queue_url),
        parallelism=settings.event_fetch_parallelism,
        now=now,
    )
    return summary.as_dict()
