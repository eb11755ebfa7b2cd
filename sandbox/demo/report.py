"""The demo's report: the JSON document of a run, the invariants it must hold, and their arithmetic."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sandbox.api_calls import ApiCalls, count_calls, email_sends
from sandbox.demo.drills import drill_report
from sandbox.demo.options import DemoOptions
from sandbox.demo.plan import DemoPlan
from sandbox.demo.snapshot import Snapshot
from sandbox.ledger import is_terminal_status
from sandbox.pipeline import SEND_WORKER, Pipeline
from workers.shared.keys import Key, notification_reference

MAX_ATTEMPTS_REASON: Final = "MAX_SEND_ATTEMPTS_EXCEEDED"


def is_terminal(notification: Mapping[str, Any]) -> bool:
    """DELIVERED, FAILED or EXPIRED; an email is terminal at TRIGGERED (no SES status stream)."""
    return is_terminal_status(str(notification["status"]["id"]), str(notification.get("contactMethod", "")))


@dataclass(frozen=True)
class Invariant:
    """One property the run must have."""

    name: str
    ok: bool
    detail: str


@dataclass
class DemoReport:
    """What the run did, as JSON, and whether every invariant held (and the final notifications)."""

    document: dict[str, Any]
    invariants: list[Invariant]
    notifications: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return all(invariant.ok for invariant in self.invariants)

    def as_json(self) -> dict[str, Any]:
        """The JSON report."""
        return {
            **self.document,
            "invariants": [vars(invariant) for invariant in self.invariants],
            "ok": self.ok,
        }


def nothing_lost(
    *,
    missing: int,
    unexpected: int,
    non_terminal: int,
    dlq: Mapping[str, int],
    discarded: Mapping[str, int],
    send_on_failure_queue: str,
    parked_poison: Mapping[str, int] | None = None,
) -> Invariant:
    """Every expected notification exists and nothing the pipeline gave up on stays undone."""
    # A malformed demand record of the `poison` drill parked whole in a queue (`parked_poison`:
    # queue → how many) is accounted for: it must give no reminder, and it is there to be read.
    accounted = parked_poison or {}
    dlq = {queue: depth - accounted.get(queue, 0) for queue, depth in dlq.items()}
    # A send trigger the stream gave up on (discarded after its retries or its age, reported to the
    # sender's on-failure queue) is not lost while the sweeper hands its notification back to the
    # sender: it is lost only if a notification is left non-terminal. Every other dead letter or
    # discard (a generation job, a short-URL job, a status event) nothing recovers.
    send_dropped = discarded.get(SEND_WORKER, 0) + dlq.get(send_on_failure_queue, 0)
    other_dead = sum(depth for queue, depth in dlq.items() if queue != send_on_failure_queue)
    other_discarded = sum(count for worker, count in discarded.items() if worker != SEND_WORKER)
    recovered = non_terminal == 0 and missing == 0
    detail = (
        f"{missing} expected notifications missing, {unexpected} unexpected, "
        f"{other_dead} records in other dead-letter queues, {other_discarded} discarded by other pollers"
    )
    if accounted:
        detail += f"; {sum(accounted.values())} poison demand records parked (accounted for)"
    if send_dropped:
        detail += f"; {send_dropped} send triggers given up by the stream, " + (
            "every one's notification recovered (terminal)" if recovered else "not all recovered yet"
        )
    ok = (
        not missing
        and not unexpected
        and not other_dead
        and not other_discarded
        and (recovered or not send_dropped)
    )
    return Invariant("nothing lost", ok, detail)


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max (nearest rank), seconds rounded to ms; empty when there are no values."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(share: float) -> float:
        return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 3)

    return {"count": len(ordered), "p50": rank(0.5), "p90": rank(0.9), "p99": rank(0.99), "max": rank(1.0)}


def _latencies(notifications: Sequence[Mapping[str, Any]], *, until: str) -> list[float]:
    """Seconds from each notification's creation to its `until` date, where it has both."""
    return [
        seconds
        for item in notifications
        if (seconds := _seconds_between(item["date"].get("created"), item["date"].get(until))) is not None
    ]


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (_parse_time(end) - _parse_time(start)).total_seconds()


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def failure_reason(notification: Mapping[str, Any], max_attempts: int) -> str:
    """Why a notification failed: the vendor's code, or attempts exhausted on transient errors."""
    from workers.shared.sms_service import PERMANENT_REASONS  # lazily: it sets up the workers' logger

    errors = notification.get("errors") or []
    reason = str(errors[-1].get("reason", "UNKNOWN")) if errors else "UNKNOWN"
    code = reason.split(":", 1)[0].strip().upper()
    if code in PERMANENT_REASONS:
        return code
    if int(notification.get("sendAttempts", 0)) >= max_attempts:
        return MAX_ATTEMPTS_REASON
    return code or "UNKNOWN"


def api_calls_section(calls: ApiCalls, delivered: int) -> dict[str, Any]:
    """The report's `awsApiCalls`: the workers' calls in total and by operation, each per delivered one."""
    worker_calls = calls.total(by_workers=True)
    by_operation = count_calls(calls.of_workers()).most_common()
    return {
        "byWorkers": worker_calls,
        "perDeliveredNotification": round(worker_calls / delivered, 2) if delivered else None,
        "byOperation": dict(by_operation),
        "perDeliveredByOperation": (
            {operation: round(count / delivered, 2) for operation, count in by_operation} if delivered else {}
        ),
        "bySandbox": calls.total(by_workers=False),
        "sandboxByOperation": dict(count_calls(calls.of_sandbox()).most_common()),
        "counted": "every AWS call from the scheduler tick to the end (counted by the emulator's server)",
    }


