"""What the demo shows on the terminal: the live view while it runs and the summary table at the end."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from sandbox.demo.report import DemoReport
from sandbox.demo.restart_drill import restart_rows
from sandbox.demo.snapshot import Snapshot


def live_view(snapshot: Snapshot, expected: int) -> Group:
    """The live view: phase, per-worker counters, notifications by status, DLQ depth."""
    elapsed = time.monotonic() - snapshot.started
    header = Text.assemble(
        ("dmd sandbox demo ", "bold"),
        (f"· {snapshot.phase} ", "cyan"),
        f"· {elapsed:5.1f} s · sandbox clock {snapshot.sandbox_time:%H:%M:%S} UTC",
    )
    workers = Table(title="workers", title_justify="left", expand=False)
    for column in ("worker", "invocations", "processed", "failed", "filtered", "discarded"):
        workers.add_column(column, justify="left" if column == "worker" else "right")
    for worker, counter in snapshot.counters.items():
        workers.add_row(
            worker,
            str(counter.invocations),
            str(counter.records_processed),
            _red_if(counter.records_failed),
            str(counter.records_filtered),
            _red_if(counter.records_discarded),
        )
    statuses = Table(title=f"notifications ({snapshot.progress.seen}/{expected})", title_justify="left")
    statuses.add_column("status")
    statuses.add_column("count", justify="right")
    for status, count in sorted(snapshot.by_status.items()):
        statuses.add_row(status, str(count))
    statuses.add_row("terminal", f"{snapshot.terminal}/{expected}", style="bold")
    queues = Table(title="dead letters", title_justify="left")
    queues.add_column("queue")
    queues.add_column("depth", justify="right")
    for name, depth in snapshot.dlq.items():
        queues.add_row(name.removeprefix(snapshot.name_prefix), _red_if(depth))
    footer = Text(
        f"SMS accepted {snapshot.sms_accepted} · status events waiting {snapshot.status_pending}", style="dim"
    )
    return Group(header, workers, statuses, queues, footer)


def drill_rows(drills: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary's lines for the fault drills that ran (none when no drill was asked for)."""
    rows: list[tuple[str, str]] = []
    throttle, timeouts, poison = (drills.get(name) or {} for name in ("ddbThrottle", "timeouts", "poison"))
    if throttle.get("rate"):
        rows.append(("DynamoDB writes throttled (retried)", str(throttle["throttledWrites"])))
    if timeouts.get("rate"):
        rows.append(
            (
                "invocations timed out mid-batch (records retried)",
                f"{timeouts['injected']} ({timeouts['recordsInTimedOutBatches']})",
            )
        )
    if poison.get("rate"):
        rows.append(
            (
                "poison demand records: skipped by generator / parked",
                f"{poison['injected']}: {poison['skippedByGenerator']} / {poison['parked']}",
            )
        )
    return rows


def _red_if(value: int) -> Text:
    return Text(str(value), style="bold red" if value else "")


def summary_table(report: DemoReport) -> Table:
    """The end-of-run summary."""
    document = report.document
    notes = document["notifications"]
    table = Table(title="dmd sandbox demo: summary", title_justify="left", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    run = document["run"]
    table.add_row("fans / demand records", f"{run['fans']} / {run['demandRecords']}")
    table.add_row("faults", run["faults"])
    table.add_row("notifications expected / created", f"{notes['expected']} / {notes['created']}")
    table.add_row("sent (vendor accepted)", str(notes["sent"]))
    table.add_row(
        "delivered (SMS delivered + email accepted by SES)",
        f"{notes['delivered']} ({notes['smsDelivered']} + {notes['emailAcceptedBySes']})",
    )
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(notes["failedByReason"].items()))
    table.add_row("failed", f"{notes['failed']}" + (f" ({reasons})" if reasons else ""))
    table.add_row("expired (sale started before they could leave)", str(notes["expired"]))
    table.add_row("not terminal", str(notes["nonTerminal"]))
    table.add_row("duplicates sent", str(document["duplicatesSent"]["total"]))
    table.add_row("records in dead-letter queues", str(document["deadLetters"]["total"]))
    for name, value in drill_rows(document.get("faultDrills") or {}):
        table.add_row(name, value)
    for name, value in restart_rows(document.get("faultDrills") or {}):
        table.add_row(name, value)
    latency = document["latencySeconds"]["all"]
    if latency:
        table.add_row(
            "end-to-end latency p50 / p90 / p99 / max (s)",
            f"{latency['p50']} / {latency['p90']} / {latency['p99']} / {latency['max']}",
        )
    calls = document["awsApiCalls"]
    table.add_row(
        "AWS API calls by workers (per delivered)",
        f"{calls['byWorkers']} ({calls['perDeliveredNotification']})",
    )
    per_delivered = calls.get("perDeliveredByOperation") or {}
    for operation, count in calls["byOperation"].items():
        share = per_delivered.get(operation)
        table.add_row(f"  {operation}", f"{count}" + (f" ({share})" if share is not None else ""))
    if run.get("pipelineSeconds"):
        table.add_row("tick → every notification terminal (s)", str(run["pipelineSeconds"]))
    table.add_row("wall time (s)", str(run["wallSeconds"]))
    for invariant in report.invariants:
        mark = Text("✓ ", style="green") if invariant.ok else Text("✗ ", style="bold red")
        table.add_row(Text.assemble(mark, invariant.name), invariant.detail if not invariant.ok else "ok")
    return table
