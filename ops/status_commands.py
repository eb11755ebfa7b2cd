"""`dmd status`: the stack's health on one screen, where every incident starts (runbook: status)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ops.dead_letters import HeldQueueStatus
from ops.operator_io import (
    EXIT_BAD_INPUT,
    JsonOption,
    StackOption,
    aws_errors,
    fail,
    format_age,
    parse_time,
    print_json,
    progress,
    show,
    target_for,
)
from ops.status import ReleaseSummary, StackStatus, WorkerStatus, collect_status
from ops.target import Target

MIN_WINDOW: Final = timedelta(minutes=1)
WORKER_COLUMNS: Final = (
    "worker",
    "trigger",
    "invocations",
    "errors",
    "throttles",
    "failed records",
    "iterator age max",
    "queue depth",
    "queue oldest",
    "alarms",
)
QUEUE_COLUMNS: Final = ("queue", "worker", "kind", "depth", "oldest")
ALARM_COLUMNS: Final = ("alarm", "worker", "since", "runbook", "reason")

# Monkeypatched by the tests of --watch; time.sleep otherwise.
_sleep = time.sleep


def status(
    stack: StackOption,
    since: Annotated[
        str,
        typer.Option(help="Start of the window: a duration back from now (30m, 1h, 1d) or an ISO-8601 time."),
    ] = "1h",
    watch: Annotated[bool, typer.Option("--watch", help="Refresh the screen until Ctrl-C.")] = False,
    interval: Annotated[
        int, typer.Option(min=5, help="Seconds between refreshes with --watch.", show_default=True)
    ] = 30,
    json_output: JsonOption = False,
) -> None:
    """One screen for on-call: workers, DLQs and on-failure queues, alarms in ALARM, maintenance, releases.

    Per worker over the window: invocations, errors and throttles (AWS/Lambda), records that failed
    inside a batch (the workers' own BatchRecordsFailed: Lambda counts no error for them), the
    maximum iterator age (stream workers) or the source queue's depth and oldest message (queue
    workers); every DLQ and on-failure queue with its depth (visible + in flight + delayed) and oldest
    message; the stack's alarms in ALARM with their runbook section; the maintenance window; the
    release running (`dmd release`) and the last one finished (who, when, outcome). All metrics
    come from one CloudWatch GetMetricData request per screen. Problems are shown in red.

    JSON keys: stack, windowStart, windowEnd, healthy, maintenance {active, reason, startedBy,
    startedAt, workers}, release {last: null or {kind, strategy, startedBy, startedAt,
    finishedAt, outcome, workers [{worker, fromVersion, toVersion, outcome, reason}]}; active the
    same or null}, workers [{worker, functionName, trigger, invocations, errors, throttles,
    failedRecords, iteratorAgeMaxSeconds, sourceQueue, sourceQueueDepth,
    sourceQueueOldestAgeSeconds, alarmsInAlarm, problems}], deadLetterQueues [{queue, worker, kind,
    exists, depth, visible, inFlight, delayed, oldestAgeSeconds}], alarms [{name, worker, since,
    reason, runbook}]. Unknown values (no datapoint, no such queue) are null.

    Example: dmd status --stack prod1 --since 30m --watch
    """
    if watch and json_output:
        fail("--watch refreshes a screen for people; scripts poll `dmd status --json`", code=EXIT_BAD_INPUT)
    start = parse_time(since, option="--since")
    if datetime.now(UTC) - start < MIN_WINDOW:
        raise typer.BadParameter(f"{since!r} leaves less than a minute of window", param_hint="--since")
    window = datetime.now(UTC) - start
    target = target_for(stack)
    current = _collect(target, window, with_progress=True)
    if json_output:
        print_json(current.model_dump())
        return
    if not watch:
        show(render(current))
        return
    try:
        with Live(render(current), auto_refresh=False) as live:
            while True:
                _sleep(interval)
                live.update(render(_collect(target, window, with_progress=False)), refresh=True)
    except KeyboardInterrupt:
        return


def _collect(target: Target, window: timedelta, *, with_progress: bool) -> StackStatus:
    """One screen's data; the window slides with each refresh."""
    with aws_errors(f"read the status of {target.stack}"):
        if not with_progress:
            return collect_status(target, start=datetime.now(UTC) - window)
        with progress(f"reading {target.stack}", total=6) as advance:
            advance(description="stack graph")
            _ = target.fleet
            return collect_status(
                target,
                start=datetime.now(UTC) - window,
                on_step=lambda step: advance(description=step),
            )


