"""Cache-first event details: the cached event while fresh, else Discovery → normalize → the table.

When Discovery fails (not a 404) the cached copy is served however old; when it stops listing a
sale, that sale's opt-ins are counted as orphaned (docs/contracts/discovery.md, demand.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from workers.shared.discovery.client import EventSource
from workers.shared.discovery.errors import EventNotFoundError
from workers.shared.discovery.normalize import normalize_event
from workers.shared.discovery.rules import EventRules
from workers.shared.errors import VendorError
from workers.shared.messages import ShortUrlJob
from workers.shared.models import EventRecord, SaleRecord
from workers.shared.observability import DISCOVERY_FALLBACK_TO_CACHE, LOGGER, ORPHANED_DEMAND, count

if TYPE_CHECKING:
    from workers.shared.queue_sender import QueueSender
    from workers.shared.repository import DemandRepository

# A sale record kept after Discovery stopped listing the sale: suppressed with this reason, so a
# stale `sales` index entry never notifies, and left out of `CachedEvent.sales`.
WITHDRAWN_SALE_REASON = "no longer listed at Discovery"


@dataclass(frozen=True, kw_only=True)
class CachedEvent:
    """An event and its current sales, and where they came from."""

    event: EventRecord
    sales: tuple[SaleRecord, ...]
    from_cache: bool
    short_url_requested: bool = False
    # Served from the cache past its freshness because Discovery failed (docs/contracts/discovery.md).
    stale: bool = False


def _current(sales: Iterable[SaleRecord]) -> tuple[SaleRecord, ...]:
    listed = (sale for sale in sales if sale.suppression_reason != WITHDRAWN_SALE_REASON)
    return tuple(sorted(listed, key=lambda sale: (sale.sale_start_date_time, sale.id)))


def get_and_cache_event_details(
    event_id: str,
    *,
    market_id: str | None,
    repository: DemandRepository,
    discovery: EventSource,
    rules: EventRules,
    now: datetime,
    short_url_queue: QueueSender | None = None,
    fresh_for: timedelta = timedelta(0),
) -> CachedEvent:
    """The cached event while fresh; else Discovery → cache; the stale copy when Discovery fails (not 404)."""
    # `fresh_for`: a caller that needs the item to outlive the call (the generator reads it after
    # the scheduler) refreshes an event that would expire, and could be deleted by TTL, before then.
    cached = repository.get_event(event_id)
    if cached is not None and cached.expires_at > (now + fresh_for).timestamp():
        current = _current(repository.sales_for_event(event_id))
        return CachedEvent(event=cached, sales=current, from_cache=True)

    try:
        # Cached under the id asked for: Discovery may answer a legacy id with the canonical one, and
        # callers (and fans' demand records) keep using the id they have.
        payload = {**discovery.event(event_id), "id": event_id}
        event, sales = normalize_event(payload, market_id=market_id, rules=rules, now=now)
    except EventNotFoundError:
        raise  # the event is gone: a cached copy must not keep reminding of it
    except VendorError as error:
        if cached is None:
            raise
        return _fallback_to_cache(cached, error, repository=repository, now=now)
    if cached is not None and cached.short_url:
        event = event.model_copy(update={"short_url": cached.short_url})  # put_event keeps it too
    repository.put_event(event)
    listed = {sale.id for sale in sales}
    withdrawn = [
        sale.model_copy(update={"is_suppressed": True, "suppression_reason": WITHDRAWN_SALE_REASON})
        for sale in repository.sales_for_event(event_id)
        if sale.id not in listed and sale.suppression_reason != WITHDRAWN_SALE_REASON
    ]
    for sale in [*sales, *withdrawn]:
        repository.put_sale(sale)
    if withdrawn:
        LOGGER.info(
            "Sales no longer listed at Discovery are suppressed",
            extra={"event_id": event_id, "sale_ids": [sale.id for sale in withdrawn]},
        )
        for sale in withdrawn:
            _count_orphaned_demand(event_id, sale, repository)

    requested = short_url_queue is not None and not event.short_url and not event.is_suppressed
    if requested and short_url_queue is not None:
        short_url_queue.send(ShortUrlJob(event_id=event_id), correlation_id=event_id)
    LOGGER.info(
        "Event details cached",
        extra={
            "event_id": event_id,
            "sales": len(sales),
            "is_suppressed": event.is_suppressed,
            "suppression_reason": event.suppression_reason,
            "short_url_requested": requested,
        },
    )
    return CachedEvent(event=event, sales=_current(sales), from_cache=False, short_url_requested=requested)


def _fallback_to_cache(
    cached: EventRecord, error: VendorError, *, repository: DemandRepository, now: datetime
) -> CachedEvent:
    """The cached event and its sales, however old, when Discovery cannot answer (not a 404)."""
    # Dropping the event's sales for the run would cost their fans their reminders; an hour-old
    # copy of a sale's start is almost always still right, and the next run asks Discovery again.
    count(DISCOVERY_FALLBACK_TO_CACHE)
    LOGGER.warning(
        "Discovery failed; serving the cached event past its freshness",
        extra={
            "event_id": cached.id,
            "error_type": type(error).__name__,
            "status_code": error.status_code,
            "reason": error.reason,
            "expired_seconds_ago": max(0, int(now.timestamp()) - cached.expires_at),
        },
    )
    current = _current(repository.sales_for_event(cached.id))
    return CachedEvent(event=cached, sales=current, from_cache=True, stale=True)


def _count_orphaned_demand(event_id: str, sale: SaleRecord, repository: DemandRepository) -> None:
    """Opt-ins of a sale Discovery stopped listing will never be reminded: count them, loudly."""
    # A renamed presale gets a new sale id (its name's slug); the fans who opted in under the old id
    # are orphaned until the fan-facing system moves them (docs/contracts/demand.md).
    orphaned = repository.count_demand_for_sale(event_id, sale.id)
    if orphaned == 0:
        return
    count(ORPHANED_DEMAND, orphaned)
    LOGGER.warning(
        "Demand for a sale Discovery no longer lists is orphaned",
        extra={"event_id": event_id, "sale_id": sale.id, "sale_name": sale.name, "orphaned_demand": orphaned},
    )
