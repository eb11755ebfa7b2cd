"""Capacity benchmark: the sandbox's per-record costs from the default demo, and the model checked on others.

`dmd capacity --stack local` adds up what each worker holds the sandbox's one process for, per
record (`ops.capacity_demo_costs`), plus the waits. This measures those costs on the default demo
(300 fans, no faults) for bench/capacity-costs.json, then runs demos of other sizes and faults and
compares their tick → every notification terminal with the model's answer from those costs (across
sizes) and from each demo's own report (the model's structure alone).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from infra.stack_files import PROJECT_ROOT, load_committed
from ops.capacity_demo_costs import emulator_costs
from ops.capacity_inputs import CapacityCosts, EmulatorCosts, Workload, fault_rates, load_costs, shape_of
from ops.capacity_sandbox import SandboxProfile, reference_work, sandbox_estimate
from sandbox.demo import DemoOptions, run_demo
from sandbox.vendors import parse_faults

OUT_DIR = PROJECT_ROOT / "build" / "bench"
CALIBRATION_FANS = 300  # `dmd sandbox demo`'s default
SPEED = 10.0


@dataclass(frozen=True)
class Check:
    """A demo's measured time and the model's answers for it."""

    fans: int
    faults: str
    notifications: int
    measured_seconds: float
    from_costs_seconds: float  # the model with the calibration demo's costs
    from_own_report_seconds: float  # the model with this demo's own costs


def _demo(fans: int, faults: str, seed: int) -> dict[str, Any]:
    name = f"capacity-demo-{fans}-{faults.replace(',', '_').replace('=', '') or 'clean'}"
    report = OUT_DIR / f"{name}.json"
    options = DemoOptions(
        fans=fans,
        sales=2,
        faults=parse_faults(faults),
        speed=SPEED,
        seed=seed,
        deadline_seconds=1800.0,
        report_path=report,
        worker_log=OUT_DIR / f"{name}.log",
    )
    outcome = run_demo(options, Console(file=io.StringIO(), width=120))
    if not outcome.ok:
        failed = [invariant.name for invariant in outcome.invariants if not invariant.ok]
        raise RuntimeError(f"the {fans}-fan demo broke its invariants: {failed} (report: {report})")
    document: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return document


def _predict(document: dict[str, Any], faults: str, emulator: EmulatorCosts, costs: CapacityCosts) -> float:
    notes = document["notifications"]
    workload = Workload(
        fans=notes["created"],
        sales=document["run"]["sales"],
        sms_share=notes["expectedSms"] / notes["expected"],
        faults=fault_rates(faults),
    )
    shape = shape_of(load_committed("local"))
    answer = sandbox_estimate(
        shape, costs.model_copy(update={"emulator": emulator}), workload, SandboxProfile(speed=SPEED)
    )
    return answer.total_seconds


def calibrate_and_check(checks: tuple[tuple[int, str, int], ...]) -> tuple[EmulatorCosts, list[Check]]:
    """The default demo's costs, and each (fans, faults, seed) demo against the model."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    reference = min(reference_work() for _ in range(20))
    calibration = emulator_costs(_demo(CALIBRATION_FANS, "", 7), reference_seconds=reference)
    committed = load_costs()
    results = []
    for fans, faults, seed in checks:
        document = _demo(fans, faults, seed)
        own = emulator_costs(document, reference_seconds=reference)
        results.append(
            Check(
                fans=fans,
                faults=faults or "none",
                notifications=document["notifications"]["created"],
                measured_seconds=document["run"]["pipelineSeconds"],
                from_costs_seconds=_predict(document, faults, calibration, committed),
                from_own_report_seconds=_predict(document, faults, own, committed),
            )
        )
    return calibration, results


def costs_document(costs: EmulatorCosts) -> dict[str, float]:
    """The emulator section of bench/capacity-costs.json, as the file spells it."""
    return {key: float(value) for key, value in costs.model_dump(by_alias=True).items()}
