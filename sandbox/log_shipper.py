"""The functions' log lines into the emulator's log groups, as Lambda puts them into CloudWatch Logs.

Each invocation's output (what its thread writes to stdout and stderr while the process's output
is routed: `sandbox.worker_log.routed_output`) goes to `/aws/lambda/<function>`, in the log stream
of the function's execution environment (`YYYY/MM/DD/[version]<id>`), between the platform's
records in the function's log format:

* JSON (the fleet's functions): `platform.initStart` on a cold start, `platform.start`, and
  `platform.report` with durationMs, billedDurationMs, memorySizeMB, maxMemoryUsedMB,
  initDurationMs (cold start) and the status, when the system log level lets INFO through (at
  WARN Lambda sends none of them);
* Text: `INIT_START`, `START`, `END` and `REPORT` lines.

The init duration is the handler module's import (the sandbox's cold start); max memory used is
this process's peak, capped at the function's memory size (all functions share one process).

`LogShipper` sends them from a background thread with PutLogEvents, batched per stream every
`flush_seconds`. Nothing here may block or fail an invocation: `ship` only appends to a bounded
buffer; lines that overflow it or that the emulator refuses are dropped and counted.
"""

from __future__ import annotations

import json
import logging
import math
import resource
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from aws_clients import AwsClients
from sandbox.periodic_flush import PeriodicFlush
from sandbox.worker_log import OutputCapture, captured_output

LOGGER: Final = logging.getLogger("sandbox.logs")
RUNTIME_VERSION: Final = "python:3.12.sandbox"
FLUSH_SECONDS: Final = 0.5
MAX_BUFFERED_EVENTS: Final = 100_000
# PutLogEvents' limits: 10,000 events and 1,048,576 bytes per call (message bytes + 26 per event),
# 256 KB per event.
BATCH_EVENTS: Final = 10_000
BATCH_BYTES: Final = 1_048_576
EVENT_OVERHEAD_BYTES: Final = 26
MAX_EVENT_BYTES: Final = 262_144 - EVENT_OVERHEAD_BYTES
SYSTEM_LEVELS_WITH_REPORTS: Final = frozenset({"DEBUG", "INFO"})

LogEvent = tuple[int, str]  # (epoch milliseconds, message)


class InvocationLogSink(Protocol):
    """Where a function's invocation lines go (a `LogShipper`)."""

    def ship(self, log_group: str, log_stream: str, events: Sequence[LogEvent]) -> None:
        """Accept the lines of one invocation; must neither block nor raise."""


@dataclass(frozen=True, kw_only=True)
class LogDestination:
    """A function's log group and stream, and how Lambda formats its platform records there."""

    log_group: str
    log_stream: str
    log_format: str = "Text"  # "JSON" | "Text"
    system_log_level: str = "INFO"


def environment_stream_name(version: str, now: datetime | None = None) -> str:
    """A new execution environment's log stream: `2026/12/01/[$LATEST]0123…` (Lambda's shape)."""
    moment = now or datetime.now(UTC)
    return f"{moment:%Y/%m/%d}/[{version}]{uuid.uuid4().hex}"


@dataclass(frozen=True, kw_only=True)
class InvocationReport:
    """What the platform reports about one invocation."""

    request_id: str
    function_name: str
    version: str
    memory_size_mb: int
    started_ms: int
    ended_ms: int
    duration_ms: float
    max_memory_used_mb: int
    init_started_ms: int | None = None
    init_duration_ms: float | None = None
    status: str = "success"  # "success" | "error" | "timeout"


def platform_events(
    report: InvocationReport, destination: LogDestination
) -> tuple[list[LogEvent], list[LogEvent]]:
    """The platform's records before and after the invocation's own lines, in the destination's format."""
    if destination.log_format.upper() == "JSON":
        if destination.system_log_level.upper() not in SYSTEM_LEVELS_WITH_REPORTS:
            return [], []
        return _json_records(report)
    return _text_lines(report)


