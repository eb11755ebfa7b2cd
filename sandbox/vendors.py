"""Fake vendor services over real HTTP on loopback: the SMS service, Bitly, the Discovery API and TM Accounts.

Each fake speaks exactly the wire contract the workers' clients use (`workers/shared/sms_service.py`,
`bitly.py`, `discovery.py`, `accounts.py`), checks the credential the client sends (the values the
sandbox puts into the stack's secrets, `VendorFakes.secret_values`), and counts what it received per
endpoint and per key (SMS reference, event id, member id) so duplicates are measurable.

Faults (`parse_faults("sms=0.3,bitly-429=0.2")`): an error rate per kind, a latency per vendor, and
outage windows on the sandbox clock. Whether a request fails is a pure function of the seed, the
vendor, the request's key and how many requests of that key came before, so a run with the same
seed and inputs fails the same requests whatever the thread interleaving.

The SMS fake accepts a message (202 + messageId, deduplicated on `reference` like the real service),
then publishes `SmsStatusEvent` records (queued → sent → delivered, or queued → failed with the
carrier's reason) after delays on the sandbox clock, through a background `StatusPublisher` whose
sink is the SMS status Kinesis stream of the local stack (`KinesisStatusSink`).
"""

from __future__ import annotations

import contextlib
import copy
import enum
import hashlib
import heapq
import json
import logging
import re
import threading
import time
import unicodedata
from abc import ABC, abstractmethod
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Final, NamedTuple
from urllib.parse import parse_qs, urlsplit

from sandbox.clock import SandboxClock

LOGGER: Final = logging.getLogger("sandbox.vendors")
HOST: Final = "127.0.0.1"
VENDORS: Final = ("sms", "bitly", "discovery", "accounts")
# The credentials the fakes accept; the sandbox writes them into the stack's vendor secrets.
SMS_API_KEY: Final = "sandbox-sms-api-key"
BITLY_TOKEN: Final = "sandbox-bitly-token"  # noqa: S105 - a sandbox fake's credential
DISCOVERY_API_KEY: Final = "sandbox-discovery-api-key"
ACCOUNTS_API_KEY: Final = "sandbox-accounts-api-key"
SMS_MESSAGES_PATH: Final = "/v1/messages"
BITLY_BASE_PATH: Final = "/v4"
DISCOVERY_BASE_PATH: Final = "/discovery/v2"
DEFAULT_HANG_SECONDS: Final = 11.0  # longer than the workers' default vendor timeout (10 s)
_E164: Final = re.compile(r"^\+[1-9]\d{6,14}$")
_MEMBER_PATH: Final = re.compile(r"^/v1/members/(?P<member_id>[^/?]+)$")
_PUBLISH_PAUSE_SECONDS: Final = 0.05
_KINESIS_PUT_LIMIT: Final = 500
_KINESIS_PUT_ATTEMPTS: Final = 5
_SHUTDOWN_SECONDS: Final = 5.0


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------


class Effect(enum.StrEnum):
    """What an injected fault does to one request."""

    SERVER_ERROR = "5xx"  # 503 Service Unavailable
    THROTTLED = "429"  # 429 with the vendor's rate-limit body
    TIMEOUT = "timeout"  # held past the client's timeout, then 504; the request is not processed
    INVALID = "invalid"  # SMS accepted, then failed by the carrier: INVALID_NUMBER
    BLOCKED = "blocked"  # SMS accepted, then failed by the carrier: BLOCKED
    OUT_OF_ORDER = "out-of-order"  # SMS accepted and delivered, statuses published last to first


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
        FaultKind("sms-invalid", "sms", Effect.INVALID, "accepted, then failed INVALID_NUMBER"),
        FaultKind("sms-blocked", "sms", Effect.BLOCKED, "accepted, then failed BLOCKED"),
        FaultKind("bitly-429", "bitly", Effect.THROTTLED, "Bitly answers 429 RATE_LIMIT_EXCEEDED"),
        FaultKind("bitly-5xx", "bitly", Effect.SERVER_ERROR, "Bitly answers 503"),
        FaultKind("discovery-5xx", "discovery", Effect.SERVER_ERROR, "Discovery answers 503"),
        FaultKind("accounts-5xx", "accounts", Effect.SERVER_ERROR, "Accounts answers 503"),
    )
}
FAULT_ALIASES: Final[Mapping[str, str]] = {"sms-5xx": "sms"}
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

    @property
    def empty(self) -> bool:
        """Whether the plan injects nothing."""
        return not (any(self.rates.values()) or any(self.latency.values()) or any(self.outages.values()))

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
        return ",".join(parts) or "none"


NO_FAULTS: Final = FaultPlan()


