"""Gradual release of `live` on the local stack in moto: steps, signals, rollback, refusals, records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from ops.operations_records import (
    MAINTENANCE,
    RELEASE,
    RELEASE_HISTORY_KEPT,
    MaintenanceRecord,
    ReleasedWorker,
    ReleaseRecord,
    active_release,
    append_release,
    create_record,
    fitted,
    release_history,
)
from ops.release import (
    Release,
    ReleaseError,
    ReleaseInputError,
    ReleasePlan,
    Step,
    Strategy,
    parse_strategy,
    plan_release,
    plan_rollback,
    run_rollback,
    strategy_steps,
)
from ops.target import Target
from tests.ops.release_harness import (
    OPERATOR,
    SEND,
    SEND_ERROR_RATE_ALARM,
    SEND_FUNCTION,
    SHORT_URL,
    SHORT_URL_FUNCTION,
    FakeClock,
    alarm_fires,
    alias_moves,
    live,
    local_target,
    publish,
    put_own,
    put_through_live,
)


@pytest.fixture
def local(deployed: AwsClients, local_graph: ResourceGraph) -> Target:
    """The local stack in moto: every worker's `live` on version 1, the only one published."""
    return local_target(deployed, local_graph)


def _release(target: Target, plan: ReleasePlan, clock: FakeClock) -> ReleaseRecord:
    running = Release(target, plan, clock=clock, sleep=clock.sleep)
    return running.run(running.start())


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------


def test_each_strategy_has_its_documented_steps_and_step_seconds_shortens_the_watched_ones() -> None:
    assert strategy_steps(Strategy.CANARY) == (Step(10, 300), Step(100, 0))
    assert strategy_steps(Strategy.LINEAR) == (
        *(Step(weight, 60) for weight in range(10, 100, 10)),
        Step(100, 0),
    )
    assert strategy_steps(Strategy.ALL_AT_ONCE) == (Step(100, 60),)  # the bake watch
    # Given --step-seconds (sandbox, drills): every watched step lasts that long, the last shift
    # stays unwatched
    assert strategy_steps(Strategy.CANARY, step_seconds=6) == (Step(10, 6), Step(100, 0))
    assert strategy_steps(Strategy.ALL_AT_ONCE, step_seconds=6) == (Step(100, 6),)


def test_an_unknown_strategy_names_the_valid_ones() -> None:
    assert parse_strategy(" linear10-1m ") is Strategy.LINEAR
    with pytest.raises(ReleaseInputError, match=r"unknown strategy 'canary50' \(strategies: canary10-5m, "):
        parse_strategy("canary50")


# ---------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------


def test_by_default_only_workers_with_a_newer_published_version_are_released(local: Target) -> None:
    # Given `pulumi up` published version 2 of the sender only
    assert publish(local, SEND_FUNCTION) == "2"
    # When the release is planned
    plan = plan_release(local, Strategy.CANARY)
    # Then only the sender moves, from 1 to 2; every other worker is left out, saying why
    assert [(c.worker.name, c.from_version, c.to_version) for c in plan.candidates] == [(SEND, "1", "2")]
    skipped = {item.worker: item.reason for item in plan.skipped}
    assert set(skipped) == set(local.fleet.workers) - {SEND}
    assert skipped[SHORT_URL] == "nothing to release (live on 1, the newest)"


def test_nothing_to_release_is_an_empty_plan_and_an_unknown_worker_names_the_valid_ones(
    local: Target,
) -> None:
    assert plan_release(local, Strategy.CANARY).empty
    with pytest.raises(
        ReleaseInputError, match=r"no worker 'notification_sned' \(workers: notification_scheduler, "
    ):
        plan_release(local, Strategy.CANARY, names=["notification_sned"])


# ---------------------------------------------------------------------------------------------
# Progress through the steps
# ---------------------------------------------------------------------------------------------


