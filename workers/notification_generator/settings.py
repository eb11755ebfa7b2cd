"""The generator's environment: exactly what infra declares for it (table, queue, Bitly, tunables)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from workers.shared.settings import TableSettings


class GeneratorSettings(TableSettings):
    """TABLE_READ/TABLE_WRITE, GENERATION_QUEUE_SEND/_DLQ_PARK and BITLY variables plus GeneratorTunables."""

    generation_queue_url: str = Field(pattern=r"^https?://\S+$")
    bitly_url: str = Field(pattern=r"^https?://\S+$")
    bitly_secret_arn: str = Field(pattern=r"^arn:aws[a-z-]*:secretsmanager:\S+$")
    # Required even when empty (Bitly's default group): the BITLY access always renders it.
    bitly_group_guid: str
    # The generation queue's DLQ (GENERATION_DLQ_PARK): where malformed demand items are parked.
    parking_queue_url: str | None = Field(
        default=None, validation_alias="PARKING_QUEUE_URL", pattern=r"^https?://\S+/[^/\s]+$"
    )
    # Infra always renders the tunables, so none has a default: a missing one is a deploy defect.
    # Bounds mirror infra/catalog.py GeneratorTunables.
    write_parallelism: int = Field(ge=1, le=64)
    demand_page_size: int = Field(ge=10, le=10_000)
    continuation_margin_seconds: int = Field(ge=5, le=300)
    short_url_timeout_seconds: int = Field(ge=1, le=10)
    late_grace_minutes: int = Field(ge=0, le=1440)
    release_after_minutes: int = Field(ge=1, le=1440)

    @property
    def late_grace(self) -> timedelta:
        """How long after its sale's start a reminder may still be created."""
        return timedelta(minutes=self.late_grace_minutes)

    @property
    def release_after(self) -> timedelta:
        """How long after its creation a notification is left to the stream before the sweeper's."""
        return timedelta(minutes=self.release_after_minutes)
