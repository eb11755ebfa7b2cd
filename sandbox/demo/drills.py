"""The demo's fault drills: turning them on at the tick, and what the report says each one did.

`apply_drills` sets the emulator's DynamoDB throttle (`ddb-throttle`) and the pollers' injected
timeouts (`timeout`) from the fault plan, seeded by the run's seed (`poison` is applied to the plan's
demand before it is written: `sandbox.demo.poison`). `drill_report` reads back what was injected:
the emulator's throttle counts, the functions' timeout counters, and, for each poison record,
whether the generator skipped it (its `Demand record skipped` line in the workers' log), whether a
dead-letter or on-failure queue holds it parked with its payload (the generator parks it in the
generation queue's DLQ: `workers/shared/parking.py`, kind `dynamodb`), and whether it produced a
notification (it must not).

The report's `faultDrills` document (keys stable):

- `ddbThrottle`: `rate`, `throttledWrites`, `byOperation` and `byTable` (writes refused), `retriedBy`;
- `timeouts`: `rate`, `injected` (invocations timed out mid-batch), `recordsInTimedOutBatches`,
  `byWorker` (worker → `injected`, `recordsInTimedOutBatches`);
- `poison`: `rate`, `injected`, `byShape`, `skippedByGenerator`, `parked`, `parkedByQueue`,
  `notificationsFromPoison` (must be 0), `unaccounted` (must be 0) and `records` (one per poison
  record: `pk`, `sk`, `shape`, `skippedByGenerator`, `parkedIn`: a queue name or null).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sandbox.demo.poison import PoisonRecord
from sandbox.drill_faults import DDB_THROTTLE, POISON, TIMEOUT
from sandbox.function import WorkerCounters
from sandbox.pipeline import Pipeline
from sandbox.vendors import FaultPlan
from workers.shared.parking import ParkedRecord, parked_record

SKIPPED_MESSAGE: Final = "Demand record skipped"  # the generator's line (workers/shared/repository.py)
_RECEIVE_LIMIT: Final = 10
_PEEK_VISIBILITY_SECONDS: Final = 30


def apply_drills(pipeline: Pipeline, faults: FaultPlan, *, seed: int) -> None:
    """Turn on the throttle and timeout drills the plan asks for (both off when it asks for none)."""
    emulator = pipeline.sandbox.emulator
    if emulator is not None:
        emulator.throttle_writes(faults.rates.get(DDB_THROTTLE, 0.0), seed=seed)
    pipeline.sandbox.inject_timeouts(faults.rates.get(TIMEOUT, 0.0), seed=seed)


@dataclass(frozen=True)
class DrillCheck:
    """One property a drill must show (the report turns it into an invariant)."""

    name: str
    ok: bool
    detail: str


@dataclass
class DrillReport:
    """The `faultDrills` section of the report and the checks it adds."""

    document: dict[str, Any] = field(default_factory=dict)
    checks: list[DrillCheck] = field(default_factory=list)
    parked_poison: dict[str, int] = field(default_factory=dict)  # queue → messages parking poison records


def drill_report(
    pipeline: Pipeline,
    faults: FaultPlan,
    poison: Sequence[PoisonRecord],
    counters: Mapping[str, WorkerCounters],
    notifications: Sequence[Mapping[str, Any]],
    *,
    dlq: Mapping[str, int],
    worker_log: Path | None,
) -> DrillReport:
    """What each drill injected and how the pipeline coped, read back at the end of the run."""
    report = DrillReport()
    emulator = pipeline.sandbox.emulator
    throttled = emulator.throttled_writes() if emulator is not None else None
    report.document["ddbThrottle"] = {
        "rate": faults.rates.get(DDB_THROTTLE, 0.0),
        "throttledWrites": throttled.throttled if throttled else 0,
        "byOperation": throttled.by_operation if throttled else {},
        "byTable": throttled.by_table if throttled else {},
        "retriedBy": (
            "the SDK's DynamoDB retry policy (waits of 50 ms doubling; 6 attempts, the generator 10), "
            "then the trigger's retries (a failed generation job: back after 30 s, doubling)"
        ),
    }
    timed_out = {worker: counter for worker, counter in counters.items() if counter.timeouts_injected}
    report.document["timeouts"] = {
        "rate": faults.rates.get(TIMEOUT, 0.0),
        "injected": sum(counter.timeouts_injected for counter in timed_out.values()),
        "recordsInTimedOutBatches": sum(
            counter.records_in_timed_out_batches for counter in timed_out.values()
        ),
        "byWorker": {
            worker: {
                "injected": counter.timeouts_injected,
                "recordsInTimedOutBatches": counter.records_in_timed_out_batches,
            }
            for worker, counter in sorted(timed_out.items())
        },
    }
    report.document["poison"], check, report.parked_poison = _poison_section(
        pipeline, faults, poison, notifications, dlq=dlq, worker_log=worker_log
    )
    if poison:
        report.checks.append(check)
    return report


def _poison_section(
    pipeline: Pipeline,
    faults: FaultPlan,
    poison: Sequence[PoisonRecord],
    notifications: Sequence[Mapping[str, Any]],
    *,
    dlq: Mapping[str, int],
    worker_log: Path | None,
) -> tuple[dict[str, Any], DrillCheck, dict[str, int]]:
    keys = {(record.pk, record.sk) for record in poison}
    skipped = skipped_demand(worker_log) & keys if poison and worker_log is not None else set()
    parked, parked_messages = parked_demand(pipeline, dlq, keys) if poison else ({}, {})
    parked_keys = {key for found in parked.values() for key in found}
    # A poison record's notifications would carry its fan and its sale (the SK after `demand#`).
    poison_sales = {(record.pk, record.sk.removeprefix("demand#")) for record in poison}
    notified = sorted(
        str(item["SK"])
        for item in notifications
        if (str(item["PK"]), str(item["SK"]).removeprefix("notification#").rsplit("#", 1)[0]) in poison_sales
    )
    unaccounted = sorted(keys - skipped - parked_keys)
    records = [
        {
            "pk": record.pk,
            "sk": record.sk,
            "shape": record.shape,
            "skippedByGenerator": (record.pk, record.sk) in skipped,
            "parkedIn": next(
                (queue for queue, found in parked.items() if (record.pk, record.sk) in found), None
            ),
        }
        for record in poison
    ]
    section = {
        "rate": faults.rates.get(POISON, 0.0),
        "injected": len(poison),
        "byShape": dict(Counter(record.shape for record in poison)),
        "skippedByGenerator": len(skipped),
        "parked": len(parked_keys),
        "parkedByQueue": {queue: len(found) for queue, found in parked.items()},
        "notificationsFromPoison": len(notified),
        "unaccounted": len(unaccounted),
        "records": records,
    }
    example = f" (e.g. {unaccounted[0][0]} {unaccounted[0][1]})" if unaccounted else ""
    detail = (
        f"{len(poison)} injected: {len(skipped)} skipped by the generator, {len(parked_keys)} parked, "
        f"{len(unaccounted)} unaccounted{example}, {len(notified)} notifications from them"
    )
    check = DrillCheck("poison records accounted for", not unaccounted and not notified, detail)
    return section, check, parked_messages


def skipped_demand(worker_log: Path) -> set[tuple[str, str]]:
    """(pk, sk) of every demand record the generator logged as skipped in the workers' log."""
    if not worker_log.exists():
        return set()
    found: set[tuple[str, str]] = set()
    with worker_log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if SKIPPED_MESSAGE not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("message") == SKIPPED_MESSAGE:
                found.add((str(entry.get("pk")), str(entry.get("sk"))))
    return found