def parse_faults(text: str) -> FaultPlan:
    """Read `kind=rate,…`, `<vendor>-latency=SECONDS`, `<vendor>-outage=START-END` (sandbox seconds)."""
    rates: dict[str, float] = {}
    latency: dict[str, float] = {}
    outages: dict[str, list[Window]] = {}
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
        elif name.endswith(_OUTAGE_SUFFIX) and name.removesuffix(_OUTAGE_SUFFIX) in VENDORS:
            outages.setdefault(name.removesuffix(_OUTAGE_SUFFIX), []).append(_window(name, value))
        elif name in FAULT_KINDS:
            _refuse_repeat(name, name in rates)
            rates[name] = _rate(name, value)
        else:
            raise FaultSpecError(f"unknown fault {name!r}; {fault_vocabulary()}")
    for vendor in VENDORS:
        total = sum(rate for kind, rate in rates.items() if FAULT_KINDS[kind].vendor == vendor)
        if total > 1:
            named = ", ".join(
                f"{kind}={rate:g}" for kind, rate in rates.items() if FAULT_KINDS[kind].vendor == vendor
            )
            raise FaultSpecError(f"the {vendor} fault rates add up to {total:g} (> 1): {named}")
    return FaultPlan(
        rates=rates, latency=latency, outages={vendor: tuple(found) for vendor, found in outages.items()}
    )


def fault_vocabulary() -> str:
    """What `parse_faults` accepts, in one line (for error messages and `--help`)."""
    return (
        f"known kinds: {', '.join(FAULT_KINDS)} (KIND=RATE, 0..1); "
        f"per vendor ({', '.join(VENDORS)}): VENDOR-latency=SECONDS, VENDOR-outage=START-END "
        "(sandbox seconds after the run starts)"
    )


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


def _draw(seed: int, vendor: str, key: str, ordinal: int) -> float:
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
        self._latency = 0.0
        self._outages: list[Window] = []  # sandbox epoch seconds
        self._scripted: dict[str, deque[Effect | None]] = {}
        self._seen: Counter[str] = Counter()

    def configure(self, plan: FaultPlan, *, anchor: float | None = None) -> None:
        """Apply the plan's part for this vendor; outage windows count from `anchor` (default: now)."""
        start = self._clock.now() if anchor is None else anchor
        with self._lock:
            self._rates = plan.rates_of(self.vendor)
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
            self._scripted.clear()

    @property
    def latency(self) -> float:
        """Seconds added to every answer."""
        return self._latency

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
            draw, threshold = _draw(self._seed, self.vendor, key, ordinal), 0.0
            for effect, rate in self._rates:
                threshold += rate
                if draw < threshold:
                    return effect
            return None


# --------------------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------------------


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

    def of_key(self, endpoint: str, key: str) -> int:
        """How many requests of `endpoint` named `key`."""
        with self._lock:
            return self.by_key[(endpoint, key)]

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


# --------------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VendorRequest:
    """One request as a fake received it (header names in lower case)."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON; None when empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass(frozen=True)
class Reply:
    """An answer: status, JSON body, extra headers, and real seconds to hold it before answering."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    hold_seconds: float = 0.0


