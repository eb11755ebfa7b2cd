"""The workers' logs for on-call: lines by level and correlation id (tail, follow) and the Insights presets.

Lines are read with FilterLogEvents and a CloudWatch JSON filter pattern built from the options
(`{ ($.level = "ERROR") || ($.level = "CRITICAL") }`, `{ $.correlation_id = "…" }`). moto ignores
JSON patterns (it answers every line), so the same conditions are also applied to each line here:
a no-op against AWS, the filter itself against the sandbox's emulator.

Presets (infra/log_queries.py) run as Logs Insights queries (StartQuery, then GetQueryResults until
Complete, bounded). moto's query engine knows only `fields`, `sort @timestamp` and `limit`, so on an
emulated stack the preset's raw lines are fetched with a query it does support and the preset is
evaluated here (`ops.log_evaluation`): same columns, same filters, computed in Python.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from infra.log_queries import checked_identifier

# Lambda's JSON log levels and Python's/Powertools' names, by severity.
LEVEL_RANKS: Final[Mapping[str, int]] = {
    "TRACE": 5,
    "DEBUG": 10,
    "INFO": 20,
    "WARN": 30,
    "WARNING": 30,
    "ERROR": 40,
    "CRITICAL": 50,
    "FATAL": 50,
}
LEVEL_CHOICES: Final = ("debug", "info", "warning", "error", "critical")
# Keys every Powertools line carries: shown in their own columns or not at all (the rest are extras).
STANDARD_KEYS: Final = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "correlation_id",
        "xray_trace_id",
        "sampling_rate",
        "exception",
        "exception_name",
        "stack_trace",
    }
)
FILTER_PAGE_LIMIT: Final = 10_000  # FilterLogEvents' largest page
# Follow re-reads this far behind the newest line seen: lines are ingested a little late, and their
# timestamps are when they were written. Already printed lines are skipped by event id.
FOLLOW_OVERLAP_MS: Final = 10_000
QUERY_DONE: Final = frozenset({"Complete", "Failed", "Cancelled", "Timeout", "Unknown"})
# What the emulator's query engine can run: every line of the groups, oldest first.
RAW_LINES_QUERY: Final = "fields @timestamp, @message, @log, @logStream | sort @timestamp asc"


class LogReadError(Exception):
    """The logs cannot be read or queried as asked; the message is the one line to show."""


@dataclass(frozen=True)
class LogSource:
    """One worker's log group."""

    worker: str
    log_group: str


@dataclass(frozen=True)
class LogLine:
    """One log event of a worker: the raw message and, when it is a JSON object, its fields."""

    timestamp: datetime
    worker: str
    log_group: str
    log_stream: str
    event_id: str
    message: str
    record: Mapping[str, Any] | None

    @classmethod
    def of_event(cls, event: Mapping[str, Any], source: LogSource) -> LogLine:
        """A FilterLogEvents event of the source's group."""
        return cls.of(
            timestamp_ms=int(event["timestamp"]),
            source=source,
            log_stream=str(event.get("logStreamName", "")),
            event_id=str(event.get("eventId", "")),
            message=str(event.get("message", "")),
        )

    @classmethod
    def of(
        cls, *, timestamp_ms: int, source: LogSource, log_stream: str, event_id: str, message: str
    ) -> LogLine:
        """A line from its parts; the message is parsed when it is a JSON object."""
        return cls(
            timestamp=datetime.fromtimestamp(timestamp_ms / 1000, UTC),
            worker=source.worker,
            log_group=source.log_group,
            log_stream=log_stream,
            event_id=event_id,
            message=message.rstrip("\n"),
            record=_json_object(message),
        )

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the event in its group (event ids are unique per group)."""
        return (self.log_group, self.event_id)

    @property
    def level(self) -> str | None:
        """The line's level (`ERROR`, …); None for platform records, metrics and plain text."""
        value = (self.record or {}).get("level")
        return str(value).upper() if isinstance(value, str) else None

    @property
    def kind(self) -> str:
        """`log` (a level), `platform` (Lambda's start/report records), `metrics` (EMF) or `text`."""
        record = self.record
        if record is None:
            return "text"
        if isinstance(record.get("type"), str) and str(record["type"]).startswith("platform."):
            return "platform"
        if "_aws" in record:
            return "metrics"
        return "log" if self.level is not None else "text"

    @property
    def text(self) -> str:
        """The human message: the line's `message`, a platform record's summary, or the raw line."""
        record = self.record or {}
        if self.kind == "platform":
            return platform_summary(record)
        if self.kind == "metrics":
            return metrics_summary(record)
        message = record.get("message")
        if message is None:
            return self.message
        return message if isinstance(message, str) else json.dumps(message, sort_keys=True)

    @property
    def correlation_id(self) -> str | None:
        """The line's correlation id, if it has one."""
        value = (self.record or {}).get("correlation_id")
        return str(value) if value is not None else None

    @property
    def extras(self) -> dict[str, Any]:
        """The line's own keys (record id, reason, message id, …): everything but the standard ones."""
        if self.kind != "log":
            return {}
        return {key: value for key, value in (self.record or {}).items() if key not in STANDARD_KEYS}

    @property
    def exception(self) -> str | None:
        """The traceback an `exception()` log call attached."""
        value = (self.record or {}).get("exception")
        return str(value) if value else None


