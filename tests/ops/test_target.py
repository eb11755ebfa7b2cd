"""The stack a command acts on: `--stack` resolved, and the fleet's names read from the stack's graph."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from infra.catalog import CATALOG, DEMAND_STREAM_TO_SQS_FILTERS, NOTIFICATION_SEND_FILTERS
from infra.config import ConfigError
from ops.target import Fleet, TargetError, fleet_of, local_endpoint, resolve_target
from tests.infra.graphs import stack_graph


class Expected(NamedTuple):
    """A worker's names and mapping settings in a stack, as the operator commands must find them."""

    trigger: str
    function: str  # the code part of prd3292-{env}-us-east-1-{code}
    source_queue: str | None = None  # queue workers
    dead_letter_queue: str | None = None  # queue workers: the queue's DLQ; schedules: the target's DLQ
    on_failure_queue: str | None = None  # stream workers
    schedule_rule: str | None = None
    batch_size: int = 1
    filter_patterns: tuple[dict[str, Any], ...] = ()


def _fleet_table(batch: dict[str, int]) -> dict[str, Expected]:
    return {
        "notification_scheduler": Expected(
            "schedule",
            "ntfcn-schdlr",
            dead_letter_queue="ntfcn-schdlr-schedule-dlq",
            schedule_rule="ntfcn-schdlr-schedule",
        ),
        "notification_generator": Expected(
            "queue",
            "ntfcn-gnrtr",
            source_queue="generation-jobs",
            dead_letter_queue="generation-jobs-dlq",
            batch_size=batch["notification_generator"],
        ),
        "notification_send": Expected(
            "stream",
            "ntfcn-snd",
            on_failure_queue="ntfcn-snd-on-failure",
            batch_size=batch["notification_send"],
            filter_patterns=NOTIFICATION_SEND_FILTERS,
        ),
        "demand_stream_to_sqs": Expected(
            "stream",
            "dmnd-stream-to-sqs",
            on_failure_queue="dmnd-stream-to-sqs-on-failure",
            batch_size=batch["demand_stream_to_sqs"],
            filter_patterns=DEMAND_STREAM_TO_SQS_FILTERS,
        ),
        "shorten_event_url": Expected(
            "queue",
            "shortn-evnt-url",
            source_queue="event-short-url",
            dead_letter_queue="event-short-url-dlq",
            batch_size=10,
        ),
        "sms_status_consumer": Expected(
            "stream",
            "sms-status",
            on_failure_queue="sms-status-on-failure",
            batch_size=batch["sms_status_consumer"],
        ),
        "event_details": Expected("resolver", "evnt-dtls"),
        "proxy_tm_account_service": Expected("resolver", "prxy-acct"),
        "notification_sweeper": Expected(
            "schedule",
            "ntfcn-swpr",
            dead_letter_queue="ntfcn-swpr-schedule-dlq",
            schedule_rule="ntfcn-swpr-schedule",
        ),
    }


# Batch sizes as each stack file sets them (or the trigger's default: 100 for streams).
FLEETS = {
    "local": _fleet_table(
        {
            "notification_generator": 1,
            "notification_send": 100,
            "demand_stream_to_sqs": 100,
            "sms_status_consumer": 500,
        }
    ),
    "prod1": _fleet_table(
        {
            "notification_generator": 1,
            "notification_send": 200,
            "demand_stream_to_sqs": 1000,
            "sms_status_consumer": 1000,
        }
    ),
}


def _name(stack: str, suffix: str | None) -> str | None:
    return None if suffix is None else f"prd3292-{stack}-us-east-1-{suffix}"


@pytest.fixture(scope="module")
def fleets() -> dict[str, Fleet]:
    """The fleet of the local and prod1 graphs (each synthesized once per process)."""
    return {stack: fleet_of(stack_graph(stack)) for stack in FLEETS}


def test_resolving_an_unknown_stack_names_the_known_ones() -> None:
    with pytest.raises(TargetError, match=r"^unknown stack 'qa9' \(stacks: local, prod1, qa1\)$"):
        resolve_target("qa9")


def test_an_invalid_stack_file_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a stack file whose validation fails with a multi-line message
    def invalid(stack: str) -> None:
        raise ConfigError(f"Pulumi.{stack}.yaml: dmd-workers:defaults.memoryMb: 64 < 128\n  (details)")

    monkeypatch.setattr("ops.target.load_committed", invalid)

    # When it is resolved / Then the error is its first line
    with pytest.raises(TargetError) as raised:
        resolve_target("qa1")
    assert str(raised.value) == "Pulumi.qa1.yaml: dmd-workers:defaults.memoryMb: 64 < 128"


def test_local_reaches_the_emulator_endpoint_of_its_stack_file() -> None:
    # When the local stack is resolved
    target = resolve_target("local")

    # Then its clients use Pulumi.local.yaml's endpoint, and it is an emulated, non-production stack
    assert local_endpoint("local") == "http://127.0.0.1:4566"
    assert target.endpoint_url == target.clients.endpoint_url == "http://127.0.0.1:4566"
    assert target.emulated and not target.production
    assert target.naming.table_name == "prd3292-local-us-east-1-demand-table"


