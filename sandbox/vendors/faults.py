"""The fault language of the vendor fakes (`--faults`) and each fake's faults at run time.

`parse_faults("sms=0.3,bitly-429=0.2")` reads a plan: an error rate per kind, a latency per vendor,
and outage windows on the sandbox clock. Whether a request fails is a pure function of the seed, the
vendor, the request's key and how many requests of that key came before, so a run with the same
seed and inputs fails the same requests whatever the thread interleaving. The sandbox's own drill
kinds (`ddb-throttle`, `timeout`, `poison`: `sandbox.drill_faults`) are read into the same rates.
"""

from __future__ import annotations

import enum
import hashlib
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from sandbox.clock import SandboxClock
from sandbox.drill_faults import DRILL_FAULT_KINDS

VENDORS: Final = ("sms", "bitly", "discovery", "accounts")


class Effect(enum.StrEnum):
    """What an injected fault does to one request."""

    SERVER_ERROR = "5xx"  # 503 Service Unavailable
    THROTTLED = "429"  # 429 with the vendor's rate-limit body
    TIMEOUT = "timeout"  # held past the client's timeout, then 504; the request is not processed
    LOST_ANSWER = "lost-answer"  # SMS taken and sent, its answer held past the client's timeout (504)
    INVALID = "invalid"  # SMS accepted, then failed by the carrier: INVALID_NUMBER
    BLOCKED = "blocked"  # SMS accepted, then failed by the carrier: BLOCKED
    OUT_OF_ORDER = "out-of-order"  # SMS accepted and delivered, statuses published last to first
    # Not a request's answer: each status event of the message published twice, the copy late
    # (after the next status; the last one's a second later), with the same timestamp.
    DUPLICATE_STATUS = "duplicate-status"


@dataclass(frozen=True)
class FaultKind:
    """A fault kind of the `--faults` syntax: which vendor it hits and how."""

    name: str
    vendor: str
    effect: Effect
    description: str


FAULT_KINDS: Final[Mapping[str, FaultKind]] = {
    kind.name: kind
    for kind in (
        FaultKind("sms", "sms", Effect.SERVER_ERROR, "SMS service answers 503"),
        FaultKind("sms-429", "sms", Effect.THROTTLED, "SMS service answers 429 RATE_LIMITED"),
        FaultKind("sms-timeout", "sms", Effect.TIMEOUT, "SMS service does not answer in time"),
        FaultKind(
            "sms-lost-answer", "sms", Effect.LOST_ANSWER, "SMS sent, but the answer does not arrive in time"
        ),
        FaultKind("sms-invalid", "sms", Effect.INVALID, "accepted, then failed INVALID_NUMBER"),
        FaultKind("sms-blocked", "sms", Effect.BLOCKED, "accepted, then failed BLOCKED"),
        FaultKind(
            "sms-out-of-order", "sms", Effect.OUT_OF_ORDER, "accepted; statuses published last to first"
        ),
        # Drawn apart from the request's own fault (`STATUS_STREAM`): a message's statuses may be
        # reversed and duplicated at once.
        FaultKind(
            "sms-duplicate-status",
            "sms-status",
            Effect.DUPLICATE_STATUS,
            "each status event published twice, the copy after the next status",
        ),
        FaultKind("bitly-429", "bitly", Effect.THROTTLED, "Bitly answers 429 RATE_LIMIT_EXCEEDED"),
        FaultKind("bitly-5xx", "bitly", Effect.SERVER_ERROR, "Bitly answers 503"),
        FaultKind("discovery-5xx", "discovery", Effect.SERVER_ERROR, "Discovery answers 503"),
        FaultKind("accounts-5xx", "accounts", Effect.SERVER_ERROR, "Accounts answers 503"),
    )
}
FAULT_ALIASES: Final[Mapping[str, str]] = {"sms-5xx": "sms"}
STATUS_STREAM: Final = "-status"  # a vendor's status stream faults: `sms-status`, drawn per message
EMULATOR_RESTART: Final = "emulator-restart"  # `emulator-restart=SECONDS` after the tick (`Emulator.restart`)
_LATENCY_SUFFIX: Final = "-latency"
_OUTAGE_SUFFIX: Final = "-outage"


class FaultSpecError(ValueError):
    """A `--faults` specification that cannot be read; the message names the part and what is allowed."""


class Window(NamedTuple):
    """[start, end) in seconds."""

    start: float
    end: float

    def contains(self, moment: float) -> bool:
        """Whether `moment` falls in the window."""
        return self.start <= moment < self.end


