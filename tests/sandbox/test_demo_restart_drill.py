"""The demo's emulator-restart drill and SMS status drill sections: when it is due, what it reports."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from sandbox.clock import SandboxClock
from sandbox.demo.report import DemoReport
from sandbox.demo.restart_drill import RESTART_CHECK, RestartDrill, extend_report, restart_rows
from sandbox.emulator import EmulatorRestart
from sandbox.function import WorkerCounters
from sandbox.pipeline import Pipeline
from sandbox.vendors import Effect, VendorFakes, parse_faults

TICK = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RESTART = EmulatorRestart(
    old_pid=100,
    new_pid=200,
    saved={"sizeBytes": 5000, "services": ["dynamodb", "kinesis", "sqs"]},
    saving_seconds=0.1,
    down_seconds=4.25,
)


def _drill(**changes: Any) -> RestartDrill:
    drill = RestartDrill(at_seconds=15, tick=TICK)
    for name, value in changes.items():
        setattr(drill, name, value)
    return drill


def test_a_restart_is_planned_only_when_asked_for_and_due_from_its_second_on() -> None:
    assert RestartDrill.planned(parse_faults("sms=0.1"), TICK) is None
    drill = RestartDrill.planned(parse_faults("emulator-restart=15"), TICK)
    assert drill is not None and drill.at_seconds == 15
    assert not drill.due(TICK.timestamp() + 14.9)
    assert drill.due(TICK.timestamp() + 15)
    drill.error = "could not save"
    assert drill.finished and not drill.due(TICK.timestamp() + 20)


def test_the_restart_section_says_when_for_how_long_and_what_ran_after() -> None:
    # Given a restart 16 s after the tick, with the send worker at 10 records before it
    drill = _drill(
        restart=RESTART,
        happened_at=TICK.timestamp() + 16,
        records_before={"notification_send": 10, "sms_status_consumer": 0},
        errors_during=7,
    )
    counters = {
        "notification_send": WorkerCounters(records_processed=25),
        "sms_status_consumer": WorkerCounters(records_processed=40),
        "event_details": WorkerCounters(records_processed=0),
    }
    # When it is reported
    document = drill.document(counters)
    # Then it says when, how long it was down, the pids, and the records processed after it
    assert document["happenedAtSeconds"] == 16 and document["downSeconds"] == 4.25
    assert (document["oldPid"], document["newPid"]) == (100, 200)
    assert document["recordsProcessedAfter"] == 55
    assert document["recordsProcessedAfterByWorker"] == {"notification_send": 15, "sms_status_consumer": 40}
    assert document["backgroundErrorsDuringRestart"] == 7
    assert drill.check() == (
        RESTART_CHECK,
        True,
        "pid 100 → 200, down 4.2 s, 3 services' state carried over (5000 bytes)",
    )
    assert restart_rows({"emulatorRestart": document}) == [
        ("emulator restart", "at 16 s, down 4.2 s, 55 records after")
    ]


def test_a_restart_that_failed_or_never_came_fails_its_invariant_saying_why() -> None:
    assert _drill(error="the emulator's state could not be saved: x").check() == (
        RESTART_CHECK,
        False,
        "the emulator's state could not be saved: x",
    )
    assert _drill().check()[1:] == (False, "the run ended before the restart was due")
    same_process = EmulatorRestart(1, 1, {"services": ["sqs"]}, 0.1, 1.0)
    assert _drill(restart=same_process).check()[1] is False


def test_the_report_gets_the_status_and_restart_drills_it_asked_for() -> None:
    # Given an SMS service that reversed one message's statuses and duplicated two messages' events
    fakes = VendorFakes(clock=SandboxClock())
    fakes.sms.counters.injected(Effect.OUT_OF_ORDER)
    fakes.sms.counters.injected(Effect.DUPLICATE_STATUS)
    fakes.sms.counters.injected(Effect.DUPLICATE_STATUS)
    fakes.publisher.duplicated.update({"QUEUED": 2, "SENT": 2, "DELIVERED": 2})
    pipeline = cast("Pipeline", SimpleNamespace(vendors=fakes))
    report = DemoReport(document={}, invariants=[])
    drill = _drill(restart=RESTART, happened_at=TICK.timestamp() + 15)
    # When the report is extended for a run with both drills
    faults = parse_faults("sms-out-of-order=0.1,sms-duplicate-status=0.2,emulator-restart=15")
    extend_report(report, pipeline, faults, drill, {})
    # Then both sections are there, with the restart's invariant
    drills = report.document["faultDrills"]
    assert drills["smsStatus"] == {
        "messagesOutOfOrder": 1,
        "messagesWithDuplicatedStatuses": 2,
        "statusEventsDuplicated": 6,
    }
    assert drills["emulatorRestart"]["restarted"] is True
    assert [invariant.name for invariant in report.invariants] == [RESTART_CHECK]
    assert restart_rows(drills)[0] == ("SMS statuses out of order / duplicated (events)", "1 / 2 (6)")
    # And a run without them gets neither
    plain = DemoReport(document={}, invariants=[])
    extend_report(plain, pipeline, parse_faults("sms=0.2"), None, {})
    assert plain.document["faultDrills"] == {} and plain.invariants == []
