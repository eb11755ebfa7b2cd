"""A cached event's URL, with tracking parameters, shortened by Bitly and stored once on the event."""

from __future__ import annotations

from workers.shared.errors import WorkerError
from workers.shared.messages import ShortUrlJob
from workers.shared.observability import LOGGER, URL_SHORTENED, URL_SHORTENING_FAILED, count
from workers.shared.repository import DemandRepository
from workers.shared.short_links import UrlShortener, with_tracking
from workers.shorten_event_url.models import ShortenOutcome


def shorten_event_url(
    job: ShortUrlJob, *, events: DemandRepository, shortener: UrlShortener
) -> ShortenOutcome:
    """Store a short link on the cached event unless it has one (Bitly is called once per event)."""
    event = events.get_event(job.event_id)
    if event is None:
        LOGGER.info("Event not cached; nothing to shorten", extra={"event_id": job.event_id})
        return ShortenOutcome.NOT_CACHED
    if event.short_url:
        LOGGER.info("Event already has a short URL", extra={"event_id": job.event_id})
        return ShortenOutcome.ALREADY_SHORTENED
    if event.is_suppressed:
        # Suppressed events are never reminded; un-suppressing them re-enqueues a job via the stream.
        LOGGER.info("Event is suppressed; not shortening", extra={"event_id": job.event_id})
        return ShortenOutcome.SUPPRESSED
    try:
        bitlink = shortener.shorten(with_tracking(event.url))
    except WorkerError:  # vendor errors, a bad URL, an unusable secret
        count(URL_SHORTENING_FAILED)
        raise
    if not events.set_short_url(job.event_id, bitlink.link):
        LOGGER.info(
            "Short URL not stored: the event has one already or is gone",
            extra={"event_id": job.event_id, "short_url": bitlink.link},
        )
        return ShortenOutcome.NOT_STORED
    count(URL_SHORTENED)
    LOGGER.info(
        "Event URL shortened",
        extra={"event_id": job.event_id, "short_url": bitlink.link, "bitlink_id": bitlink.id},
    )
    return ShortenOutcome.SHORTENED
