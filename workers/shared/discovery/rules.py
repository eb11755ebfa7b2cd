"""Business rules of cached events: sale types from names, suppression, market, locale and id shapes."""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from workers.shared.models import Attraction

DEFAULT_MARKET_ID = "TM_US"
# Discovery ids are short alphanumeric keys (vvG1IZ9KBxv3Tg, Z7r9jZ1AeqbGa, legacy hex 0E005A8E…);
# anything else is refused before it can reach the vendor's URL path.
EVENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MARKET_ID_PATTERN = r"^(TM|LN)_[A-Z]{2}$"

_EVENT_ID = re.compile(EVENT_ID_PATTERN)


# --------------------------------------------------------------------------------------------
# Sale types
# --------------------------------------------------------------------------------------------


class SaleType(enum.StrEnum):
    """What kind of sale a Discovery sale is, inferred from its name."""

    GENERAL = "GENERAL"
    PUBLIC = "PUBLIC"
    SUPPRESS = "SUPPRESS"
    CC = "CC"
    RESALE = "RESALE"
    VF = "VF"
    PLAT = "PLAT"
    VIP = "VIP"
    LN = "LN"
    AMEX = "AMEX"
    CITI = "CITI"
    VERIZON = "VERIZON"
    CAPITALONE = "CAPITALONE"
    CHASE = "CHASE"
    SIGNUP = "SIGNUP"
    ARTIST_PRESALE = "ARTIST_PRESALE"


# Whole words of the normalized sale name (lower case, accents and punctuation removed), so
# "citi" matches "Citi® Cardmember Presale" but not "Citizen Cope Presale".
SALE_TYPE_KEYWORDS: Mapping[SaleType, tuple[str, ...]] = {
    SaleType.GENERAL: ("general",),
    SaleType.PUBLIC: ("public",),
    SaleType.SUPPRESS: ("suppress", "suppressed", "do not notify"),
    SaleType.CC: ("card member", "cardmember", "cardholder", "card holder", "credit card"),
    SaleType.RESALE: ("resale",),
    SaleType.VF: ("verified fan", "verifiedfan"),
    SaleType.PLAT: ("platinum",),
    SaleType.VIP: ("vip",),
    SaleType.LN: ("live nation", "livenation"),
    SaleType.AMEX: ("amex", "american express"),
    SaleType.CITI: ("citi", "citibank"),
    SaleType.VERIZON: ("verizon",),
    SaleType.CAPITALONE: ("capital one", "capitalone"),
    SaleType.CHASE: ("chase",),
    SaleType.SIGNUP: ("sign up", "signup"),
    SaleType.ARTIST_PRESALE: ("artist presale", "artist", "fan club", "fanclub"),
}
# Card brands' presales are card-member sales even when the name does not say "card".
_IMPLIED_TYPES: Mapping[SaleType, SaleType] = {
    SaleType.AMEX: SaleType.CC,
    SaleType.CITI: SaleType.CC,
    SaleType.CAPITALONE: SaleType.CC,
    SaleType.CHASE: SaleType.CC,
}
_REGISTRATION = "registration"


