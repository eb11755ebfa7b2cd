"""Event details from the Discovery API v2: client, normalization into cached records, cache-first reads."""

from __future__ import annotations

import enum
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from workers.shared.clients import sqs
from workers.shared.errors import PermanentVendorError, SecretError
from workers.shared.messages import ShortUrlJob
from workers.shared.models import Attraction, EventRecord, SaleRecord, expiry, validation_reason
from workers.shared.observability import LOGGER
from workers.shared.vendor_http import VendorClient, secret_value

if TYPE_CHECKING:
    import urllib3
    from mypy_boto3_sqs import SQSClient

    from workers.shared.repository import DemandRepository

DISCOVERY_VENDOR = "discovery"
DEFAULT_MARKET_ID = "TM_US"
# Discovery ids are short alphanumeric keys (vvG1IZ9KBxv3Tg, Z7r9jZ1AeqbGa, legacy hex 0E005A8E…);
# anything else is refused before it can reach the vendor's URL path.
EVENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MARKET_ID_PATTERN = r"^(TM|LN)_[A-Z]{2}$"
PUBLIC_SALE_ID = "public"
PUBLIC_SALE_NAME = "Public Onsale"
FALLBACK_TIMEZONE = "UTC"
# A sale record kept after Discovery stopped listing the sale: suppressed with this reason, so a
# stale `sales` index entry never notifies, and left out of `CachedEvent.sales`.
WITHDRAWN_SALE_REASON = "no longer listed at Discovery"

_EVENT_ID = re.compile(EVENT_ID_PATTERN)
_MARKET_ID = re.compile(MARKET_ID_PATTERN)


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
# Errors
# --------------------------------------------------------------------------------------------


class EventNotFoundError(PermanentVendorError):
    """Discovery has no event with this id (HTTP 404)."""

    def __init__(self, event_id: str, reason: str = "Resource not found") -> None:
        super().__init__(DISCOVERY_VENDOR, reason, status_code=404)
        self.event_id = event_id
        # The message is what callers (and AppSync clients) see: say what was not found.
        self.args = (f"event {event_id!r} was not found at Discovery",)


class InvalidEventPayloadError(PermanentVendorError):
    """Discovery answered 2xx with an event that lacks what the cache needs (name, url)."""

    def __init__(self, event_id: str, reason: str) -> None:
        super().__init__(DISCOVERY_VENDOR, reason, status_code=None)
        self.event_id = event_id
        self.args = (f"event {event_id!r} from Discovery is unusable: {reason}",)


# --------------------------------------------------------------------------------------------
# Business rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EventRules:
    """Business rules applied when an event is cached: suppression (SR-001..004) and cache lifetime."""

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


def is_valid_market_id(market_id: str) -> bool:
    """Whether the id looks like a market id (TM_US, TM_CA, LN_US...)."""
    return bool(_MARKET_ID.match(market_id))


