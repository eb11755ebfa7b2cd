"""Fixtures of the shortener's tests: a fake Bitly, its secret, the table and the worker's environment."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sandbox.vendors import BITLY_TOKEN as TOKEN
from sandbox.vendors import Bitly
from workers.shared import clients
from workers.shared.repository import DemandRepository

# The indexes of the `demand_table` fixture (tests/workers/conftest.py).
SALES_INDEX = "sales"
DEMAND_INDEX = "demand-by-sale"


@pytest.fixture
def bitly() -> Iterator[Bitly]:
    """A behavioural Bitly v4 on 127.0.0.1."""
    server = Bitly()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bitly_secret(aws: None) -> str:
    """The Bitly secret in (moto) Secrets Manager; returns its ARN."""
    return clients.secretsmanager().create_secret(
        Name="prd3292-test-us-east-1/bitly", SecretString=json.dumps({"token": TOKEN})
    )["ARN"]


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
