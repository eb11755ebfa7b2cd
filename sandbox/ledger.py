"""The notifications' latest status as the table's change stream tells it, at no cost to the emulator.

Every change to the demand table passes through the sandbox's CDC tailer on its way to Kinesis;
`NotificationLedger.observe` is the tailer's observer and keeps, per notification item, its status
and contact method from the change's new image (removals drop it). Progress checks of a run of
tens of thousands of notifications then read this ledger instead of scanning the table (a scan
costs the single-process emulator as much as a hundred sends); the final report still reads the
table itself.

The ledger lags the table by one tailer round (≤ 0.25 s in the background) and sees only changes
made while it observes.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

NOTIFICATION_PREFIX: Final = "notification#"


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

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], LedgerEntry] = {}
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
                if record.get("eventName") == "REMOVE":
                    self._entries.pop((pk, sk), None)
                    continue
                image = change.get("NewImage") or {}
                status = ((image.get("status") or {}).get("M") or {}).get("id")
                self._entries[(pk, sk)] = LedgerEntry(
                    pk=pk,
                    sk=sk,
                    status=_string(status) or "UNKNOWN",
                    contact_method=_string(image.get("contactMethod")) or "",
                )

    def entries(self) -> list[LedgerEntry]:
        """Every notification seen, latest state."""
        with self._lock:
            return list(self._entries.values())

    def items(self) -> list[dict[str, Any]]:
        """Every notification seen, shaped like the table's projected items."""
        return [entry.as_item() for entry in self.entries()]

    def by_status(self) -> Counter[str]:
        """Notifications per status."""
        return Counter(entry.status for entry in self.entries())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _string(value: Any) -> str | None:
    """The string of a DynamoDB JSON `{"S": …}` value, else None."""
    if isinstance(value, Mapping):
        text = value.get("S")
        return text if isinstance(text, str) else None
    return None
