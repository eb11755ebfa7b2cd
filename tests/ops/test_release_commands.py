"""`dmd release` on the local stack in moto: exit codes, confirmation, progress, summary, JSON, status."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from ops.operations_records import (
    MAINTENANCE,
    RELEASE,
    MaintenanceRecord,
    ReleasedWorker,
    ReleaseRecord,
    active_release,
    create_record,
    release_history,
)
from ops.release_commands import SUMMARY_COLUMNS
from ops.target import Target
from tests.ops.cli_output import command_json, flat, local_stack_is, run_dmd, table_rows
from tests.ops.release_harness import (
    OPERATOR,
    SEND,
    SEND_FUNCTION,
    SHORT_URL,
    SHORT_URL_FUNCTION,
    FakeClock,
    alias_moves,
    fake_time,
    live,
    local_target,
    publish,
    put_through_live,
)

RESULT_KEYS = {
    "stack",
    "kind",
    "strategy",
    "dryRun",
    "steps",
    "stepSeconds",
    "startedBy",
    "startedAt",
    "finishedAt",
    "outcome",
    "workers",
    "skipped",
}
WORKER_KEYS = {
    "worker",
    "functionName",
    "fromVersion",
    "toVersion",
    "stepsDone",
    "stepsTotal",
    "weightPercent",
    "outcome",
    "reason",
}


@pytest.fixture
def local(deployed: AwsClients, local_graph: ResourceGraph, monkeypatch: pytest.MonkeyPatch) -> Target:
    """`--stack local` reaches the local stack in moto (every `live` on version 1)."""
    target = local_target(deployed, local_graph)
    local_stack_is(target, monkeypatch)
    return target


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The command's clock and sleep, faked: nothing waits for real."""
    fake = FakeClock()
    fake_time(monkeypatch, fake)
    return fake


def test_a_bad_strategy_exits_2_naming_the_valid_ones() -> None:
    result = run_dmd("release", "--stack", "local", "--strategy", "canary50-1m", "--yes")
    assert result.exit_code == 2
    assert "dmd: unknown strategy 'canary50-1m' (strategies: canary10-5m, linear10-1m, all-at-once)" in flat(
        result.output
    )


def test_an_unknown_worker_exits_2_naming_the_workers(local: Target) -> None:
    result = run_dmd("release", "--stack", "local", "--workers", "notification_sned", "--yes")
    assert result.exit_code == 2
    assert "dmd: no worker 'notification_sned' (workers: notification_scheduler," in flat(result.output)


def test_nothing_to_release_says_so_and_exits_0(local: Target, clock: FakeClock) -> None:
    result = run_dmd("release", "--stack", "local", "--yes", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["outcome"], document["workers"]) == ("nothing-to-release", [])
    assert {item["worker"] for item in document["skipped"]} == set(local.fleet.workers)
    assert "local: nothing to release" in result.stderr
    assert release_history(local) == []


def test_a_canary_release_moves_live_shows_a_summary_and_records_it(local: Target, clock: FakeClock) -> None:
    # Given `pulumi up` published version 2 of the sender
    publish(local, SEND_FUNCTION)
    moves = alias_moves(local)
    # When on-call releases it with the sandbox's short steps
    result = run_dmd(
        "release", "--stack", "local", "--strategy", "canary10-5m", "--step-seconds", "6", "--yes"
    )
    # Then it exits 0, `live` went 10 % then 100 %, and the summary table says so
    assert result.exit_code == 0, result.output
    assert moves == [(SEND_FUNCTION, "1", {"2": 0.1}), (SEND_FUNCTION, "2", {})]
    assert sum(clock.sleeps) == 6
    rows = table_rows(result.stdout, SUMMARY_COLUMNS)
    assert rows[SEND] == {
        "worker": SEND,
        "from": "1",
        "to": "2",
        "steps": "2/2",
        "weight": "100%",
        "outcome": "completed",
        "reason": "-",
    }
    assert rows[SHORT_URL]["outcome"] == "not moved"
    # And the plan was shown first (stderr), with each step
    assert "Release on local (canary10-5m: 10% for 6s, 100%)" in flat(result.stderr)
    assert f"{SEND}: live 1 -> 2" in result.stderr
    assert release_history(local)[-1].outcome == "completed"


