"""The process's environment gate: switching a function's environment in re-binds the workers' identity."""

from __future__ import annotations

import os
import threading
import time

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


class _Runs:
    """Who is inside the gate, and who was inside at the same time as whom."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside: set[str] = set()
        self.together: list[set[str]] = []

    def enter(self, name: str) -> None:
        with self.lock:
            self.inside.add(name)
            self.together.append(set(self.inside))

    def leave(self, name: str) -> None:
        with self.lock:
            self.inside.discard(name)


def _invoke(gate: EnvironmentGate, owner: str, name: str, runs: _Runs, release: threading.Event) -> None:
    with gate.applied(owner, {"DMD_SANDBOX_TEST": owner}):
        runs.enter(name)
        release.wait(timeout=5)
        runs.leave(name)


def _wait_until_waiting(gate: EnvironmentGate, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(gate._waiting) < count:  # the test watches the queue fill
        assert time.monotonic() < deadline, "invocations did not queue"
        time.sleep(0.005)


def test_a_turn_runs_every_invocation_of_its_function_waiting_when_it_began_side_by_side() -> None:
    # Given a stream's lane of `send` inside the gate, a `status` invocation waiting for its turn,
    # and two more lanes of `send` queued behind it
    gate = EnvironmentGate()
    runs = _Runs()
    first, status_done, lanes_done = threading.Event(), threading.Event(), threading.Event()
    threads = [threading.Thread(target=_invoke, args=(gate, "send", "lane-0", runs, first))]
    threads[0].start()
    _wait_until_waiting(gate, 0)
    while "lane-0" not in runs.inside:
        time.sleep(0.005)
    threads.append(threading.Thread(target=_invoke, args=(gate, "status", "status", runs, status_done)))
    threads[-1].start()
    _wait_until_waiting(gate, 1)
    for lane in ("lane-1", "lane-2"):
        threads.append(threading.Thread(target=_invoke, args=(gate, "send", lane, runs, lanes_done)))
        threads[-1].start()
    _wait_until_waiting(gate, 3)
    # When the first lane ends (status's turn), then status ends while status queues again
    assert runs.inside == {"lane-0"}  # the queued lanes do not jump the waiting function
    first.set()
    while "status" not in runs.inside:
        time.sleep(0.005)
    again = threading.Event()
    threads.append(threading.Thread(target=_invoke, args=(gate, "status", "status-again", runs, again)))
    threads[-1].start()
    _wait_until_waiting(gate, 3)
    status_done.set()
    # Then both queued lanes run side by side in send's turn, though status waits again meanwhile
    deadline = time.monotonic() + 5
    while runs.inside != {"lane-1", "lane-2"}:
        assert time.monotonic() < deadline, runs.together
        time.sleep(0.005)
    assert "status-again" not in runs.inside
    # And status's next turn comes after them, alone
    lanes_done.set()
    again.set()
    for thread in threads:
        thread.join(timeout=5)
    assert {"lane-1", "lane-2"} in runs.together
    assert not any("status-again" in together and len(together) > 1 for together in runs.together)
