"""Environment of the notification_sweeper, exactly as infra declares it (infra/access.py, catalog)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from workers.shared.settings import TableSettings


class SweeperSettings(TableSettings):
    """TABLE_READ/TABLE_UPDATE variables (the pending index among them) plus SweeperTunables."""

    # No defaults: infra renders every tunable. Bounds mirror infra/catalog.py SweeperTunables.
    release_after_minutes: int = Field(ge=1, le=1440)
    max_releases_per_run: int = Field(ge=1, le=100_000)

    @property
    def release_after(self) -> timedelta:
        """How long a released notification is left to its new stream record before the next sweep may."""
        return timedelta(minutes=self.release_after_minutes)
