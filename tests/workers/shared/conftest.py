"""Fixtures of the shared tests: the repository on the moto table, loopback vendor and span servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from runtime_fakes import OtlpReceiver, ScriptedServer

from workers.shared.repository import DemandRepository


@pytest.fixture
def repository(demand_table: str) -> DemandRepository:
    """The demand repository on the moto table (both indexes)."""
    return DemandRepository(demand_table, sales_index="sales", demand_index="demand-by-sale")


@pytest.fixture
def vendor_server() -> Iterator[ScriptedServer]:
    """A scripted vendor API on 127.0.0.1."""
    server = ScriptedServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def otlp_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """A local OTLP/HTTP collector, configured as the workers' endpoint."""
    from workers.shared.observability import reset_tracing

    receiver = OtlpReceiver()
    receiver.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test,faas.name=test_worker")
    reset_tracing()
    yield receiver
    reset_tracing()
    receiver.stop()
