"""The sandbox's per-record costs read from a `dmd sandbox demo` report, and `dmd capacity --from-report`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ops.capacity_demo_costs import DemoReportError, emulator_costs, read_report, with_report
from ops.capacity_inputs import AwsCosts, CapacityCosts, EmulatorCosts, Workload, load_costs
from ops.capacity_sandbox import SandboxProfile, sandbox_estimate
from tests.ops.capacity_shapes import committed_shape
from tests.ops.cli_output import flat, run_dmd

REFERENCE_SECONDS = 0.04


def demo_report(
    *,
    created: int = 200,
    send_held_ms: int = 10_300,
    published: dict[str, int] | None = None,
    sweeper: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A demo's report as `dmd sandbox demo --report` writes it, cut down to what the cost model reads.

    By default each worker's held time less its import makes round per-record costs, none of them
    the committed bench's: the generator 4,000 ms for 200 notifications (20 ms), the sender 10,000 ms
    for 200 records through (50 ms; 20 more tries failed), the status consumer 1,440 ms for 360
    status events (4 ms), the scheduler 200 ms for 2 runs (0.1 s), the sweeper 800 ms for 4 runs
    (0.2 s); the four pipeline workers' imports add up to 1 s.
    """
    return {
        "run": {"pipelineSeconds": 42.5, "sales": 2, "faults": ""},
        "notifications": {"created": created, "expected": 200, "expectedSms": 120},
        "workers": {
            "notification_scheduler": counters(invocations=2, processed=0, held_ms=600, init_ms=400),
            "notification_generator": counters(invocations=2, processed=2, held_ms=4_200, init_ms=200),
            "notification_send": counters(
                invocations=20, processed=200, failed=20, held_ms=send_held_ms, init_ms=300
            ),
            "sms_status_consumer": counters(invocations=30, processed=360, held_ms=1_540, init_ms=100),
            "notification_sweeper": (
                counters(invocations=4, processed=0, held_ms=850, init_ms=50) if sweeper is None else sweeper
            ),
        },
        "vendors": {
            "sms": {
                "statusEventsPublished": (
                    {"QUEUED": 120, "SENT": 120, "DELIVERED": 120} if published is None else published
                )
            }
        },
    }


def counters(
    *, invocations: int, processed: int, held_ms: int, init_ms: int, failed: int = 0
) -> dict[str, int]:
    """One worker's counters as the report carries them (`vars(WorkerCounters)`)."""
    return {
        "invocations": invocations,
        "function_errors": 0,
        "records_processed": processed,
        "records_failed": failed,
        "records_filtered": 0,
        "records_discarded": 0,
        "timeouts": 0,
        "timeouts_injected": 0,
        "records_in_timed_out_batches": 0,
        "handler_ms": held_ms + 100,
        "held_ms": held_ms,
        "init_ms": init_ms,
    }


def write_report(directory: Path, document: object, name: str = "demo-report.json") -> Path:
    """The document written where `--from-report` can read it."""
    path = directory / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def committed_like_costs() -> CapacityCosts:
    """Costs shaped like bench/capacity-costs.json, fixed here so the tests do not follow the file."""
    return CapacityCosts(
        measured="the bench of some day",
        aws=AwsCosts(
            generator_cpu_ms=1.2,
            send_cpu_ms=3.0,
            invocation_overhead_ms=50.0,
            dynamodb_ms=6.0,
            page_read_ms=40.0,
            sms_ms=80.0,
            ses_ms=40.0,
            scheduler_seconds=3.0,
            status_ms=8.0,
        ),
        emulator=EmulatorCosts(
            generator_ms=1.0,
            send_ms=1.0,
            status_ms=1.0,
            scheduler_seconds=1.0,
            sweeper_run_seconds=1.0,
            init_seconds=1.0,
            reference_seconds=REFERENCE_SECONDS,
        ),
        calls_per_notification={"dynamodb:UpdateItem": 3.75},
    )


# emulator_costs: held time less the import, per record handled


def test_each_workers_cost_is_its_held_time_less_its_import_per_record_it_handled() -> None:
    # Given a demo's report (see demo_report for the figures)
    document = demo_report()
    # When its costs are read
    costs = emulator_costs(document, reference_seconds=REFERENCE_SECONDS)
    # Then each worker's held time less its import is divided by what it handled
    assert costs.generator_ms == pytest.approx((4_200 - 200) / 200)  # per notification created
    assert costs.send_ms == pytest.approx((10_300 - 300) / (180 + 20))  # per record, failed ones too
    assert costs.status_ms == pytest.approx((1_540 - 100) / 360)  # per status event published
    assert costs.scheduler_seconds == pytest.approx((600 - 400) / 1000 / 2)  # per run
    assert costs.sweeper_run_seconds == pytest.approx((850 - 50) / 1000 / 4)  # per run
    # And the init is the four pipeline workers' imports together (not the sweeper's)
    assert costs.init_seconds == pytest.approx((400 + 200 + 300 + 100) / 1000)
    assert costs.reference_seconds == REFERENCE_SECONDS


