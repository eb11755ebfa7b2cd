"""End to end, a bad release of notification_send: its `live` alias routes half the traffic to a version
that fails every invocation, then the routing is cleared as a rollback does. The stream's retries
bring every reminder through the good version: all delivered, none sent twice, and the emulator's
CloudWatch shows the failing version's errors by ExecutedVersion, as `dmd release` reads them.

The module runs its own pipeline (see conftest).
"""

from __future__ import annotations

import threading
import time

from infra.stack_files import load_committed
from ops.operations_records import ReleaseRecord, release_history
from ops.release import Release, Strategy, plan_release, refusal
from ops.target import Target
from sandbox.alias_routing import REFRESH_SECONDS, ROUTING_DRAW
from sandbox.drill_faults import seeded_draw
from sandbox.pipeline import Pipeline
from tests.sandbox import handlers as doubles
from tests.sandbox.e2e.flows import (
    e2e_marks,
    lambda_metric_sum,
    notification,
    now_utc,
    publish_failing_version,
    route_live,
    wait_done,
    waiting_sms,
)
from workers.shared.keys import Key

pytestmark = e2e_marks("e2e-release")

SEND = "notification_send"
# The routing draws from this seed at 50 % fail as F.FFF.F...F.F.FFF.... (F: the failing version):
# never four in a row, so with one reminder in flight at a time none uses up its four attempts
# (maximumRetryAttempts 3) and goes to the on-failure queue instead of to the fan.
ROUTING_SEED = 5
# `dmd release --step-seconds`: the canary's step, watched every sixth of it.
STEP_SECONDS = 60


def status(pipeline: Pipeline, key: Key) -> str | None:
    """The notification's status now."""
    found = (notification(pipeline, key) or {}).get("status", {}).get("id")
    return None if found is None else str(found)


def picked_up(pipeline: Pipeline, key: Key) -> bool:
    """The sender has taken the reminder (its status moved on from CREATED): the next may come."""
    return pipeline.sandbox.run_until(lambda: status(pipeline, key) != "CREATED", deadline=20)


def test_a_failing_version_at_half_the_traffic_then_rolled_back_delivers_every_reminder_once(
    pipeline: Pipeline,
) -> None:
    # Given a failing version of notification_send taking half of its live alias's traffic
    doubles.reset()
    function = pipeline.sandbox.function(SEND)
    name = function.settings.function_name
    lambda_ = pipeline.clients.client("lambda")
    good = lambda_.get_alias(FunctionName=name, Name="live")["FunctionVersion"]
    failing = publish_failing_version(pipeline, SEND)
    route_live(pipeline, SEND, {failing: 0.5})
    assert function.router is not None
    function.router.seed(ROUTING_SEED)
    reminders = [
        waiting_sms(
            f"e2e-release-{n}", f"+1312555{n:04d}", event_id="E2eRelease", sale_name="Release Presale"
        )
        for n in range(8)
    ]

    # When six reminders come in, one at a time, while it does
    for record in reminders[:6]:
        pipeline.put_items([record.to_item()])
        assert picked_up(pipeline, record.key)
    failed = [call for call in doubles.invocations("always_raise") if call.context.function_name == name]
    assert len(failed) >= 3, "the failing version took no share of the traffic"
    assert {call.context.function_version for call in failed} == {failing}

    # And the routing is cleared (a rollback) before two more come in
    route_live(pipeline, SEND, {})
    time.sleep(REFRESH_SECONDS)  # the alias is read at most this long after a change
    for record in reminders[6:]:
        pipeline.put_items([record.to_item()])

    # Then every reminder is delivered, each SMS sent once (the vendor fake's ledger)
    done = wait_done(pipeline, [record.key for record in reminders], deadline=45)
    assert {item["status"]["id"] for item in done.values()} == {"DELIVERED"}
    sms = pipeline.vendors.sms
    assert [sms.sends_for(record.reference) for record in reminders] == [1] * len(reminders)
    assert sms.duplicates() == {}
    # And after the rollback the failing version ran no more
    assert len(
        [call for call in doubles.invocations("always_raise") if call.context.function_name == name]
    ) == len(failed)

    # And Lambda's metrics in the emulator's CloudWatch count the failing version's errors by
    # ExecutedVersion, and none of the good version's
    assert pipeline.sandbox.metrics is not None
    pipeline.sandbox.metrics.flush()
    alias = {"FunctionName": name, "Resource": f"{name}:live"}
    assert lambda_metric_sum(pipeline, "Errors", {**alias, "ExecutedVersion": failing}) == len(failed)
    assert lambda_metric_sum(pipeline, "Invocations", {**alias, "ExecutedVersion": failing}) == len(failed)
    assert lambda_metric_sum(pipeline, "Errors", {**alias, "ExecutedVersion": good}) == 0
    assert lambda_metric_sum(pipeline, "Invocations", {**alias, "ExecutedVersion": good}) >= len(reminders)
    assert lambda_metric_sum(pipeline, "Errors", {"FunctionName": name}) == len(failed)


