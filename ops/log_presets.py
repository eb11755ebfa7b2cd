"""Running a Logs Insights preset: the saved query itself on AWS, its client-side twin on an emulator.

moto's query engine runs `fields`, `sort @timestamp` and `limit` only (no `filter`, no `stats`). On
an emulated stack the preset's log groups are read whole with a query it supports, and the preset's
filter and statistics are computed here from the lines, into the same columns. What differs from
Insights: percentiles are nearest-rank (Insights' are approximations), numbers are rounded to three
decimals, and `@log` holds the group name without the account id.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from infra.log_queries import COLD_STARTS, ERRORS, NOTIFICATION, SEND_LATENCY, WAF_BLOCKS, LogQuery
from ops.logs import RAW_LINES_QUERY, LogLine, LogReadError, LogSource, nested, raw_lines, run_insights

INSIGHTS: Final = "logs-insights"
CLIENT_SIDE: Final = "client-side (emulator)"
BIN_SECONDS: Final = 300  # the presets' bin(5m)
_LIMIT: Final = re.compile(r"\|\s*limit\s+(\d+)\s*$")


@dataclass(frozen=True)
class PresetResult:
    """A preset's answer: the query that ran, where, its rows and how they were computed."""

    query: LogQuery
    query_string: str
    log_groups: list[str]
    rows: list[dict[str, str]]
    statistics: dict[str, float]
    evaluated_by: str


def run_preset(
    logs: Any,
    query: LogQuery,
    sources: Sequence[LogSource],
    *,
    identifier: str | None,
    start: datetime,
    end: datetime,
    emulated: bool,
    timeout_seconds: float,
    poll_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    on_status: Callable[[str], None] | None = None,
) -> PresetResult:
    """Run the preset on the sources' log groups between `start` and `end`; LogReadError on failure."""
    try:
        query_string = query.query_string(identifier)
    except ValueError as error:
        raise LogReadError(str(error)) from None
    groups = [source.log_group for source in sources]
    answer = run_insights(
        logs,
        groups,
        RAW_LINES_QUERY if emulated else query_string,
        start=start,
        end=end,
        timeout_seconds=timeout_seconds,
        poll_seconds=poll_seconds,
        sleep=sleep,
        on_status=on_status,
    )
    if emulated:
        rows = evaluate(query, raw_lines(answer, sources), identifier)
        return PresetResult(query, query_string, groups, rows, answer.statistics, CLIENT_SIDE)
    rows = [{key: value for key, value in row.items() if key != "@ptr"} for row in answer.rows]
    return PresetResult(query, query_string, groups, rows, answer.statistics, INSIGHTS)


def evaluate(
    query: LogQuery, lines: Sequence[LogLine], identifier: str | None = None
) -> list[dict[str, str]]:
    """The preset's rows computed from its log groups' lines (what Insights would answer)."""
    match query.preset:
        case ERRORS.preset:
            chosen = sorted((line for line in lines if _is_error(line)), key=_newest_first)
            return [_fields(line, query.columns) for line in chosen[: _limit(query)]]
        case NOTIFICATION.preset:
            wanted = identifier or ""
            chosen = sorted(
                (line for line in lines if line.correlation_id == wanted or wanted in line.message),
                key=lambda line: line.timestamp,
            )
            return [_fields(line, query.columns) for line in chosen[: _limit(query)]]
        case SEND_LATENCY.preset:
            return _send_latency(lines)
        case COLD_STARTS.preset:
            return _cold_starts(lines)
        case WAF_BLOCKS.preset:
            return _waf_blocks(lines)[: _limit(query)]
    raise LogReadError(f"the {query.preset} preset has no client-side evaluation")


def _is_error(line: LogLine) -> bool:
    if line.level in ("ERROR", "CRITICAL"):
        return True
    record = line.record or {}
    return record.get("type") == "platform.report" and nested(record, "record").get("status") != "success"


def _newest_first(line: LogLine) -> tuple[float, str]:
    return (-line.timestamp.timestamp(), line.event_id)


def _limit(query: LogQuery) -> int | None:
    found = _LIMIT.search(query.text)
    return int(found.group(1)) if found else None