def _json_records(report: InvocationReport) -> tuple[list[LogEvent], list[LogEvent]]:
    def record(at_ms: int, kind: str, body: dict[str, Any]) -> LogEvent:
        stamp = datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="milliseconds")
        document = {"time": stamp.replace("+00:00", "Z"), "type": kind, "record": body}
        return (at_ms, json.dumps(document, separators=(",", ":")))

    before = []
    if report.init_started_ms is not None:
        before.append(
            record(
                report.init_started_ms,
                "platform.initStart",
                {
                    "initializationType": "on-demand",
                    "phase": "init",
                    "runtimeVersion": RUNTIME_VERSION,
                    "functionName": report.function_name,
                    "functionVersion": report.version,
                },
            )
        )
    before.append(
        record(
            report.started_ms, "platform.start", {"requestId": report.request_id, "version": report.version}
        )
    )
    metrics: dict[str, float | int] = {
        "durationMs": round(report.duration_ms, 2),
        "billedDurationMs": _billed(report.duration_ms),
        "memorySizeMB": report.memory_size_mb,
        "maxMemoryUsedMB": report.max_memory_used_mb,
    }
    if report.init_duration_ms is not None:
        metrics["initDurationMs"] = round(report.init_duration_ms, 2)
    after = [
        record(
            report.ended_ms,
            "platform.report",
            {"requestId": report.request_id, "metrics": metrics, "status": report.status},
        )
    ]
    return before, after


def _text_lines(report: InvocationReport) -> tuple[list[LogEvent], list[LogEvent]]:
    before = []
    if report.init_started_ms is not None:
        before.append((report.init_started_ms, f"INIT_START Runtime Version: {RUNTIME_VERSION}"))
    before.append((report.started_ms, f"START RequestId: {report.request_id} Version: {report.version}"))
    fields = [
        f"REPORT RequestId: {report.request_id}",
        f"Duration: {report.duration_ms:.2f} ms",
        f"Billed Duration: {_billed(report.duration_ms)} ms",
        f"Memory Size: {report.memory_size_mb} MB",
        f"Max Memory Used: {report.max_memory_used_mb} MB",
    ]
    if report.init_duration_ms is not None:
        fields.append(f"Init Duration: {report.init_duration_ms:.2f} ms")
    if report.status != "success":
        fields.append(f"Status: {report.status}")
    after = [
        (report.ended_ms, f"END RequestId: {report.request_id}"),
        (report.ended_ms, "\t".join(fields) + "\t"),
    ]
    return before, after


def _billed(duration_ms: float) -> int:
    return max(1, math.ceil(duration_ms))


def peak_memory_mb(limit_mb: int) -> int:
    """This process's peak resident memory in MB (Linux reports KB), capped at the function's memory."""
    return min(limit_mb, max(1, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024))


class InvocationLog:
    """One invocation's lines for a sink: its captured output between the platform's records."""

    # Used as `with InvocationLog(...) as log:` around the invocation; `handler_started` marks the end
    # of the init phase (with its duration on a cold start) and `status` is set on failure.

    def __init__(
        self,
        sink: InvocationLogSink,
        destination: LogDestination,
        *,
        request_id: str,
        function_name: str,
        version: str,
        memory_size_mb: int,
    ) -> None:
        self._sink = sink
        self._destination = destination
        self._request_id = request_id
        self._function_name = function_name
        self._version = version
        self._memory_size_mb = memory_size_mb
        self._capture: OutputCapture | None = None
        self._capturing: Any = None
        self._began_ms = _now_ms()
        self._started_ms = self._began_ms
        self._started = time.perf_counter()
        self._init_ms: float | None = None
        self.status = "success"

    def __enter__(self) -> InvocationLog:
        self._capturing = captured_output()
        self._capture = self._capturing.__enter__()
        return self

    def handler_started(self, init_duration_ms: float | None) -> None:
        """The handler is about to run; `init_duration_ms` when this invocation imported it (cold start)."""
        self._init_ms = init_duration_ms
        self._started_ms = _now_ms()
        self._started = time.perf_counter()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        duration_ms = (time.perf_counter() - self._started) * 1000
        self._capturing.__exit__(kind, error, trace)
        try:
            lines = self._capture.finish() if self._capture is not None else []
            report = InvocationReport(
                request_id=self._request_id,
                function_name=self._function_name,
                version=self._version,
                memory_size_mb=self._memory_size_mb,
                started_ms=self._started_ms,
                ended_ms=max(self._started_ms, _now_ms()),
                duration_ms=duration_ms,
                max_memory_used_mb=peak_memory_mb(self._memory_size_mb),
                init_started_ms=self._began_ms if self._init_ms is not None else None,
                init_duration_ms=self._init_ms,
                status=self.status,
            )
            before, after = platform_events(report, self._destination)
            self._sink.ship(
                self._destination.log_group, self._destination.log_stream, [*before, *lines, *after]
            )
        except Exception:  # the invocation's outcome is decided: its logs must never change it
            LOGGER.exception(
                "%s: invocation %s's log lines were not shipped", self._function_name, self._request_id
            )


@dataclass(frozen=True)
class ShipperCounters:
    """What the shipper did: events sent, events dropped (buffer full or refused), PutLogEvents calls."""

    shipped: int
    dropped: int
    calls: int