def _json_object(message: str) -> dict[str, Any] | None:
    text = message.strip()
    if not text.startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def nested(record: Mapping[str, Any] | None, *keys: str) -> Mapping[str, Any]:
    """The object at `keys` inside a JSON record (empty when absent or not an object)."""
    value: Any = record or {}
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def platform_summary(record: Mapping[str, Any]) -> str:
    """`platform.report: 12.3 ms, 70 MB of 256 MB, init 310.2 ms, success` and the like."""
    kind = str(record.get("type", "platform"))
    body = nested(record, "record")
    metrics = nested(record, "record", "metrics")
    parts = []
    if "durationMs" in metrics:
        parts.append(f"{metrics['durationMs']} ms")
    if "maxMemoryUsedMB" in metrics:
        parts.append(f"{metrics['maxMemoryUsedMB']} MB of {metrics.get('memorySizeMB', '?')} MB")
    if "initDurationMs" in metrics:
        parts.append(f"init {metrics['initDurationMs']} ms")
    if "status" in body:
        parts.append(str(body["status"]))
    if "version" in body:
        parts.append(f"version {body['version']}")
    return f"{kind}: {', '.join(parts)}" if parts else kind


def metrics_summary(record: Mapping[str, Any]) -> str:
    """`metrics: SendAttempts=1 SmsAccepted=1` from an EMF blob."""
    names = [
        str(metric.get("Name"))
        for directive in (record.get("_aws") or {}).get("CloudWatchMetrics", [])
        for metric in directive.get("Metrics", [])
    ]
    return "metrics: " + " ".join(f"{name}={record.get(name)}" for name in names)


# --------------------------------------------------------------------------------------------
# Lines: filters, reading, following
# --------------------------------------------------------------------------------------------


def levels_from(level: str) -> tuple[str, ...]:
    """The level names at or above `level` (`error` → ERROR, CRITICAL, FATAL); LogReadError if unknown."""
    wanted = LEVEL_RANKS.get(level.upper())
    if wanted is None:
        raise LogReadError(f"no level {level!r} (levels: {', '.join(LEVEL_CHOICES)})")
    return tuple(name for name, rank in LEVEL_RANKS.items() if rank >= wanted)