def test_canary_sends_10_percent_for_5_minutes_then_moves_live_and_records_the_release(local: Target) -> None:
    # Given version 2 of the sender and of the short-URL worker, and a quiet stack
    publish(local, SEND_FUNCTION)
    publish(local, SHORT_URL_FUNCTION)
    moves = alias_moves(local)
    clock = FakeClock()
    started = clock.now
    # When a canary release runs
    record = _release(local, plan_release(local, Strategy.CANARY), clock)
    # Then each worker got 10 % on version 2, then `live` moved to 2 without weights, in that order
    assert moves == [
        (SEND_FUNCTION, "1", {"2": 0.1}),
        (SHORT_URL_FUNCTION, "1", {"2": 0.1}),
        (SEND_FUNCTION, "2", {}),
        (SHORT_URL_FUNCTION, "2", {}),
    ]
    assert live(local, SEND_FUNCTION) == live(local, SHORT_URL_FUNCTION) == ("2", {})
    # And the 10 % step was watched five minutes, polled every 10 s, without waiting for real
    assert sum(clock.sleeps) == 300
    assert set(clock.sleeps) == {10}
    # And the release is in the history, completed, and the lock is gone
    assert record.outcome == "completed"
    assert release_history(local) == [record]
    assert (record.kind, record.strategy, record.started_at, record.finished_at) == (
        "release",
        "canary10-5m",
        started,
        started + timedelta(seconds=300),
    )
    assert [
        (w.worker, w.from_version, w.to_version, w.steps_done, w.steps_total, w.weight_percent, w.outcome)
        for w in record.workers
    ] == [
        (SEND, "1", "2", 2, 2, 100, "completed"),
        (SHORT_URL, "1", "2", 2, 2, 100, "completed"),
    ]
    assert active_release(local) is None


def test_linear_adds_10_percent_every_minute_up_to_90_then_moves_live(local: Target) -> None:
    publish(local, SEND_FUNCTION)
    moves = alias_moves(local)
    clock = FakeClock()
    record = _release(local, plan_release(local, Strategy.LINEAR), clock)
    assert moves == [
        *((SEND_FUNCTION, "1", {"2": weight / 100}) for weight in range(10, 100, 10)),
        (SEND_FUNCTION, "2", {}),
    ]
    assert sum(clock.sleeps) == 9 * 60
    assert record.workers[0].steps_done == 10
    assert record.outcome == "completed"


def test_all_at_once_moves_live_then_bakes_a_minute_and_step_seconds_shortens_it(local: Target) -> None:
    publish(local, SEND_FUNCTION)
    moves = alias_moves(local)
    clock = FakeClock()
    record = _release(local, plan_release(local, Strategy.ALL_AT_ONCE, step_seconds=6), clock)
    assert moves == [(SEND_FUNCTION, "2", {})]
    assert sum(clock.sleeps) == 6  # the bake watch, shortened, polled every step/6 = 1 s
    assert clock.sleeps == [1.0] * 6
    assert record.outcome == "completed"


# ---------------------------------------------------------------------------------------------
# Rollback on a bad signal
# ---------------------------------------------------------------------------------------------


def test_an_alarm_firing_during_the_canary_rolls_that_worker_back_and_the_others_go_on(local: Target) -> None:
    # Given version 2 of two workers, and the sender's error-rate alarm firing 30 s into the canary
    publish(local, SEND_FUNCTION)
    publish(local, SHORT_URL_FUNCTION)
    moves = alias_moves(local)

    def fire(clock: FakeClock) -> None:
        if sum(clock.sleeps) == 30:
            alarm_fires(local, SEND_ERROR_RATE_ALARM)

    clock = FakeClock(on_sleep=fire)
    # When the canary runs
    record = _release(local, plan_release(local, Strategy.CANARY), clock)
    # Then the sender went back to 1 without weights at once, and the short-URL worker completed
    assert moves == [
        (SEND_FUNCTION, "1", {"2": 0.1}),
        (SHORT_URL_FUNCTION, "1", {"2": 0.1}),
        (SEND_FUNCTION, "1", {}),
        (SHORT_URL_FUNCTION, "2", {}),
    ]
    assert live(local, SEND_FUNCTION) == ("1", {})
    assert live(local, SHORT_URL_FUNCTION) == ("2", {})
    send, short_url = record.workers
    assert (send.outcome, send.steps_done, send.weight_percent) == ("rolled-back", 0, 0)
    assert send.reason == f"alarm {SEND_ERROR_RATE_ALARM} in ALARM"
    assert short_url.outcome == "completed"
    assert record.outcome == "rolled-back"
    assert release_history(local)[-1] == record