class VendorServer(ABC):
    """A fake vendor on 127.0.0.1: a ThreadingHTTPServer whose `answer` turns requests into replies."""

    vendor: ClassVar[str]

    def __init__(self, *, port: int = 0, faults: VendorFaults) -> None:
        self.faults = faults
        self.counters = VendorCounters()
        self._server = ThreadingHTTPServer((HOST, port), _handler_for(self))
        self._server.daemon_threads = True  # a held (timeout) answer never blocks shutdown
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the fake listens on."""
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL the workers are configured with."""
        return self.origin

    def start(self) -> None:
        """Serve on a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name=f"vendor:{self.vendor}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port; idempotent."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._server.shutdown()
            thread.join(_SHUTDOWN_SECONDS)
        self._server.server_close()

    @abstractmethod
    def answer(self, request: VendorRequest) -> Reply:
        """The reply to one request (counted and faulted by the subclass)."""

    def _latency(self) -> None:
        if self.faults.latency:
            time.sleep(self.faults.latency)


def _handler_for(server: VendorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm the body would wait for the
        # client's delayed ACK (40 ms per request on Linux).
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = VendorRequest(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
            )
            try:
                reply = server.answer(request)
            except Exception:  # a fake's bug must answer 500, not hang the worker's request
                LOGGER.exception("%s fake failed on %s %s", server.vendor, self.command, parts.path)
                reply = Reply(500, {"message": "fake vendor error"})
            if reply.hold_seconds:
                time.sleep(reply.hold_seconds)
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        do_GET = do_POST = _serve  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:
            """No access log on stderr."""

    return Handler


def _unavailable(body: Any, hold_seconds: float = 0.0, status: int = 503) -> Reply:
    return Reply(status, body, hold_seconds=hold_seconds)


# --------------------------------------------------------------------------------------------------
# SMS service
# --------------------------------------------------------------------------------------------------


class SmsStatusDelays(NamedTuple):
    """Sandbox seconds from acceptance to each status event (jittered ±25 % per message, seeded)."""

    queued: float = 1.0
    sent: float = 3.0
    delivered: float = 6.0


DEFAULT_DELAYS: Final = SmsStatusDelays()
StatusSink = Callable[[Sequence[Mapping[str, Any]]], None]


class StatusPublisher:
    """Publishes scheduled SMS status events to a sink when the sandbox clock reaches their due time."""

    def __init__(self, clock: SandboxClock, sink: StatusSink | None = None) -> None:
        self._clock = clock
        self._sink = sink
        self._heap: list[tuple[float, int, dict[str, Any]]] = []
        self._order = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.published: Counter[str] = Counter()
        self.history: dict[str, list[str]] = {}  # reference → statuses in the order published
        self.errors = 0

    def attach(self, sink: StatusSink) -> None:
        """Publish to `sink` from now on (events scheduled before wait for it)."""
        with self._condition:
            self._sink = sink
            self._condition.notify_all()

    def schedule(self, due: float, event: Mapping[str, Any]) -> None:
        """Publish `event` once the sandbox clock reaches `due`."""
        with self._condition:
            heapq.heappush(self._heap, (due, self._order, dict(event)))
            self._order += 1
            self._condition.notify_all()

    @property
    def pending(self) -> int:
        """Events scheduled but not yet published."""
        with self._condition:
            return len(self._heap)

    def publish_due(self) -> int:
        """Publish every event due now (in due order); how many were published."""
        with self._condition:
            sink = self._sink
            now = self._clock.now()
            if sink is None:
                return 0
            due: list[dict[str, Any]] = []
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap)[2])
        if not due:
            return 0
        stamp = _iso_millis(datetime.now(UTC))
        for event in due:
            event.setdefault("timestamp", stamp)
        try:
            sink(due)
        except Exception:  # the stream may be briefly unavailable: keep the events, try again
            self.errors += 1
            LOGGER.exception("SMS status events could not be published; retrying")
            with self._condition:
                for event in due:
                    heapq.heappush(self._heap, (now, self._order, event))
                    self._order += 1
            return 0
        self.published.update(str(event.get("status")) for event in due)
        with self._condition:
            for event in due:
                self.history.setdefault(str(event.get("reference")), []).append(str(event.get("status")))
        return len(due)

    def start(self) -> None:
        """Publish on a daemon thread."""
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="vendor:sms-status", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop publishing (what is still scheduled stays unpublished); idempotent."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(_SHUTDOWN_SECONDS)

    def _run(self) -> None:
        while not self._stopping:
            if self.publish_due():
                # The service writes in batches: what falls due meanwhile goes in the next put.
                time.sleep(_PUBLISH_PAUSE_SECONDS * 2)
                continue
            with self._condition:
                if not self._stopping:
                    self._condition.wait(self._pause())

    def _pause(self) -> float:
        # Capped, so a jump of the sandbox clock is noticed within a fifth of a second.
        pause = _PUBLISH_PAUSE_SECONDS * 4
        if self._heap and self._sink is not None:
            pause = min(pause, self._clock.real_seconds(self._heap[0][0] - self._clock.now()))
        return max(pause, 0.001)


class KinesisStatusSink:
    """Writes SMS status events to a Kinesis stream, partitioned by reference (per-message order kept)."""

    def __init__(self, kinesis: Any, stream_name: str) -> None:
        self._kinesis = kinesis
        self.stream_name = stream_name

    def __call__(self, events: Sequence[Mapping[str, Any]]) -> None:
        records = [
            {
                "Data": json.dumps(event, separators=(",", ":")).encode(),
                "PartitionKey": str(event.get("reference") or event.get("messageId") or "sms"),
            }
            for event in events
        ]
        for start in range(0, len(records), _KINESIS_PUT_LIMIT):
            pending = records[start : start + _KINESIS_PUT_LIMIT]
            for _ in range(_KINESIS_PUT_ATTEMPTS):
                answer = self._kinesis.put_records(StreamName=self.stream_name, Records=pending)
                if not answer.get("FailedRecordCount"):
                    break
                first = next(index for index, item in enumerate(answer["Records"]) if item.get("ErrorCode"))
                pending = pending[first:]  # in order, so no status overtakes an earlier one
            else:
                raise RuntimeError(f"{len(pending)} SMS status events not written to {self.stream_name}")


def status_event(
    *,
    message_id: str,
    reference: str,
    status: str,
    at: datetime | None,
    error_code: str | None = None,
    error_reason: str | None = None,
) -> dict[str, Any]:
    """An `SmsStatusEvent` as the SMS service writes it (camelCase JSON); no `at`: stamped when published."""
    event: dict[str, Any] = {"messageId": message_id, "reference": reference, "status": status}
    if at is not None:
        event["timestamp"] = _iso_millis(at)
    if error_code is not None:
        event["errorCode"] = error_code
    if error_reason is not None:
        event["errorReason"] = error_reason
    return event


_CARRIER_FAILURES: Final[Mapping[Effect, tuple[str, str]]] = {
    Effect.INVALID: ("INVALID_NUMBER", "the number is not in service"),
    Effect.BLOCKED: ("BLOCKED", "the carrier blocked the message"),
}


class SmsService(VendorServer):
    """The internal SMS service: `POST /v1/messages` (x-api-key), 202 + messageId, status events later."""

    vendor = "sms"

    def __init__(
        self,
        *,
        port: int = 0,
        faults: VendorFaults,
        clock: SandboxClock,
        publisher: StatusPublisher,
        api_key: str = SMS_API_KEY,
        delays: SmsStatusDelays = DEFAULT_DELAYS,
        hang_seconds: float = DEFAULT_HANG_SECONDS,
        seed: int = 0,
    ) -> None:
        super().__init__(port=port, faults=faults)
        self.api_key = api_key
        self.delays = delays
        self.hang_seconds = hang_seconds
        self.publisher = publisher
        self.unassigned_numbers: set[str] = set()
        self._clock = clock
        self._seed = seed
        self._state = threading.Lock()
        self.message_ids: dict[str, str] = {}
        self.accepted: Counter[str] = Counter()  # 202 answers per reference
        self.messages: dict[str, dict[str, Any]] = {}  # reference → the request it first accepted

    def accepted_for(self, reference: str) -> int:
        """How many POSTs of this reference were answered 202 (what a vendor without dedup would send)."""
        with self._state:
            return self.accepted[reference]

    def requests_for(self, reference: str) -> int:
        """How many POSTs named this reference, whatever the answer."""
        return self.counters.of_key(SMS_MESSAGES_PATH, reference)

    def duplicates(self) -> dict[str, int]:
        """References accepted more than once, with how many extra times."""
        with self._state:
            return {reference: count - 1 for reference, count in self.accepted.items() if count > 1}

    def answer(self, request: VendorRequest) -> Reply:
        if request.method != "POST" or request.path != SMS_MESSAGES_PATH:
            return Reply(404, {"reason": "NOT_FOUND", "message": f"no route {request.method} {request.path}"})
        body = request.json()
        body = body if isinstance(body, dict) else {}
        reference = body.get("reference")
        key = reference if isinstance(reference, str) and reference else None
        reply, fault = self._decide(request, body, key)
        self.counters.record(SMS_MESSAGES_PATH, key, reply.status, fault)
        return reply

    def _decide(
        self, request: VendorRequest, body: Mapping[str, Any], key: str | None
    ) -> tuple[Reply, Effect | None]:
        if request.headers.get("x-api-key") != self.api_key:
            return Reply(403, {"reason": "FORBIDDEN", "message": "Invalid API key"}), None
        to, text = body.get("to"), body.get("body")
        if key is None or not isinstance(text, str) or not text:
            return Reply(
                400, {"reason": "INVALID_REQUEST", "message": "to, body and reference are required"}
            ), None
        self._latency()
        fault = self.faults.decide(key)
        if fault is Effect.SERVER_ERROR:
            return _unavailable({"reason": "SERVICE_UNAVAILABLE", "message": "Service Unavailable"}), fault
        if fault is Effect.THROTTLED:
            return Reply(429, {"reason": "RATE_LIMITED", "message": "Too many requests"}), fault
        if fault is Effect.TIMEOUT:
            return _unavailable({"message": "Gateway Timeout"}, self.hang_seconds, status=504), fault
        if not isinstance(to, str) or not _E164.match(to) or to in self.unassigned_numbers:
            reason = {"reason": "INVALID_NUMBER", "message": f"{to!r} is not a valid, assigned number"}
            return Reply(400, reason), None
        return Reply(202, {"messageId": self._accept(key, body, fault)}), fault

    def _accept(self, reference: str, body: Mapping[str, Any], fault: Effect | None) -> str:
        with self._state:
            self.accepted[reference] += 1
            first = reference not in self.message_ids
            if first:
                self.message_ids[reference] = f"SM{len(self.message_ids) + 1:010d}"
                self.messages[reference] = dict(body)
            message_id = self.message_ids[reference]
        if first:  # the service deduplicates on reference: one message, one status history
            failure = _CARRIER_FAILURES.get(fault) if fault else None
            self._schedule_statuses(reference, message_id, failure, reverse=fault is Effect.OUT_OF_ORDER)
        return message_id

    def _schedule_statuses(
        self, reference: str, message_id: str, failure: tuple[str, str] | None, *, reverse: bool = False
    ) -> None:
        accepted_at = self._clock.now()
        jitter = 0.75 + 0.5 * _draw(self._seed, "sms-status", reference, 0)
        steps: list[tuple[str, float, tuple[str, str] | None]] = [("queued", self.delays.queued, None)]
        if failure is None:
            steps += [("sent", self.delays.sent, None), ("delivered", self.delays.delivered, None)]
        else:
            steps.append(("failed", self.delays.sent, failure))
        delays = [delay for _, delay, _ in steps]
        if reverse:  # the last status is published first, the first last
            steps = [
                (status, delay, error)
                for (status, _, error), delay in zip(reversed(steps), delays, strict=True)
            ]
        for status, delay, error in steps:
            due = accepted_at + delay * jitter
            # Stamped when published, with the vendor's wall clock (the workers' clock too).
            self.publisher.schedule(
                due,
                status_event(
                    message_id=message_id,
                    reference=reference,
                    status=status,
                    at=None,
                    error_code=error[0] if error else None,
                    error_reason=error[1] if error else None,
                ),
            )


# --------------------------------------------------------------------------------------------------
# Bitly
# --------------------------------------------------------------------------------------------------


def bitly_key(long_url: str) -> str:
    """What Bitly requests are counted and faulted by: the long URL's last path segment (the event id)."""
    return urlsplit(long_url).path.rstrip("/").rsplit("/", 1)[-1] or long_url


