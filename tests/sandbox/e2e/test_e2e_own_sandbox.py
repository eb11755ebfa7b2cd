"""Commands that start their own sandbox: `dmd sandbox demo` (small, under SMS faults and an emulator
restart), `dmd workers invoke`.

No other sandbox runs in the process meanwhile: the workers' clients are cached per process.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ops.cli import app
from sandbox.demo import DemoOptions, run_demo
from sandbox.vendors import parse_faults
from tests.sandbox.e2e.flows import e2e_marks

pytestmark = e2e_marks("e2e-own-sandbox")


def test_the_demo_sends_every_reminder_once_under_sms_faults_and_reports_it(tmp_path: Path) -> None:
    # Given a small demo with a flaky SMS service and carrier blocks
    options = DemoOptions(
        fans=40,
        sales=2,
        faults=parse_faults("sms=0.25,sms-blocked=0.1"),
        speed=10.0,
        seed=3,
        deadline_seconds=60.0,
        report_path=tmp_path / "report.json",
        worker_log=tmp_path / "workers.log",
    )
    screen = io.StringIO()
    # When it runs
    report = run_demo(options, Console(file=screen, width=120))
    # Then every invariant held, and the JSON report and summary say what happened
    assert report.ok, [invariant for invariant in report.invariants if not invariant.ok]
    document = json.loads((tmp_path / "report.json").read_text())
    notes = document["notifications"]
    assert notes["created"] == notes["expected"] > 0 and notes["nonTerminal"] == 0
    assert notes["delivered"] + notes["failed"] == notes["created"]
    assert notes["expired"] == 0  # every reminder left before its sale opened
    assert document["duplicatesSent"] == {"sms": 0, "email": 0, "total": 0}
    assert document["deadLetters"]["total"] == 0
    assert document["vendors"]["sms"]["faultsInjected"].get("5xx", 0) > 0
    assert set(notes["failedByReason"]) <= {"INVALID_NUMBER", "BLOCKED", "MAX_SEND_ATTEMPTS_EXCEEDED"}
    assert document["awsApiCalls"]["perDeliveredNotification"] > 0
    assert document["latencySeconds"]["all"]["p50"] > 0
    assert "every notification terminal" in screen.getvalue()
    assert (tmp_path / "workers.log").stat().st_size > 0
    # And the sweeper started at the tick: it ran once a sandbox minute, not the hour the clock jumped
    pipeline_seconds = document["run"]["pipelineSeconds"]
    sweeps = document["workers"]["notification_sweeper"]["invocations"]
    assert sweeps <= document["run"]["wallSeconds"] * 10 / 60 + 1
    # And `dmd capacity --stack local`, given what each worker held the process for in this demo
    # (its report), predicts the demo's tick → every notification terminal within 25 %: the waits,
    # the turns the functions take and the retries are the model's (a structure that runs the stages
    # side by side would be off by their sum)
    prediction = CliRunner().invoke(
        app,
        [
            *("capacity", "--stack", "local", "--fans", str(notes["created"]), "--sales", "2"),
            *("--sms-share", f"{notes['expectedSms'] / notes['expected']:.4f}"),
            *("--faults", "sms=0.25,sms-blocked=0.1", "--speed", "10"),
            *("--from-report", str(tmp_path / "report.json"), "--json"),
        ],
    )
    assert prediction.exit_code == 0, prediction.output  # the window (3 real minutes at ×10) holds
    predicted = json.loads(prediction.stdout)
    assert "report" in predicted["costs"]
    assert predicted["totalSeconds"] == pytest.approx(pipeline_seconds, rel=0.25), (
        predicted,
        pipeline_seconds,
    )


# Its own sandbox: a group of its own, so xdist can run it beside the module's other demos.
@pytest.mark.xdist_group("e2e-own-sandbox-harsh")
def test_under_every_sms_fault_at_once_every_reminder_ends_terminal_once_and_tracked(tmp_path: Path) -> None:
    # Given a demo whose SMS service fails 30 % of requests in every way it can at once (5xx, 429,
    # timeouts, answers lost after sending) and is down for two minutes of sandbox time
    options = DemoOptions(
        fans=80,
        sales=2,
        faults=parse_faults("sms=0.1,sms-429=0.1,sms-timeout=0.05,sms-lost-answer=0.05,sms-outage=20-140"),
        speed=10.0,
        seed=5,
        deadline_seconds=240.0,
        report_path=tmp_path / "report.json",
        worker_log=tmp_path / "workers.log",
    )
    # When it runs
    report = run_demo(options, Console(file=io.StringIO(), width=120))
    # Then every invariant held: every notification terminal, none sent twice, nothing lost, and
    # every SMS the service sent is tracked on its notification (a lost answer spent no attempt)
    assert report.ok, [invariant for invariant in report.invariants if not invariant.ok]
    document = json.loads((tmp_path / "report.json").read_text())
    assert document["notifications"]["nonTerminal"] == 0
    assert document["duplicatesSent"]["total"] == 0
    injected = document["vendors"]["sms"]["faultsInjected"]
    assert {"5xx", "429", "timeout", "lost-answer"} <= set(injected), injected
    # And the breaker held the sends while the service was down
    assert '"Send breaker open' in (tmp_path / "workers.log").read_text()


# Its own sandbox: a group of its own, so xdist can run it beside the module's other demos.
@pytest.mark.xdist_group("e2e-own-sandbox-restart")
def test_an_emulator_restart_mid_sale_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    # Given a small demo whose emulator restarts five sandbox seconds after the tick (state saved,
    # the process stopped and down for seconds, a new process started from the state), and whose
    # SMS service publishes statuses twice and out of order
    options = DemoOptions(
        fans=24,
        sales=1,
        faults=parse_faults("emulator-restart=5,sms-duplicate-status=0.5,sms-out-of-order=0.3"),
        speed=10.0,
        seed=3,
        deadline_seconds=60.0,
        report_path=tmp_path / "report.json",
        worker_log=tmp_path / "workers.log",
    )
    screen = io.StringIO()
    # When it runs
    report = run_demo(options, Console(file=screen, width=140))
    # Then the emulator really restarted (another process) with every service's state
    assert report.ok, [invariant for invariant in report.invariants if not invariant.ok]
    document = json.loads((tmp_path / "report.json").read_text())
    restart = document["faultDrills"]["emulatorRestart"]
    assert restart["restarted"] and restart["newPid"] != restart["oldPid"]
    assert {"dynamodb", "dynamodbstreams", "kinesis", "sqs", "lambda"} <= set(restart["services"])
    assert restart["happenedAtSeconds"] >= 5 and restart["downSeconds"] >= 3
    # And the sale went on after it from where it was: sends and statuses processed afterwards,
    # every reminder terminal, none missing, none sent twice, nothing dead-lettered
    assert restart["recordsProcessedAfterByWorker"].get("notification_send", 0) > 0
    notes = document["notifications"]
    assert notes["created"] == notes["expected"] > 0
    assert notes["nonTerminal"] == 0 and notes["missing"] == 0
    assert document["duplicatesSent"]["total"] == 0
    assert document["deadLetters"]["total"] == 0
    # And the report says what the drills injected
    status = document["faultDrills"]["smsStatus"]
    assert status["messagesWithDuplicatedStatuses"] > 0 and status["statusEventsDuplicated"] > 0
    assert "emulator restart" in screen.getvalue()


def test_workers_invoke_runs_one_send_in_a_fresh_sandbox() -> None:
    # Given a CREATED SMS notification as the table stream would carry it
    item = {
        "PK": "fan:cli-1",
        "SK": "notification#G5vYZ9dmdChi-public#sms",
        "type": "notification",
        "fanId": "cli-1",
        "eventId": "G5vYZ9dmdChi",
        "saleId": "public",
        "contactMethod": "sms",
        "status": {"id": "CREATED", "date": "2030-01-01T10:00:00.000Z"},
        "date": {"created": "2030-01-01T10:00:00.000Z"},
        "phoneNumber": "+13125550199",
        "messageBody": "Maren Holloway presale starts 10:00 AM CT https://bit.ly/x",
        "saleStartDateTime": "2030-01-01T16:00:00Z",
    }
    # When `dmd workers invoke notification_send` runs it
    result = CliRunner().invoke(app, ["workers", "invoke", "notification_send", json.dumps(item)])
    # Then the batch succeeded and the SMS service accepted the message
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout[result.stdout.index("{") :]) == {"batchItemFailures": []}
    assert "the SMS service accepted 1 message(s)" in result.stderr
