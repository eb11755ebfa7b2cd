"""Sandbox fixtures: one emulator process per test process (reset per test), test-double handlers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from sandbox.clock import SandboxClock
from sandbox.emulator import Emulator
from sandbox.environment import EnvironmentGate
from sandbox.function import FunctionSettings, LambdaFunction
from tests.infra.graphs import stack_graph
from tests.sandbox import handlers as doubles

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """A moto server process on a free loopback port, shared by the process's tests."""
    # The suite's hermetic fixture owns AWS_* variables per test; clients here get the endpoint explicitly.
    with Emulator(port=0, configure_environment=False) as running:
        yield running


@pytest.fixture
def aws(emulator: Emulator) -> AwsClients:
    """Clients for the shared emulator, emptied for this test."""
    emulator.reset()
    return AwsClients.for_emulator(emulator.endpoint_url, region=REGION)


@pytest.fixture(scope="session")
def local_stack_graph() -> ResourceGraph:
    """The local stack's resource graph (synthesized once per test process)."""
    return stack_graph("local")


@pytest.fixture
def handlers() -> Iterator[Any]:
    """The test-double handlers module, with no recorded invocations."""
    doubles.reset()
    yield doubles
    doubles.reset()


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock()


FunctionFactory = Callable[..., LambdaFunction]


@pytest.fixture
def make_function(clock: SandboxClock) -> FunctionFactory:
    """Builds a `LambdaFunction` running a test double: `make_function("succeed", timeout_seconds=…)`."""
    gate = EnvironmentGate()

    def build(handler: str, *, worker: str = "test_worker", **settings: Any) -> LambdaFunction:
        name = f"prd3292-test-{worker}"
        defaults: dict[str, Any] = {
            "function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
            "invoked_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:live",
            "role_arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "version": "1",
            "environment": {"POWERTOOLS_SERVICE_NAME": worker},
        }
        return LambdaFunction(
            FunctionSettings(
                worker=worker,
                function_name=name,
                handler=f"{doubles.PATH}.{handler}",
                **{**defaults, **settings},
            ),
            clock=clock,
            gate=gate,
        )

    return build