class Bitly(VendorServer):
    """Bitly v4 `POST /v4/shorten` (bearer token): 201 for a new link, 200 and the same link after."""

    vendor = "bitly"
    shorten_path: ClassVar[str] = f"{BITLY_BASE_PATH}/shorten"

    def __init__(self, *, port: int = 0, faults: VendorFaults, token: str = BITLY_TOKEN) -> None:
        super().__init__(port=port, faults=faults)
        self.token = token
        self.links: dict[tuple[str | None, str], str] = {}
        self._state = threading.Lock()

    @property
    def url(self) -> str:
        return f"{self.origin}{BITLY_BASE_PATH}"

    def calls_for(self, event_id: str) -> int:
        """How many shorten calls named this event (see `bitly_key`)."""
        return self.counters.of_key(self.shorten_path, event_id)

    def answer(self, request: VendorRequest) -> Reply:
        if request.method != "POST" or request.path != self.shorten_path:
            return Reply(404, {"message": "NOT_FOUND", "resource": "bitlinks", "description": "Not found"})
        body = request.json()
        long_url = body.get("long_url") if isinstance(body, dict) else None
        key = bitly_key(long_url) if isinstance(long_url, str) else None
        reply, fault = self._decide(request, body if isinstance(body, dict) else {}, long_url, key)
        self.counters.record(self.shorten_path, key, reply.status, fault)
        return reply

    def _decide(
        self, request: VendorRequest, body: Mapping[str, Any], long_url: Any, key: str | None
    ) -> tuple[Reply, Effect | None]:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(
                403, {"message": "FORBIDDEN", "resource": "bitlinks", "description": "Forbidden"}
            ), None
        if not isinstance(long_url, str) or not long_url.startswith(("http://", "https://")) or key is None:
            invalid = {
                "message": "INVALID_ARG_LONG_URL",
                "resource": "bitlinks",
                "description": "The value provided is invalid.",
                "errors": [{"field": "long_url", "error_code": "invalid"}],
            }
            return Reply(400, invalid), None
        self._latency()
        fault = self.faults.decide(key)
        if fault is Effect.THROTTLED:
            limited = {
                "message": "RATE_LIMIT_EXCEEDED",
                "resource": "bitlinks",
                "description": "Rate limited",
            }
            return Reply(429, limited), fault
        if fault is not None:
            return _unavailable({"message": "TEMPORARILY_UNAVAILABLE", "resource": "bitlinks"}), fault
        domain = str(body.get("domain") or "bit.ly")
        group = body.get("group_guid") if isinstance(body.get("group_guid"), str) else None
        with self._state:
            existing = (group, long_url) in self.links
            if not existing:
                digest = hashlib.sha256(f"{group}|{long_url}".encode()).hexdigest()[:7]
                self.links[(group, long_url)] = digest
            bitlink_id = f"{domain}/{self.links[(group, long_url)]}"
        link = {
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "id": bitlink_id,
            "link": f"https://{bitlink_id}",
            "custom_bitlinks": [],
            "long_url": long_url,
            "archived": False,
            "tags": [],
            "deeplinks": [],
            "references": {"group": f"https://api-ssl.bitly.com/v4/groups/{group or 'Bsandbox'}"},
        }
        return Reply(200 if existing else 201, link), None


