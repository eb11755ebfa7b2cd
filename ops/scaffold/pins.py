"""The test literals that pin the fleet, and the line(s) a new worker adds to each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ops.scaffold.edits import Pin
from ops.scaffold.request import WorkerRequest

# The doubles tests/sandbox/test_runtime.py runs in place of each kind of worker.
SANDBOX_DOUBLES: Final = {
    "queue": "succeed",
    "stream": "succeed",
    "schedule": "sweep",
    "resolver": "resolve_event",
}


@dataclass(frozen=True)
class WorkerPin:
    """A pinned test literal and the lines a worker of each trigger adds to it."""

    pin: Pin
    lines: Callable[[WorkerRequest], list[str]]


def _name_line(request: WorkerRequest) -> list[str]:
    return [f'    "{request.name}",']


def _kind_line(request: WorkerRequest) -> list[str]:
    return [f'    "{request.name}": "{request.trigger}",']


def _listed_line(request: WorkerRequest) -> list[str]:
    return [f'        "{request.name}": "{request.describe()}",']


def _double_line(request: WorkerRequest) -> list[str]:
    return [f'    "{request.name}": "{SANDBOX_DOUBLES[request.trigger]}",']


def _field_line(request: WorkerRequest) -> list[str]:
    return [f'    "{request.name}": ("Query", "{request.source}"),'] if request.trigger == "resolver" else []


def _batch_line(request: WorkerRequest) -> list[str]:
    return [f'        "{request.name}",'] if request.trigger in ("queue", "stream") else []


def _skipped_resolver_lines(request: WorkerRequest) -> list[str]:
    # moto implements neither AppSync data sources nor resolvers: the sandbox skips a resolver's two.
    if request.trigger != "resolver":
        return []
    return [f'        "{request.name}-data-source",', f'        "{request.name}-resolver",']


PINS: Final = (
    WorkerPin(
        Pin("tests/infra/test_component_contract.py", "WORKER_NAMES = [", sorted_items=True), _name_line
    ),
    WorkerPin(Pin("tests/infra/program/test_program_worker_children.py", "SOURCE_KINDS = {"), _kind_line),
    WorkerPin(Pin("tests/ops/test_workers_commands.py", "    assert triggers == {"), _listed_line),
    WorkerPin(Pin("tests/sandbox/test_runtime.py", "DOUBLES = {"), _double_line),
    WorkerPin(
        Pin(
            "tests/infra/program/test_program_alarms.py",
            "    # And those are the workers with an event-source mapping",
        ),
        _batch_line,
    ),
    WorkerPin(Pin("tests/infra/program/test_program_triggers.py", "RESOLVER_FIELDS = {"), _field_line),
    WorkerPin(
        Pin("tests/sandbox/test_materialize.py", "    assert set(reasons) == {"), _skipped_resolver_lines
    ),
    WorkerPin(
        Pin(
            "tests/sandbox/test_materialize_over_http.py",
            "    assert {item.name for item in result.skipped} == {",
        ),
        _skipped_resolver_lines,
    ),
)
