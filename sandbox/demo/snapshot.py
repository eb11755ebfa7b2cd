"""The demo run's state at one moment: what the live view shows and the completion check reads."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.ledger import Progress


@dataclass
class Snapshot:
    """The pipeline's state at one moment, for the live view and the completion check."""

    phase: str
    started: float
    sandbox_time: datetime
    counters: dict[str, Any]
    progress: Progress = field(default_factory=Progress)  # the ledger's counts while running
    notifications: list[dict[str, Any]] = field(default_factory=list)  # the final scan, for the report
    dlq: dict[str, int] = field(default_factory=dict)
    sms_accepted: int = 0
    status_pending: int = 0
    pipeline_seconds: float | None = None  # from the scheduler tick until every notification was terminal
    name_prefix: str = ""  # the stack's `prd3292-{env}-{region}-`, left out of queue names on screen

    def settle(self, notifications: list[dict[str, Any]]) -> None:
        """The final state read from the table: the report's truth, counted the same way."""
        self.notifications = notifications
        self.progress = Progress.of(
            (str(item["status"]["id"]), str(item.get("contactMethod", ""))) for item in notifications
        )

    @property
    def by_status(self) -> Counter[str]:
        """Notifications per status (email TRIGGERED shown as accepted)."""
        return self.progress.by_status

    @property
    def terminal(self) -> int:
        """How many notifications are terminal."""
        return self.progress.terminal