def build_report(
    pipeline: Pipeline, plan: DemoPlan, options: DemoOptions, snapshot: Snapshot, wall_seconds: float
) -> DemoReport:
    """The JSON report of a finished (or timed-out) run, and its invariants."""
    notifications = snapshot.notifications
    max_attempts = int(pipeline.function_variable(SEND_WORKER, "MAX_SEND_ATTEMPTS"))
    keys = {(str(item["PK"]), str(item["SK"])) for item in notifications}
    missing, unexpected = plan.expected - keys, keys - plan.expected
    non_terminal = [item for item in notifications if not is_terminal(item)]
    sent = [item for item in notifications if item.get("messageId")]
    sms_delivered = [item for item in notifications if item["status"]["id"] == "DELIVERED"]
    email_accepted = [
        item
        for item in notifications
        if item["contactMethod"] == "email" and item["status"]["id"] == "TRIGGERED"
    ]
    failed = [item for item in notifications if item["status"]["id"] == "FAILED"]
    # Never sent: the sale started (plus the grace) before they could leave.
    expired = [item for item in notifications if item["status"]["id"] == "EXPIRED"]
    calls = pipeline.api_calls()
    sms_duplicates = pipeline.vendors.sms.duplicates()
    email_duplicates = {key: count - 1 for key, count in email_sends(calls.email_bodies).items() if count > 1}
    latency_sms = _latencies(sms_delivered, until="delivered")
    latency_email = _latencies(email_accepted, until="triggered")
    delivered = len(sms_delivered) + len(email_accepted)
    discarded = {worker: counter.records_discarded for worker, counter in snapshot.counters.items()}
    dlq_total = sum(snapshot.dlq.values())
    # Every SMS the service sent (a de-duplicated retry sends none) must be on its notification.
    sent_references = set(pipeline.vendors.sms.sends)
    tracked_references = {
        notification_reference(Key(str(item["PK"]), str(item["SK"])))
        for item in notifications
        if item["contactMethod"] == "sms" and item.get("messageId")
    }
    drills = drill_report(
        pipeline,
        options.faults,
        plan.poison,
        snapshot.counters,
        notifications,
        dlq=snapshot.dlq,
        worker_log=options.worker_log,
    )
    document: dict[str, Any] = {
        "run": {
            "fans": options.fans,
            "sales": options.sales,
            "faults": str(options.faults),
            "speed": options.speed,
            "seed": options.seed,
            "tick": plan.tick.isoformat(),
            "window": [plan.window_start.isoformat(), plan.window_end.isoformat()],
            "wallSeconds": round(wall_seconds, 2),
            "pipelineSeconds": round(snapshot.pipeline_seconds, 2) if snapshot.pipeline_seconds else None,
            "fansByKind": dict(plan.fans_by_kind),
            "demandRecords": len(plan.demand),
        },
        "notifications": {
            "expected": len(plan.expected),
            "expectedSms": plan.expected_sms,
            "expectedEmail": plan.expected_email,
            "created": len(notifications),
            "sent": len(sent),
            "delivered": delivered,
            "smsDelivered": len(sms_delivered),
            "emailAcceptedBySes": len(email_accepted),
            "failed": len(failed),
            "failedByReason": dict(Counter(failure_reason(item, max_attempts) for item in failed)),
            "expired": len(expired),
            "byStatus": dict(snapshot.by_status),
            "nonTerminal": len(non_terminal),
            "missing": len(missing),
            "unexpected": len(unexpected),
        },
        "duplicatesSent": {
            "sms": sum(sms_duplicates.values()),
            "email": sum(email_duplicates.values()),
            "total": sum(sms_duplicates.values()) + sum(email_duplicates.values()),
        },
        "deadLetters": {"total": dlq_total, "byQueue": snapshot.dlq, "discardedByPollers": discarded},
        "latencySeconds": {
            "endToEndSms": percentiles(latency_sms),
            "endToEndEmail": percentiles(latency_email),
            "all": percentiles(latency_sms + latency_email),
        },
        "awsApiCalls": api_calls_section(calls, delivered),
        "workers": {worker: vars(counter) for worker, counter in snapshot.counters.items()},
        "vendors": pipeline.vendors.counters(),
        "sandboxBackgroundErrors": pipeline.background_errors(),
        "faultDrills": drills.document,
    }
    invariants = [
        Invariant(
            "no duplicate sends",
            not sms_duplicates and not email_duplicates,
            f"{sum(sms_duplicates.values())} SMS and {sum(email_duplicates.values())} emails sent twice",
        ),
        Invariant(
            "every notification terminal",
            not non_terminal and not missing,
            f"{len(non_terminal)} not terminal"
            + (
                f" (e.g. {non_terminal[0]['SK']} in {non_terminal[0]['status']['id']})"
                if non_terminal
                else ""
            ),
        ),
        nothing_lost(
            missing=len(missing),
            unexpected=len(unexpected),
            non_terminal=len(non_terminal),
            dlq=snapshot.dlq,
            discarded=discarded,
            send_on_failure_queue=pipeline.on_failure_queue(SEND_WORKER),
            parked_poison=drills.parked_poison,
        ),
        Invariant(
            "every accepted SMS tracked",
            sent_references <= tracked_references,
            f"{len(sent_references - tracked_references)} SMS sent by the vendor without a messageId "
            "on their notification",
        ),
    ]
    invariants += [Invariant(check.name, check.ok, check.detail) for check in drills.checks]
    return DemoReport(document, invariants, notifications)
