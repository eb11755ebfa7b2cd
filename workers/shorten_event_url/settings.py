"""The shortener's environment: exactly what infra declares for it (table, Bitly, ShortenTunables)."""

from __future__ import annotations

from pydantic import Field

from workers.shared.settings import WorkerSettings


class ShortenSettings(WorkerSettings):
    """TABLE_READ/TABLE_WRITE and BITLY variables plus the Bitly tunables."""

    demand_table_name: str = Field(min_length=1)
    demand_table_sales_index: str = Field(min_length=1)
    demand_table_demand_index: str = Field(min_length=1)
    bitly_url: str = Field(pattern=r"^https?://\S+$")
    bitly_secret_arn: str = Field(pattern=r"^arn:aws[a-z-]*:secretsmanager:\S+$")
    # Required even when empty (Bitly's default group): infra always renders the tunables.
    bitly_group_guid: str
    vendor_timeout_seconds: int = Field(ge=1, le=30)