@dataclass(frozen=True)
class FaultPlan:
    """Error rates per fault kind, latency per vendor, outage windows per vendor (seconds after an anchor)."""

    rates: Mapping[str, float] = field(default_factory=dict)
    latency: Mapping[str, float] = field(default_factory=dict)
    outages: Mapping[str, tuple[Window, ...]] = field(default_factory=dict)
    emulator_restart: float | None = None  # sandbox seconds after the anchor (the demo's tick)

    @property
    def empty(self) -> bool:
        """Whether the plan injects nothing."""
        return not (
            any(self.rates.values())
            or any(self.latency.values())
            or any(self.outages.values())
            or self.emulator_restart is not None
        )

    def rates_of(self, vendor: str) -> list[tuple[Effect, float]]:
        """The vendor's (effect, rate) pairs, in the order of `FAULT_KINDS`."""
        return [
            (kind.effect, self.rates[name])
            for name, kind in FAULT_KINDS.items()
            if kind.vendor == vendor and self.rates.get(name)
        ]

    def __str__(self) -> str:
        parts = [f"{name}={rate:g}" for name, rate in self.rates.items() if rate]
        parts += [f"{vendor}{_LATENCY_SUFFIX}={seconds:g}" for vendor, seconds in self.latency.items()]
        parts += [
            f"{vendor}{_OUTAGE_SUFFIX}={window.start:g}-{window.end:g}"
            for vendor, windows in self.outages.items()
            for window in windows
        ]
        if self.emulator_restart is not None:
            parts.append(f"{EMULATOR_RESTART}={self.emulator_restart:g}")
        return ",".join(parts) or "none"


NO_FAULTS: Final = FaultPlan()


def parse_faults(text: str) -> FaultPlan:
    """Read `kind=rate,…`, `<vendor>-latency=SECONDS`, `<vendor>-outage=START-END` (sandbox seconds)."""
    rates: dict[str, float] = {}
    latency: dict[str, float] = {}
    outages: dict[str, list[Window]] = {}
    restart_at: float | None = None
    for raw in text.split(","):
        part = raw.strip()
        if not part or part == "none":
            continue
        name, equals, value = (piece.strip() for piece in part.partition("="))
        if not equals or not value:
            raise FaultSpecError(f"fault {part!r} needs a value: write {name or 'kind'}=VALUE")
        name = FAULT_ALIASES.get(name.lower(), name.lower())
        if name.endswith(_LATENCY_SUFFIX) and name.removesuffix(_LATENCY_SUFFIX) in VENDORS:
            vendor = name.removesuffix(_LATENCY_SUFFIX)
            _refuse_repeat(name, vendor in latency)
            latency[vendor] = _seconds(name, value)
        elif name == EMULATOR_RESTART:
            _refuse_repeat(name, restart_at is not None)
            restart_at = _restart_seconds(value)
        elif name.endswith(_OUTAGE_SUFFIX) and name.removesuffix(_OUTAGE_SUFFIX) in VENDORS:
            outages.setdefault(name.removesuffix(_OUTAGE_SUFFIX), []).append(_window(name, value))
        elif name in FAULT_KINDS or name in DRILL_FAULT_KINDS:
            _refuse_repeat(name, name in rates)
            rates[name] = _rate(name, value)
        else:
            raise FaultSpecError(f"unknown fault {name!r}; {fault_vocabulary()}")
    for vendor in VENDORS:
        total = sum(rate for kind, rate in rates.items() if _vendor_of(kind) == vendor)
        if total > 1:
            named = ", ".join(
                f"{kind}={rate:g}" for kind, rate in rates.items() if _vendor_of(kind) == vendor
            )
            raise FaultSpecError(f"the {vendor} fault rates add up to {total:g} (> 1): {named}")
    return FaultPlan(
        rates=rates,
        latency=latency,
        outages={vendor: tuple(found) for vendor, found in outages.items()},
        emulator_restart=restart_at,
    )


def fault_vocabulary() -> str:
    """What `parse_faults` accepts, in one line (for error messages and `--help`)."""
    return (
        f"known kinds: {', '.join(FAULT_KINDS)}; sandbox drills: {', '.join(DRILL_FAULT_KINDS)} "
        "(KIND=RATE, 0..1); "
        f"per vendor ({', '.join(VENDORS)}): VENDOR-latency=SECONDS, VENDOR-outage=START-END "
        f"(sandbox seconds after the run starts); {EMULATOR_RESTART}=SECONDS (after the tick)"
    )


def _vendor_of(kind: str) -> str | None:
    """The vendor a fault kind hits; None for the sandbox's own drill kinds (`sandbox.drill_faults`)."""
    found = FAULT_KINDS.get(kind)
    return found.vendor if found is not None else None


