"""A Discovery event payload → the event record and sale records the cache stores, rules applied."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from workers.shared.discovery.errors import InvalidEventPayloadError
from workers.shared.discovery.rules import (
    EventRules,
    classification_name,
    event_suppression_reasons,
    is_valid_event_id,
    locale_for,
    market_for,
    sale_slug,
    sale_suppression_reasons,
    sale_types,
)
from workers.shared.errors import validation_reason
from workers.shared.models import Attraction, EventRecord, SaleRecord, expiry

PUBLIC_SALE_ID = "public"
PUBLIC_SALE_NAME = "Public Onsale"
FALLBACK_TIMEZONE = "UTC"


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
    reasons = event_suppression_reasons(attractions, country_code, classifications, rules)
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
        sale_reasons = sale_suppression_reasons(sale.name, types)
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
