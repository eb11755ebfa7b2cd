"""The sandbox's own fault kinds of `--faults` (not a vendor's): DynamoDB throttling, timeouts, poison.

- `ddb-throttle=RATE`: the emulator answers that share of the workers' DynamoDB writes (PutItem,
  UpdateItem, DeleteItem, BatchWriteItem) with HTTP 400 `ProvisionedThroughputExceededException`
  (`sandbox.emulator_throttle`); botocore's standard retry mode retries it (a throttling error).
- `timeout=RATE`: that share of the stream and queue invocations time out mid-batch: the handler
  runs on the first part of the batch only, then the invocation ends without an answer, which Lambda
  treats as a function error (the whole batch is retried per the mapping's rules, `InjectedTimeouts`).
- `poison=RATE`: that share of the demo's demand records are written malformed, as a broken writer
  of the fan-facing system could write them (`sandbox.demo.poison`); the demo only.

Each decision is a pure function of the seed, the kind, a request key and how many requests of that
key came before (`seeded_draw`), as for the vendors' faults.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

DDB_THROTTLE: Final = "ddb-throttle"
TIMEOUT: Final = "timeout"
POISON: Final = "poison"


@dataclass(frozen=True)
class DrillFaultKind:
    """A fault kind of the sandbox itself: what it hits, for `--help` and error messages."""

    name: str
    description: str


DRILL_FAULT_KINDS: Final[Mapping[str, DrillFaultKind]] = {
    kind.name: kind
    for kind in (
        DrillFaultKind(DDB_THROTTLE, "the emulator throttles the workers' DynamoDB writes"),
        DrillFaultKind(TIMEOUT, "a stream/queue invocation times out after the first part of its batch"),
        DrillFaultKind(POISON, "demand records written malformed (demo only)"),
    )
}


def seeded_draw(seed: int, kind: str, key: str, ordinal: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, kind, key, ordinal): reproducible whatever the threads."""
    digest = hashlib.blake2b(f"{seed}|{kind}|{key}|{ordinal}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class SeededRate:
    """Decides, per request key, whether a fault of `kind` hits: the n-th request of a key draws anew."""

    def __init__(self, kind: str, *, rate: float = 0.0, seed: int = 0) -> None:
        self.kind = kind
        self._lock = threading.Lock()
        self._rate = rate
        self._seed = seed
        self._seen: Counter[str] = Counter()

    def configure(self, *, rate: float, seed: int) -> None:
        """Hit `rate` of the requests from now on (0: none), drawn from `seed`."""
        if not 0 <= rate <= 1:
            raise ValueError(f"{self.kind} rate must be from 0 to 1, got {rate}")
        with self._lock:
            self._rate, self._seed = rate, seed
            self._seen.clear()

    @property
    def rate(self) -> float:
        """The share of requests hit."""
        return self._rate

    def hits(self, key: str) -> bool:
        """Whether this request of `key` is hit."""
        with self._lock:
            if not self._rate:
                return False
            ordinal = self._seen[key]
            self._seen[key] += 1
            seed = self._seed
        return seeded_draw(seed, self.kind, key, ordinal) < self._rate
