"""Query.eventDetails: cache-first event details (Discovery on a miss) in the GraphQL shape."""

from __future__ import annotations

from datetime import datetime

from workers.event_details.models import EventDetails, EventDetailsArguments, SaleDetails
from workers.shared.discovery.cache import CachedEvent, get_and_cache_event_details
from workers.shared.discovery.client import EventSource
from workers.shared.discovery.rules import EventRules
from workers.shared.queue_sender import QueueSender
from workers.shared.repository import DemandRepository


def event_details(
    arguments: EventDetailsArguments,
    *,
    repository: DemandRepository,
    discovery: EventSource,
    rules: EventRules,
    now: datetime,
    short_url_queue: QueueSender | None,
) -> EventDetails:
    """The event's details and sales, cached on a miss (and queued for a short URL when it needs one)."""
    cached = get_and_cache_event_details(
        arguments.event_id,
        market_id=arguments.market_id,
        repository=repository,
        discovery=discovery,
        rules=rules,
        now=now,
        short_url_queue=short_url_queue,
    )
    return present(cached)


def present(cached: CachedEvent) -> EventDetails:
    """A cached event as GraphQL `EventDetails`; a sale of a suppressed event is suppressed too."""
    event = cached.event
    return EventDetails(
        event_id=event.id,
        event_name=event.name,
        artist=event.artist_name,
        venue_name=event.venue_name,
        venue_city=event.venue_city,
        venue_state_code=event.venue_state_code,
        event_start_date_time=event.event_start_date_time,
        timezone=event.timezone,
        locale=event.locale,
        url=event.url,
        short_url=event.short_url,
        is_suppressed=event.is_suppressed,
        sales=tuple(
            SaleDetails(
                id=sale.id,
                name=sale.name,
                sale_start_date_time=sale.sale_start_date_time,
                sale_types=sale.sale_types,
                # "Will fans be reminded of this sale?": never when its event is suppressed.
                is_suppressed=sale.is_suppressed or event.is_suppressed,
            )
            for sale in cached.sales
        ),
    )