def test_the_sender_costs_per_record_it_got_through_its_failed_tries_included() -> None:
    # Given two reports whose sender held the process as long, one where 50 more records failed a try
    # (deferred when an invocation's time ran short, delivered again by Lambda)
    document = demo_report()
    failing = demo_report()
    failing["workers"]["notification_send"].update(records_failed=50)
    # When their costs are read
    costs = emulator_costs(document, reference_seconds=REFERENCE_SECONDS)
    with_failures = emulator_costs(failing, reference_seconds=REFERENCE_SECONDS)
    # Then the failed tries cost nothing apart: their time is in each record's the sender got through
    assert with_failures.send_ms == pytest.approx(costs.send_ms)
    # And a report with half the records through for the same time costs twice as much per record
    half = demo_report()
    half["workers"]["notification_send"]["records_processed"] //= 2
    assert emulator_costs(half, reference_seconds=REFERENCE_SECONDS).send_ms == pytest.approx(
        2 * costs.send_ms
    )


@pytest.mark.parametrize(
    "vendors",
    [{"sms": {"statusEventsPublished": {}}}, {"sms": {}}, {}],
    ids=["no-event-published", "no-status-counts", "no-vendors"],
)
def test_a_report_without_status_events_costs_no_status_time(vendors: dict[str, Any]) -> None:
    # Given a demo whose SMS fake published no status event (an email-only sale, say)
    document = demo_report()
    document["vendors"] = vendors
    # When its costs are read
    costs = emulator_costs(document, reference_seconds=REFERENCE_SECONDS)
    # Then the status consumer costs nothing per event, and the others are unchanged
    assert costs.status_ms == 0
    assert costs.send_ms == pytest.approx(50.0)


@pytest.mark.parametrize(
    "workers_change",
    [
        lambda workers: workers.pop("notification_sweeper"),
        lambda workers: workers.update(
            notification_sweeper=counters(invocations=0, processed=0, held_ms=0, init_ms=0)
        ),
    ],
    ids=["no-sweeper-counters", "sweeper-never-ran"],
)
def test_a_report_without_sweeper_runs_costs_no_sweeper_time(
    workers_change: Callable[[dict[str, Any]], object],
) -> None:
    # Given a demo in which the sweeper never ran
    document = demo_report()
    workers_change(document["workers"])
    # When its costs are read
    costs = emulator_costs(document, reference_seconds=REFERENCE_SECONDS)
    # Then a sweeper run costs nothing, and the pipeline's workers are unchanged
    assert costs.sweeper_run_seconds == 0
    assert costs.generator_ms == pytest.approx(20.0)
    assert costs.init_seconds == pytest.approx(1.0)


def test_a_worker_whose_import_took_all_its_held_time_costs_no_negative_time() -> None:
    # Given a report whose status consumer spent all its held time importing its handler
    document = demo_report()
    document["workers"]["sms_status_consumer"].update(held_ms=100, init_ms=100)
    # When its costs are read
    costs = emulator_costs(document, reference_seconds=REFERENCE_SECONDS)
    # Then its per-event cost is 0, not negative, and its import still counts in the init
    assert costs.status_ms == 0
    assert costs.init_seconds == pytest.approx(1.0)


# DemoReportError: what the model cannot read, and why


def _without_held_ms(document: dict[str, Any]) -> None:
    del document["workers"]["notification_send"]["held_ms"]


def _created_nothing(document: dict[str, Any]) -> None:
    document["notifications"]["created"] = 0


def _without_generator(document: dict[str, Any]) -> None:
    del document["workers"]["notification_generator"]


def _sender_handled_nothing(document: dict[str, Any]) -> None:
    document["workers"]["notification_send"].update(records_processed=0, records_failed=0)


def _scheduler_never_ran(document: dict[str, Any]) -> None:
    document["workers"]["notification_scheduler"]["invocations"] = 0


def _generator_held_nothing_but_its_import(document: dict[str, Any]) -> None:
    document["workers"]["notification_generator"].update(held_ms=200, init_ms=200)


def _sweeper_ran_without_held_ms(document: dict[str, Any]) -> None:
    del document["workers"]["notification_sweeper"]["held_ms"]


