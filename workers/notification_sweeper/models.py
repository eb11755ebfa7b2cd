"""What one sweep did: notifications found overdue, released, skipped, and whether it saw them all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SAMPLE_SIZE = 10  # released keys logged per run: enough to start from, never a flood


@dataclass
class SweepSummary:
    """The counts of one run (its return value, its log line and its metrics)."""

    found: int = 0
    released: int = 0
    skipped: int = 0
    shards_swept: int = 0
    # False when the run stopped early (deadline or the per-run cap): the rest is found next run.
    complete: bool = True
    released_sample: list[str] = field(default_factory=list)

    def note_released(self, reference: str) -> None:
        """Count one release, keeping the first few keys (PK|SK: ids only, never an address)."""
        self.released += 1
        if len(self.released_sample) < SAMPLE_SIZE:
            self.released_sample.append(reference)

    def as_dict(self) -> dict[str, Any]:
        """The summary as the handler returns it."""
        return {
            "found": self.found,
            "released": self.released,
            "skipped": self.skipped,
            "shardsSwept": self.shards_swept,
            "complete": self.complete,
            "releasedSample": list(self.released_sample),
        }