# --------------------------------------------------------------------------------------------
# Normalization
# --------------------------------------------------------------------------------------------


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _instant(value: Any) -> datetime | None:
    """An ISO-8601 instant ("2024-02-01T15:00:00Z"); None when absent, malformed or without offset."""
    text = _text(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


@dataclass(frozen=True)
class _Sale:
    name: str
    starts: datetime
    public: bool


def _discovery_sales(payload: Mapping[str, Any]) -> list[_Sale]:
    """The public sale and presales that have a start time (TBD/TBA sales cannot be scheduled)."""
    sales = _object(payload.get("sales"))
    found: list[_Sale] = []
    public = _object(sales.get("public"))
    public_start = _instant(public.get("startDateTime"))
    if public_start is not None and public.get("startTBD") is not True and public.get("startTBA") is not True:
        found.append(_Sale(_text(public.get("name")) or PUBLIC_SALE_NAME, public_start, public=True))
    for presale in _objects(sales.get("presales")):
        starts = _instant(presale.get("startDateTime"))
        if starts is not None:
            found.append(_Sale(_text(presale.get("name")) or "Presale", starts, public=False))
    return found


def _sale_ids(sales: Sequence[_Sale]) -> list[str]:
    """Stable ids: "public" and name slugs; repeated names get -2, -3... in start-time order."""
    ids: list[str] = [""] * len(sales)
    taken: set[str] = set()
    order = sorted(range(len(sales)), key=lambda index: (not sales[index].public, sales[index].starts))
    for index in order:
        base = PUBLIC_SALE_ID if sales[index].public else sale_slug(sales[index].name)
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        taken.add(candidate)
        ids[index] = candidate
    return ids


def _sale_suppression(name: str, types: Sequence[SaleType]) -> list[str]:
    reasons: list[str] = []
    if _REGISTRATION in name.lower():
        reasons.append("sale name contains 'registration'")
    if SaleType.SUPPRESS in types:
        reasons.append("sale type SUPPRESS")
    return reasons


def _event_suppression(
    attractions: Sequence[Attraction], country_code: str, classifications: set[str], rules: EventRules
) -> list[str]:
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


def normalize_event(
    payload: Mapping[str, Any], *, market_id: str | None, rules: EventRules, now: datetime
) -> tuple[EventRecord, list[SaleRecord]]:
    """A Discovery event → its event record and sale records, suppression and TTL applied."""
    # Only id, name and url are required (InvalidEventPayloadError otherwise); everything else is
    # optional, and missing venue or classification data suppresses the event instead of failing it.
    event_id = _text(payload.get("id"))
    if event_id is None or not is_valid_event_id(event_id):
        raise InvalidEventPayloadError(str(payload.get("id")), "missing or malformed id")
    name, url = _text(payload.get("name")), _text(payload.get("url"))
    if name is None or url is None:
        missing = " and ".join(field for field, value in (("name", name), ("url", url)) if value is None)
        raise InvalidEventPayloadError(event_id, f"missing {missing}")

    embedded = _object(payload.get("_embedded"))
    venues = _objects(embedded.get("venues"))
    venue = venues[0] if venues else {}
    attractions = tuple(
        Attraction(id=attraction_id, name=_text(item.get("name")) or attraction_id)
        for item in _objects(embedded.get("attractions"))
        if (attraction_id := _text(item.get("id")))
    )
    country_code = (_text(_object(venue.get("country")).get("countryCode")) or "").upper()
    classifications = {
        classification_name(segment)
        for item in _objects(payload.get("classifications"))
        if (segment := _text(_object(item.get("segment")).get("name"))) and segment.lower() != "undefined"
    }
    dates = _object(payload.get("dates"))
    market = market_for(market_id, country_code)
    reasons = _event_suppression(attractions, country_code, classifications, rules)
    fields: dict[str, Any] = {
        "id": event_id,
        "name": name,
        "url": url,
        "locale": locale_for(market, _text(payload.get("locale"))),
        "market_id": market,
        "timezone": _text(dates.get("timezone")) or _text(venue.get("timezone")) or FALLBACK_TIMEZONE,
        "event_start_date_time": _instant(_object(dates.get("start")).get("dateTime")),
        "venue_name": _text(venue.get("name")),
        "venue_city": _text(_object(venue.get("city")).get("name")),
        "venue_state_code": _text(_object(venue.get("state")).get("stateCode")),
        "attractions": attractions,
        "artist_name": attractions[0].name if attractions else None,
        "artist_id": attractions[0].id if attractions else None,
        "country_code": country_code,
        "classification": ",".join(sorted(classifications)) or None,
        "is_suppressed": bool(reasons),
        "suppression_reason": "; ".join(reasons) or None,
        "expires_at": expiry(now, hours=rules.cache_ttl_hours),
    }
    try:
        event = EventRecord(**fields)
    except ValidationError as error:
        raise InvalidEventPayloadError(event_id, validation_reason(error)) from None

    discovery_sales = _discovery_sales(payload)
    sales: list[SaleRecord] = []
    for sale_id, sale in zip(_sale_ids(discovery_sales), discovery_sales, strict=True):
        types = sale_types(sale.name, public=sale.public)
        sale_reasons = _sale_suppression(sale.name, types)
        sales.append(
            SaleRecord(
                id=sale_id,
                event_id=event_id,
                name=sale.name,
                sale_start_date_time=sale.starts,
                sale_types=tuple(types),
                is_suppressed=bool(sale_reasons),
                suppression_reason="; ".join(sale_reasons) or None,
                # A sale must stay findable in the `sales` index until it starts, however far
                # ahead it is cached: the scheduler only finds sales that are still there.
                expires_at=expiry(max(now, sale.starts), hours=rules.cache_ttl_hours),
            )
        )
    sales.sort(key=lambda record: (record.sale_start_date_time, record.id))
    return event, sales


# --------------------------------------------------------------------------------------------
# The Discovery client
# --------------------------------------------------------------------------------------------


class EventSource(Protocol):
    """Where event payloads come from (the Discovery client, or a test double)."""

    def event(self, event_id: str) -> Mapping[str, Any]: ...


def api_key_from_secret(secret_arn: str) -> str:
    """The Discovery API key from its secret (`{"apiKey": "..."}`), cached by the secrets provider."""
    api_key = secret_value(secret_arn).get("apiKey")
    if not isinstance(api_key, str) or not api_key:
        raise SecretError(f"secret {secret_arn} has no apiKey string")
    return api_key


class DiscoveryClient:
    """GET {DISCOVERY_URL}/events/{id}.json?apikey=...&locale=* on the shared vendor HTTP client."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: Callable[[], str],
        timeout_seconds: float = 5.0,
        max_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        self._api_key = api_key
        self._vendor = VendorClient(
            base_url,
            name=DISCOVERY_VENDOR,
            timeout_seconds=timeout_seconds,
            max_attempts=max_attempts,
            sleep=sleep,
            pool=pool,
        )

    def event(self, event_id: str) -> Mapping[str, Any]:
        """The event payload in every locale; EventNotFoundError for an unknown id."""
        if not is_valid_event_id(event_id):
            # Never put an unchecked id into the vendor's URL path.
            raise EventNotFoundError(event_id, "malformed event id")
        try:
            response = self._vendor.request(
                "GET", f"events/{event_id}.json", params={"apikey": self._api_key(), "locale": "*"}
            )
        except PermanentVendorError as error:
            if error.status_code == 404:
                raise EventNotFoundError(event_id, error.reason) from None
            raise
        try:
            payload = response.json()
        except ValueError:
            raise InvalidEventPayloadError(event_id, "response is not JSON") from None
        if not isinstance(payload, Mapping):
            raise InvalidEventPayloadError(event_id, "response is not a JSON object")
        return payload


# --------------------------------------------------------------------------------------------
# Cache-first event details
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ShortUrlQueue:
    """The short-url queue: events that still need a Bitly link."""

    url: str
    client: SQSClient | None = None

    def send(self, job: ShortUrlJob) -> None:
        """Send one job, carrying trace context and the event id as correlation id."""
        from workers.shared.records import queue_message_attributes

        client = self.client if self.client is not None else sqs()
        client.send_message(
            QueueUrl=self.url,
            MessageBody=job.model_dump_json(by_alias=True),
            MessageAttributes=queue_message_attributes(job.event_id),
        )


@dataclass(frozen=True, kw_only=True)
class CachedEvent:
    """An event and its current sales, and where they came from."""

    event: EventRecord
    sales: tuple[SaleRecord, ...]
    from_cache: bool
    short_url_requested: bool = False


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
    short_url_queue: ShortUrlQueue | None = None,
    fresh_for: timedelta = timedelta(0),
) -> CachedEvent:
    """The cached event while fresh; else Discovery → normalize → cache (and request a short URL)."""
    # `fresh_for`: a caller that needs the item to outlive the call (the generator reads it after
    # the scheduler) refreshes an event that would expire, and could be deleted by TTL, before then.
    cached = repository.get_event(event_id)
    if cached is not None and cached.expires_at > (now + fresh_for).timestamp():
        current = _current(repository.sales_for_event(event_id))
        return CachedEvent(event=cached, sales=current, from_cache=True)

    # Cached under the id asked for: Discovery may answer a legacy id with the canonical one, and
    # callers (and fans' demand records) keep using the id they have.
    payload = {**discovery.event(event_id), "id": event_id}
    event, sales = normalize_event(payload, market_id=market_id, rules=rules, now=now)
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

    requested = short_url_queue is not None and not event.short_url and not event.is_suppressed
    if requested and short_url_queue is not None:
        short_url_queue.send(ShortUrlJob(event_id=event_id))
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
