"""The demo's catalogue: the venues and events the Discovery fake serves, and the sales they hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sandbox.vendors import DiscoveryVenue

REGISTRATION_SALE: Final = "Verified Fan Registration"


@dataclass(frozen=True, kw_only=True)
class DemoEvent:
    """A seeded event: Discovery facts, the market its fans buy in, and how its fans speak."""

    id: str
    name: str
    artist_id: str
    artist: str
    venue: DiscoveryVenue
    locale: str
    market: str
    segment: str = "Music"
    genre: str = "Rock"
    fan_locales: tuple[tuple[str, float], ...] = (("en-us", 1.0),)
    area_codes: tuple[str, ...] = ("312",)
    sales: tuple[str | None, ...] = (None,)  # names in the order the window uses them; None: public


# Per country (code, name), one venue a row: id, name, city, state code, state, timezone, postal code.
_VENUE_ROWS: Final = {
    ("US", "United States Of America"): (
        ("KovZpZAFnIEA", "United Center", "Chicago", "IL", "Illinois", "America/Chicago", "60612"),
        ("KovZpZA6AJ6A", "Hollywood Bowl", "Los Angeles", "CA", "California", "America/Los_Angeles", "90068"),
        ("KovZpZA7AAEA", "Madison Square Garden", "New York", "NY", "New York", "America/New_York", "10001"),
    ),
    ("CA", "Canada"): (
        ("KovZpZAEAt6A", "Salle Wilfrid-Pelletier", "Montréal", "QC", "Québec", "America/Toronto", "H2X 1Y9"),
        ("KovZpZAFaJeA", "Scotiabank Arena", "Toronto", "ON", "Ontario", "America/Toronto", "M5J 2X2"),
    ),
}
VENUES_BY_CITY: Final = {
    city: DiscoveryVenue(
        id=venue_id,
        name=name,
        city=city,
        state_code=state_code,
        state=state,
        country_code=country_code,
        country=country,
        timezone=timezone,
        postal_code=postal_code,
    )
    for (country_code, country), rows in _VENUE_ROWS.items()
    for venue_id, name, city, state_code, state, timezone, postal_code in rows
}
CHICAGO: Final = VENUES_BY_CITY["Chicago"]
MONTREAL: Final = VENUES_BY_CITY["Montréal"]
TORONTO: Final = VENUES_BY_CITY["Toronto"]
LOS_ANGELES: Final = VENUES_BY_CITY["Los Angeles"]
NEW_YORK: Final = VENUES_BY_CITY["New York"]

NOTIFIABLE_EVENTS: Final = (
    DemoEvent(
        id="G5vYZ9dmdChi",
        name="Maren Holloway: Northern Lights Tour",
        artist_id="K8vZ917dmHo",
        artist="Maren Holloway",
        venue=CHICAGO,
        locale="en-us",
        market="TM_US",
        genre="Pop",
        area_codes=("312", "773", "872"),
        sales=("Verified Fan Presale", None, "Citi® Cardmember Presale"),
    ),
    DemoEvent(
        id="Z7r9jZdmdMtl",
        name="Les Misérables",
        artist_id="K8vZ917dmLm",
        artist="Les Misérables (Touring)",
        venue=MONTREAL,
        locale="fr-ca",
        market="TM_CA",
        segment="Arts & Theatre",
        genre="Theatre",
        fan_locales=(("fr-ca", 0.7), ("en-ca", 0.3)),
        area_codes=("514", "438"),
        sales=(None, "Prévente American Express®"),
    ),
    DemoEvent(
        id="G5vYZ9dmdTor",
        name="The Lumineers",
        artist_id="K8vZ917dmLu",
        artist="The Lumineers",
        venue=TORONTO,
        locale="en-ca",
        market="TM_CA",
        genre="Folk",
        fan_locales=(("en-ca", 0.8), ("fr-ca", 0.2)),
        area_codes=("416", "647"),
        sales=("Artist Presale", None),
    ),
    DemoEvent(
        id="G5vYZ9dmdLax",
        name="Luna Vega: Sol y Sombra",
        artist_id="K8vZ917dmLv",
        artist="Luna Vega",
        venue=LOS_ANGELES,
        locale="en-us",
        market="LN_US",
        genre="Latin",
        area_codes=("213", "310", "323"),
        sales=("Live Nation Presale", None),
    ),
)
SUPPRESSED_EVENT: Final = DemoEvent(
    id="G5vYZ9dmdNyc",
    name="Static Prophets",
    artist_id="K8vZ917dmSp",
    artist="Static Prophets",
    venue=NEW_YORK,
    locale="en-us",
    market="TM_US",
    area_codes=("212", "646"),
)
