"""Fixtures of the shortener's tests: the table and the worker's environment."""

from __future__ import annotations

import pytest

from sandbox.vendors import Bitly
from workers.shared.repository import DemandRepository

# The indexes of the `demand_table` fixture (tests/workers/conftest.py).
SALES_INDEX = "sales"
DEMAND_INDEX = "demand-by-sale"


@pytest.fixture
def events(demand_table: str) -> DemandRepository:
    """The demand table's repository (moto)."""
    return DemandRepository(demand_table, sales_index=SALES_INDEX, demand_index=DEMAND_INDEX)


@pytest.fixture
def shortener_env(
    monkeypatch: pytest.MonkeyPatch, demand_table: str, bitly: Bitly, bitly_secret: str
) -> None:
    """The worker's environment pointing at moto and the fake Bitly."""
    for name, value in {
        "DEMAND_TABLE_NAME": demand_table,
        "DEMAND_TABLE_SALES_INDEX": SALES_INDEX,
        "DEMAND_TABLE_DEMAND_INDEX": DEMAND_INDEX,
        "DEMAND_TABLE_MESSAGE_INDEX": "notification-by-message-id",
        "DEMAND_TABLE_PENDING_INDEX": "pending-notifications",
        "BITLY_URL": bitly.url,
        "BITLY_SECRET_ARN": bitly_secret,
        "BITLY_GROUP_GUID": "",
        "VENDOR_TIMEOUT_SECONDS": "2",
    }.items():
        monkeypatch.setenv(name, value)
