"""What the shortener decides for a job, and the tracking parameters every short link carries."""

from __future__ import annotations

import enum

from workers.shared.errors import PermanentError

# Campaign attribution of the reminder's clicks (web analytics read utm_*): the SMS reminder of a
# sale, sent by dmd. These replace same-named parameters of the event URL; all others are kept.
TRACKING_PARAMETERS: tuple[tuple[str, str], ...] = (
    ("utm_source", "dmd"),
    ("utm_medium", "sms"),
    ("utm_campaign", "sale-reminder"),
)


class ShortenOutcome(enum.StrEnum):
    """What one short-url job came to; every outcome but a raised error is a success."""

    SHORTENED = "shortened"
    ALREADY_SHORTENED = "already-shortened"
    NOT_CACHED = "not-cached"
    SUPPRESSED = "suppressed"
    NOT_STORED = "not-stored"  # another invocation stored one first, or the event expired meanwhile


class InvalidEventUrlError(PermanentError):
    """The cached event's URL is not an absolute http(s) URL, so Bitly cannot shorten it."""