def test_a_bad_new_version_is_rolled_back_exit_1_and_dmd_status_shows_the_release(
    local: Target, clock: FakeClock
) -> None:
    # Given version 2 of two workers, the sender's new version failing through `live`
    publish(local, SEND_FUNCTION)
    publish(local, SHORT_URL_FUNCTION)

    def failing(fake: FakeClock) -> None:
        put_through_live(local, SEND_FUNCTION, "2", fake.now - timedelta(seconds=1), invocations=2, errors=2)

    clock.on_sleep = failing
    # When both are released, as a script would
    result = run_dmd(
        "release", "--stack", "local", "--strategy", "linear10-1m", "--step-seconds", "6", "--yes", "--json"
    )
    # Then the sender is back on 1, the short-URL worker on 2, and the command fails naming why
    assert result.exit_code == 1, result.output
    assert live(local, SEND_FUNCTION) == ("1", {})
    assert live(local, SHORT_URL_FUNCTION) == ("2", {})
    document = json.loads(result.stdout)
    assert set(document) == RESULT_KEYS
    assert {key for worker in document["workers"] for key in worker} == WORKER_KEYS
    assert document["steps"] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert (document["kind"], document["outcome"], document["dryRun"]) == ("release", "rolled-back", False)
    outcomes = {worker["worker"]: (worker["outcome"], worker["reason"]) for worker in document["workers"]}
    assert outcomes == {
        SEND: ("rolled-back", "version 2: 2 errors in 2 invocations (100% > 5%)"),
        SHORT_URL: ("completed", None),
    }
    assert "dmd: release rolled-back on local: notification_send: rolled-back (version 2:" in flat(
        result.stderr
    )
    # And `dmd status` shows the last release, who ran it and how it ended
    status = run_dmd("status", "--stack", "local", "--json")
    assert status.exit_code == 0, status.output
    release = json.loads(status.stdout)["release"]
    assert release["active"] is None
    assert (release["last"]["kind"], release["last"]["strategy"], release["last"]["outcome"]) == (
        "release",
        "linear10-1m",
        "rolled-back",
    )
    assert release["last"]["startedBy"].startswith("arn:aws:")
    assert [
        (w["worker"], w["fromVersion"], w["toVersion"], w["outcome"]) for w in release["last"]["workers"]
    ] == [
        (SEND, "1", "2", "rolled-back"),
        (SHORT_URL, "1", "2", "completed"),
    ]
    screen = flat(run_dmd("status", "--stack", "local").stdout)
    assert "Last release rolled-back" in screen
    assert "notification_send 1→2 rolled-back (version 2: 2 errors in 2 invocations" in screen


def test_a_release_is_refused_while_another_runs_and_during_maintenance(
    local: Target, clock: FakeClock
) -> None:
    publish(local, SEND_FUNCTION)
    # Given a release running (its lock record), started by someone else
    create_record(local, RELEASE, someone_elses_lock(started_by=OPERATOR))
    refused = run_dmd("release", "--stack", "local", "--yes")
    assert refused.exit_code == 1
    assert (
        f"dmd: a release is already running on local: started 2026-12-01 08:00:00 UTC by {OPERATOR}"
        in flat(refused.stderr)
    )
    # Given instead a maintenance window
    local.clients.client("ssm").delete_parameter(Name="/prd3292/local/us-east-1/operations/release")
    create_record(
        local,
        MAINTENANCE,
        MaintenanceRecord(
            stack="local",
            reason="CHG-7 migration",
            started_by=OPERATOR,
            started_at=datetime(2026, 12, 1, 8, 15, tzinfo=UTC),
            workers=(SEND,),
        ),
    )
    refused = run_dmd("release", "--stack", "local", "--yes")
    assert refused.exit_code == 1
    assert "dmd: a maintenance window is active on local (since 2026-12-01 08:15 UTC" in flat(refused.stderr)
    # Then nothing moved and nothing was recorded
    assert live(local, SEND_FUNCTION) == ("1", {})
    assert release_history(local) == []


