"""AppSync direct resolver of Query.eventDetails(eventId, tmMarketId)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from workers.event_details.errors import graphql_errors
from workers.event_details.logic import event_details
from workers.event_details.models import parse_arguments
from workers.event_details.settings import EventDetailsSettings
from workers.shared.clients import demand_repository
from workers.shared.discovery.client import DiscoveryClient, api_key_from_secret
from workers.shared.observability import APPSYNC_CORRELATION_PATH, instrumented
from workers.shared.queue_sender import QueueSender
from workers.shared.records import parse_resolver_event
from workers.shared.settings import load_settings

# A fan is waiting on the page: one retry at most, inside AppSync's 30 s resolver budget.
DISCOVERY_ATTEMPTS = 2


@instrumented(correlation_id_path=APPSYNC_CORRELATION_PATH)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with graphql_errors(request_id=str(getattr(context, "aws_request_id", ""))):
        settings = load_settings(EventDetailsSettings)
        arguments = parse_arguments(parse_resolver_event(event).arguments)
        details = event_details(
            arguments,
            repository=demand_repository(settings),
            discovery=DiscoveryClient(
                settings.discovery_url,
                api_key=lambda: api_key_from_secret(settings.discovery_secret_arn),
                timeout_seconds=settings.vendor_timeout_seconds,
                max_attempts=DISCOVERY_ATTEMPTS,
            ),
            rules=settings.event_rules(),
            now=datetime.now(UTC),
            short_url_queue=QueueSender(url=settings.short_url_queue_url),
        )
        return details.as_graphql()