def _canary_seed(function_name: str, weight: float) -> int:
    """A routing seed whose second invocation lands on the canary and no four in a row do (so no
    reminder, sent one at a time, uses up its four attempts on it)."""
    for seed in range(1_000):
        draws = [seeded_draw(seed, ROUTING_DRAW, function_name, ordinal) < weight for ordinal in range(60)]
        runs = "".join("F" if canary else "." for canary in draws)
        if draws[1] and "FFFF" not in runs:
            return seed
    raise AssertionError("no seed puts the second invocation on the canary")


def test_dmd_release_rolls_a_failing_canary_back_by_itself_and_no_reminder_is_sent_twice(
    pipeline: Pipeline,
) -> None:
    # Given a failing version of notification_send published (what `pulumi up` of a bad commit does)
    doubles.reset()
    function = pipeline.sandbox.function(SEND)
    name = function.settings.function_name
    lambda_ = pipeline.clients.client("lambda")
    good = lambda_.get_alias(FunctionName=name, Name="live")["FunctionVersion"]
    failing = publish_failing_version(pipeline, SEND)
    assert function.router is not None
    function.router.seed(_canary_seed(name, 0.1))
    target = Target(stack="local", config=load_committed("local"), clients=pipeline.clients)
    plan = plan_release(target, Strategy.CANARY, names=[SEND], step_seconds=STEP_SECONDS)
    assert [(c.worker.name, c.from_version, c.to_version) for c in plan.candidates] == [(SEND, good, failing)]

    # When `dmd release`'s canary runs while reminders come in, one at a time
    release = Release(target, plan, clock=now_utc, sleep=time.sleep)
    record = release.start()
    outcome: list[ReleaseRecord] = []
    releasing = threading.Thread(target=lambda: outcome.append(release.run(record)), daemon=True)
    releasing.start()
    reminders = []
    for n in range(40):
        if not releasing.is_alive():
            break
        record_ = waiting_sms(
            f"e2e-canary-{n}", f"+1312556{n:04d}", event_id="E2eCanary", sale_name="Canary Presale"
        )
        reminders.append(record_)
        pipeline.put_items([record_.to_item()])
        assert picked_up(pipeline, record_.key)
    releasing.join(timeout=STEP_SECONDS * 3)

    # Then the release rolled the worker back on the canary's errors, before its step ended
    assert outcome, "the release did not finish"
    finished = outcome[0]
    assert finished.outcome == "rolled-back"
    (worker,) = finished.workers
    assert (worker.worker, worker.outcome, worker.from_version, worker.to_version) == (
        SEND,
        "rolled-back",
        good,
        failing,
    )
    assert "error" in (worker.reason or "").lower()
    alias = lambda_.get_alias(FunctionName=name, Name="live")
    assert alias["FunctionVersion"] == good
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    failed = [call for call in doubles.invocations("always_raise") if call.context.function_name == name]
    assert failed and {call.context.function_version for call in failed} == {failing}
    # And every reminder is delivered, each SMS sent once (the vendor fake's ledger)
    done = wait_done(pipeline, [reminder.key for reminder in reminders], deadline=45)
    assert {item["status"]["id"] for item in done.values()} == {"DELIVERED"}
    sms = pipeline.vendors.sms
    assert [sms.sends_for(reminder.reference) for reminder in reminders] == [1] * len(reminders)
    assert sms.duplicates() == {}
    # And the history `dmd status` shows holds the release, and the lock is gone
    assert release_history(target)[-1].outcome == "rolled-back"
    assert refusal(target, kind="release") is None
