"""AppSync direct resolver of Query.eventDetails(eventId, tmMarketId)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from workers.event_details.errors import graphql_errors
from workers.event_details.logic import event_details
from workers.event_details.models import ErrorMode, error_answer, error_mode, parse_arguments
from workers.event_details.settings import EventDetailsSettings
from workers.shared.clients import demand_repository
from workers.shared.discovery.client import DiscoveryClient, api_key_from_secret
from workers.shared.errors import WorkerError
from workers.shared.observability import APPSYNC_CORRELATION_PATH, count, instrumented
from workers.shared.queue_sender import QueueSender
from workers.shared.resolver_events import parse_resolver_event
from workers.shared.settings import load_settings

# A fan is waiting on the page: one retry at most, inside AppSync's 30 s resolver budget.
DISCOVERY_ATTEMPTS = 2
# Failures of ours answered as `error` objects: Lambda's Errors metric never sees them, this does
# (a client's bad argument or an unknown event is not one of them; the log names the type).
RESOLVER_FAILURES = "ResolverFailures"
_CLIENT_ERROR_TYPES = frozenset({"InvalidArgumentError", "EventNotFoundError"})


@instrumented(correlation_id_path=APPSYNC_CORRELATION_PATH)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The event's details; a failure as an `error` object (default) or a GraphQL error (errorMode)."""
    raw = event.get("arguments") if isinstance(event, dict) else None
    raw_arguments = raw if isinstance(raw, dict) else {}
    try:
        return _details(event, context)
    except WorkerError as shown:  # graphql_errors has already logged and typed it
        if error_mode(raw_arguments) is ErrorMode.GRAPHQL:
            raise
        if type(shown).__name__ not in _CLIENT_ERROR_TYPES:
            count(RESOLVER_FAILURES)
        return error_answer(raw_arguments.get("eventId"), shown)


def _details(event: dict[str, Any], context: Any) -> dict[str, Any]:
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
