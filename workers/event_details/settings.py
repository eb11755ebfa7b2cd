"""Environment of the event_details resolver, exactly as infra declares it (infra/access.py, catalog)."""

from __future__ import annotations

from pydantic import Field

from workers.shared.event_cache_settings import EventCacheSettings


class EventDetailsSettings(EventCacheSettings):
    """Table, Discovery and suppression rules, plus the short-url queue and the vendor timeout."""

    short_url_queue_url: str = Field(pattern=r"^https?://\S+$")
    vendor_timeout_seconds: int = Field(ge=1, le=30)