def _notifications_null(document: dict[str, Any]) -> None:
    document["notifications"] = None


def _workers_a_list(document: dict[str, Any]) -> None:
    document["workers"] = []


def _status_counts_not_numbers(document: dict[str, Any]) -> None:
    document["vendors"]["sms"]["statusEventsPublished"] = {"QUEUED": "many"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            _without_held_ms,
            "workers.notification_send has no held_ms: the report was written before the sandbox "
            "measured it; run `dmd sandbox demo --report PATH` again",
        ),
        (_created_nothing, "the report's demo created no notification (notifications.created)"),
        (_without_generator, "the report has no counters for notification_generator"),
        (_sender_handled_nothing, "the report's sender or scheduler handled nothing"),
        (_scheduler_never_ran, "the report's sender or scheduler handled nothing"),
        (_generator_held_nothing_but_its_import, "the report's figures make no cost"),
        (_sweeper_ran_without_held_ms, "workers.notification_sweeper has no held_ms"),
        (_notifications_null, "not shaped as a demo report"),
        (_workers_a_list, "not shaped as a demo report"),
        (_status_counts_not_numbers, "not shaped as a demo report"),
    ],
    ids=[
        "older-dmd",
        "created-nothing",
        "missing-worker",
        "sender-idle",
        "scheduler-idle",
        "zero-cost",
        "sweeper-older-dmd",
        "notifications-null",
        "workers-list",
        "status-counts-text",
    ],
)
def test_a_report_the_model_cannot_read_is_refused_with_the_reason(
    change: Callable[[dict[str, Any]], None], reason: str
) -> None:
    # Given a report missing what the model needs
    document = demo_report()
    change(document)
    # When its costs are read
    with pytest.raises(DemoReportError) as refused:
        emulator_costs(document, reference_seconds=REFERENCE_SECONDS)
    # Then the error says what is missing
    assert reason in str(refused.value)


def test_a_missing_report_is_refused_naming_the_path_and_how_to_write_one(tmp_path: Path) -> None:
    # Given a path where no report was written
    path = tmp_path / "nowhere" / "demo-report.json"
    # When it is read
    with pytest.raises(DemoReportError) as refused:
        read_report(path)
    # Then the error names the path and the command that writes a report
    assert str(path) in str(refused.value)
    assert "dmd sandbox demo --report" in str(refused.value)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"run": {', "is not a demo's JSON report"),
        (b"\xff\xfe\x00not text", "is not a demo's JSON report"),
        (b"[1, 2, 3]", "is not a demo's JSON report: not an object"),
        (b'"a string"', "is not a demo's JSON report: not an object"),
    ],
    ids=["not-json", "not-utf8", "json-list", "json-string"],
)
def test_a_file_that_is_not_a_json_object_is_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    # Given a file that is not a JSON object
    path = tmp_path / "demo-report.json"
    path.write_bytes(content)
    # When it is read
    with pytest.raises(DemoReportError) as refused:
        read_report(path)
    # Then the error names the file and says it is no demo report
    assert str(refused.value).startswith(f"{path} ")
    assert reason in str(refused.value)


def test_a_directory_is_refused_as_no_report(tmp_path: Path) -> None:
    # When a directory is read as a report
    with pytest.raises(DemoReportError) as refused:
        read_report(tmp_path)
    # Then it is refused as no demo report, not with an OSError
    assert f"{tmp_path} is not a demo's JSON report" in str(refused.value)


def test_a_report_is_read_back_as_written(tmp_path: Path) -> None:
    # Given a report written to a file
    path = write_report(tmp_path, demo_report())
    # When it is read
    document = read_report(path)
    # Then it is the document written
    assert document == demo_report()


# with_report: the emulator's costs replaced, the AWS costs kept


def test_with_report_keeps_the_aws_costs_and_says_where_the_emulators_came_from(tmp_path: Path) -> None:
    # Given committed costs and a demo's report on disk
    committed = committed_like_costs()
    path = write_report(tmp_path, demo_report())
    # When the report's costs replace the emulator's
    costs = with_report(committed, path)
    # Then the emulator's are the report's, measured against the committed reference pace
    assert costs.emulator == emulator_costs(demo_report(), reference_seconds=REFERENCE_SECONDS)
    assert costs.emulator.send_ms == pytest.approx(50.0)
    # And the AWS costs and call counts are the committed ones
    assert costs.aws == committed.aws
    assert costs.calls_per_notification == committed.calls_per_notification
    # And the costs say they came from that report
    assert costs.measured == f"the sandbox demo's report {path}"
    assert committed.measured == "the bench of some day"


