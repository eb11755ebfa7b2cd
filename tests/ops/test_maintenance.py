"""Maintenance windows on the local stack in moto: what is paused, what is recorded, what is restored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.stack_files import load_committed
from infra.synth import ResourceGraph
from ops.maintenance import (
    Drain,
    MaintenanceError,
    PauseStep,
    drain,
    end,
    plan_end,
    plan_start,
    running_workers,
    start,
    status,
)
from ops.maintenance_triggers import MAPPING, RULE, choose_workers
from ops.operations_records import active_maintenance
from ops.target import Target
from tests.infra.fleet import added_names, trigger_enabled

SCHEDULER_RULE = "prd3292-local-us-east-1-ntfcn-schdlr-schedule"
SWEEPER_RULE = "prd3292-local-us-east-1-ntfcn-swpr-schedule"
PAUSABLE = (
    "notification_scheduler",
    "notification_generator",
    "notification_send",
    "demand_stream_to_sqs",
    "shorten_event_url",
    "sms_status_consumer",
    "notification_sweeper",
)


def added_mapping_states(target: Target) -> dict[str, str]:
    """Each mapping of a worker added after the shipped ones → the State its stack config deploys.

    A scaffolded queue worker on a queue another worker consumes is deployed Disabled.
    """
    return {
        name: "Enabled" if trigger_enabled(target.config, name) else "Disabled"
        for name in added_names("stream", "queue")
    }


@pytest.fixture
def target(deployed: AwsClients, local_graph: ResourceGraph) -> Target:
    """The local stack's target on the moto the `deployed` fixture materialized (graph given)."""
    stack = Target(stack="local", config=load_committed("local"), clients=deployed)
    stack.graph = local_graph  # the cached property's value, set ahead
    return stack


@pytest.fixture
def bare_target(local_graph: ResourceGraph) -> Iterator[Target]:
    """The local stack's target on an empty moto: nothing deployed (its fleet's names still known)."""
    with mock_aws():
        stack = Target(
            stack="local",
            config=load_committed("local"),
            clients=AwsClients.for_emulator(None, region="us-east-1"),
        )
        stack.graph = local_graph
        yield stack


def mapping_states(target: Target) -> dict[str, str]:
    """Worker → its mapping's State, for every mapping in the emulator."""
    mappings = target.clients.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    by_function = {worker.function_name: worker.name for worker in target.fleet.workers.values()}
    return {by_function[mapping["FunctionArn"].split(":")[6]]: mapping["State"] for mapping in mappings}


def rule_states(target: Target) -> dict[str, str]:
    """Rule name → State."""
    events = target.clients.client("events")
    return {name: events.describe_rule(Name=name)["State"] for name in (SCHEDULER_RULE, SWEEPER_RULE)}


def mapping_uuid(target: Target, worker: str) -> str:
    """The UUID of a worker's mapping."""
    function = target.fleet.worker(worker).function_name
    mappings = target.clients.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    [uuid] = [mapping["UUID"] for mapping in mappings if mapping["FunctionArn"].split(":")[6] == function]
    return str(uuid)


def delete_rule(target: Target, name: str) -> None:
    """Remove a rule (its targets first, as EventBridge requires)."""
    events = target.clients.client("events")
    targets = events.list_targets_by_rule(Rule=name)["Targets"]
    events.remove_targets(Rule=name, Ids=[item["Id"] for item in targets])
    events.delete_rule(Name=name)


def begin(target: Target, *workers: str, reason: str = "CHG-1 table migration") -> list[PauseStep]:
    """Plan and start a window over these workers (all pausable ones when none)."""
    record, steps = plan_start(target, choose_workers(target.fleet, workers), reason)
    start(target, record, steps)
    return list(steps)


# -------------------------------------------------------------------------------------------------
# start