def _plain_words(text: str) -> str:
    """Lower case ASCII words separated by single spaces ("Citi® Card-Member" → "citi card member")."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(char for char in decomposed if not unicodedata.combining(char)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_text).split())


def sale_types(name: str, *, public: bool = False) -> tuple[SaleType, ...]:
    """Every sale type whose keywords appear in the sale name (case-insensitive), in enum order."""
    words = f" {_plain_words(name)} "
    found = {
        kind for kind, keywords in SALE_TYPE_KEYWORDS.items() if any(f" {k} " in words for k in keywords)
    }
    found |= {_IMPLIED_TYPES[kind] for kind in found if kind in _IMPLIED_TYPES}
    if public:
        found.add(SaleType.PUBLIC)
    return tuple(kind for kind in SaleType if kind in found)


def sale_slug(name: str) -> str:
    """A stable sale id from its name ("Amex® Card Member Presale" → "amex-card-member-presale")."""
    return "-".join(_plain_words(name).split())[:120] or "presale"


# --------------------------------------------------------------------------------------------
# Suppression and cache lifetime
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EventRules:
    """Business rules applied when an event is cached: suppression and cache lifetime."""

    suppressed_artist_ids: frozenset[str] = frozenset()
    allowed_countries: frozenset[str] = frozenset({"US", "CA"})
    allowed_classifications: frozenset[str] = frozenset({"music", "theatre"})
    cache_ttl_hours: float = 24.0

    @classmethod
    def of(
        cls,
        *,
        suppressed_artist_ids: Iterable[str],
        allowed_countries: Iterable[str],
        allowed_classifications: Iterable[str],
        cache_ttl_hours: float,
    ) -> EventRules:
        """Rules from configured lists, normalized (countries upper case, classifications by name)."""
        return cls(
            suppressed_artist_ids=frozenset(item.strip() for item in suppressed_artist_ids if item.strip()),
            allowed_countries=frozenset(item.strip().upper() for item in allowed_countries if item.strip()),
            allowed_classifications=frozenset(
                classification_name(item) for item in allowed_classifications if item.strip()
            ),
            cache_ttl_hours=cache_ttl_hours,
        )


def sale_suppression_reasons(name: str, types: Sequence[SaleType]) -> list[str]:
    """Why a sale must not be notified (a registration, or a sale named to be suppressed); [] when it may."""
    reasons: list[str] = []
    if _REGISTRATION in name.lower():
        reasons.append("sale name contains 'registration'")
    if SaleType.SUPPRESS in types:
        reasons.append("sale type SUPPRESS")
    return reasons


def event_suppression_reasons(
    attractions: Sequence[Attraction], country_code: str, classifications: set[str], rules: EventRules
) -> list[str]:
    """Why an event must not be notified (artist, venue country, classification); [] when it may."""
    reasons = [
        f"artist {attraction.id} is suppressed"
        for attraction in attractions
        if attraction.id in rules.suppressed_artist_ids
    ]
    if not country_code:
        reasons.append("venue country is unknown")
    elif country_code not in rules.allowed_countries:
        reasons.append(f"venue country {country_code} is not allowed")
    if not classifications:
        reasons.append("event has no classification")
    elif not classifications & rules.allowed_classifications:
        reasons.append(f"classification {', '.join(sorted(classifications))} is not allowed")
    return reasons


# --------------------------------------------------------------------------------------------
# Classification, market, locale and event ids
# --------------------------------------------------------------------------------------------

# Discovery's segment names → the vocabulary of ALLOWED_CLASSIFICATIONS. Discovery spells theatre
# "Arts & Theatre" (plays, musicals, comedy, dance); the config says "theatre" (or "theater").
_SEGMENT_ALIASES: Mapping[str, str] = {
    "arts theatre": "theatre",
    "arts and theatre": "theatre",
    "arts theater": "theatre",
    "arts and theater": "theatre",
    "theater": "theatre",
}


def classification_name(segment: str) -> str:
    """A Discovery segment name in config vocabulary ("Arts & Theatre" → "theatre", "Music" → "music")."""
    words = _plain_words(segment)
    return _SEGMENT_ALIASES.get(words, words.replace(" ", "-"))


def market_for(market_id: str | None, country_code: str) -> str:
    """The requested market, else the venue country's Ticketmaster market (CA → TM_CA, else TM_US)."""
    if market_id:
        return market_id
    return "TM_CA" if country_code == "CA" else DEFAULT_MARKET_ID


def locale_for(market_id: str, event_locale: str | None) -> str:
    """en-us, except Canadian markets: en-ca, or fr-ca when Discovery's event locale is French."""
    if not market_id.endswith("_CA"):
        return "en-us"
    return "fr-ca" if (event_locale or "").lower().startswith("fr") else "en-ca"


def is_valid_event_id(event_id: str) -> bool:
    """Whether the id has the shape of a Discovery event id (checked before any call)."""
    return bool(_EVENT_ID.match(event_id))