def render(current: StackStatus) -> Group:
    """The screen: a headline, the workers, the queues of given-up work, the alarms."""
    parts: list[Text | Table] = [_headline(current), _workers_table(current.workers)]
    parts.append(_queues_table(current.dead_letter_queues))
    if current.alarms:
        parts.append(_alarms_table(current))
    else:
        parts.append(Text("No alarm in ALARM.", style="green"))
    return Group(*parts)


def _headline(current: StackStatus) -> Text:
    window = f"{current.window_start:%Y-%m-%d %H:%M} → {current.window_end:%H:%M} UTC"
    headline = Text(f"{current.stack}: {window}. ")
    if current.healthy:
        headline.append("Healthy.", style="bold green")
    else:
        headline.append("Needs attention.", style="bold red")
    maintenance = current.maintenance
    if maintenance.active:
        started = f"{maintenance.started_at:%Y-%m-%d %H:%M} UTC" if maintenance.started_at else "?"
        headline.append(
            f"\nMaintenance since {started} by {maintenance.started_by}: {maintenance.reason} "
            f"(paused: {', '.join(maintenance.workers) or 'none'})",
            style="bold yellow",
        )
    else:
        headline.append("\nNo maintenance window.")
    release = current.release
    if release.active is not None:
        headline.append(
            f"\nRelease running since {release.active.started_at:%Y-%m-%d %H:%M} UTC by "
            f"{release.active.started_by} ({release.active.strategy}: {_release_moves(release.active)})",
            style="bold yellow",
        )
    if release.last is not None:
        last = release.last
        ended = f"{last.finished_at:%Y-%m-%d %H:%M} UTC" if last.finished_at else "?"
        headline.append(
            f"\nLast {last.kind} {last.outcome}, {ended} by {last.started_by} ({last.strategy}: "
            f"{_release_moves(last)})",
            style="bold green" if last.outcome == "completed" else "bold red",
        )
    else:
        headline.append("\nNo release recorded.")
    return headline


def _release_moves(release: ReleaseSummary) -> str:
    return ", ".join(
        f"{worker.worker} {worker.from_version}→{worker.to_version} {worker.outcome}"
        + (f" ({worker.reason})" if worker.reason and worker.outcome != "completed" else "")
        for worker in release.workers
    )


def _problem(value: int | None, *, bad: bool | None = None) -> str:
    if value is None:
        return "-"
    flagged = bool(value) if bad is None else bad
    return f"[bold red]{value}[/bold red]" if flagged else str(value)


def _workers_table(workers: tuple[WorkerStatus, ...]) -> Table:
    rendered = Table(title="Workers", title_justify="left")
    for column in WORKER_COLUMNS:
        rendered.add_column(column, overflow="fold")
    for worker in workers:
        rendered.add_row(
            f"[bold red]{worker.worker}[/bold red]" if worker.problems else worker.worker,
            worker.trigger,
            str(worker.invocations),
            _problem(worker.errors),
            _problem(worker.throttles),
            _problem(worker.failed_records),
            format_age(worker.iterator_age_max_seconds),
            _problem(worker.source_queue_depth, bad=False),
            format_age(worker.source_queue_oldest_age_seconds),
            _problem(worker.alarms_in_alarm),
        )
    return rendered


def _queues_table(queues: tuple[HeldQueueStatus, ...]) -> Table:
    rendered = Table(title="Dead-letter and on-failure queues", title_justify="left")
    for column in QUEUE_COLUMNS:
        rendered.add_column(column, overflow="fold")
    for queue in queues:
        rendered.add_row(
            queue.queue,
            queue.worker or "-",
            queue.kind,
            _problem(queue.depth) if queue.exists else "[bold red]missing[/bold red]",
            format_age(queue.oldest_age_seconds),
        )
    return rendered


def _alarms_table(current: StackStatus) -> Table:
    rendered = Table(title="Alarms in ALARM", title_justify="left")
    for column in ALARM_COLUMNS:
        rendered.add_column(column, overflow="fold")
    for alarm in current.alarms:
        age = (current.window_end - alarm.since).total_seconds() if alarm.since else None
        rendered.add_row(
            f"[bold red]{escape(alarm.name)}[/bold red]",
            alarm.worker or "-",
            f"{format_age(age)} ago" if age is not None else "-",
            alarm.runbook or "-",
            escape(alarm.reason),
        )
    return rendered