class LogShipper:
    """Puts invocation lines into the emulator's log groups from a background thread, in batches."""

    def __init__(
        self,
        clients: AwsClients,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        max_buffered: int = MAX_BUFFERED_EVENTS,
    ) -> None:
        self._clients = clients
        self._max_buffered = max_buffered
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], list[LogEvent]] = {}
        self._buffered = 0
        self._streams: set[tuple[str, str]] = set()
        self._shipped = self._dropped = self._calls = 0
        self._flushes = PeriodicFlush(self.flush, seconds=flush_seconds, name="dmd-log-shipper")
        self._drain_lock = threading.Lock()
        self._warned = False

    def start(self) -> LogShipper:
        """Start the background thread; returns self."""
        self._flushes.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is buffered, then stop the thread (idempotent)."""
        self._flushes.stop(timeout)

    def ship(self, log_group: str, log_stream: str, events: Sequence[LogEvent]) -> None:
        """Buffer one invocation's lines for their stream (never blocks on the emulator, never raises)."""
        if not events:
            return
        with self._lock:
            if self._buffered + len(events) > self._max_buffered:
                self._dropped += len(events)
                return
            self._pending.setdefault((log_group, log_stream), []).extend(events)
            self._buffered += len(events)

    def flush(self) -> None:
        """Send everything buffered now, in this thread."""
        with self._drain_lock:
            with self._lock:
                pending, self._pending, self._buffered = self._pending, {}, 0
            for (group, stream), events in pending.items():
                self._send(group, stream, events)

    @property
    def counters(self) -> ShipperCounters:
        """Events shipped and dropped, and PutLogEvents calls, so far."""
        with self._lock:
            return ShipperCounters(shipped=self._shipped, dropped=self._dropped, calls=self._calls)

    def _send(self, group: str, stream: str, events: list[LogEvent]) -> None:
        events.sort(key=lambda event: event[0])  # one call's events must be in time order (stable)
        for batch in _batches(events):
            try:
                self._ensure_stream(group, stream)
                answer = self._clients.client("logs").put_log_events(
                    logGroupName=group,
                    logStreamName=stream,
                    logEvents=[{"timestamp": stamp, "message": message} for stamp, message in batch],
                )
            except (BotoCoreError, ClientError, OSError) as error:
                self._count(dropped=len(batch), calls=1)
                self._warn(f"{len(batch)} log events for {group} dropped: {error}")
                continue
            rejected = _rejected(answer.get("rejectedLogEventsInfo") or {}, len(batch))
            self._count(shipped=len(batch) - rejected, dropped=rejected, calls=1)

    def _ensure_stream(self, group: str, stream: str) -> None:
        if (group, stream) in self._streams:
            return
        logs = self._clients.client("logs")
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        except logs.exceptions.ResourceNotFoundException:
            # Lambda creates a missing group (the program declares them; a partial graph may not).
            logs.create_log_group(logGroupName=group)
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        self._streams.add((group, stream))

    def _count(self, *, shipped: int = 0, dropped: int = 0, calls: int = 0) -> None:
        with self._lock:
            self._shipped += shipped
            self._dropped += dropped
            self._calls += calls

    def _warn(self, message: str) -> None:
        if not self._warned:  # once: a stopped emulator would otherwise repeat it every flush
            self._warned = True
            LOGGER.warning("%s (further drops are only counted)", message)


def _batches(events: Sequence[LogEvent]) -> list[list[LogEvent]]:
    batches: list[list[LogEvent]] = [[]]
    size = 0
    for stamp, text in events:
        if not text:
            continue  # PutLogEvents refuses empty messages
        data = text.encode()
        message = text
        if len(data) > MAX_EVENT_BYTES:
            data = data[:MAX_EVENT_BYTES]
            message = data.decode(errors="ignore")
        cost = len(data) + EVENT_OVERHEAD_BYTES
        if len(batches[-1]) >= BATCH_EVENTS or size + cost > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append((stamp, message))
        size += cost
    return [batch for batch in batches if batch]


def _rejected(info: dict[str, int], total: int) -> int:
    """How many events `rejectedLogEventsInfo` says were refused (too old, too new, expired)."""
    refused: set[int] = set()
    if "tooOldLogEventEndIndex" in info:
        refused.update(range(info["tooOldLogEventEndIndex"] + 1))
    if "expiredLogEventEndIndex" in info:
        refused.update(range(info["expiredLogEventEndIndex"] + 1))
    if "tooNewLogEventStartIndex" in info:
        refused.update(range(info["tooNewLogEventStartIndex"], total))
    return len(refused)


def _now_ms() -> int:
    return int(time.time() * 1000)
