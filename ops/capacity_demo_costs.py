"""The sandbox's per-record costs from a `dmd sandbox demo` report: what each worker held the process for.

The demo's report carries each worker's counters (`workers.<worker>`), among them `held_ms` (real
time at least one of its invocations ran, inside the environment gate) and `init_ms` (its handler's
first import). Divided by what the worker handled they are the sandbox's `EmulatorCosts`: `make
bench` commits one demo's to bench/capacity-costs.json, `dmd capacity --stack local --from-report`
reads any demo's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from ops.capacity_inputs import CapacityCosts, EmulatorCosts

SCHEDULER: Final = "notification_scheduler"
GENERATOR: Final = "notification_generator"
SENDER: Final = "notification_send"
STATUS_CONSUMER: Final = "sms_status_consumer"
SWEEPER: Final = "notification_sweeper"
PIPELINE_WORKERS: Final = (SCHEDULER, GENERATOR, SENDER, STATUS_CONSUMER)


class DemoReportError(Exception):
    """The file is not a demo report this model can read; the message says what is missing."""


def _counters(document: Mapping[str, Any], worker: str) -> Mapping[str, int]:
    counters = document.get("workers", {}).get(worker)
    if not isinstance(counters, Mapping):
        raise DemoReportError(f"the report has no counters for {worker} (workers.{worker})")
    if "held_ms" not in counters:
        raise DemoReportError(
            f"workers.{worker} has no held_ms: the report was written before the sandbox measured it; "
            "run `dmd sandbox demo --report PATH` again"
        )
    return counters


def _work_seconds(counters: Mapping[str, int]) -> float:
    return max(0, counters["held_ms"] - counters.get("init_ms", 0)) / 1000


def emulator_costs(document: Mapping[str, Any], *, reference_seconds: float) -> EmulatorCosts:
    """The per-record costs a demo's report shows (`reference_seconds`: this machine's pace now)."""
    try:
        return _emulator_costs(document, reference_seconds)
    except (AttributeError, TypeError, ValueError, KeyError) as error:
        if isinstance(error, ValidationError):
            raise DemoReportError(f"the report's figures make no cost: {error.errors()[0]['msg']}") from error
        raise DemoReportError(f"not shaped as a demo report ({type(error).__name__}: {error})") from error


def _emulator_costs(document: Mapping[str, Any], reference_seconds: float) -> EmulatorCosts:
    created = int(document.get("notifications", {}).get("created", 0))
    if created <= 0:
        raise DemoReportError(
            "the report's demo created no notification (notifications.created): nothing to measure"
        )
    scheduler, generator, sender, status = (_counters(document, worker) for worker in PIPELINE_WORKERS)
    # Per record the sender got through (a send attempt): the batches Lambda delivered again (a record
    # deferred when the invocation's time ran short, a timed-out batch) are part of that cost.
    sends = sender.get("records_processed", 0)
    if sends <= 0 or scheduler.get("invocations", 0) <= 0:
        raise DemoReportError("the report's sender or scheduler handled nothing: nothing to measure")
    published = document.get("vendors", {}).get("sms", {}).get("statusEventsPublished", {})
    events = sum(int(count) for count in published.values())
    sweeps = int(document.get("workers", {}).get(SWEEPER, {}).get("invocations", 0))
    sweeper = _counters(document, SWEEPER) if sweeps else {}
    return EmulatorCosts(
        generator_ms=_work_seconds(generator) * 1000 / created,
        send_ms=_work_seconds(sender) * 1000 / sends,
        status_ms=_work_seconds(status) * 1000 / events if events else 0.0,
        scheduler_seconds=_work_seconds(scheduler) / scheduler["invocations"],
        sweeper_run_seconds=_work_seconds(sweeper) / sweeps if sweeps else 0.0,
        init_seconds=sum(counters.get("init_ms", 0) for counters in (scheduler, generator, sender, status))
        / 1000,
        reference_seconds=reference_seconds,
    )


def read_report(path: Path) -> dict[str, Any]:
    """A demo's JSON report; DemoReportError when it is missing or not JSON."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DemoReportError(
            f"no report at {path} (write one with `dmd sandbox demo --report PATH`)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DemoReportError(f"{path} is not a demo's JSON report: {error}") from None
    if not isinstance(document, dict):
        raise DemoReportError(f"{path} is not a demo's JSON report: not an object")
    return document


def with_report(costs: CapacityCosts, path: Path) -> CapacityCosts:
    """The committed costs with the emulator's replaced by a demo report's (measured on this machine)."""
    emulator = emulator_costs(read_report(path), reference_seconds=costs.emulator.reference_seconds)
    return costs.model_copy(update={"emulator": emulator, "measured": f"the sandbox demo's report {path}"})
