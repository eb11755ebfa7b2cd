"""Fixtures of every worker test: hermetic AWS, loopback-only sockets, Lambda context, events, table."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sandbox.vendors import Bitly

# Powertools reads these when workers.shared.observability is imported (collection time), so
# they are set before any test module imports the runtime; values are test-only.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "test_worker")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "DmdWorkersTest")
os.environ.setdefault("DMD_ENVIRONMENT", "test")

EVENTS = Path(__file__).resolve().parents[1] / "events"
WORKERS_TESTS = Path(__file__).resolve().parent
TABLE_NAME = "prd3292-test-us-east-1-demand-table"
LOOPBACK = ["127.0.0.1", "::1", "localhost"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Worker tests may only reach loopback (moto server, fake vendors, OTLP receiver).
    for item in items:
        if WORKERS_TESTS in Path(str(item.path)).parents and not item.get_closest_marker("allow_hosts"):
            item.add_marker(pytest.mark.allow_hosts(LOOPBACK))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    # Lambda sets a function's environment before importing it, and the workers name their logger's
    # and metrics' worker once, at import. Tests import first and set the environment in fixtures,
    # so the identity is bound again once they are set up, as the sandbox does when it switches.
    from workers.shared.observability import bind_identity_from_environment

    bind_identity_from_environment()


@pytest.fixture(autouse=True)
def hermetic_worker_env(hermetic_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """On top of the suite's fake AWS: Lambda's region, no collector from the host, fresh caches."""
    from workers.shared.clients import reset_clients
    from workers.shared.observability import LOGGER, METRICS, reset_tracing
    from workers.shared.settings import clear_settings_cache

    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # Lambda sets it; boto3 and SigV4 read it
    monkeypatch.setenv("OTEL_SERVICE_NAME", "vf.dmnd.workers")
    for cache_reset in (reset_clients, reset_tracing, clear_settings_cache):
        cache_reset()
    yield
    for cache_reset in (reset_clients, reset_tracing, clear_settings_cache):
        cache_reset()
    METRICS.clear_metrics()
    LOGGER.clear_state()


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str = "prd3292-test-us-east-1-test-worker"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:prd3292-test-us-east-1-test-worker"
    )
    aws_request_id: str = "6f3f8a4e-0d47-4e0e-9b4f-1a2b3c4d5e6f"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    """A Lambda context for handler tests."""
    return FakeLambdaContext()


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """Loads a sample event from tests/events/ by file name."""

    def load(name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
        return loaded

    return load


@pytest.fixture
def aws() -> Iterator[None]:
    """Every AWS call of the test goes to moto, in process."""
    from moto import mock_aws

    with mock_aws():
        yield


def create_demand_table(table_name: str = TABLE_NAME) -> None:
    """The demand table as the program declares it (keys, indexes, TTL of the `local` stack's table)."""
    import boto3

    from sandbox.materialize.dynamodb import table_request, time_to_live
    from tests.workers.declared_table import declared_table_inputs

    client = boto3.client("dynamodb", region_name="us-east-1")
    declared = declared_table_inputs()
    client.create_table(TableName=table_name, **table_request(declared))
    ttl = time_to_live(declared)
    assert ttl is not None, "the program's demand table has no TTL"
    client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)


@pytest.fixture
def demand_table(aws: None) -> str:
    """A moto demand table; returns its name."""
    create_demand_table()
    return TABLE_NAME


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The worker logger's JSON lines written during the test (Powertools formatter)."""
    import io
    import logging

    from workers.shared.observability import LOGGER

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LOGGER.registered_formatter)
    LOGGER.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    LOGGER.removeHandler(handler)


@pytest.fixture
def emf_blobs(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """EMF metric documents printed to stdout during the test."""

    def blobs() -> list[dict[str, Any]]:
        lines = capsys.readouterr().out.splitlines()
        return [document for document in map(_json_or_none, lines) if document and "_aws" in document]

    return blobs


def _json_or_none(line: str) -> dict[str, Any] | None:
    try:
        loaded = json.loads(line)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


@pytest.fixture
def bitly() -> Iterator[Bitly]:
    """A behavioural Bitly v4 on 127.0.0.1 (the sandbox's fake)."""
    from sandbox.vendors import Bitly

    server = Bitly()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bitly_secret(aws: None) -> str:
    """The Bitly secret in (moto) Secrets Manager; returns its ARN."""
    from sandbox.vendors import BITLY_TOKEN
    from workers.shared import clients

    return clients.secretsmanager().create_secret(
        Name="prd3292-test-us-east-1/bitly", SecretString=json.dumps({"token": BITLY_TOKEN})
    )["ARN"]
