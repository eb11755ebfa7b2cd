"""The generator's environment: exactly what infra declares for it (table, generation queue, tunables)."""

from __future__ import annotations

from pydantic import Field

from workers.shared.settings import TableSettings


class GeneratorSettings(TableSettings):
    """TABLE_READ/TABLE_WRITE and GENERATION_QUEUE_SEND variables plus GeneratorTunables."""

    generation_queue_url: str = Field(pattern=r"^https?://\S+$")
    # Infra always renders the tunables, so none has a default: a missing one is a deploy defect.
    # Bounds mirror infra/catalog.py GeneratorTunables.
    write_parallelism: int = Field(ge=1, le=64)
    demand_page_size: int = Field(ge=10, le=10_000)
    continuation_margin_seconds: int = Field(ge=5, le=300)
