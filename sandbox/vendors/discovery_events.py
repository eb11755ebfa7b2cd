"""Discovery API v2 event payloads for seeding the Discovery fake, shaped like the real API's."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.vendors.discovery import DISCOVERY_BASE_PATH


@dataclass(frozen=True, kw_only=True)
class DiscoverySale:
    """A sale of a seeded Discovery event: the public onsale (no name needed) or a named presale."""

    starts: datetime
    name: str | None = None  # None: the public onsale
    ends: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class DiscoveryVenue:
    """Where a seeded event takes place."""

    id: str
    name: str
    city: str
    state_code: str
    state: str
    country_code: str
    country: str
    timezone: str
    postal_code: str = ""


def discovery_event(
    *,
    event_id: str,
    name: str,
    artist_id: str,
    artist: str,
    venue: DiscoveryVenue,
    starts: datetime,
    sales: Iterable[DiscoverySale],
    locale: str = "en-us",
    segment: str = "Music",
    genre: str = "Rock",
) -> dict[str, Any]:
    """A Discovery v2 event payload shaped like the real API's (`GET /discovery/v2/events/{id}.json`)."""
    domain = "www.ticketmaster.ca" if venue.country_code == "CA" else "www.ticketmaster.com"
    plain = unicodedata.normalize("NFKD", f"{name} {venue.city} {venue.state}").encode("ascii", "ignore")
    slug = re.sub(r"[^a-z0-9]+", "-", plain.decode().lower()).strip("-")
    local = starts.astimezone(ZoneInfo(venue.timezone))
    listed = list(sales)
    public = next((sale for sale in listed if sale.name is None), None)
    segment_ids = {
        "Music": "KZFzniwnSyZfZ7v7nJ",
        "Arts & Theatre": "KZFzniwnSyZfZ7v7na",
        "Sports": "KZFzniwnSyZfZ7v7nE",
    }
    classification = {
        "primary": True,
        "segment": {"id": segment_ids.get(segment, "KZFzniwnSyZfZ7v7nl"), "name": segment},
        "genre": {"id": "KnvZfZ7vAeA", "name": genre},
        "subGenre": {"id": "KZazBEonSMnZfZ7v6F1", "name": "Pop"},
        "family": False,
    }
    sales_block: dict[str, Any] = {
        "presales": [
            {
                "startDateTime": _iso(sale.starts),
                "endDateTime": _iso(sale.ends or starts),
                "name": sale.name,
            }
            for sale in listed
            if sale.name is not None
        ]
    }
    if public is not None:
        sales_block["public"] = {
            "startDateTime": _iso(public.starts),
            "startTBD": False,
            "startTBA": False,
            "endDateTime": _iso(public.ends or starts),
        }
    return {
        "name": name,
        "type": "event",
        "id": event_id,
        "test": False,
        "url": f"https://{domain}/{slug}/event/{event_id}",
        "locale": locale,
        "images": [
            {
                "ratio": "16_9",
                "url": f"https://s1.ticketm.net/dam/a/{event_id.lower()}_RETINA_PORTRAIT_16_9.jpg",
                "width": 640,
                "height": 360,
                "fallback": False,
            }
        ],
        "sales": sales_block,
        "dates": {
            "start": {
                "localDate": local.date().isoformat(),
                "localTime": local.strftime("%H:%M:%S"),
                "dateTime": _iso(starts),
                "dateTBD": False,
                "dateTBA": False,
                "timeTBA": False,
                "noSpecificTime": False,
            },
            "timezone": venue.timezone,
            "status": {"code": "onsale"},
            "spanMultipleDays": False,
        },
        "classifications": [classification],
        "promoter": {
            "id": "653",
            "name": "LIVE NATION MUSIC",
            "description": "LIVE NATION MUSIC / NTL / USA",
        },
        "_links": {"self": {"href": f"{DISCOVERY_BASE_PATH}/events/{event_id}?locale={locale}"}},
        "_embedded": {
            "venues": [
                {
                    "name": venue.name,
                    "type": "venue",
                    "id": venue.id,
                    "test": False,
                    "locale": locale,
                    "postalCode": venue.postal_code,
                    "timezone": venue.timezone,
                    "city": {"name": venue.city},
                    "state": {"name": venue.state, "stateCode": venue.state_code},
                    "country": {"name": venue.country, "countryCode": venue.country_code},
                }
            ],
            "attractions": [
                {
                    "name": artist,
                    "type": "attraction",
                    "id": artist_id,
                    "test": False,
                    "locale": locale,
                    "classifications": [classification],
                }
            ],
        },
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