def test_an_alarm_already_in_alarm_before_the_release_is_no_signal(local: Target) -> None:
    # Given the sender's error-rate alarm in ALARM before the release (an incident being fixed)
    alarm_fires(local, SEND_ERROR_RATE_ALARM)
    publish(local, SEND_FUNCTION)
    # When an all-at-once release runs
    record = _release(local, plan_release(local, Strategy.ALL_AT_ONCE), FakeClock())
    # Then it completes: only an alarm that goes into ALARM during the release is a signal
    assert record.outcome == "completed"


def test_errors_of_the_new_version_through_live_roll_it_back(local: Target) -> None:
    # Given version 2 of the sender failing 3 of its 4 invocations through `live` during the canary
    publish(local, SEND_FUNCTION)

    def fail_new_version(clock: FakeClock) -> None:
        if sum(clock.sleeps) == 20:
            at = clock.now - timedelta(seconds=1)
            put_through_live(local, SEND_FUNCTION, "2", at, invocations=4, errors=3)
            put_through_live(local, SEND_FUNCTION, "1", at, invocations=36, errors=0)

    clock = FakeClock(on_sleep=fail_new_version)
    record = _release(local, plan_release(local, Strategy.CANARY), clock)
    # Then the first poll that sees them rolls the sender back, saying why
    assert live(local, SEND_FUNCTION) == ("1", {})
    assert record.workers[0].outcome == "rolled-back"
    assert record.workers[0].reason == "version 2: 3 errors in 4 invocations (75% > 5%)"
    assert sum(clock.sleeps) == 20  # no need to watch further: nothing else is moving


def test_the_old_versions_errors_and_a_few_new_ones_below_the_rate_are_no_signal(local: Target) -> None:
    publish(local, SEND_FUNCTION)

    def noise(clock: FakeClock) -> None:
        if sum(clock.sleeps) == 20:
            at = clock.now - timedelta(seconds=1)
            put_through_live(local, SEND_FUNCTION, "2", at, invocations=100, errors=1)  # 1 % < 5 %
            put_through_live(local, SEND_FUNCTION, "1", at, invocations=900, errors=300)

    record = _release(local, plan_release(local, Strategy.CANARY), FakeClock(on_sleep=noise))
    assert record.outcome == "completed"


def test_failed_records_and_send_failures_roll_the_sender_back(local: Target) -> None:
    # Given the sender's batches reporting failed records in 2 of 10 invocations (20 % > 5 %)
    publish(local, SEND_FUNCTION)

    def failing_records(clock: FakeClock) -> None:
        if sum(clock.sleeps) == 10:
            at = clock.now - timedelta(seconds=1)
            put_through_live(local, SEND_FUNCTION, "2", at, invocations=1, errors=0)
            put_through_live(local, SEND_FUNCTION, "1", at, invocations=9, errors=0)
            put_own(local, SEND, "BatchRecordsFailed", at, 4)
            put_own(local, SEND, "BatchRecordsFailed", at, 1)
            put_own(local, SEND, "SmsFailed", at, 2)

    record = _release(local, plan_release(local, Strategy.CANARY), FakeClock(on_sleep=failing_records))
    assert record.workers[0].outcome == "rolled-back"
    assert record.workers[0].reason == (
        "2 of 10 invocations reported failed records (20% > 5%); "
        "2 send failures (SmsFailed + EmailFailed) > 0"
    )


# ---------------------------------------------------------------------------------------------
# Refusals, interruption, records
# ---------------------------------------------------------------------------------------------


def test_a_second_release_is_refused_naming_who_runs_the_first_and_since_when(local: Target) -> None:
    publish(local, SEND_FUNCTION)
    first = Release(local, plan_release(local, Strategy.CANARY), clock=FakeClock(), sleep=FakeClock().sleep)
    first.start()
    second = Release(local, plan_release(local, Strategy.CANARY), clock=FakeClock(), sleep=FakeClock().sleep)
    with pytest.raises(ReleaseError, match=r"a release is already running on local: started .* by arn:aws:"):
        second.start()
    with pytest.raises(ReleaseError, match="a release is already running"):
        Release(local, plan_rollback(local), clock=FakeClock(), sleep=FakeClock().sleep).start()
    assert live(local, SEND_FUNCTION) == ("1", {})


def test_a_release_is_refused_during_a_maintenance_window(local: Target) -> None:
    publish(local, SEND_FUNCTION)
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
    release = Release(local, plan_release(local, Strategy.CANARY), clock=FakeClock(), sleep=FakeClock().sleep)
    with pytest.raises(
        ReleaseError,
        match=f"maintenance window is active on local .since 2026-12-01 08:15 UTC by {OPERATOR}: CHG-7",
    ):
        release.start()
    assert active_release(local) is None
    assert live(local, SEND_FUNCTION) == ("1", {})