def someone_elses_lock(*, started_by: str) -> ReleaseRecord:
    """A release lock as another operator's running release holds it."""
    return ReleaseRecord(
        stack="local",
        strategy="canary10-5m",
        started_by=started_by,
        started_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        workers=(
            ReleasedWorker(
                worker=SEND, function_name=SEND_FUNCTION, from_version="1", to_version="2", steps_total=2
            ),
        ),
    )


def test_a_declined_confirmation_and_a_dry_run_change_nothing(local: Target, clock: FakeClock) -> None:
    publish(local, SEND_FUNCTION)
    declined = run_dmd("release", "--stack", "local", input="n\n")
    assert declined.exit_code == 1
    assert "aborted: nothing changed" in flat(declined.stderr)
    dry = run_dmd("release", "--stack", "local", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    document = json.loads(dry.stdout)
    assert (document["dryRun"], document["outcome"], document["startedBy"]) == (True, "planned", None)
    assert [(w["worker"], w["fromVersion"], w["toVersion"], w["outcome"]) for w in document["workers"]] == [
        (SEND, "1", "2", "pending")
    ]
    assert live(local, SEND_FUNCTION) == ("1", {})
    assert release_history(local) == []
    assert active_release(local) is None


def _ctrl_c(_: FakeClock) -> None:
    raise KeyboardInterrupt


def _sigterm(_: FakeClock) -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # what cancelling the CI job does


@pytest.mark.parametrize("stop", [_ctrl_c, _sigterm], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_a_cancelled_job_rolls_back_and_exits_1_with_interrupted(
    local: Target, clock: FakeClock, stop: Callable[[FakeClock], None]
) -> None:
    # Given a release of the sender, stopped during its first watched step
    publish(local, SEND_FUNCTION)
    clock.on_sleep = stop
    result = run_dmd("release", "--stack", "local", "--yes")
    # Then `live` is back on 1, the command fails saying so, and the release is recorded interrupted
    assert result.exit_code == 1
    assert live(local, SEND_FUNCTION) == ("1", {})
    assert "dmd: release interrupted on local: notification_send: interrupted" in flat(result.stderr)
    assert release_history(local)[-1].outcome == "interrupted"
    assert active_release(local) is None
    assert signal.getsignal(signal.SIGTERM) is not None  # the command's handler is gone again
    assert getattr(signal.getsignal(signal.SIGTERM), "__name__", "") != "interrupt"


def test_rollback_moves_live_back_after_confirmation_and_is_recorded(local: Target, clock: FakeClock) -> None:
    # Given a completed release of the sender from 1 to 2
    publish(local, SEND_FUNCTION)
    assert (
        run_dmd(
            "release", "--stack", "local", "--strategy", "all-at-once", "--step-seconds", "1", "--yes"
        ).exit_code
        == 0
    )
    assert live(local, SEND_FUNCTION) == ("2", {})
    # When on-call rolls back, answering yes
    result = run_dmd("release", "--stack", "local", "--rollback", "--json", input="y\n")
    # Then `live` is on 1 again and the rollback is recorded
    assert result.exit_code == 0, result.output
    assert f"{SEND}: live 2 -> 1" in result.stderr
    assert live(local, SEND_FUNCTION) == ("1", {})
    document = command_json(result.stdout)  # after the typed answer, which the test runner echoes
    assert (document["kind"], document["outcome"]) == ("rollback", "completed")
    assert release_history(local)[-1].kind == "rollback"
    # And a second rollback has nothing to do
    again = run_dmd("release", "--stack", "local", "--rollback", "--yes")
    assert again.exit_code == 0
    assert "local: nothing to roll back" in again.stderr
