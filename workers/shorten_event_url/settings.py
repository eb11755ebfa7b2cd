"""The shortener's environment: exactly what infra declares for it (table, Bitly, ShortenTunables)."""

from __future__ import annotations

from pydantic import Field

from workers.shared.settings import TableSettings


class ShortenSettings(TableSettings):
    """TABLE_READ/TABLE_WRITE and BITLY variables plus the Bitly tunables."""

    bitly_url: str = Field(pattern=r"^https?://\S+$")
    bitly_secret_arn: str = Field(pattern=r"^arn:aws[a-z-]*:secretsmanager:\S+$")
    # Required even when empty (Bitly's default group): infra always renders the tunables.
    bitly_group_guid: str
    vendor_timeout_seconds: int = Field(ge=1, le=30)
