"""The process's environment gate: switching a function's environment in re-binds the workers' identity."""

from __future__ import annotations

import os

import pytest

from sandbox.environment import PROCESS_GATE, EnvironmentGate
from workers.shared.observability import LOGGER, METRICS


def identity() -> tuple[str, str | None, str, str]:
    """What the workers' logs and metrics name: service (logger, metrics), namespace, environment."""
    return (
        str(LOGGER.service),
        METRICS.service,
        str(METRICS.namespace),
        str(METRICS.default_dimensions["environment"]),
    )


def worker_environment(service: str) -> dict[str, str]:
    return {
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": "DmdWorkersSandbox",
        "DMD_ENVIRONMENT": "local",
    }


def test_each_function_switched_in_names_its_own_worker_in_logs_and_metrics() -> None:
    # Given the process gate, which every sandbox's functions share
    seen = []

    # When two workers' functions take their turns
    for owner, service in (("send@1", "notification_send"), ("status@1", "sms_status_consumer")):
        with PROCESS_GATE.applied(owner, worker_environment(service)):
            seen.append(identity())

    # Then, inside each turn, the logger and metrics name that worker, its namespace and stack
    assert seen == [
        ("notification_send", "notification_send", "DmdWorkersSandbox", "local"),
        ("sms_status_consumer", "sms_status_consumer", "DmdWorkersSandbox", "local"),
    ]


def test_a_failing_switch_hook_gives_the_turn_up_and_restores_the_environment() -> None:
    # Given a gate whose hook fails once
    calls = []

    def hook() -> None:
        calls.append(os.environ["DMD_SANDBOX_TEST"])
        if len(calls) == 1:
            raise RuntimeError("cannot bind")

    gate = EnvironmentGate(on_switch=hook)

    # When a function enters and the hook fails
    with pytest.raises(RuntimeError, match="cannot bind"), gate.applied("a", {"DMD_SANDBOX_TEST": "a"}):
        pytest.fail("the block must not run when the switch failed")

    # Then nothing of its environment remains, and the next function gets its turn
    assert "DMD_SANDBOX_TEST" not in os.environ
    with gate.applied("b", {"DMD_SANDBOX_TEST": "b"}):
        assert os.environ["DMD_SANDBOX_TEST"] == "b"
    assert calls == ["a", "b"]