def test_start_pauses_exactly_the_chosen_triggers_and_records_who_why_when_and_their_prior_state(
    target: Target,
) -> None:
    # Given the deployed stack, every trigger enabled
    before = datetime.now(UTC)
    # When a window starts over the send worker and the scheduler
    steps = begin(target, "notification_send", "notification_scheduler")
    # Then exactly their mapping and rule are disabled
    assert mapping_states(target) == {
        "notification_generator": "Enabled",
        "notification_send": "Disabled",
        "demand_stream_to_sqs": "Enabled",
        "shorten_event_url": "Enabled",
        "sms_status_consumer": "Enabled",
        **added_mapping_states(target),
    }
    assert rule_states(target) == {SCHEDULER_RULE: "DISABLED", SWEEPER_RULE: "ENABLED"}
    assert [(step.worker, step.kind, step.action) for step in steps] == [
        ("notification_scheduler", RULE, "pause"),
        ("notification_send", MAPPING, "pause"),
    ]
    # And the record names the caller, the reason, the time and each trigger's state before
    record = active_maintenance(target)
    assert record is not None
    assert (record.stack, record.reason, record.started_by) == (
        "local",
        "CHG-1 table migration",
        "arn:aws:sts::123456789012:user/moto",
    )
    assert before <= record.started_at <= datetime.now(UTC)
    assert record.workers == ("notification_scheduler", "notification_send")
    assert [(item.worker, item.uuid, item.enabled) for item in record.mappings] == [
        ("notification_send", mapping_uuid(target, "notification_send"), True)
    ]
    assert [(item.worker, item.name, item.enabled) for item in record.rules] == [
        ("notification_scheduler", SCHEDULER_RULE, True)
    ]
    # And the drain ends after one look: the mapping is Disabled and nothing ran (no metrics)
    rounds: list[Drain] = []
    workers = choose_workers(target.fleet, ["notification_send", "notification_scheduler"])
    result = drain(target, steps, workers, timeout=30, on_round=rounds.append)
    assert result.drained and rounds == [result]
    assert (result.disabling, result.busy) == ((), ())


def test_start_twice_is_refused_naming_the_active_window_and_changes_nothing(target: Target) -> None:
    # Given a window over the send worker
    begin(target, "notification_send", reason="first window")
    states, rules, record = mapping_states(target), rule_states(target), active_maintenance(target)
    assert record is not None
    # When another operator plans a window over everything
    with pytest.raises(MaintenanceError) as refused:
        plan_start(target, choose_workers(target.fleet, []), "second window")
    # Then it is refused with the first window's who, when and why
    assert str(refused.value) == (
        f"maintenance already active on local since {record.started_at:%Y-%m-%dT%H:%M:%SZ} "
        "by arn:aws:sts::123456789012:user/moto (reason: first window): nothing changed"
    )
    # And a start racing past the plan loses on the record (the lock), before touching anything
    other_record, other_steps = record.model_copy(update={"reason": "racing"}), list[PauseStep]()
    with pytest.raises(MaintenanceError, match="maintenance already active on local since"):
        start(target, other_record, other_steps)
    assert (mapping_states(target), rule_states(target), active_maintenance(target)) == (
        states,
        rules,
        record,
    )


def test_a_failure_half_way_enables_again_what_was_paused_and_removes_the_record(target: Target) -> None:
    # Given a planned window over every worker, and the sweeper's rule gone before it is paused (last)
    record, steps = plan_start(target, choose_workers(target.fleet, []), "fails half way")
    events = target.clients.client("events")
    events.remove_targets(
        Rule=SWEEPER_RULE,
        Ids=[item["Id"] for item in events.list_targets_by_rule(Rule=SWEEPER_RULE)["Targets"]],
    )
    events.delete_rule(Name=SWEEPER_RULE)
    # When the window starts
    with pytest.raises(MaintenanceError) as failed:
        start(target, record, steps)
    # Then the reason names the trigger, and everything paused before it is enabled again
    assert str(failed.value).startswith(
        f"could not pause notification_sweeper's schedule-rule {SWEEPER_RULE}: ResourceNotFoundException"
    )
    assert str(failed.value).endswith(
        "the 6 already paused were enabled again and the record removed: nothing is paused"
    )
    assert mapping_states(target) == {
        **dict.fromkeys(PAUSABLE[1:6], "Enabled"),
        **added_mapping_states(target),
    }
    assert target.clients.client("events").describe_rule(Name=SCHEDULER_RULE)["State"] == "ENABLED"
    assert active_maintenance(target) is None