def test_with_report_passes_a_bad_report_on_as_a_demo_report_error(tmp_path: Path) -> None:
    # Given a report written by an older dmd (no held_ms)
    document = demo_report()
    for worker in document["workers"].values():
        del worker["held_ms"]
    path = write_report(tmp_path, document)
    # When its costs replace the committed ones
    with pytest.raises(DemoReportError, match="has no held_ms"):
        with_report(committed_like_costs(), path)


# dmd capacity --stack local --from-report


def _capacity_json(path: Path, fans: int = 300) -> dict[str, Any]:
    result = run_dmd(
        "capacity", "--stack", "local", "--fans", str(fans), "--from-report", str(path), "--json"
    )
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    assert result.exit_code == (0 if document["holds"] else 1), result.output
    return document


def test_capacity_from_a_report_answers_with_the_reports_costs(tmp_path: Path) -> None:
    # Given a demo's report on disk
    path = write_report(tmp_path, demo_report())
    # When the local stack is modelled from it
    document = _capacity_json(path)
    # Then the answer is the sandbox model's with the report's costs, and says where they came from
    expected = sandbox_estimate(
        committed_shape("local"), with_report(load_costs(), path), Workload(fans=300), SandboxProfile()
    )
    assert document["totalSeconds"] == pytest.approx(expected.total_seconds, abs=0.01)
    assert document["costs"] == f"the sandbox demo's report {path}"
    # And not the committed bench's answer
    committed = json.loads(run_dmd("capacity", "--stack", "local", "--fans", "300", "--json").stdout)
    assert committed["totalSeconds"] != pytest.approx(document["totalSeconds"], abs=0.5)


def test_a_report_with_a_slower_sender_gives_a_longer_answer(tmp_path: Path) -> None:
    # Given two reports whose sender took twice and half the bench's 80 ms per record (160 ms, 40 ms)
    slow = write_report(tmp_path, demo_report(send_held_ms=300 + 200 * 160), "slow.json")
    fast = write_report(tmp_path, demo_report(send_held_ms=300 + 200 * 40), "fast.json")
    # When the local stack is modelled from each
    slow_answer = _capacity_json(slow)
    fast_answer = _capacity_json(fast)
    # Then the slower sender's sale takes longer, each answer naming its own report
    assert slow_answer["totalSeconds"] > fast_answer["totalSeconds"]
    assert slow_answer["perSecond"] < fast_answer["perSecond"]
    assert str(slow) in slow_answer["costs"] and str(fast) in fast_answer["costs"]


def test_capacity_without_from_report_keeps_the_committed_costs(tmp_path: Path) -> None:
    # Given a report whose sender is far slower than the committed bench's
    path = write_report(tmp_path, demo_report(send_held_ms=300 + 200 * 1_000))
    # When the local stack is modelled with and without it
    from_report = _capacity_json(path)
    result = run_dmd("capacity", "--stack", "local", "--fans", "300", "--json")
    committed = json.loads(result.stdout)
    # Then only the run given the report reads it
    assert committed["costs"] == load_costs().measured
    assert from_report["totalSeconds"] > committed["totalSeconds"]


def test_from_report_on_an_aws_stack_exits_2(tmp_path: Path) -> None:
    # Given a valid demo report
    path = write_report(tmp_path, demo_report())
    # When it is given for prod1
    result = run_dmd("capacity", "--stack", "prod1", "--fans", "1000", "--from-report", str(path))
    # Then the command refuses: a sandbox demo's costs apply to the local stack only
    assert result.exit_code == 2
    assert "--from-report reads a sandbox demo's costs: it applies to --stack local only" in flat(
        result.output
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no report at {path} (write one with `dmd sandbox demo --report PATH`)"),
        ("not json", "{path} is not a demo's JSON report"),
        ("[]", "{path} is not a demo's JSON report: not an object"),
        (
            json.dumps({**demo_report(), "workers": {}}),
            "the report has no counters for notification_scheduler",
        ),
    ],
    ids=["missing", "not-json", "json-list", "no-workers"],
)
def test_from_report_with_a_missing_or_bad_report_exits_2_saying_why(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    # Given a report path with nothing or something unreadable there
    path = tmp_path / "demo-report.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    # When the local stack is modelled from it
    result = run_dmd("capacity", "--stack", "local", "--fans", "300", "--from-report", str(path), "--json")
    # Then the command exits 2 with the reason, and prints no answer
    assert result.exit_code == 2
    assert reason.format(path=path) in flat(result.output)
    assert "totalSeconds" not in result.output