def test_ctrl_c_mid_release_rolls_back_every_worker_not_completed_and_records_interrupted(
    local: Target,
) -> None:
    publish(local, SEND_FUNCTION)
    publish(local, SHORT_URL_FUNCTION)

    def interrupt(clock: FakeClock) -> None:
        if len(clock.sleeps) == 3:
            raise KeyboardInterrupt

    record = _release(local, plan_release(local, Strategy.LINEAR), FakeClock(on_sleep=interrupt))
    assert live(local, SEND_FUNCTION) == live(local, SHORT_URL_FUNCTION) == ("1", {})
    assert record.outcome == "interrupted"
    assert {(w.outcome, w.reason) for w in record.workers} == {("interrupted", "interrupted (Ctrl-C) at 10%")}
    assert release_history(local)[-1] == record
    assert active_release(local) is None


def test_rollback_moves_live_back_to_the_version_before_the_last_completed_release(local: Target) -> None:
    # Given a completed release of the sender from 1 to 2
    publish(local, SEND_FUNCTION)
    _release(local, plan_release(local, Strategy.ALL_AT_ONCE), FakeClock())
    assert live(local, SEND_FUNCTION) == ("2", {})
    # When on-call rolls back
    plan = plan_rollback(local)
    assert [(c.worker.name, c.from_version, c.to_version) for c in plan.candidates] == [(SEND, "2", "1")]
    record = run_rollback(local, plan, clock=FakeClock())
    # Then `live` is on 1 again, and the rollback is recorded
    assert live(local, SEND_FUNCTION) == ("1", {})
    assert (record.kind, record.outcome, record.workers[0].from_version, record.workers[0].to_version) == (
        "rollback",
        "completed",
        "2",
        "1",
    )
    # And a second rollback has nothing left to do
    assert plan_rollback(local).empty
    # And a default release (a re-run deploy job) does not offer version 2 again; naming the worker does
    assert plan_release(local, Strategy.CANARY).empty
    reason = next(item.reason for item in plan_release(local, Strategy.CANARY).skipped if item.worker == SEND)
    assert reason.startswith("version 2 was rolled back by the rollback of ")
    assert [c.to_version for c in plan_release(local, Strategy.CANARY, names=[SEND]).candidates] == ["2"]
    # And a version published after it (the fix) is released again by default
    publish(local, SEND_FUNCTION, "fix")
    assert [c.to_version for c in plan_release(local, Strategy.CANARY).candidates] == ["3"]


def test_the_history_keeps_the_latest_releases_each_within_one_standard_parameter(local: Target) -> None:
    # Given more releases than the history keeps, each with long reasons
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for index in range(RELEASE_HISTORY_KEPT + 2):
        append_release(
            local,
            ReleaseRecord(
                stack="local",
                strategy="canary10-5m",
                started_by=OPERATOR,
                started_at=start + timedelta(minutes=index),
                outcome="rolled-back",
                workers=tuple(
                    ReleasedWorker(
                        worker=name,
                        function_name=f"prd3292-local-us-east-1-{name}",
                        from_version="1",
                        to_version="2",
                        steps_total=10,
                        outcome="rolled-back",
                        reason="x" * 1000,
                    )
                    for name in local.fleet.workers
                ),
            ),
        )
    # Then the oldest two are gone, in order, and every kept one fits a standard parameter
    history = release_history(local)
    assert [record.started_at for record in history] == [
        start + timedelta(minutes=index) for index in range(2, RELEASE_HISTORY_KEPT + 2)
    ]
    assert all(len(fitted(record).model_dump_json()) <= 4096 for record in history)
    assert history[0].workers[0].reason is not None and history[0].workers[0].reason.endswith("…")
    assert read_lock_is_separate(local)


def read_lock_is_separate(target: Target) -> bool:
    """The lock record is not one of the history's parameters (a path of its own)."""
    create_record(
        target,
        RELEASE,
        ReleaseRecord(
            stack="local", strategy="canary10-5m", started_by=OPERATOR, started_at=datetime.now(UTC)
        ),
    )
    return active_release(target) is not None and len(release_history(target)) == RELEASE_HISTORY_KEPT