def _fields(line: LogLine, columns: Sequence[str]) -> dict[str, str]:
    """The line's values of these fields (dotted paths into its JSON); absent ones omitted, like Insights."""
    row: dict[str, str] = {}
    for column in columns:
        value: Any
        if column == "@timestamp":
            value = insights_time(line.timestamp)
        elif column == "@log":
            value = line.log_group
        elif column == "@message":
            value = line.message
        else:
            value = line.record or {}
            for part in column.split("."):
                value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            row[column] = _text(value)
    return row


def _send_latency(lines: Sequence[LogLine]) -> list[dict[str, str]]:
    bins: dict[datetime, list[float]] = defaultdict(list)
    sent: dict[datetime, int] = defaultdict(int)
    for line in lines:
        record = line.record or {}
        if record.get("message") != "Notification sent":
            continue
        period = _bin(line.timestamp)
        sent[period] += 1
        seconds = record.get("sale_to_send_seconds")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            bins[period].append(float(seconds))
    rows = []
    for period in sorted(sent):
        values = sorted(bins[period])
        row = {"bin(5m)": insights_time(period), "sent": str(sent[period])}
        if values:
            row |= {
                "avg_seconds": _number(sum(values) / len(values)),
                "p50_seconds": _number(_percentile(values, 50)),
                "p90_seconds": _number(_percentile(values, 90)),
                "p99_seconds": _number(_percentile(values, 99)),
                "max_seconds": _number(values[-1]),
            }
        rows.append(row)
    return rows


def _cold_starts(lines: Sequence[LogLine]) -> list[dict[str, str]]:
    invocations: dict[tuple[datetime, str], int] = defaultdict(int)
    inits: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    memory: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    for line in lines:
        record = line.record or {}
        if record.get("type") != "platform.report":
            continue
        key = (_bin(line.timestamp), line.log_group)
        invocations[key] += 1
        metrics = nested(record, "record", "metrics")
        if isinstance(metrics.get("initDurationMs"), int | float):
            inits[key].append(float(metrics["initDurationMs"]))
        if isinstance(metrics.get("maxMemoryUsedMB"), int | float):
            memory[key].append(float(metrics["maxMemoryUsedMB"]))
    rows = []
    for key in sorted(invocations):
        period, group = key
        row = {
            "bin(5m)": insights_time(period),
            "@log": group,
            "invocations": str(invocations[key]),
            "cold_starts": str(len(inits[key])),
        }
        if inits[key]:
            row |= {
                "avg_init_ms": _number(sum(inits[key]) / len(inits[key])),
                "max_init_ms": _number(max(inits[key])),
            }
        if memory[key]:
            row["max_memory_mb"] = _number(max(memory[key]))
        rows.append(row)
    return rows


def _waf_blocks(lines: Sequence[LogLine]) -> list[dict[str, str]]:
    """Blocked requests per (web ACL rule, managed rule, client IP, country), most first."""
    blocked: dict[tuple[str | None, str | None, str | None, str | None], int] = defaultdict(int)
    for line in lines:
        record = line.record or {}
        if record.get("action") != "BLOCK":
            continue
        request = nested(record, "httpRequest")
        key = (
            _optional_text(record.get("terminatingRuleId")),
            _managed_rule(record),
            _optional_text(request.get("clientIp")),
            _optional_text(request.get("country")),
        )
        blocked[key] += 1
    rows = []
    for key, count in sorted(blocked.items(), key=lambda item: (-item[1], [part or "" for part in item[0]])):
        columns = zip(WAF_BLOCKS.columns, key, strict=False)
        row = {column: value for column, value in columns if value is not None}
        row["blocked"] = str(count)
        rows.append(row)
    return rows


def _managed_rule(record: Mapping[str, Any]) -> str | None:
    """The rule of a managed group that blocked: the first group entry with a terminating rule."""
    groups = record.get("ruleGroupList")
    for group in groups if isinstance(groups, list) else []:
        terminating = group.get("terminatingRule") if isinstance(group, dict) else None
        if isinstance(terminating, dict) and terminating.get("ruleId") is not None:
            return _text(terminating["ruleId"])
    return None


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _bin(moment: datetime) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % BIN_SECONDS, UTC)


def _percentile(ordered: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def insights_time(moment: datetime) -> str:
    """A time as Insights shows it: `2026-12-01 08:05:00.000` (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(float(value)) if isinstance(value, float) else str(value)
    return json.dumps(value, sort_keys=True)