# --------------------------------------------------------------------------------------------------
# Discovery API v2
# --------------------------------------------------------------------------------------------------


class Discovery(VendorServer):
    """Discovery API v2 `GET /discovery/v2/events/{id}.json?apikey=…`: the seeded events, 404 otherwise."""

    vendor = "discovery"

    def __init__(self, *, port: int = 0, faults: VendorFaults, api_key: str = DISCOVERY_API_KEY) -> None:
        super().__init__(port=port, faults=faults)
        self.api_key = api_key
        self._events: dict[str, dict[str, Any]] = {}
        self._state = threading.Lock()

    @property
    def url(self) -> str:
        return f"{self.origin}{DISCOVERY_BASE_PATH}"

    def add(self, payload: Mapping[str, Any]) -> None:
        """Serve this event payload under its `id` (a copy)."""
        with self._state:
            self._events[str(payload["id"])] = copy.deepcopy(dict(payload))

    def event_ids(self) -> list[str]:
        """The ids of the events served."""
        with self._state:
            return list(self._events)

    def calls_for(self, event_id: str) -> int:
        """How many event requests named this id."""
        return self.counters.of_key("events", event_id)

    def answer(self, request: VendorRequest) -> Reply:
        prefix, suffix = f"{DISCOVERY_BASE_PATH}/events/", ".json"
        if request.method != "GET" or not (request.path.startswith(prefix) and request.path.endswith(suffix)):
            return Reply(404, {"errors": [{"code": "DIS1001", "detail": f"No route for {request.path}"}]})
        event_id = request.path[len(prefix) : -len(suffix)]
        reply, fault = self._decide(request, event_id)
        self.counters.record("events", event_id, reply.status, fault)
        return reply

    def _decide(self, request: VendorRequest, event_id: str) -> tuple[Reply, Effect | None]:
        if request.query.get("apikey") != [self.api_key]:
            invalid = {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}
            return Reply(401, {"fault": invalid}), None
        self._latency()
        fault = self.faults.decide(event_id)
        if fault is not None:
            return _unavailable({"fault": {"faultstring": "Service temporarily unavailable"}}), fault
        with self._state:
            payload = copy.deepcopy(self._events.get(event_id))
        if payload is None:
            detail = f"Resource not found with provided criteria (locale=en-us, id={event_id})"
            not_found = {"errors": [{"code": "DIS1004", "detail": detail, "status": "404"}]}
            return Reply(404, not_found), None
        return Reply(200, payload), None


