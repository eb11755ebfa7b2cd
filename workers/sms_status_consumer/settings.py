"""The status consumer's environment, exactly as infra declares it (the demand table + StatusTunables)."""

from __future__ import annotations

from pydantic import Field

from workers.shared.settings import StreamWorkerSettings, TableSettings


class StatusConsumerSettings(TableSettings, StreamWorkerSettings):
    """TABLE_READ/TABLE_UPDATE variables and how long an unknown message's status is worth holding."""

    # No default: infra renders every tunable, so a missing one is a deployment defect to report.
    unknown_message_max_age_seconds: int = Field(ge=60, le=86_400)
