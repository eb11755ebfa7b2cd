"""Environment of the notification_scheduler, exactly as infra declares it (infra/access.py, catalog)."""

from __future__ import annotations

from pydantic import Field

from workers.shared.event_cache_settings import EventCacheSettings


class SchedulerSettings(EventCacheSettings):
    """Table, Discovery and suppression rules, plus the generation queue and the window."""

    generation_queue_url: str = Field(pattern=r"^https?://\S+$")
    # Bounds of infra/catalog.py SchedulerTunables.
    lead_minutes: int = Field(ge=0, le=1440)
    window_minutes: int = Field(ge=5, le=1440)
    event_fetch_parallelism: int = Field(ge=1, le=25)