@dataclass(frozen=True, kw_only=True)
class DiscoverySale:
    """A sale of a seeded Discovery event: the public onsale (no name needed) or a named presale."""

    starts: datetime
    name: str | None = None  # None: the public onsale
    ends: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class DiscoveryVenue:
    """Where a seeded event takes place."""

    id: str
    name: str
    city: str
    state_code: str
    state: str
    country_code: str
    country: str
    timezone: str
    postal_code: str = ""


def discovery_event(
    *,
    event_id: str,
    name: str,
    artist_id: str,
    artist: str,
    venue: DiscoveryVenue,
    starts: datetime,
    sales: Iterable[DiscoverySale],
    locale: str = "en-us",
    segment: str = "Music",
    genre: str = "Rock",
) -> dict[str, Any]:
    """A Discovery v2 event payload shaped like the real API's (`GET /discovery/v2/events/{id}.json`)."""
    domain = "www.ticketmaster.ca" if venue.country_code == "CA" else "www.ticketmaster.com"
    plain = unicodedata.normalize("NFKD", f"{name} {venue.city} {venue.state}").encode("ascii", "ignore")
    slug = re.sub(r"[^a-z0-9]+", "-", plain.decode().lower()).strip("-")
    local = starts.astimezone(_zone(venue.timezone))
    listed = list(sales)
    public = next((sale for sale in listed if sale.name is None), None)
    segment_ids = {
        "Music": "KZFzniwnSyZfZ7v7nJ",
        "Arts & Theatre": "KZFzniwnSyZfZ7v7na",
        "Sports": "KZFzniwnSyZfZ7v7nE",
    }
    classification = {
        "primary": True,
        "segment": {"id": segment_ids.get(segment, "KZFzniwnSyZfZ7v7nl"), "name": segment},
        "genre": {"id": "KnvZfZ7vAeA", "name": genre},
        "subGenre": {"id": "KZazBEonSMnZfZ7v6F1", "name": "Pop"},
        "family": False,
    }
    sales_block: dict[str, Any] = {
        "presales": [
            {
                "startDateTime": _iso(sale.starts),
                "endDateTime": _iso(sale.ends or starts),
                "name": sale.name,
            }
            for sale in listed
            if sale.name is not None
        ]
    }
    if public is not None:
        sales_block["public"] = {
            "startDateTime": _iso(public.starts),
            "startTBD": False,
            "startTBA": False,
            "endDateTime": _iso(public.ends or starts),
        }
    return {
        "name": name,
        "type": "event",
        "id": event_id,
        "test": False,
        "url": f"https://{domain}/{slug}/event/{event_id}",
        "locale": locale,
        "images": [
            {
                "ratio": "16_9",
                "url": f"https://s1.ticketm.net/dam/a/{event_id.lower()}_RETINA_PORTRAIT_16_9.jpg",
                "width": 640,
                "height": 360,
                "fallback": False,
            }
        ],
        "sales": sales_block,
        "dates": {
            "start": {
                "localDate": local.date().isoformat(),
                "localTime": local.strftime("%H:%M:%S"),
                "dateTime": _iso(starts),
                "dateTBD": False,
                "dateTBA": False,
                "timeTBA": False,
                "noSpecificTime": False,
            },
            "timezone": venue.timezone,
            "status": {"code": "onsale"},
            "spanMultipleDays": False,
        },
        "classifications": [classification],
        "promoter": {
            "id": "653",
            "name": "LIVE NATION MUSIC",
            "description": "LIVE NATION MUSIC / NTL / USA",
        },
        "_links": {"self": {"href": f"{DISCOVERY_BASE_PATH}/events/{event_id}?locale={locale}"}},
        "_embedded": {
            "venues": [
                {
                    "name": venue.name,
                    "type": "venue",
                    "id": venue.id,
                    "test": False,
                    "locale": locale,
                    "postalCode": venue.postal_code,
                    "timezone": venue.timezone,
                    "city": {"name": venue.city},
                    "state": {"name": venue.state, "stateCode": venue.state_code},
                    "country": {"name": venue.country, "countryCode": venue.country_code},
                }
            ],
            "attractions": [
                {
                    "name": artist,
                    "type": "attraction",
                    "id": artist_id,
                    "test": False,
                    "locale": locale,
                    "classifications": [classification],
                }
            ],
        },
    }


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _iso_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------------
# TM Accounts
# --------------------------------------------------------------------------------------------------


