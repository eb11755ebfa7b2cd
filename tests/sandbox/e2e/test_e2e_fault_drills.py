"""End to end, the fault drills: DynamoDB throttling, timeouts mid-batch and malformed demand, all at once.

A small `dmd sandbox demo` runs with the emulator throttling a share of the workers' DynamoDB writes
(`ProvisionedThroughputExceededException`), a share of the stream and queue invocations timing out
after the first part of their batch (Lambda retries the whole batch), a share of the fans' demand
records written malformed, and a flaky SMS service. The workers' idempotence must make every retry
harmless: no reminder sent twice, none stuck, nothing lost, and every poison record accounted for.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from sandbox.demo import DemoOptions, run_demo
from sandbox.vendors import parse_faults
from tests.sandbox.e2e.flows import e2e_marks

pytestmark = e2e_marks("e2e-drills")


def test_under_throttling_timeouts_and_poison_every_reminder_goes_once_and_every_record_is_accounted_for(
    tmp_path: Path,
) -> None:
    # Given a demo of 40 fans under every drill at once (rates high enough to hit a small run). A
    # generation job rides throttling out (8 attempts); one that times out comes back after 30 s
    # (the generator shortens a failed job's visibility), which the deadline covers.
    options = DemoOptions(
        fans=40,
        sales=2,
        faults=parse_faults("sms=0.2,ddb-throttle=0.05,timeout=0.2,poison=0.1"),
        speed=20.0,
        seed=11,
        deadline_seconds=150.0,
        report_path=tmp_path / "report.json",
        worker_log=tmp_path / "workers.log",
    )
    screen = io.StringIO()
    # When it runs
    report = run_demo(options, Console(file=screen, width=140))
    # Then every invariant held: none sent twice, every notification terminal, nothing lost, every
    # accepted SMS tracked, every poison record accounted for
    assert report.ok, [invariant for invariant in report.invariants if not invariant.ok]
    document = json.loads((tmp_path / "report.json").read_text())
    assert document["duplicatesSent"]["total"] == 0
    assert document["notifications"]["nonTerminal"] == 0
    assert document["notifications"]["created"] == document["notifications"]["expected"] > 0
    drills = document["faultDrills"]
    # And the emulator throttled some of the workers' writes, which botocore retried
    assert drills["ddbThrottle"]["throttledWrites"] > 0
    assert set(drills["ddbThrottle"]["byOperation"]) <= {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
    }
    # And some invocations timed out mid-batch, their whole batches retried
    assert drills["timeouts"]["injected"] > 0
    assert drills["timeouts"]["recordsInTimedOutBatches"] >= drills["timeouts"]["injected"]
    # And no generation job failed but the ones whose invocation timed out: throttling was ridden out
    generator = drills["timeouts"]["byWorker"].get("notification_generator", {})
    failed_jobs = document["workers"]["notification_generator"]["records_failed"]
    assert failed_jobs == generator.get("recordsInTimedOutBatches", 0)
    # And each poison demand record was parked whole (its item, key and reason) in the generation
    # jobs' DLQ, none reminded
    poison = drills["poison"]
    assert poison["injected"] > 0
    assert poison["unaccounted"] == 0 and poison["notificationsFromPoison"] == 0
    assert poison["parked"] == poison["injected"]
    assert {record["parkedIn"] for record in poison["records"]} == {
        "prd3292-local-us-east-1-generation-jobs-dlq"
    }
    assert "poison records accounted for" in screen.getvalue()