def _refuse_repeat(name: str, repeated: bool) -> None:
    if repeated:
        raise FaultSpecError(f"fault {name!r} is given twice")


def _rate(name: str, value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not 0 <= rate <= 1:
        raise FaultSpecError(f"fault rate of {name!r} must be a number from 0 to 1, got {value!r}")
    return rate


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value.removesuffix("s"))
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        raise FaultSpecError(f"{name} must be a number of seconds from 0 to 60, got {value!r}")
    return seconds


def _restart_seconds(value: str) -> float:
    try:
        seconds = float(value.removesuffix("s"))
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise FaultSpecError(
            f"{EMULATOR_RESTART} must be sandbox seconds after the tick, from 0 to 3600, got {value!r}"
        )
    return seconds


def _window(name: str, value: str) -> Window:
    start_text, dash, end_text = value.partition("-")
    try:
        start, end = float(start_text.removesuffix("s")), float(end_text.removesuffix("s"))
    except ValueError:
        start = end = -1.0
    if not dash or start < 0 or end <= start:
        raise FaultSpecError(
            f"{name} must be START-END in seconds with START < END (e.g. 0-90), got {value!r}"
        )
    return Window(start, end)


def seeded_draw(seed: int, vendor: str, key: str, ordinal: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, vendor, key, ordinal): reproducible whatever the threads."""
    digest = hashlib.blake2b(f"{seed}|{vendor}|{key}|{ordinal}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class VendorFaults:
    """One vendor's faults at run time: scripted answers per key, outages, seeded rates, latency."""

    def __init__(self, vendor: str, *, clock: SandboxClock, seed: int = 0) -> None:
        self.vendor = vendor
        self._clock = clock
        self._seed = seed
        self._lock = threading.Lock()
        self._rates: list[tuple[Effect, float]] = []
        self._status_rates: dict[Effect, float] = {}  # the vendor's status stream (`STATUS_STREAM`)
        self._latency = 0.0
        self._outages: list[Window] = []  # sandbox epoch seconds
        self._scripted: dict[str, deque[Effect | None]] = {}
        self._seen: Counter[str] = Counter()

    def configure(self, plan: FaultPlan, *, anchor: float | None = None) -> None:
        """Apply the plan's part for this vendor; outage windows count from `anchor` (default: now)."""
        start = self._clock.now() if anchor is None else anchor
        with self._lock:
            self._rates = plan.rates_of(self.vendor)
            self._status_rates = dict(plan.rates_of(self.vendor + STATUS_STREAM))
            self._latency = plan.latency.get(self.vendor, 0.0)
            self._outages = [
                Window(start + window.start, start + window.end)
                for window in plan.outages.get(self.vendor, ())
            ]

    def script(self, key: str, *effects: Effect | None) -> None:
        """Answer the next requests of `key` with these effects in order (None: answer normally)."""
        with self._lock:
            self._scripted.setdefault(key, deque()).extend(effects)

    def outage(self, start: float, end: float) -> None:
        """Answer 503 to every request while the sandbox clock is in [start, end) (epoch seconds)."""
        with self._lock:
            self._outages.append(Window(start, end))

    def clear(self) -> None:
        """No faults at all from now on (scripts, outages, rates, latency)."""
        with self._lock:
            self._rates, self._latency, self._outages = [], 0.0, []
            self._status_rates = {}
            self._scripted.clear()

    @property
    def latency(self) -> float:
        """Seconds added to every answer."""
        return self._latency

    def status_fault(self, effect: Effect, key: str) -> bool:
        """Whether the status events of `key`'s message get `effect` (one seeded draw per key and effect)."""
        with self._lock:
            rate = self._status_rates.get(effect, 0.0)
        return bool(rate) and seeded_draw(self._seed, f"{self.vendor}{STATUS_STREAM}:{effect}", key, 0) < rate

    def decide(self, key: str) -> Effect | None:
        """The effect for this request of `key`: scripted first, then outages, then the seeded rates."""
        with self._lock:
            ordinal = self._seen[key]
            self._seen[key] += 1
            scripted = self._scripted.get(key)
            if scripted:
                return scripted.popleft()
            now = self._clock.now()
            if any(window.contains(now) for window in self._outages):
                return Effect.SERVER_ERROR
            if not self._rates:
                return None
            draw, threshold = seeded_draw(self._seed, self.vendor, key, ordinal), 0.0
            for effect, rate in self._rates:
                threshold += rate
                if draw < threshold:
                    return effect
            return None
