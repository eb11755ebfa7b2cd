"""What the shortener decides for a job (the link's tracking parameters: workers/shared/short_links.py)."""

from __future__ import annotations

import enum


class ShortenOutcome(enum.StrEnum):
    """What one short-url job came to; every outcome but a raised error is a success."""

    SHORTENED = "shortened"
    ALREADY_SHORTENED = "already-shortened"
    NOT_CACHED = "not-cached"
    SUPPRESSED = "suppressed"
    NOT_STORED = "not-stored"  # another invocation stored one first, or the event expired meanwhile