SAMPLE_MEMBERS: Final[tuple[dict[str, Any], ...]] = (
    {
        "memberId": "sandbox-member-1",
        "firstName": "Ava",
        "lastName": "Martin",
        "emails": [{"address": "ava.martin@sandbox.example.com", "primary": True}],
        "phones": [{"number": "(312) 555-0142", "countryCode": "US", "primary": True}],
        "countryCode": "US",
        "locale": "en_US",
    },
    {
        "memberId": "sandbox-member-2",
        "firstName": "Élodie",
        "lastName": "Tremblay",
        "emails": [{"address": "Elodie.Tremblay@Sandbox.Example.com", "primary": True}],
        "phones": [{"number": "+1 514 555 0199", "primary": True}],
        "countryCode": "CA",
        "locale": "fr_CA",
    },
)


class Accounts(VendorServer):
    """TM Accounts `GET /v1/members/{id}` behind an API key: the seeded member documents, 404 otherwise."""

    vendor = "accounts"

    def __init__(self, *, port: int = 0, faults: VendorFaults, api_key: str = ACCOUNTS_API_KEY) -> None:
        super().__init__(port=port, faults=faults)
        self.api_key = api_key
        self._members: dict[str, dict[str, Any]] = {}
        self._state = threading.Lock()
        for member in SAMPLE_MEMBERS:
            self.add(member)

    def add(self, document: Mapping[str, Any]) -> None:
        """Serve this member document under its `memberId`."""
        with self._state:
            self._members[str(document["memberId"])] = copy.deepcopy(dict(document))

    def answer(self, request: VendorRequest) -> Reply:
        match = _MEMBER_PATH.match(request.path)
        if request.method != "GET" or match is None:
            return Reply(404, {"message": "Not Found"})
        member_id = match["member_id"]
        reply, fault = self._decide(request, member_id)
        self.counters.record("members", member_id, reply.status, fault)
        return reply

    def _decide(self, request: VendorRequest, member_id: str) -> tuple[Reply, Effect | None]:
        if request.headers.get("x-api-key") != self.api_key:
            return Reply(403, {"message": "Forbidden"}), None
        self._latency()
        fault = self.faults.decide(member_id)
        if fault is not None:
            return _unavailable({"message": "Service Unavailable"}), fault
        with self._state:
            member = copy.deepcopy(self._members.get(member_id))
        if member is None:
            return Reply(404, {"message": f"member {member_id} not found"}), None
        return Reply(200, member), None


