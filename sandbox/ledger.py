"""The notifications' latest status as the table's change stream tells it, at no cost to the emulator.

Every change to the demand table passes through the sandbox's CDC tailer on its way to Kinesis;
`NotificationLedger.observe` is the tailer's observer and keeps, per notification item, its status
and contact method from the change's new image (removals drop it). Progress checks of a run of
tens of thousands of notifications then read this ledger instead of scanning the table (a scan
costs the single-process emulator as much as a hundred sends); the final report still reads the
table itself.

The ledger lags the table by a tailer round or two (a fraction of a second in the background) and
sees only the changes made while it observes.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from workers.shared.statuses import TERMINAL_STATUSES as NOTIFICATION_TERMINAL_STATUSES

NOTIFICATION_PREFIX: Final = "notification#"
TERMINAL_STATUSES: Final = frozenset(status.value for status in NOTIFICATION_TERMINAL_STATUSES)
EMAIL_ACCEPTED: Final = "ACCEPTED (email)"


def is_terminal_status(status: str, contact_method: str) -> bool:
    """DELIVERED, FAILED or EXPIRED; an email is terminal at TRIGGERED (SES has no status stream)."""
    return status in TERMINAL_STATUSES or (contact_method == "email" and status == "TRIGGERED")


def progress_key(status: str, contact_method: str) -> str:
    """How progress shows a status: an email at TRIGGERED is shown as accepted by SES."""
    return EMAIL_ACCEPTED if contact_method == "email" and status == "TRIGGERED" else status


@dataclass(frozen=True)
class Progress:
    """Notifications seen, per shown status, and how many are terminal."""

    by_status: Counter[str] = field(default_factory=Counter)
    terminal: int = 0
    seen: int = 0

    @classmethod
    def of(cls, states: Iterable[tuple[str, str]]) -> Progress:
        """From (status, contact method) pairs."""
        by_status: Counter[str] = Counter()
        terminal = 0
        for status, method in states:
            by_status[progress_key(status, method)] += 1
            terminal += is_terminal_status(status, method)
        return cls(by_status, terminal, sum(by_status.values()))


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One notification's latest known state."""

    pk: str
    sk: str
    status: str
    contact_method: str

    def as_item(self) -> dict[str, Any]:
        """The same shape as the table item's projection (PK, SK, status.id, contactMethod)."""
        return {
            "PK": self.pk,
            "SK": self.sk,
            "status": {"id": self.status},
            "contactMethod": self.contact_method,
        }


class NotificationLedger:
    """Latest status per notification, from the DynamoDB stream records the CDC tailer copies."""

    # The counts behind `progress()` are kept as changes arrive, so a progress check costs the same
    # for 50,000 notifications as for 5 (the live view asks twice a second).

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], LedgerEntry] = {}
        self._by_status: Counter[str] = Counter()
        self._terminal = 0
        self.changes_seen = 0

    def observe(self, records: Sequence[Mapping[str, Any]]) -> None:
        """A `ChangeObserver`: fold a batch of DynamoDB stream records (in stream order) in."""
        with self._lock:
            for record in records:
                change = record.get("dynamodb") or {}
                keys = change.get("Keys") or {}
                pk, sk = _string(keys.get("PK")), _string(keys.get("SK"))
                if pk is None or sk is None or not sk.startswith(NOTIFICATION_PREFIX):
                    continue
                self.changes_seen += 1
                previous = self._entries.pop((pk, sk), None)
                if previous is not None:
                    self._count(previous, -1)
                if record.get("eventName") == "REMOVE":
                    continue
                image = change.get("NewImage") or {}
                status = ((image.get("status") or {}).get("M") or {}).get("id")
                entry = LedgerEntry(
                    pk=pk,
                    sk=sk,
                    status=_string(status) or "UNKNOWN",
                    contact_method=_string(image.get("contactMethod")) or "",
                )
                self._entries[(pk, sk)] = entry
                self._count(entry, +1)

    def _count(self, entry: LedgerEntry, delta: int) -> None:
        key = progress_key(entry.status, entry.contact_method)
        self._by_status[key] += delta
        if not self._by_status[key]:
            del self._by_status[key]
        if is_terminal_status(entry.status, entry.contact_method):
            self._terminal += delta

    def progress(self) -> Progress:
        """Notifications seen per shown status, and how many are terminal (no walk over them)."""
        with self._lock:
            return Progress(Counter(self._by_status), self._terminal, len(self._entries))

    def entries(self) -> list[LedgerEntry]:
        """Every notification seen, latest state."""
        with self._lock:
            return list(self._entries.values())

    def items(self) -> list[dict[str, Any]]:
        """Every notification seen, shaped like the table's projected items."""
        return [entry.as_item() for entry in self.entries()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _string(value: Any) -> str | None:
    """The string of a DynamoDB JSON `{"S": …}` value, else None."""
    if isinstance(value, Mapping):
        text = value.get("S")
        return text if isinstance(text, str) else None
    return None