@pytest.mark.parametrize(("stack", "production"), [("qa1", False), ("prod1", True)])
def test_aws_stacks_reach_aws_in_their_region(stack: str, production: bool) -> None:
    # When a deployed stack is resolved
    target = resolve_target(stack)

    # Then it has no endpoint (the default credential chain), its region, and prod1 is production
    assert local_endpoint(stack) is None
    assert target.endpoint_url is None and target.clients.endpoint_url is None and not target.emulated
    assert target.clients.region == "us-east-1"
    assert target.production is production


def test_an_explicit_endpoint_makes_any_stack_emulated() -> None:
    target = resolve_target("qa1", endpoint_url="http://127.0.0.1:4599")
    assert target.emulated and target.clients.endpoint_url == "http://127.0.0.1:4599"


@pytest.mark.parametrize("stack", list(FLEETS))
def test_the_fleet_has_every_catalog_worker_with_its_names(stack: str, fleets: dict[str, Fleet]) -> None:
    # Given the stack's synthesized graph
    fleet = fleets[stack]

    # When each worker's names are read / Then they are the ones the program declares
    assert set(fleet.workers) == {spec.name for spec in CATALOG}
    for name, expected in FLEETS[stack].items():
        worker = fleet.worker(name)
        function = _name(stack, expected.function)
        assert (worker.trigger, worker.function_name, worker.log_group) == (
            expected.trigger,
            function,
            f"/aws/lambda/{function}",
        ), name
        assert worker.alias == f"{function}:live"
        assert worker.source_queue == _name(stack, expected.source_queue), name
        assert worker.dead_letter_queue == _name(stack, expected.dead_letter_queue), name
        assert worker.on_failure_queue == _name(stack, expected.on_failure_queue), name
        assert worker.schedule_rule == _name(stack, expected.schedule_rule), name
        assert worker.batch_size == expected.batch_size, name
        assert worker.filter_patterns == list(expected.filter_patterns), name


@pytest.mark.parametrize("stack", list(FLEETS))
def test_mappings_name_their_source(stack: str, fleets: dict[str, Fleet]) -> None:
    fleet = fleets[stack]
    account = {"local": "123456789012", "prod1": "210987654321"}[stack]
    # The table stream is environment-wide, without the region
    table_stream = f"arn:aws:kinesis:us-east-1:{account}:stream/prd3292-{stack}-dmnd-table-stream"
    assert fleet.worker("notification_send").event_source_arn == table_stream
    assert fleet.worker("notification_send").mapping_name == "notification_send-trigger"
    # prod1 reads the SMS service's own status stream (platform.smsStatusStream.existingArn)
    status_stream = {"local": "prd3292-local-us-east-1-sms-status", "prod1": "prd3292-prod1-sms-status"}[
        stack
    ]
    assert fleet.worker("sms_status_consumer").event_source_arn == (
        f"arn:aws:kinesis:us-east-1:{account}:stream/{status_stream}"
    )
    assert fleet.worker("shorten_event_url").event_source_arn == (
        f"arn:aws:sqs:us-east-1:{account}:prd3292-{stack}-us-east-1-event-short-url"
    )
    assert fleet.worker("event_details").event_source_arn is None
    assert fleet.worker("event_details").mapping == {}


def test_the_platform_names_of_the_prod1_fleet(fleets: dict[str, Fleet]) -> None:
    fleet = fleets["prod1"]
    prefix = "prd3292-prod1-us-east-1"
    assert fleet.table_name == f"{prefix}-demand-table"
    # Only the table stream is the stack's own: the status stream belongs to the SMS service
    assert fleet.streams == ("prd3292-prod1-dmnd-table-stream",)
    assert fleet.secrets == tuple(
        f"{prefix}/{key}" for key in ("accounts", "bitly", "discovery", "publish", "sms-service")
    )
    # The fleet's DLQs and on-failure queues (more with each new stream or schedule worker)
    assert {
        f"{prefix}-{suffix}"
        for suffix in (
            "dmnd-stream-to-sqs-on-failure",
            "event-short-url-dlq",
            "generation-jobs-dlq",
            "ntfcn-schdlr-schedule-dlq",
            "ntfcn-snd-on-failure",
            "ntfcn-swpr-schedule-dlq",
            "sms-status-on-failure",
        )
    } <= set(fleet.dead_letter_queues)
    assert all(name.endswith(("-dlq", "-on-failure")) for name in fleet.dead_letter_queues)
    assert list(fleet.dead_letter_queues) == sorted(fleet.dead_letter_queues)
    assert set(fleet.dead_letter_queues) < set(fleet.queues)
    assert {f"{prefix}-event-short-url", f"{prefix}-generation-jobs"} == set(fleet.queues) - set(
        fleet.dead_letter_queues
    )
    # Every worker is alarmed (alarm names start with its function's name)
    unalarmed = [
        worker.name
        for worker in fleet.workers.values()
        if not any(alarm.startswith(f"{worker.function_name}-") for alarm in fleet.alarms)
    ]
    assert unalarmed == []


def test_an_unknown_worker_names_the_known_ones(fleets: dict[str, Fleet]) -> None:
    with pytest.raises(TargetError, match=r"no worker 'nope' \(workers: demand_stream_to_sqs, event_details"):
        fleets["local"].worker("nope")
