"""The reminder's words: SMS bodies fitted to one segment and SES template variables, per locale.

SMS fitting rule (deterministic; the first candidate that fits one segment wins):

0. Variable texts (artist, presale name, city) are cleaned first: whitespace collapsed; English
   locales strip every accent from the artist name; in every locale a letter or mark
   outside GSM-7 that has a GSM-7 form is folded to it (ç → c, ê → e, ’ → '), while accents GSM-7
   carries (é, è, à, ù, É …) are kept. A single non-GSM character would make the message UCS-2,
   whose 70-unit segment is shorter than any template's fixed text, so nothing that could have
   fitted is lost by folding.
1. Drop the venue city.
2. Shorten the presale name word by word from the end (ellipsis appended), down to its first
   word: a presale stays recognisably a presale.
3. Truncate the artist name character by character (ellipsis appended), down to one character.

The ellipsis is "..." while the message is GSM-7 ("…" is not GSM-7 and would force UCS-2) and "…"
in a message that is UCS-2 anyway. The time, brand and link (the short URL, else the event's full
URL) are never touched. When no candidate fits, `SmsTooLongError` (permanent) is raised: that fan
gets no SMS, the email still goes.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from workers.shared.errors import PermanentError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from workers.notification_generator.models import Brand, SaleMessage

LocaleCode = Literal["en-us", "en-ca", "fr-ca"]

# 3GPP TS 23.038 default alphabet (0x1B, the escape to the extension table, excluded).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs two septets (escape + character).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7_ELLIPSIS = "..."
UCS2_ELLIPSIS = "…"

# Characters outside GSM-7 that are common in names and have an obvious GSM-7 spelling.
_GSM7_SPELLINGS = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "‛": "'",
    "ʼ": "'",
    "´": "'",
    "`": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "«": '"',
    "»": '"',
    "–": "-",
    "—": "-",
    "‐": "-",
    "‑": "-",
    "…": "...",
    "œ": "oe",
    "Œ": "OE",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
}


class Encoding(enum.StrEnum):
    """How an SMS is encoded on the air interface."""

    GSM_7 = "GSM-7"
    UCS_2 = "UCS-2"


SEGMENT_LIMITS = {Encoding.GSM_7: 160, Encoding.UCS_2: 70}


class SmsTooLongError(PermanentError):
    """No shortening of the reminder fits one SMS segment; the SMS is not created."""

    def __init__(self, *, locale: str, sale_id: str, length: int, encoding: Encoding) -> None:
        self.locale = locale
        self.sale_id = sale_id
        self.length = length
        self.encoding = encoding
        super().__init__(
            f"the {locale} SMS for sale {sale_id} needs {length} {encoding} units even shortened; "
            f"one segment holds {SEGMENT_LIMITS[encoding]}"
        )


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM-7 default alphabet or its extension table."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def encoding_of(text: str) -> Encoding:
    """GSM-7 when every character allows it, else UCS-2."""
    return Encoding.GSM_7 if is_gsm7(text) else Encoding.UCS_2


def encoded_length(text: str) -> int:
    """Segment units the text takes: GSM-7 septets (extension characters 2) or UTF-16 code units."""
    if is_gsm7(text):
        return sum(2 if char in GSM7_EXTENSION else 1 for char in text)
    return len(text.encode("utf-16-le")) // 2


def fits_one_segment(text: str) -> bool:
    """Whether the text fits one SMS segment of its encoding (160 GSM-7 or 70 UCS-2)."""
    return encoded_length(text) <= SEGMENT_LIMITS[encoding_of(text)]


# --------------------------------------------------------------------------------------------
# Text cleaning
# --------------------------------------------------------------------------------------------


def strip_accents(text: str) -> str:
    """The text without diacritics (Beyoncé → Beyonce, Françoise → Francoise)."""
    kept = (char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", "".join(kept))


def gsm7_spelling(text: str) -> str:
    """Characters outside GSM-7 replaced by their GSM-7 spelling where one exists (ç → c, ’ → ')."""
    return "".join(_gsm7_char(char) for char in unicodedata.normalize("NFC", text))


def _gsm7_char(char: str) -> str:
    if char in GSM7_BASIC or char in GSM7_EXTENSION:
        return char
    if char in _GSM7_SPELLINGS:
        return _GSM7_SPELLINGS[char]
    decomposed = unicodedata.normalize("NFD", char)
    base, marks = decomposed[0], decomposed[1:]
    if marks and base in GSM7_BASIC and all(unicodedata.combining(mark) for mark in marks):
        return base
    return char


def _clean(text: str, *, without_accents: bool = False) -> str:
    if without_accents:
        text = strip_accents(text)
    return " ".join(gsm7_spelling(text).split())


def _optional(text: str | None) -> str | None:
    return (_clean(text) or None) if text else None


# --------------------------------------------------------------------------------------------
# Times and dates in the event's timezone
# --------------------------------------------------------------------------------------------

# Canadian French names of the North American zones (heure normale / avancée de l'Est …).
_FRENCH_ZONE_NAMES = {
    "EST": "HNE",
    "EDT": "HAE",
    "CST": "HNC",
    "CDT": "HAC",
    "MST": "HNR",
    "MDT": "HAR",
    "PST": "HNP",
    "PDT": "HAP",
    "AST": "HNA",
    "ADT": "HAA",
    "NST": "HNT",
    "NDT": "HAT",
    "AKST": "HNAK",
    "AKDT": "HAAK",
    "HST": "HNH",
}
_DAYS = {
    "en": ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"),
    "fr": ("LUN", "MAR", "MER", "JEU", "VEN", "SAM", "DIM"),
}
_MONTHS = {
    "en": ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
    # Office québécois de la langue française abbreviations.
    "fr": ("JANV", "FÉVR", "MARS", "AVR", "MAI", "JUIN", "JUILL", "AOÛT", "SEPT", "OCT", "NOV", "DÉC"),
}
_DATE_TO_BE_ANNOUNCED = {"en": "TBA", "fr": "À CONFIRMER"}


def _language(locale: LocaleCode) -> str:
    return locale.split("-", 1)[0]


def clock_time(at: datetime, zone: ZoneInfo, locale: LocaleCode) -> str:
    """Wall-clock time in the zone: 7:00 PM (English) or 19 h / 19 h 30 (Canadian French)."""
    local = at.astimezone(zone)
    if _language(locale) == "fr":
        return f"{local.hour} h" if local.minute == 0 else f"{local.hour} h {local.minute:02d}"
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def zone_name(at: datetime, zone: ZoneInfo, locale: LocaleCode) -> str:
    """The zone's abbreviation at that instant: EST / EDT, or HNE / HAE in Canadian French."""
    name = at.astimezone(zone).tzname() or ""
    if _language(locale) == "fr":
        return _FRENCH_ZONE_NAMES.get(name, name)
    return name


def sale_time(at: datetime, zone: ZoneInfo, locale: LocaleCode) -> str:
    """The sale start as fans read it: 7:00 PM EST, or 19 h HNE in Canadian French."""
    return f"{clock_time(at, zone, locale)} {zone_name(at, zone, locale)}".strip()


def event_day(at: datetime, zone: ZoneInfo, locale: LocaleCode) -> str:
    """Abbreviated weekday in the zone: FRI / VEN."""
    return _DAYS[_language(locale)][at.astimezone(zone).weekday()]


def event_date(at: datetime, zone: ZoneInfo, locale: LocaleCode) -> str:
    """Abbreviated date in the zone: MAR 15 (English) or 15 MARS (Canadian French)."""
    local = at.astimezone(zone)
    month = _MONTHS[_language(locale)][local.month - 1]
    return f"{local.day} {month}" if _language(locale) == "fr" else f"{month} {local.day}"


# --------------------------------------------------------------------------------------------
# SMS
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SmsTemplate:
    """A locale's SMS text; `presale` and `place` are the optional fragments it may lose."""

    message: str  # {artist}{presale}{place}{time}{brand}{url}
    presale: str  # {name}
    place: str  # {city}


_ENGLISH_SMS = SmsTemplate(
    message=(
        "Heads up! Tickets for {artist}{presale}{place} go on sale {time}. Get tickets with {brand}: {url}"
    ),
    presale=" {name}",
    place=" in {city}",
)
# Every fixed character is GSM-7 (é, à are; ê, ç, ô are not). Quebec usage: no space before "!",
# a space before ":" (a no-break space is not GSM-7, so a plain one).
SMS_TEMPLATES: dict[LocaleCode, SmsTemplate] = {
    "en-us": _ENGLISH_SMS,
    "en-ca": _ENGLISH_SMS,
    "fr-ca": SmsTemplate(
        message=(
            "Rappel! Les billets pour {artist}{presale}{place} seront en vente à {time}. "
            "Obtenez vos billets avec {brand} : {url}"
        ),
        presale=" {name}",
        place=" à {city}",
    ),
}


@dataclass(frozen=True)
class _Parts:
    artist: str
    presale: str | None
    city: str | None
    artist_cut: bool = False
    presale_cut: bool = False


def render_sms(message: SaleMessage, *, locale: LocaleCode, brand: Brand) -> str:
    """The sale's SMS in `locale`, shortened to one segment; SmsTooLongError when it cannot fit."""
    template = SMS_TEMPLATES[locale]
    fixed = {
        "time": sale_time(message.sale_start, message.timezone, locale),
        "brand": brand.value,
        "url": message.url,
    }

    def build(parts: _Parts) -> str:
        def text(ellipsis: str) -> str:
            presale = ""
            if parts.presale:
                name = parts.presale + (ellipsis if parts.presale_cut else "")
                presale = template.presale.format(name=name)
            place = template.place.format(city=parts.city) if parts.city else ""
            artist = parts.artist + (ellipsis if parts.artist_cut else "")
            return template.message.format(artist=artist, presale=presale, place=place, **fixed)

        rendered = text(GSM7_ELLIPSIS)
        if (parts.artist_cut or parts.presale_cut) and not is_gsm7(rendered):
            rendered = text(UCS2_ELLIPSIS)  # UCS-2 anyway: one unit instead of three
        return rendered

    parts = _Parts(
        artist=_clean(message.artist_name, without_accents=_language(locale) == "en"),
        presale=_optional(message.presale_name),
        city=_optional(message.venue_city),
    )
    shortest = ""
    for candidate in _shortenings(parts):
        shortest = build(candidate)
        if fits_one_segment(shortest):
            return shortest
    raise SmsTooLongError(
        locale=locale,
        sale_id=message.sale_id,
        length=encoded_length(shortest),
        encoding=encoding_of(shortest),
    )


def _shortenings(parts: _Parts) -> Iterator[_Parts]:
    """The candidates of the fitting rule, each shorter than the one before, cumulatively."""
    yield parts
    if parts.city:
        parts = replace(parts, city=None)
        yield parts
    if parts.presale:
        words = parts.presale.split(" ")
        for kept in range(len(words) - 1, 0, -1):
            parts = replace(parts, presale=" ".join(words[:kept]), presale_cut=True)
            yield parts
    artist = parts.artist
    previous = artist
    for length in range(len(artist) - 1, 0, -1):
        cut = artist[:length].rstrip()
        if cut and cut != previous:
            previous = cut
            yield replace(parts, artist=cut, artist_cut=True)


# --------------------------------------------------------------------------------------------
# Email (SES templated: variables only, one template per locale)
# --------------------------------------------------------------------------------------------


def email_template_variables(message: SaleMessage, *, locale: LocaleCode, brand: Brand) -> dict[str, str]:
    """Variables of the locale's SES template; presaleName only for presales, absent venue parts omitted."""
    zone = message.timezone
    variables = {
        "artistName": message.artist_name,
        "saleTime": sale_time(message.sale_start, zone, locale),
        "url": message.url,
        "brand": brand.value,
    }
    if message.presale_name:
        variables["presaleName"] = message.presale_name
    if message.event_start is not None:
        variables["eventDay"] = event_day(message.event_start, zone, locale)
        variables["eventDate"] = event_date(message.event_start, zone, locale)
        variables["eventTime"] = clock_time(message.event_start, zone, locale)
    else:
        variables["eventDate"] = _DATE_TO_BE_ANNOUNCED[_language(locale)]
    optional = {
        "venueName": message.venue_name,
        "venueCity": message.venue_city,
        "venueStateCode": message.venue_state_code,
    }
    variables.update({name: value for name, value in optional.items() if value})
    return variables
