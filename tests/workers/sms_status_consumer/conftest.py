"""Fixtures of the status consumer's tests: the table, its repository and the worker's environment."""

from __future__ import annotations

import pytest

from workers.shared.repository import DemandRepository

# The indexes of the `demand_table` fixture (tests/workers/conftest.py).
SALES_INDEX = "sales"
DEMAND_INDEX = "demand-by-sale"
UNKNOWN_MAX_AGE_SECONDS = 900  # StatusTunables' default


@pytest.fixture
def notifications(demand_table: str, monkeypatch: pytest.MonkeyPatch) -> DemandRepository:
    """The demand table's repository (moto), with the worker's environment pointing at it."""
    monkeypatch.setenv("DEMAND_TABLE_NAME", demand_table)
    monkeypatch.setenv("DEMAND_TABLE_SALES_INDEX", SALES_INDEX)
    monkeypatch.setenv("DEMAND_TABLE_DEMAND_INDEX", DEMAND_INDEX)
    monkeypatch.setenv("DEMAND_TABLE_MESSAGE_INDEX", "notification-by-message-id")
    monkeypatch.setenv("DEMAND_TABLE_PENDING_INDEX", "pending-notifications")
    monkeypatch.setenv("UNKNOWN_MESSAGE_MAX_AGE_SECONDS", str(UNKNOWN_MAX_AGE_SECONDS))
    return DemandRepository(demand_table, sales_index=SALES_INDEX, demand_index=DEMAND_INDEX)
