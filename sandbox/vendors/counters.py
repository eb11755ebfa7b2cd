"""What a vendor fake received: requests per endpoint and per key, answers per status, faults injected."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from sandbox.vendors.faults import Effect


class VendorCounters:
    """What one fake received: requests per endpoint and key, answers per status, faults injected."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.by_key: Counter[tuple[str, str]] = Counter()
        self.answers: Counter[tuple[str, int]] = Counter()
        self.faults: Counter[str] = Counter()

    def record(self, endpoint: str, key: str | None, status: int, fault: Effect | None) -> None:
        """Count one answered request."""
        with self._lock:
            self.requests[endpoint] += 1
            if key is not None:
                self.by_key[(endpoint, key)] += 1
            self.answers[(endpoint, status)] += 1
            if fault is not None:
                self.faults[fault.value] += 1

    def injected(self, fault: Effect) -> None:
        """Count a fault injected apart from a request's answer (e.g. a message's statuses duplicated)."""
        with self._lock:
            self.faults[fault.value] += 1

    def of_key(self, endpoint: str, key: str) -> int:
        """How many requests of `endpoint` named `key`."""
        with self._lock:
            return self.by_key[(endpoint, key)]

    def keys_of(self, endpoint: str) -> Counter[str]:
        """Requests of `endpoint` per key."""
        with self._lock:
            return Counter({key: n for (named, key), n in self.by_key.items() if named == endpoint})

    def snapshot(self) -> dict[str, Any]:
        """The counts as JSON-ready data."""
        with self._lock:
            return {
                "requests": dict(self.requests),
                "answers": {
                    f"{endpoint} {status}": n for (endpoint, status), n in sorted(self.answers.items())
                },
                "faultsInjected": dict(self.faults),
                "keys": len(self.by_key),
            }
