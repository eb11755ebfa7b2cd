"""The status consumer's environment: exactly what infra declares for it (the demand table)."""

from __future__ import annotations

from pydantic import Field

from workers.shared.settings import WorkerSettings


class StatusConsumerSettings(WorkerSettings):
    """TABLE_READ/TABLE_WRITE variables; the worker has no tunables."""

    demand_table_name: str = Field(min_length=1)
    demand_table_sales_index: str = Field(min_length=1)
    demand_table_demand_index: str = Field(min_length=1)
