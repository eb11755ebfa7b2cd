"""The demo's `emulator-restart` drill, and what the report says about it and the SMS status drills.

`RestartDrill` restarts the emulator once the sandbox clock is `emulator-restart=SECONDS` past the
tick (`Sandbox.restart_emulator`: state saved, the process stopped, down for `DOWN_SECONDS`, a new
process started from the state, the pollers resumed from their checkpoints), from the demo's main
thread, and reports when it happened, how long the emulator was down, its pids before and after,
and how many records the workers processed after it came back. `status_drill_document` counts what
the SMS service's `sms-out-of-order` and `sms-duplicate-status` drills injected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sandbox.demo.report import DemoReport, Invariant
from sandbox.emulator import EmulatorError, EmulatorRestart
from sandbox.function import WorkerCounters
from sandbox.pipeline import Pipeline
from sandbox.runtime import SandboxError
from sandbox.vendors import Effect, FaultPlan

DOWN_SECONDS: Final = 3.0  # real seconds between the old server stopping and the new one starting
RESTART_CHECK: Final = "emulator restarted with its state"


@dataclass
class RestartDrill:
    """One emulator restart at `at_seconds` sandbox seconds after the tick, and what it did."""

    at_seconds: float
    tick: datetime
    down_seconds: float = DOWN_SECONDS
    restart: EmulatorRestart | None = None
    error: str | None = None
    happened_at: float | None = None  # sandbox epoch seconds
    records_before: dict[str, int] = field(default_factory=dict)
    errors_during: int = 0  # failed background rounds while the emulator was down (retried)

    @classmethod
    def planned(cls, faults: FaultPlan, tick: datetime) -> RestartDrill | None:
        """The drill the fault plan asks for, if any."""
        if faults.emulator_restart is None:
            return None
        return cls(at_seconds=faults.emulator_restart, tick=tick)

    @property
    def finished(self) -> bool:
        """Whether the restart was tried (done, or failed with a reason)."""
        return self.restart is not None or self.error is not None

    @property
    def due_at(self) -> float:
        """When the restart is due (sandbox epoch seconds)."""
        return self.tick.timestamp() + self.at_seconds

    def due(self, now: float) -> bool:
        """Whether the restart is to happen now (sandbox epoch seconds)."""
        return not self.finished and now >= self.due_at

    def run(self, pipeline: Pipeline) -> None:
        """Restart the emulator now (from the thread that started the pipeline), noting the counts before."""
        self.records_before = _processed(pipeline.sandbox.counters())
        errors_before = pipeline.background_errors()
        self.happened_at = pipeline.clock.now()
        try:
            self.restart = pipeline.sandbox.restart_emulator(down_seconds=self.down_seconds)
        except (EmulatorError, SandboxError) as error:
            self.error = str(error)
        self.errors_during = pipeline.background_errors() - errors_before

    def document(self, counters: Mapping[str, WorkerCounters]) -> dict[str, Any]:
        """The report's `faultDrills.emulatorRestart` section."""
        after = _processed(counters)
        resumed = {
            worker: count - self.records_before.get(worker, 0)
            for worker, count in after.items()
            if count > self.records_before.get(worker, 0)
        }
        document: dict[str, Any] = {
            "plannedAtSeconds": self.at_seconds,
            "happenedAtSeconds": (
                round(self.happened_at - self.tick.timestamp(), 2) if self.happened_at is not None else None
            ),
            "restarted": self.restart is not None,
            "error": self.error,
            "recordsProcessedAfter": sum(resumed.values()),
            "recordsProcessedAfterByWorker": resumed,
            "backgroundErrorsDuringRestart": self.errors_during,
        }
        if self.restart is not None:
            document.update(self.restart.as_json())
        return document

    def check(self) -> tuple[str, bool, str]:
        """(name, ok, detail) of the invariant: the restart happened, in a new process, with the state."""
        restart = self.restart
        if restart is None:
            return RESTART_CHECK, False, self.error or "the run ended before the restart was due"
        ok = restart.new_pid != restart.old_pid and bool(restart.saved.get("services"))
        detail = (
            f"pid {restart.old_pid} → {restart.new_pid}, down {restart.down_seconds:.1f} s, "
            f"{len(restart.saved.get('services', []))} services' state carried over "
            f"({restart.saved.get('sizeBytes', 0)} bytes)"
        )
        return RESTART_CHECK, ok, detail


def status_drill_document(pipeline: Pipeline) -> dict[str, Any]:
    """The report's `faultDrills.smsStatus` section: messages reversed and duplicated, copies published."""
    injected = pipeline.vendors.sms.counters.snapshot()["faultsInjected"]
    return {
        "messagesOutOfOrder": int(injected.get(Effect.OUT_OF_ORDER.value, 0)),
        "messagesWithDuplicatedStatuses": int(injected.get(Effect.DUPLICATE_STATUS.value, 0)),
        "statusEventsDuplicated": sum(pipeline.vendors.publisher.duplicated.values()),
    }


def restart_rows(drills: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The summary's lines for the SMS status and emulator restart drills (none when not asked for)."""
    rows: list[tuple[str, str]] = []
    status = drills.get("smsStatus") or {}
    if status.get("messagesOutOfOrder") or status.get("messagesWithDuplicatedStatuses"):
        rows.append(
            (
                "SMS statuses out of order / duplicated (events)",
                f"{status['messagesOutOfOrder']} / {status['messagesWithDuplicatedStatuses']} "
                f"({status['statusEventsDuplicated']})",
            )
        )
    restart = drills.get("emulatorRestart")
    if restart:
        value = (
            f"at {restart['happenedAtSeconds']:g} s, down {restart['downSeconds']:.1f} s, "
            f"{restart['recordsProcessedAfter']} records after"
            if restart.get("restarted")
            else f"failed: {restart.get('error')}"
        )
        rows.append(("emulator restart", value))
    return rows


def _processed(counters: Mapping[str, WorkerCounters]) -> dict[str, int]:
    return {worker: counter.records_processed for worker, counter in counters.items()}


def extend_report(
    report: DemoReport,
    pipeline: Pipeline,
    faults: FaultPlan,
    drill: RestartDrill | None,
    counters: Mapping[str, WorkerCounters],
) -> None:
    """Add the SMS status and emulator restart drills to the report (sections, invariant) when asked for."""
    drills = report.document.setdefault("faultDrills", {})
    if any(faults.rates.get(kind) for kind in ("sms-out-of-order", "sms-duplicate-status")):
        drills["smsStatus"] = status_drill_document(pipeline)
    if drill is not None:
        drills["emulatorRestart"] = drill.document(counters)
        report.invariants.append(Invariant(*drill.check()))
