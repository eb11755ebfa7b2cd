"""The triggers a maintenance window pauses: the workers chosen, their mappings and rules, their state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.stack_files import load_committed
from infra.synth import ResourceGraph
from ops.maintenance_triggers import (
    MAPPING,
    NOT_FOUND,
    RULE,
    MissingTriggerError,
    Trigger,
    WorkerSelectionError,
    choose_workers,
    live_triggers,
    parse_worker_names,
    pausable_workers,
)
from ops.target import Target
from tests.infra.fleet import added_names, trigger_enabled

ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:prd3292-local-us-east-1-ntfcn-snd:live"
PAUSABLE = (
    "notification_scheduler",
    "notification_generator",
    "notification_send",
    "demand_stream_to_sqs",
    "shorten_event_url",
    "sms_status_consumer",
    "notification_sweeper",
)


def _target(clients: AwsClients, graph: ResourceGraph) -> Target:
    stack = Target(stack="local", config=load_committed("local"), clients=clients)
    stack.graph = graph  # the cached property's value, set ahead
    return stack


@pytest.fixture
def target(deployed: AwsClients, local_graph: ResourceGraph) -> Target:
    """The local stack's target on the moto the `deployed` fixture materialized."""
    return _target(deployed, local_graph)


@pytest.fixture
def bare_target(local_graph: ResourceGraph) -> Iterator[Target]:
    """The local stack's target on an empty moto: nothing deployed (its fleet's names still known)."""
    with mock_aws():
        yield _target(AwsClients.for_emulator(None, region="us-east-1"), local_graph)


def test_by_default_every_worker_with_a_schedule_or_mapping_is_chosen_and_never_a_resolver(
    bare_target: Target,
) -> None:
    # Given the local fleet
    # When no worker is named
    chosen = choose_workers(bare_target.fleet, parse_worker_names(" "))
    # Then the seven workers with a mapping or schedule are (and any such worker added after them), in
    # catalog order
    assert tuple(worker.name for worker in chosen) == (*PAUSABLE, *added_names("queue", "stream", "schedule"))
    assert pausable_workers(bare_target.fleet) == chosen
    # And named ones come back in catalog order, once each
    named = choose_workers(
        bare_target.fleet, parse_worker_names("notification_send, notification_scheduler,notification_send")
    )
    assert [worker.name for worker in named] == ["notification_scheduler", "notification_send"]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("notification_send,nope", "no worker 'nope'"),
        ("event_details", "event_details is an AppSync resolver: maintenance never pauses resolvers"),
    ],
)
def test_an_unknown_worker_or_a_resolver_is_refused_by_name(
    bare_target: Target, names: str, message: str
) -> None:
    with pytest.raises(WorkerSelectionError, match=message):
        choose_workers(bare_target.fleet, parse_worker_names(names))


@pytest.mark.parametrize(
    ("kind", "state", "enabled"),
    [
        (MAPPING, "Enabled", True),
        (MAPPING, "Enabling", True),
        (MAPPING, "Updating", True),
        (MAPPING, "Disabling", False),
        (MAPPING, "Disabled", False),
        (RULE, "ENABLED", True),
        (RULE, "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", True),
        (RULE, "DISABLED", False),
        (MAPPING, NOT_FOUND, False),
        (RULE, NOT_FOUND, False),
    ],
)
def test_a_trigger_is_enabled_when_it_reads_or_fires_or_will_once_settled(
    kind: str, state: str, enabled: bool
) -> None:
    assert Trigger(worker="w", kind=kind, id="x", state=state).enabled is enabled  # type: ignore[arg-type]


def test_every_pausable_trigger_is_found_with_its_live_state(target: Target) -> None:
    # Given the deployed stack
    # When the pausable workers' triggers are read
    triggers = live_triggers(target, pausable_workers(target.fleet))
    added = added_names("queue", "stream", "schedule")
    # Then each has its one mapping or rule, enabled
    assert [(trigger.worker, trigger.kind) for trigger in triggers] == [
        ("notification_scheduler", RULE),
        ("notification_generator", MAPPING),
        ("notification_send", MAPPING),
        ("demand_stream_to_sqs", MAPPING),
        ("shorten_event_url", MAPPING),
        ("sms_status_consumer", MAPPING),
        ("notification_sweeper", RULE),
        *((name, RULE if name in added_names("schedule") else MAPPING) for name in added),
    ]
    # And enabled, but an added worker's as its stack config deploys it
    assert {trigger.state for trigger in triggers if trigger.worker in PAUSABLE} == {"Enabled", "ENABLED"}
    assert {trigger.worker: trigger.enabled for trigger in triggers if trigger.worker in added} == {
        name: trigger_enabled(target.config, name) for name in added
    }
    assert triggers[0].id == "prd3292-local-us-east-1-ntfcn-schdlr-schedule"


def test_a_mapping_on_the_function_rather_than_its_alias_is_found_by_its_source(target: Target) -> None:
    # Given the send worker's mapping replaced by one on the unqualified function (not the `live` alias)
    lambda_ = target.clients.client("lambda")
    send = target.fleet.worker("notification_send")
    [old] = live_triggers(target, [send])
    lambda_.delete_event_source_mapping(UUID=old.id)
    new = lambda_.create_event_source_mapping(
        FunctionName=send.function_name, EventSourceArn=send.event_source_arn, StartingPosition="LATEST"
    )["UUID"]
    # When its triggers are read
    # Then that mapping is found (the other worker on the same stream is not mistaken for it)
    assert [trigger.id for trigger in live_triggers(target, [send])] == [new]


def test_a_trigger_that_is_not_deployed_is_refused_or_listed_not_found(bare_target: Target) -> None:
    # Given nothing deployed
    workers = choose_workers(bare_target.fleet, ["notification_send", "notification_sweeper"])
    # When the triggers are read for a window
    # Then the missing mapping is named
    with pytest.raises(
        MissingTriggerError,
        match=f"notification_send: no event-source mapping invokes {ALIAS}",
    ):
        live_triggers(bare_target, workers)
    # And for status, both are listed as not found
    listed = live_triggers(bare_target, workers, missing_ok=True)
    assert [(trigger.worker, trigger.kind, trigger.state) for trigger in listed] == [
        ("notification_send", MAPPING, NOT_FOUND),
        ("notification_sweeper", RULE, NOT_FOUND),
    ]
