"""An event's link as reminders carry it: its URL with tracking parameters, shortened by Bitly.

Both the shortener worker (asynchronously, from the short-url queue) and the generator (once,
synchronously, when a sale's event has no short URL yet) shorten the same long URL, so Bitly
answers both with the same Bitlink (it keeps one link per group and long URL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from workers.shared.errors import PermanentError

if TYPE_CHECKING:
    from workers.shared.bitly import Bitlink

# Campaign attribution of the reminder's clicks (web analytics read utm_*): the SMS reminder of a
# sale, sent by dmd. These replace same-named parameters of the event URL; all others are kept.
TRACKING_PARAMETERS: tuple[tuple[str, str], ...] = (
    ("utm_source", "dmd"),
    ("utm_medium", "sms"),
    ("utm_campaign", "sale-reminder"),
)


class InvalidEventUrlError(PermanentError):
    """The cached event's URL is not an absolute http(s) URL, so Bitly cannot shorten it."""


class UrlShortener(Protocol):
    """Turns a long URL into a short link (Bitly)."""

    def shorten(self, long_url: str) -> Bitlink: ...


def with_tracking(url: str, parameters: Sequence[tuple[str, str]] = TRACKING_PARAMETERS) -> str:
    """`url` with `parameters` set: same-named ones replaced, every other parameter kept as written."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidEventUrlError(f"event URL {url[:200]!r} is not an absolute http(s) URL")
    names = {name for name, _ in parameters}
    # Work on the raw query: re-encoding the event's own parameters could change what they mean.
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and unquote_plus(piece.partition("=")[0]) not in names
    ]
    added = [f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in parameters]
    return urlunsplit(parts._replace(query="&".join([*kept, *added])))