def test_when_the_undo_fails_too_the_record_stays_for_end(target: Target) -> None:
    # Given a window over the scheduler, the send worker and the sweeper whose rule (paused last) is gone
    chosen = choose_workers(
        target.fleet, ["notification_scheduler", "notification_send", "notification_sweeper"]
    )
    record, steps = plan_start(target, chosen, "undo fails")
    delete_rule(target, SWEEPER_RULE)

    # And the scheduler's rule deleted right after it is paused, so it cannot be enabled again
    def delete_the_first_paused_rule(step: PauseStep) -> None:
        if step.id == SCHEDULER_RULE:
            delete_rule(target, SCHEDULER_RULE)

    # When the window starts
    with pytest.raises(MaintenanceError) as failed:
        start(target, record, steps, on_paused=delete_the_first_paused_rule)
    # Then what could be undone is (the send worker reads again), the record stays, and the message
    # says how to restore the rest
    assert f"could not enable again notification_scheduler's schedule-rule {SCHEDULER_RULE}" in str(
        failed.value
    )
    assert str(failed.value).endswith("run `dmd maintenance end --stack local` to restore")
    assert mapping_states(target)["notification_send"] == "Enabled"
    assert active_maintenance(target) == record


def test_a_missing_mapping_is_refused_before_anything_changes(target: Target) -> None:
    # Given the send worker's mapping deleted (a stack not fully deployed)
    target.clients.client("lambda").delete_event_source_mapping(
        UUID=mapping_uuid(target, "notification_send")
    )
    # When a window is planned over it
    with pytest.raises(
        MaintenanceError, match=r"notification_send: no event-source mapping invokes .*: nothing changed"
    ):
        plan_start(target, choose_workers(target.fleet, ["notification_send"]), "x")
    # Then nothing was recorded
    assert active_maintenance(target) is None


# -------------------------------------------------------------------------------------------------
# drain


def test_the_drain_stops_at_its_bound_naming_the_workers_still_running(target: Target) -> None:
    # Given a window over two workers, and the send worker running in the last minute
    workers = choose_workers(target.fleet, ["notification_send", "notification_generator"])
    steps = begin(target, "notification_send", "notification_generator")
    target.clients.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "ConcurrentExecutions",
                "Dimensions": [
                    {"Name": "FunctionName", "Value": target.fleet.worker("notification_send").function_name}
                ],
                "Value": 2,
                "Timestamp": datetime.now(UTC) - timedelta(seconds=20),
            }
        ],
    )
    clock = [0.0]
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        clock[0] += seconds

    # When the drain waits at most 12 s, looking every 5 s
    result = drain(target, steps, workers, timeout=12, poll_seconds=5, sleep=nap, monotonic=lambda: clock[0])
    # Then it gave up at the bound, naming the busy worker (the mappings are Disabled)
    assert naps == [5, 5, 2]
    assert (result.drained, result.busy, result.disabling, result.seconds) == (
        False,
        ("notification_send",),
        (),
        12.0,
    )
    assert running_workers(target, workers) == ("notification_send",)


# -------------------------------------------------------------------------------------------------
# end