@dataclass(frozen=True)
class LineFilter:
    """Which lines to show: at or above a level, of one correlation id, with a message prefix (None: any)."""

    level: str | None = None
    correlation_id: str | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.level is not None:
            levels_from(self.level)
        if self.correlation_id is not None:
            try:
                object.__setattr__(self, "correlation_id", checked_identifier(self.correlation_id))
            except ValueError as error:
                raise LogReadError(f"--correlation-id: {error}") from None
        if self.message is not None:
            try:
                object.__setattr__(self, "message", checked_identifier(self.message).rstrip("*"))
            except ValueError as error:
                raise LogReadError(f"--message: {error}") from None

    def pattern(self) -> str:
        """The CloudWatch JSON filter pattern of these conditions ("" matches every line)."""
        terms = []
        if self.level is not None:
            terms.append(" || ".join(f'($.level = "{name}")' for name in levels_from(self.level)))
        if self.correlation_id is not None:
            terms.append(f'($.correlation_id = "{self.correlation_id}")')
        if self.message is not None:
            # A trailing `*` is CloudWatch's prefix match on a JSON string value.
            terms.append(f'($.message = "{self.message}*")')
        if not terms:
            return ""
        if len(terms) == 1:
            return "{ " + terms[0] + " }"
        return "{ " + " && ".join(f"({term})" if "||" in term else term for term in terms) + " }"

    def matches(self, line: LogLine) -> bool:
        """Whether the line meets the conditions (what the pattern asks of AWS, checked here too)."""
        if self.level is not None and line.level not in levels_from(self.level):
            return False
        if self.correlation_id is not None and line.correlation_id != self.correlation_id:
            return False
        message = (line.record or {}).get("message")
        return self.message is None or (isinstance(message, str) and message.startswith(self.message))


@dataclass(frozen=True)
class LinesRead:
    """Lines of one read, oldest first, and whether the limit cut it short."""

    lines: list[LogLine]
    truncated: bool


def read_lines(
    logs: Any,
    sources: Sequence[LogSource],
    *,
    start: datetime,
    end: datetime | None = None,
    line_filter: LineFilter = LineFilter(),
    limit: int | None = None,
) -> LinesRead:
    """The matching lines of the sources' groups between `start` and `end`, oldest first, at most `limit`."""
    lines: list[LogLine] = []
    truncated = False
    for source in sources:
        found, cut = _read_group(logs, source, start=start, end=end, line_filter=line_filter, limit=limit)
        lines.extend(found)
        truncated = truncated or cut
    lines.sort(key=lambda line: (line.timestamp, line.log_group, line.event_id))
    if limit is not None and len(lines) > limit:
        lines, truncated = lines[:limit], True
    return LinesRead(lines, truncated)


def _read_group(
    logs: Any,
    source: LogSource,
    *,
    start: datetime,
    end: datetime | None,
    line_filter: LineFilter,
    limit: int | None,
) -> tuple[list[LogLine], bool]:
    request: dict[str, Any] = {
        "logGroupName": source.log_group,
        "startTime": _epoch_ms(start),
        "filterPattern": line_filter.pattern(),
        # Deprecated in AWS (always interleaved there); emulators still need it to merge streams by time.
        "interleaved": True,
        "limit": FILTER_PAGE_LIMIT,
    }
    if end is not None:
        request["endTime"] = _epoch_ms(end)
    found: list[LogLine] = []
    while True:
        page = logs.filter_log_events(**request)
        for event in page.get("events", []):
            line = LogLine.of_event(event, source)
            if line_filter.matches(line):
                found.append(line)
                if limit is not None and len(found) >= limit:
                    return found, bool(page.get("nextToken")) or event is not page["events"][-1]
        token = page.get("nextToken")
        if not token or token == request.get("nextToken"):
            return found, False
        request["nextToken"] = token


@dataclass
class Follower:
    """Reads the lines written since its last poll, each line once (`dmd logs tail --follow`)."""

    logs: Any
    sources: Sequence[LogSource]
    line_filter: LineFilter
    start: datetime
    _seen: dict[tuple[str, str], int] = field(default_factory=dict)

    def poll(self) -> list[LogLine]:
        """New lines since the previous poll, oldest first."""
        newest = max(self._seen.values(), default=_epoch_ms(self.start) + FOLLOW_OVERLAP_MS)
        since = max(_epoch_ms(self.start), newest - FOLLOW_OVERLAP_MS)
        read = read_lines(
            self.logs,
            self.sources,
            start=datetime.fromtimestamp(since / 1000, UTC),
            line_filter=self.line_filter,
        )
        fresh = [line for line in read.lines if line.key not in self._seen]
        for line in fresh:
            self._seen[line.key] = _epoch_ms(line.timestamp)
        # Only lines inside the overlap can come back: forget the older ones.
        horizon = max(self._seen.values(), default=since) - FOLLOW_OVERLAP_MS
        self._seen = {key: stamp for key, stamp in self._seen.items() if stamp >= horizon}
        return fresh


