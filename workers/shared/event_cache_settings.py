"""Settings every worker that caches Discovery events shares (table, Discovery, suppression rules)."""

from __future__ import annotations

from pydantic import Field

from workers.shared.discovery.rules import EventRules
from workers.shared.settings import CommaSeparated, TableSettings


class EventCacheSettings(TableSettings):
    """What infra's TABLE_* and DISCOVERY accesses render (infra/access.py)."""

    discovery_url: str = Field(pattern=r"^https?://\S+$")
    discovery_secret_arn: str = Field(pattern=r"^arn:aws[a-z-]*:secretsmanager:\S+$")
    # Required even when empty: infra always renders the rules, a missing one is a deploy bug.
    suppressed_artist_ids: CommaSeparated
    allowed_countries: CommaSeparated
    allowed_classifications: CommaSeparated
    event_cache_ttl_hours: float = Field(gt=0, le=24 * 30)

    def event_rules(self) -> EventRules:
        """The business rules applied when an event is cached."""
        return EventRules.of(
            suppressed_artist_ids=self.suppressed_artist_ids,
            allowed_countries=self.allowed_countries,
            allowed_classifications=self.allowed_classifications,
            cache_ttl_hours=self.event_cache_ttl_hours,
        )
