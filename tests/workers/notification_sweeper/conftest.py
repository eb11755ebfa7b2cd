"""Fixtures of the notification_sweeper tests: the moto demand table and its repository."""

from __future__ import annotations

import pytest

from workers.shared.repository import DemandRepository


@pytest.fixture
def repository(demand_table: str) -> DemandRepository:
    """The moto demand table, its pending index as infra names it."""
    return DemandRepository(
        demand_table,
        sales_index="sales",
        demand_index="demand-by-sale",
        pending_index="pending-notifications",
    )