def test_end_restores_the_recorded_state_and_a_mapping_already_disabled_stays_disabled(
    target: Target,
) -> None:
    # Given the generator's mapping disabled before the window, then a window over every worker
    lambda_ = target.clients.client("lambda")
    lambda_.update_event_source_mapping(UUID=mapping_uuid(target, "notification_generator"), Enabled=False)
    steps = begin(target)
    assert {step.worker: step.action for step in steps if step.kind == MAPPING}["notification_generator"] == (
        "leave disabled"
    )
    assert set(mapping_states(target).values()) == {"Disabled"}
    # And during the window someone enabled the generator's mapping by hand
    lambda_.update_event_source_mapping(UUID=mapping_uuid(target, "notification_generator"), Enabled=True)
    # When the window ends
    record, restores = plan_end(target)
    end(target, restores)
    # Then every trigger is back as recorded: the generator's disabled again, everything else enabled
    # (an added worker's mapping deployed disabled was left disabled, and stays so)
    added = added_mapping_states(target)
    assert {step.worker: step.action for step in restores if step.kind == MAPPING} == {
        "notification_generator": "disable",
        "notification_send": "enable",
        "demand_stream_to_sqs": "enable",
        "shorten_event_url": "enable",
        "sms_status_consumer": "enable",
        **{name: "enable" if state == "Enabled" else "unchanged" for name, state in added.items()},
    }
    assert mapping_states(target) == {
        "notification_generator": "Disabled",
        "notification_send": "Enabled",
        "demand_stream_to_sqs": "Enabled",
        "shorten_event_url": "Enabled",
        "sms_status_consumer": "Enabled",
        **added,
    }
    assert rule_states(target) == {SCHEDULER_RULE: "ENABLED", SWEEPER_RULE: "ENABLED"}
    # And the record is gone
    assert record.reason == "CHG-1 table migration"
    assert active_maintenance(target) is None


def test_end_without_a_window_is_refused(bare_target: Target) -> None:
    refusal = r"^no maintenance window is active on local: nothing changed$"
    with pytest.raises(MaintenanceError, match=refusal):
        plan_end(bare_target)


def test_a_recorded_mapping_that_no_longer_exists_is_reported_gone_and_the_rest_restored(
    target: Target,
) -> None:
    # Given a window over two workers, and the send worker's mapping deleted meanwhile (a deploy replaced it)
    begin(target, "notification_send", "shorten_event_url")
    target.clients.client("lambda").delete_event_source_mapping(
        UUID=mapping_uuid(target, "notification_send")
    )
    # When the window ends
    _, restores = plan_end(target)
    end(target, restores)
    # Then the gone mapping is reported, the other restored, the record deleted
    assert [(step.worker, step.action) for step in restores] == [
        ("notification_send", "gone"),
        ("shorten_event_url", "enable"),
    ]
    assert mapping_states(target)["shorten_event_url"] == "Enabled"
    assert active_maintenance(target) is None


# -------------------------------------------------------------------------------------------------
# status


def test_status_shows_every_trigger_live_and_during_a_window_its_recorded_state(target: Target) -> None:
    # Given no window
    idle = status(target)
    assert (idle.active, idle.maintenance) == (False, None)
    assert [row.worker for row in idle.triggers] == [*PAUSABLE, *added_names("queue", "stream", "schedule")]
    rows = {row.worker: (row.state, row.enabled, row.enabled_before) for row in idle.triggers}
    assert {rows[name] for name in PAUSABLE} == {("Enabled", True, None), ("ENABLED", True, None)}
    # (an added worker's trigger is as its stack config deploys it)
    for name in added_names("queue", "stream", "schedule"):
        enabled = trigger_enabled(target.config, name)
        mapping_state, rule_state = ("Enabled", "ENABLED") if enabled else ("Disabled", "DISABLED")
        assert rows[name] == (rule_state if name in added_names("schedule") else mapping_state, enabled, None)
    # When a window pauses the send worker
    begin(target, "notification_send", reason="status check")
    active = status(target)
    # Then the window is shown, and each trigger's state now and before it
    assert active.active and active.maintenance is not None
    assert (active.maintenance.reason, active.maintenance.workers) == ("status check", ("notification_send",))
    rows = {row.worker: row for row in active.triggers}
    assert (rows["notification_send"].state, rows["notification_send"].enabled) == ("Disabled", False)
    assert rows["notification_send"].enabled_before is True
    assert rows["notification_generator"].enabled_before is None
