"""The status consumer's environment: exactly what infra declares for it (the demand table)."""

from __future__ import annotations

from workers.shared.settings import TableSettings


class StatusConsumerSettings(TableSettings):
    """TABLE_READ/TABLE_WRITE variables; the worker has no tunables."""
