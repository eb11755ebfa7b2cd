"""`dmd logs`: a worker's log lines (by level or correlation id, followed live) and the runbook's presets."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

import typer
from rich.console import Console
from rich.text import Text

from infra.log_queries import LOG_QUERIES, PRESETS, LogQuery, LogQueryError, log_query
from ops.log_presets import PresetResult, run_preset
from ops.logs import (
    LEVEL_CHOICES,
    Follower,
    LineFilter,
    LogLine,
    LogReadError,
    LogSource,
    follow,
    read_lines,
)
from ops.operator_io import (
    EXIT_BAD_INPUT,
    EndpointOption,
    JsonModel,
    JsonOption,
    StackOption,
    aws_errors,
    errors_console,
    fail,
    parse_time,
    print_json,
    show,
    table,
    target_for,
)
from ops.target import Target

ALL = "all"
WAF_SOURCE = "api-waf"  # the `workers` entry of a WAF preset's --json (it reads no worker's logs)
DEFAULT_TAIL_LIMIT = 1000

app = typer.Typer(
    help="The workers' logs: tail lines by level or correlation id, run the runbook's Logs Insights queries.",
    no_args_is_help=True,
)

NameArgument = Annotated[
    str,
    typer.Argument(metavar="NAME", help="A worker (e.g. notification_send), or `all`.", show_default=False),
]
QueryNameArgument = Annotated[
    str,
    typer.Argument(
        metavar="NAME",
        help="A worker (e.g. notification_send), or `all` (the default).",
        show_default=False,
    ),
]
LevelOption = Annotated[
    str | None,
    typer.Option(help=f"Only lines at or above this level ({', '.join(LEVEL_CHOICES)}).", show_default=False),
]


class LogLineDocument(JsonModel):
    """One line of `dmd logs tail --json`."""

    timestamp: datetime
    worker: str
    log_group: str
    log_stream: str
    event_id: str
    message: str
    record: dict[str, Any] | None


class QueryDocument(JsonModel):
    """`dmd logs query --json`."""

    stack: str
    preset: str
    title: str
    workers: list[str]
    log_groups: list[str]
    query: str
    since: datetime
    until: datetime
    evaluated_by: str
    columns: list[str]
    rows: list[dict[str, str]]
    statistics: dict[str, float]


@app.command()
def tail(
    name: NameArgument,
    *,
    stack: StackOption,
    follow_lines: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")
    ] = False,
    level: LevelOption = None,
    since: Annotated[
        str, typer.Option(help="From when: a duration back (30m, 2h, 1d) or an ISO time.")
    ] = "10m",
    correlation_id: Annotated[
        str | None,
        typer.Option(help="Only the lines of one correlation id (a notification's `fan:…|notification#…`)."),
    ] = None,
    message: Annotated[
        str | None,
        typer.Option(help='Only the lines whose message starts with this text (e.g. "Notification failed").'),
    ] = None,
    limit: Annotated[
        int, typer.Option(help="At most this many lines (without --follow).", min=1)
    ] = DEFAULT_TAIL_LIMIT,
    interval: Annotated[float, typer.Option(help="Seconds between polls with --follow.", min=0.1)] = 2.0,
    max_polls: Annotated[int | None, typer.Option(hidden=True, min=1)] = None,
    json_output: JsonOption = False,
    endpoint_url: EndpointOption = None,
) -> None:
    """Print a worker's log lines, oldest first: time (UTC), worker, level, message, correlation id, extras.

    The filter runs in CloudWatch Logs as a JSON filter pattern (e.g. `{ $.level = "ERROR" }`) and is
    applied again here (the sandbox's emulator ignores JSON patterns). With `--follow` new lines are
    printed as they arrive, each once, until Ctrl-C. NAME `all` reads every worker.

    `--json` prints JSON Lines, one object per log line: timestamp, worker, logGroup, logStream,
    eventId, message (the raw line) and record (its JSON fields, or null for plain text).

    Example: dmd logs tail notification_send --stack prod1 --level error --since 30m

    Example: dmd logs tail notification_generator --stack prod1 --message "Notifiable sale" --since 1h
    """
    try:
        line_filter = LineFilter(level=level, correlation_id=correlation_id, message=message)
    except LogReadError as error:
        fail(str(error), code=EXIT_BAD_INPUT)
    start = parse_time(since, option="--since")
    target = target_for(stack, endpoint_url)
    sources = _sources(target, name)
    logs = target.clients.client("logs")
    printer = _LinePrinter(json_output=json_output, many=len(sources) > 1)
    if not follow_lines:
        with aws_errors("read the logs"):
            read = read_lines(logs, sources, start=start, line_filter=line_filter, limit=limit)
        for line in read.lines:
            printer.print(line)
        if read.truncated:
            errors_console().print(
                f"first {limit} lines shown: narrow --since or raise --limit", markup=False, highlight=False
            )
        return
    follower = Follower(logs, sources, line_filter, start)
    errors_console().print(
        f"following {', '.join(source.worker for source in sources)} (Ctrl-C to stop)", markup=False
    )
    try:
        with aws_errors("read the logs"):
            for line in follow(follower, interval_seconds=interval, polls=max_polls):
                printer.print(line)
    except KeyboardInterrupt:
        errors_console().print("stopped", markup=False)


@app.command()
def query(
    name: QueryNameArgument = ALL,
    *,
    stack: StackOption,
    preset: Annotated[str, typer.Option(help=f"The query: {', '.join(PRESETS)}.", show_default=False)],
    identifier: Annotated[
        str | None,
        typer.Option(
            "--id", help="notification: a notification key (fan:…|notification#…) or a correlation id."
        ),
    ] = None,
    since: Annotated[
        str, typer.Option(help="From when: a duration back (30m, 2h, 1d) or an ISO time.")
    ] = "1h",
    until: Annotated[
        str | None, typer.Option(help="Until when (default: now): a duration back or an ISO time.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the query to complete.", min=1)] = 120.0,
    json_output: JsonOption = False,
    endpoint_url: EndpointOption = None,
) -> None:
    """Run one of the runbook's Logs Insights queries and print its rows.

    The console has the same queries saved as dmd-workers/<env>/<preset>. Presets: errors (ERROR
    lines with message, correlation id, exception; failed or timed-out invocations), send-latency
    (notification_send: sale-to-send seconds per 5 minutes), cold-starts (invocations, cold starts
    and init duration per function per 5 minutes), notification (every line of one notification
    key or correlation id, oldest first; needs --id), waf-blocks (the requests the API's WAF blocked,
    by rule, managed rule, client IP and country, most first; reads the WAF's log group
    aws-waf-logs-…, on stacks with platform.api.waf). NAME is a worker or `all` (the default: every
    worker the preset reads; waf-blocks takes no worker). On the local stack the emulator cannot
    run Insights queries: the preset's lines are read there and the query is computed client-side
    (same columns).

    `--json`: stack, preset, title, workers, logGroups, query, since, until, evaluatedBy
    (logs-insights or client-side), columns, rows (field → value) and statistics.

    Example: dmd logs query all --stack prod1 --preset errors --since 30m

    Example: dmd logs query --stack prod1 --preset waf-blocks --since 1h
    """
    try:
        chosen = log_query(preset)
        chosen.query_string(identifier)
    except LogQueryError as error:
        fail(f"{error}{' (--id)' if chosen_needs_id(preset) else ''}", code=EXIT_BAD_INPUT)
    start = parse_time(since, option="--since")
    end = parse_time(until, option="--until") if until is not None else datetime.now(UTC)
    if end <= start:
        fail(f"--until ({end:%Y-%m-%d %H:%M:%S}Z) is not after --since ({start:%Y-%m-%d %H:%M:%S}Z)", code=2)
    target = target_for(stack, endpoint_url)
    sources = _sources(target, name, chosen)
    console = errors_console()
    with (
        aws_errors("run the query"),
        console.status(f"running {preset} on {len(sources)} log group(s)") as status,
    ):
        try:
            result = run_preset(
                target.clients.client("logs"),
                chosen,
                sources,
                identifier=identifier,
                start=start,
                end=end,
                emulated=target.emulated,
                timeout_seconds=timeout,
                on_status=lambda state: status.update(f"running {preset}: {state}"),
            )
        except LogReadError as error:
            fail(str(error))
    if json_output:
        print_json(_query_document(target, result, sources, start, end).model_dump(mode="json"))
        return
    workers = {source.log_group: source.worker for source in sources}
    show(
        table(
            f"{preset} · {target.stack} · {start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC · {result.evaluated_by}",
            [_column_title(column) for column in chosen.columns],
            [[_cell(column, row.get(column), workers) for column in chosen.columns] for row in result.rows],
        )
    )
    console.print(_summary(result), markup=False, highlight=False)


def chosen_needs_id(preset: str) -> bool:
    """Whether the preset (if it exists) takes `--id`: the hint to add to its error."""
    return any(query.preset == preset and query.takes_identifier for query in LOG_QUERIES)


def _sources(target: Target, name: str, query: LogQuery | None = None) -> list[LogSource]:
    """The log groups NAME stands for (every worker the query reads, for `all`); exit 2 for an unknown one."""
    if query is not None and query.reads == "api-waf":
        return [_waf_source(target, name, query)]
    with aws_errors("read the stack's fleet"):
        workers = target.fleet.workers
        if name == ALL:
            return [
                LogSource(worker.name, worker.log_group)
                for worker in workers.values()
                if query is None or query.applies_to(worker.name)
            ]
        worker = target.fleet.worker(name)
    if query is not None and not query.applies_to(name):
        readers = ", ".join(query.workers or ())
        fail(f"the {query.preset} query reads {readers} only, not {name}", code=EXIT_BAD_INPUT)
    return [LogSource(worker.name, worker.log_group)]


def _waf_source(target: Target, name: str, query: LogQuery) -> LogSource:
    """The API's WAF log group; exit 2 for a worker NAME, 1 when the stack has no WAF."""
    if name != ALL:
        fail(f"the {query.preset} query reads the API's WAF log group, not a worker's: drop {name}", code=2)
    waf = target.config.platform.api.waf
    if waf is None or not waf.enabled:
        fail(f"{target.stack} has no WAF in front of its API (platform.api.waf is off)")
    return LogSource(WAF_SOURCE, target.naming.api_waf_log_group_name)


class _LinePrinter:
    """Writes lines for people (one compact line each, tracebacks below) or as JSON Lines."""

    _STYLES: ClassVar[dict[str, str]] = {
        "ERROR": "bold red",
        "CRITICAL": "bold red",
        "FATAL": "bold red",
        "WARNING": "yellow",
        "WARN": "yellow",
    }

    def __init__(self, *, json_output: bool, many: bool) -> None:
        self._json = json_output
        self._many = many
        self._console = Console(highlight=False, soft_wrap=True)

    def print(self, line: LogLine) -> None:
        if self._json:
            document = LogLineDocument(
                timestamp=line.timestamp,
                worker=line.worker,
                log_group=line.log_group,
                log_stream=line.log_stream,
                event_id=line.event_id,
                message=line.message,
                record=dict(line.record) if line.record is not None else None,
            )
            sys.stdout.write(document.model_dump_json() + "\n")
            sys.stdout.flush()
            return
        label = line.level or {"platform": "PLATFORM", "metrics": "METRICS"}.get(line.kind, "-")
        style = self._STYLES.get(label, "dim" if line.kind in ("platform", "metrics") else "")
        text = Text(f"{line.timestamp:%m-%d %H:%M:%S}.{line.timestamp.microsecond // 1000:03d} ")
        if self._many:
            text.append(f"{line.worker} ", style="cyan")
        text.append(f"{label:<8} ", style=style)
        text.append(line.text, style=style if line.kind == "log" and style else "")
        if line.correlation_id:
            text.append(f"  [{line.correlation_id}]", style="magenta")
        extras = " ".join(f"{key}={_compact(value)}" for key, value in line.extras.items())
        if extras:
            text.append(f"  {extras}", style="dim")
        self._console.print(text)
        if line.exception:
            self._console.print(Text("    " + line.exception.replace("\n", "\n    "), style="dim red"))


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _column_title(column: str) -> str:
    return "worker" if column == "@log" else column.removeprefix("@")


def _cell(column: str, value: str | None, workers: dict[str, str]) -> str | None:
    """A cell for people: `@log` as the worker's name, a traceback as its last line (`--json` has it all)."""
    if column == "@log" and value is not None:
        group = value.split(":", 1)[-1]
        return workers.get(group, group)
    if column == "exception" and value:
        return value.strip().splitlines()[-1]
    if value is not None and len(value) > 300:
        return value[:297] + "…"
    return value


def _summary(result: PresetResult) -> str:
    statistics = result.statistics
    scanned = ""
    if statistics:
        matched, scanned_records = statistics.get("recordsMatched", 0), statistics.get("recordsScanned", 0)
        scanned = (
            f"; {int(matched)} records matched of {int(scanned_records)} scanned "
            f"({int(statistics.get('bytesScanned', 0))} bytes)"
        )
    return f"{len(result.rows)} rows{scanned}"


def _query_document(
    target: Target, result: PresetResult, sources: list[LogSource], start: datetime, end: datetime
) -> QueryDocument:
    return QueryDocument(
        stack=target.stack,
        preset=result.query.preset,
        title=result.query.title,
        workers=[source.worker for source in sources],
        log_groups=result.log_groups,
        query=result.query_string,
        since=start,
        until=end,
        evaluated_by=result.evaluated_by,
        columns=list(result.query.columns),
        rows=result.rows,
        statistics=result.statistics,
    )
