"""Demand records as the fan-facing system writes them: what the generator keeps, and how each deviates.

The writer owns these items (docs/contracts/demand.md); the fleet only reads them. A record is
kept whenever a reminder can be built from it: unsupported contact methods are dropped and an
unknown locale gives way to the event's. Only a record without any supported method, or without
the ids that make it an opt-in of this sale, is skipped.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import ValidationError

from workers.shared.errors import validation_reason
from workers.shared.models import ContactMethod, DemandRecord, Locale

SUPPORTED_LOCALES: frozenset[str] = frozenset(get_args(get_args(Locale)[0]))
_SUPPORTED_METHODS = frozenset(method.value for method in ContactMethod)


class DemandDeviation(enum.StrEnum):
    """How a demand item departs from what the fleet supports (the `reason` of `DemandDeviations`)."""

    UNSUPPORTED_CONTACT_METHOD = "unsupported-contact-method"  # kept, without those methods
    UNKNOWN_LOCALE = "unknown-locale"  # kept, reminded in the event's locale
    NO_SUPPORTED_CONTACT_METHOD = "no-supported-contact-method"  # skipped
    INVALID_RECORD = "invalid-record"  # skipped: ids missing, malformed or not this sale's

    @property
    def skips_the_record(self) -> bool:
        """Whether the fan gets no reminder at all from this record."""
        return self in (DemandDeviation.NO_SUPPORTED_CONTACT_METHOD, DemandDeviation.INVALID_RECORD)


@dataclass(frozen=True, kw_only=True)
class Deviation:
    """One deviation of one record: which field, and what was ignored (never a phone number or email)."""

    kind: DemandDeviation
    field: str
    detail: str


@dataclass(frozen=True, kw_only=True)
class DemandReading:
    """A demand item read leniently: the record to remind from (None when skipped) and its deviations."""

    record: DemandRecord | None
    deviations: tuple[Deviation, ...] = ()


def _methods(value: Any) -> tuple[list[str], list[str]]:
    """(supported, unsupported) contact methods of `contactMethod`, lower case, first occurrence order."""
    if isinstance(value, str):
        parts: Sequence[Any] = value.split(",")
    elif isinstance(value, list | set | tuple):
        parts = sorted(value) if isinstance(value, set) else value  # a DynamoDB string set has no order
    else:
        return [], []
    supported: list[str] = []
    unsupported: list[str] = []
    for part in parts:
        method = part.strip().lower() if isinstance(part, str) else ""
        target = supported if method in _SUPPORTED_METHODS else unsupported
        if method and method not in target:
            target.append(method)
    return supported, unsupported


def _locale(value: Any) -> str | None:
    """The supported locale `value` names ("en_US" and "EN-us" name en-us); None otherwise."""
    if not isinstance(value, str):
        return None
    locale = value.strip().lower().replace("_", "-")
    return locale if locale in SUPPORTED_LOCALES else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def read_demand(item: Mapping[str, Any], *, event_id: str, sale_id: str) -> DemandReading:
    """The reminder-ready record of a demand item of the sale `event_id`/`sale_id`, and its deviations."""
    for name, expected in (("eventId", event_id), ("saleId", sale_id)):
        found = item.get(name)
        if found is not None and found != expected:
            # The item's key says this sale, its attribute another: which one the fan meant is unknown.
            return _skipped(
                DemandDeviation.INVALID_RECORD,
                name,
                f"{name} {str(found)[:80]!r} is not the key's {expected!r}",
            )
    supported, unsupported = _methods(item.get("contactMethod"))
    if not supported:
        return _skipped(
            DemandDeviation.NO_SUPPORTED_CONTACT_METHOD,
            "contactMethod",
            ",".join(unsupported)[:80] or "missing",
        )
    deviations: list[Deviation] = []
    if unsupported:
        deviations.append(
            Deviation(
                kind=DemandDeviation.UNSUPPORTED_CONTACT_METHOD,
                field="contactMethod",
                detail=",".join(unsupported)[:80],
            )
        )
    fields: dict[str, Any] = {
        "fan_id": item.get("fanId"),
        "event_id": item.get("eventId"),
        "sale_id": item.get("saleId"),
        "contact_method": ",".join(supported),
        "phone_number": _text(item.get("phoneNumber")),
        "email": _text(item.get("email")),
    }
    market = _text(item.get("marketId"))
    if market is not None:
        fields["market_id"] = market.strip()
    raw_locale = item.get("locale")
    locale = _locale(raw_locale)
    if locale is not None:
        fields["locale"] = locale
    elif raw_locale is not None:
        # Left unset, not defaulted: the generator then uses the event's locale (see notifications_for).
        deviations.append(
            Deviation(kind=DemandDeviation.UNKNOWN_LOCALE, field="locale", detail=str(raw_locale)[:40])
        )
    try:
        record = DemandRecord(**fields)
    except ValidationError as error:
        # Only the ids can fail here (the other fields were cleaned above); the reason names the
        # field and the rule, never the value.
        return _skipped(DemandDeviation.INVALID_RECORD, "fanId/eventId/saleId", validation_reason(error))
    return DemandReading(record=record, deviations=tuple(deviations))


def _skipped(kind: DemandDeviation, field: str, detail: str) -> DemandReading:
    return DemandReading(record=None, deviations=(Deviation(kind=kind, field=field, detail=detail),))