def parked_demand(
    pipeline: Pipeline, dlq: Mapping[str, int], keys: Iterable[tuple[str, str]]
) -> tuple[dict[str, set[tuple[str, str]]], dict[str, int]]:
    """Per dead-letter/on-failure queue, the poison demand records parked in it with their payload,
    and how many messages park them (a job redelivered after parking parks its records again)."""
    wanted = set(keys)
    sqs = pipeline.clients.client("sqs")
    found: dict[str, set[tuple[str, str]]] = {}
    messages_of: Counter[str] = Counter()
    for queue, depth in dlq.items():
        if not depth:
            continue
        url = pipeline.queue_url(queue)
        seen: set[str] = set()
        while len(seen) < depth:
            # Peeked, not consumed: hidden for a while, so each read gets the next ones.
            answer = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=_RECEIVE_LIMIT, VisibilityTimeout=_PEEK_VISIBILITY_SECONDS
            )
            messages = answer.get("Messages", [])
            if not messages:
                break
            for message in messages:
                seen.add(str(message["MessageId"]))
                parked = parked_record(str(message.get("Body", "")))
                key = _demand_key(parked) if parked is not None else None
                if key is not None and key in wanted:
                    found.setdefault(queue, set()).add(key)
                    messages_of[queue] += 1
    return found, dict(messages_of)


def _demand_key(parked: ParkedRecord) -> tuple[str, str] | None:
    """The (PK, SK) of the demand item a parked record carries (generator item or table-stream record)."""
    key, item = parked.source.key, parked.record
    if parked.source.kind == "dynamodb" and key is not None and "PK" in key and "SK" in key:
        # Counted only with its payload: the item as read, whose own key is the one named.
        held = {
            name: item.get(name, {}).get("S") for name in ("PK", "SK") if isinstance(item.get(name), dict)
        }
        return (key["PK"], key["SK"]) if held == {"PK": key["PK"], "SK": key["SK"]} else None
    try:
        change = json.loads(base64.b64decode(parked.record["kinesis"]["data"]))
        keys = change["dynamodb"]["Keys"]
        return str(keys["PK"]["S"]), str(keys["SK"]["S"])
    except (KeyError, TypeError, ValueError):
        return None
