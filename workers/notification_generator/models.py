"""What the generator works with: its job message, one sale's reminder facts, brands and outcomes."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from workers.shared.demand_reading import DemandDeviation
from workers.shared.messages import GenerationJob

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from workers.shared.models import SaleRecord

__all__ = [
    "Brand",
    "GenerationJob",
    "GenerationOutcome",
    "GenerationStatus",
    "ReminderUrlSource",
    "SaleMessage",
    "SkipReason",
    "brand_for_market",
    "is_public_sale",
]

# Sale types (normalized by the scheduler from the Discovery API) that make a sale the public one.
PUBLIC_SALE_TYPES = frozenset({"PUBLIC", "GENERAL"})
# Only when a sale carries no types at all does its name decide (e.g. "Public Onsale").
_PUBLIC_SALE_NAME = re.compile(r"\b(public|general)\b", re.IGNORECASE)


class Brand(enum.StrEnum):
    """Who the fan buys from, named in every reminder."""

    TICKETMASTER = "Ticketmaster"
    LIVE_NATION = "Live Nation"


def brand_for_market(market_id: str | None) -> Brand:
    """LN_* markets are Live Nation; TM_* (and any market we do not know) are Ticketmaster."""
    if market_id is not None and market_id.upper().startswith("LN_"):
        return Brand.LIVE_NATION
    # Demand records default to TM_US, so an unknown market is reminded as Ticketmaster.
    return Brand.TICKETMASTER


def is_public_sale(sale: SaleRecord) -> bool:
    """A public (general) onsale: its reminder omits the sale name; a presale's reminder names it."""
    types = {sale_type.strip().upper() for sale_type in sale.sale_types}
    if types:
        return bool(types & PUBLIC_SALE_TYPES)
    return bool(_PUBLIC_SALE_NAME.search(sale.name))


@dataclass(frozen=True, kw_only=True)
class SaleMessage:
    """The facts of one sale's reminder, shared by every fan, locale and channel."""

    event_id: str
    sale_id: str
    sale_name: str
    artist_name: str
    presale_name: str | None
    venue_name: str | None
    venue_city: str | None
    venue_state_code: str | None
    url: str  # the link every reminder carries: the event's short URL, else its full URL
    timezone: ZoneInfo
    sale_start: datetime
    event_start: datetime | None


class GenerationStatus(enum.StrEnum):
    """How a generation job ended."""

    COMPLETED = "completed"  # every page of the sale's demand was processed
    CONTINUED = "continued"  # time ran short: a continuation job carries the next page
    SKIPPED = "skipped"  # nothing to generate (event/sale missing, suppressed or rescheduled)
    EXPIRED = "expired"  # the sale started (plus the grace) before the job ran: nothing created


class ReminderUrlSource(enum.StrEnum):
    """Where a generation job's reminder link came from (the `source` dimension of ReminderUrl)."""

    CACHED_SHORT_URL = "cached-short-url"  # the shortener had stored it on the event
    SHORTENED_NOW = "shortened-now"  # the generator asked Bitly itself, within its bound
    FULL_URL = "full-url"  # Bitly failed or was too slow: the event's own URL


class SkipReason(enum.StrEnum):
    """Why a fan's reminder by one method was not created (a fixed metric dimension vocabulary)."""

    SMS_TOO_LONG = "sms_too_long"
    MISSING_PHONE_NUMBER = "missing_phone_number"
    MISSING_EMAIL = "missing_email"


@dataclass(kw_only=True)
class GenerationOutcome:
    """What one generation job did."""

    status: GenerationStatus
    created: int = 0
    duplicates: int = 0
    pages: int = 0
    demand_items: int = 0  # demand items read, kept or not
    skipped: dict[SkipReason, int] = field(default_factory=dict)
    deviations: dict[DemandDeviation, int] = field(default_factory=dict)
    continuation: GenerationJob | None = None
    reason: str | None = None
    parked: int = 0  # malformed demand items parked in the dead-letter queue

    def skip(self, reason: SkipReason) -> None:
        """Count one reminder that was not created."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def add_deviations(self, deviations: dict[DemandDeviation, int]) -> None:
        """Count a page's demand records that deviated from what the fleet supports."""
        for deviation, found in deviations.items():
            self.deviations[deviation] = self.deviations.get(deviation, 0) + found