# --------------------------------------------------------------------------------------------------
# All four
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VendorPorts:
    """Where the fakes listen: the ports of the stack's vendor URLs, or 0 for free ones."""

    sms: int = 0
    bitly: int = 0
    discovery: int = 0
    accounts: int = 0

    @classmethod
    def of_urls(cls, *, sms: str, bitly: str, discovery: str, accounts: str) -> VendorPorts:
        """The ports the stack's vendor URLs name (e.g. Pulumi.local.yaml's 127.0.0.1:4571…)."""

        def port(url: str) -> int:
            parts = urlsplit(url)
            if parts.hostname not in (HOST, "localhost") or parts.port is None:
                raise ValueError(
                    f"vendor URL {url} is not on {HOST}:PORT: the sandbox's fakes cannot serve it"
                )
            return parts.port

        return cls(sms=port(sms), bitly=port(bitly), discovery=port(discovery), accounts=port(accounts))


# Function environment variable → the fake whose URL it holds.
URL_VARIABLES: Final[Mapping[str, str]] = {
    "SMS_SERVICE_URL": "sms",
    "BITLY_URL": "bitly",
    "DISCOVERY_URL": "discovery",
    "ACCOUNTS_URL": "accounts",
}


class VendorFakes:
    """The four fakes, their faults and the SMS status publisher; `with VendorFakes(clock=…) as fakes:`."""

    def __init__(
        self,
        *,
        clock: SandboxClock,
        ports: VendorPorts = VendorPorts(),
        faults: FaultPlan = NO_FAULTS,
        seed: int = 0,
        delays: SmsStatusDelays = DEFAULT_DELAYS,
        hang_seconds: float = DEFAULT_HANG_SECONDS,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.faults = {vendor: VendorFaults(vendor, clock=clock, seed=seed) for vendor in VENDORS}
        self.publisher = StatusPublisher(clock)
        self.sms = SmsService(
            port=ports.sms,
            faults=self.faults["sms"],
            clock=clock,
            publisher=self.publisher,
            delays=delays,
            hang_seconds=hang_seconds,
            seed=seed,
        )
        self.bitly = Bitly(port=ports.bitly, faults=self.faults["bitly"])
        self.discovery = Discovery(port=ports.discovery, faults=self.faults["discovery"])
        self.accounts = Accounts(port=ports.accounts, faults=self.faults["accounts"])
        self.configure_faults(faults)

    @property
    def servers(self) -> tuple[VendorServer, ...]:
        """The four fakes."""
        return (self.sms, self.bitly, self.discovery, self.accounts)

    def start(self) -> VendorFakes:
        """Serve all four and start the status publisher."""
        for server in self.servers:
            server.start()
        self.publisher.start()
        return self

    def stop(self) -> None:
        """Stop the publisher and the servers; idempotent."""
        self.publisher.stop()
        for server in self.servers:
            server.stop()

    def __enter__(self) -> VendorFakes:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def configure_faults(self, plan: FaultPlan, *, anchor: float | None = None) -> None:
        """Apply a fault plan to every vendor (outage windows from `anchor`, default now)."""
        self.plan = plan
        for faults in self.faults.values():
            faults.configure(plan, anchor=anchor)

    def clear_faults(self) -> None:
        """No faults anywhere from now on."""
        self.plan = FaultPlan()
        for faults in self.faults.values():
            faults.clear()

    def urls(self) -> dict[str, str]:
        """Each vendor's base URL, by fake name."""
        return {
            "sms": self.sms.url,
            "bitly": self.bitly.url,
            "discovery": self.discovery.url,
            "accounts": self.accounts.url,
        }

    def environment_overrides(self) -> dict[str, str]:
        """The functions' vendor URL variables pointed at these fakes (for fakes on free ports)."""
        urls = self.urls()
        return {variable: urls[vendor] for variable, vendor in URL_VARIABLES.items()}

    @staticmethod
    def secret_values() -> dict[str, dict[str, str]]:
        """What each vendor secret must hold for the fakes to accept it, by the secret name's last segment."""
        return {
            "sms-service": {"apiKey": SMS_API_KEY},
            "bitly": {"token": BITLY_TOKEN},
            "discovery": {"apiKey": DISCOVERY_API_KEY},
            "accounts": {"apiKey": ACCOUNTS_API_KEY},
        }

    def counters(self) -> dict[str, Any]:
        """Every fake's counts, plus the SMS acceptances and published statuses."""
        report = {server.vendor: server.counters.snapshot() for server in self.servers}
        report["sms"]["accepted"] = sum(self.sms.accepted.values())
        report["sms"]["acceptedReferences"] = len(self.sms.accepted)
        report["sms"]["duplicateAcceptances"] = sum(self.sms.duplicates().values())
        report["sms"]["statusEventsPublished"] = dict(self.publisher.published)
        report["sms"]["statusEventsPending"] = self.publisher.pending
        return report
