"""What `dmd sandbox demo` can be asked for: its options, their defaults and their bounds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sandbox.demo.catalogue import NOTIFIABLE_EVENTS
from sandbox.vendors import NO_FAULTS, FaultPlan

DEFAULT_FANS: Final = 300
DEFAULT_SALES: Final = 4
DEFAULT_SPEED: Final = 10.0
DEFAULT_SEED: Final = 7
DEFAULT_DEADLINE_SECONDS: Final = 90.0
DEFAULT_REPORT: Final = Path("build/sandbox/demo-report.json")
DEFAULT_WORKER_LOG: Final = Path("build/sandbox/demo-workers.log")
MAX_FANS: Final = 50_000


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    """What `dmd sandbox demo` was asked for."""

    fans: int = DEFAULT_FANS
    sales: int = DEFAULT_SALES
    faults: FaultPlan = NO_FAULTS
    speed: float = DEFAULT_SPEED
    seed: int = DEFAULT_SEED
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    report_path: Path | None = DEFAULT_REPORT
    worker_log: Path = DEFAULT_WORKER_LOG
    ship_logs: bool = False  # the workers' lines into the emulator's log groups too (`dmd logs`)

    def __post_init__(self) -> None:
        if not 1 <= self.fans <= MAX_FANS:
            raise ValueError(f"fans must be from 1 to {MAX_FANS}, got {self.fans}")
        most = sum(len(event.sales) for event in NOTIFIABLE_EVENTS)
        if not 1 <= self.sales <= most:
            raise ValueError(f"sales must be from 1 to {most} (the demo's catalogue), got {self.sales}")
        if self.speed <= 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")
