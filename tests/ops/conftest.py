"""Fixtures of the operator CLI tests: the `local` stack materialized into moto, an endpoint nobody serves."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from sandbox.emulator_state import dump_state, load_state
from sandbox.materialize import materialize
from tests.infra.graphs import stack_graph
from tests.ops.status_scenario import Incident, incident

REGION = "us-east-1"


@pytest.fixture
def local_graph() -> ResourceGraph:
    """The `local` stack as the program declares it (synthesized once per process: never mutate it)."""
    return stack_graph("local")


@pytest.fixture(scope="session")
def local_stack_state() -> bytes:
    """moto's state right after materializing the local stack, once per test process (pickled)."""
    with mock_aws():
        materialize(stack_graph("local"), AwsClients.for_emulator(None, region=REGION))
        return dump_state()


@pytest.fixture
def deployed(local_stack_state: bytes) -> Iterator[AwsClients]:
    """The local stack materialized into a fresh in-process moto; yields clients reaching it.

    Each test gets its own copy of the one materialization (restored in ~0.1 s instead of
    materializing again in seconds): what a test changes is gone for the next.
    """
    with mock_aws():
        load_state(local_stack_state)
        yield AwsClients.for_emulator(None, region=REGION)


@pytest.fixture
def unreachable_endpoint() -> str:
    """A loopback URL where nothing listens (a port just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def declared_secrets(local_graph: ResourceGraph) -> Iterator[AwsClients]:
    """Only the local stack's secrets, as the program creates them (no value), in a fresh moto."""
    with mock_aws():
        clients = AwsClients.for_emulator(None, region=REGION)
        for secret in local_graph.of_type("aws:secretsmanager/secret:Secret"):
            clients.client("secretsmanager").create_secret(
                Name=secret.inputs["name"], Description=secret.inputs["description"]
            )
        yield clients


@pytest.fixture(scope="module")
def trouble() -> Iterator[Incident]:
    """The status scenario's incident (two batches in notification_send's on-failure queue, the oldest
    600 s old, metrics and an alarm), staged once per module: its tests only read it."""
    with incident() as staged:
        yield staged