def follow(
    follower: Follower,
    *,
    interval_seconds: float,
    polls: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LogLine]:
    """The follower's lines as they come, polling every `interval_seconds`, `polls` times (None: forever)."""
    done = 0
    while polls is None or done < polls:
        if done:
            sleep(interval_seconds)
        yield from follower.poll()
        done += 1


# --------------------------------------------------------------------------------------------
# Logs Insights
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryAnswer:
    """A finished Logs Insights query's rows (field → value, `@ptr` included) and statistics."""

    status: str
    rows: list[dict[str, str]]
    statistics: dict[str, float]


def run_insights(
    logs: Any,
    log_groups: Sequence[str],
    query_string: str,
    *,
    start: datetime,
    end: datetime,
    timeout_seconds: float,
    poll_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_status: Callable[[str], None] | None = None,
) -> QueryAnswer:
    """Start the query and poll until it is done; LogReadError when it fails or outlasts the timeout."""
    query_id = logs.start_query(
        logGroupNames=list(log_groups),
        startTime=int(start.timestamp()),
        endTime=math.ceil(end.timestamp()),  # seconds: rounded up, or the last second's lines are left out
        queryString=query_string,
    )["queryId"]
    give_up = clock() + timeout_seconds
    while True:
        answer = logs.get_query_results(queryId=query_id)
        status = str(answer.get("status", "Unknown"))
        if on_status is not None:
            on_status(status)
        if status == "Complete":
            rows = [
                {cell["field"]: str(cell.get("value", "")) for cell in row}
                for row in answer.get("results", [])
            ]
            return QueryAnswer(status, rows, dict(answer.get("statistics") or {}))
        if status in QUERY_DONE:
            raise LogReadError(f"the query ended {status} (query id {query_id})")
        if clock() >= give_up:
            _stop_quietly(logs, query_id)
            raise LogReadError(
                f"the query was still {status} after {timeout_seconds:g} s and was stopped "
                f"(query id {query_id}): narrow --since or raise --timeout"
            )
        sleep(poll_seconds)


def _stop_quietly(logs: Any, query_id: str) -> None:
    # Best effort: the emulator lacks StopQuery, and AWS stops a query on its own after 60 minutes.
    with contextlib.suppress(Exception):  # nothing more to do about a query we gave up on
        logs.stop_query(queryId=query_id)


def raw_lines(answer: QueryAnswer, sources: Sequence[LogSource]) -> list[LogLine]:
    """The lines of a `RAW_LINES_QUERY` answer (the emulator's `@timestamp` is epoch milliseconds)."""
    by_group = {source.log_group: source for source in sources}
    lines = []
    for row in answer.rows:
        # AWS names the group `account:group`; the emulator, `group` (group names hold no colon).
        source = by_group.get(row.get("@log", "").split(":", 1)[-1])
        if source is None:
            continue
        lines.append(
            LogLine.of(
                timestamp_ms=_insights_ms(row.get("@timestamp", "0")),
                source=source,
                log_stream=row.get("@logStream", ""),
                event_id=row.get("@ptr", ""),
                message=row.get("@message", ""),
            )
        )
    return lines


def _insights_ms(value: str) -> int:
    """A `@timestamp`: epoch milliseconds (the emulator) or `2026-12-01 08:00:00.000` (AWS, UTC)."""
    if value.isdigit():
        return int(value)
    return _epoch_ms(datetime.fromisoformat(value).replace(tzinfo=UTC))


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
