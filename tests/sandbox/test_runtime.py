"""The sandbox engine on the local stack: writes flow through CDC, filters and pollers to the handlers.

Every worker runs a test double here (the real workers have their own tests); the doubles record
which worker's environment they ran in, which is how the assertions tell the workers apart.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.synth import ResourceGraph
from sandbox.materialize import Kind
from sandbox.pollers.sqs import LONG_POLL_SECONDS
from sandbox.runtime import Sandbox
from tests.infra.fleet import SHIPPED_WORKERS, trigger_enabled, worker_names
from tests.infra.graphs import stack_config
from tests.sandbox import handlers as doubles

pytestmark = pytest.mark.slow

TABLE = "prd3292-local-us-east-1-demand-table"
GENERATION_QUEUE = "prd3292-local-us-east-1-generation-jobs"
DOUBLES = {
    "notification_scheduler": "succeed",
    "notification_generator": "succeed",
    "notification_send": "succeed",
    "demand_stream_to_sqs": "succeed",
    "shorten_event_url": "succeed",
    "sms_status_consumer": "succeed",
    "event_details": "resolve_event",
    "proxy_tm_account_service": "resolve_event",
    "notification_sweeper": "sweep",
}


@pytest.fixture(scope="session")
def sandbox(local_stack_graph: ResourceGraph) -> Iterator[Sandbox]:
    """The local stack in a running sandbox (free port, background pollers), every worker a double."""
    # Session-scoped: it takes seconds to start, and xdist spreads a module's tests over workers and
    # interleaves them with other modules (a module fixture would be rebuilt each time). Its teardown
    # checks the shutdown: the emulator process is gone.
    overrides = {worker: f"{doubles.PATH}.{handler}" for worker, handler in DOUBLES.items()}
    # The process environment stays the suite's (hermetic); functions get the endpoint per invocation.
    with Sandbox(local_stack_graph, port=0, handlers=overrides, configure_environment=False) as running:
        assert running.emulator is not None
        pid = running.emulator.pid
        yield running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _calls(worker: str) -> list[doubles.Invocation]:
    return [
        call
        for call in list(doubles.INVOCATIONS)
        if call.environment.get("POWERTOOLS_SERVICE_NAME") == worker
    ]


def _put(sandbox: Sandbox, item: dict[str, Any]) -> None:
    sandbox.clients.client("dynamodb").put_item(TableName=TABLE, Item=item)


def test_a_table_write_reaches_only_the_workers_whose_filters_match(sandbox: Sandbox, handlers: Any) -> None:
    # Given the running sandbox
    # When a notification to send and an event without a short URL are written to the table
    _put(
        sandbox,
        {
            "PK": {"S": "fan:a1"},
            "SK": {"S": "notification#e1-s1#sms"},
            "type": {"S": "notification"},
            "status": {"M": {"id": {"S": "CREATED"}}},
        },
    )
    _put(sandbox, {"PK": {"S": "event:e1"}, "SK": {"S": "event#details"}, "type": {"S": "event"}})
    # Then the CDC stream carries both, and each reaches the one worker that wants it
    assert sandbox.run_until(
        lambda: _calls("notification_send") and _calls("demand_stream_to_sqs"), deadline=15
    )
    [send] = _calls("notification_send")
    [forward] = _calls("demand_stream_to_sqs")
    assert [record["eventSourceARN"] for record in send.event["Records"]] == [
        sandbox.materialized.ref(Kind.STREAM, "prd3292-local-dmnd-table-stream")
    ]
    assert len(forward.event["Records"]) == 1
    # And each ran with its own function's environment, pointed at the emulator
    assert send.environment["AWS_LAMBDA_FUNCTION_NAME"] == "prd3292-local-us-east-1-ntfcn-snd"
    assert send.environment["AWS_ENDPOINT_URL"] == sandbox.endpoint_url
    assert forward.environment["DMD_ENVIRONMENT"] == "local"
    # And the counters show what each filter dropped
    assert sandbox.run_until(
        lambda: sandbox.counters()["notification_send"].records_filtered >= 1, deadline=5
    )
    counters = sandbox.counters()
    assert counters["notification_send"].records_processed == 1
    assert counters["demand_stream_to_sqs"].records_processed == 1
    assert sandbox.background_errors() == 0


def test_a_queued_job_reaches_its_worker_and_leaves_the_queue(sandbox: Sandbox, handlers: Any) -> None:
    # Given the generation-job queue
    url = sandbox.materialized.ref(Kind.QUEUE_URL, GENERATION_QUEUE)
    # When a job is queued
    sandbox.clients.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({"saleId": "s1"}))
    # Then the generator gets it as an SQS record of that queue, and it is deleted
    assert sandbox.run_until(lambda: bool(_calls("notification_generator")), deadline=15)
    [call] = _calls("notification_generator")
    assert call.event["Records"][0]["eventSourceARN"] == sandbox.materialized.ref(
        Kind.QUEUE, GENERATION_QUEUE
    )

    def queue_is_empty() -> bool:
        attributes = sandbox.clients.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"

    assert sandbox.run_until(queue_is_empty, deadline=5)


def test_the_schedule_fires_the_scheduler_when_the_clock_passes_the_half_hour(
    sandbox: Sandbox, handlers: Any
) -> None:
    # Given the running sandbox
    # When its clock moves an hour ahead
    sandbox.clock.advance(3600)
    # Then the scheduler ran twice with Scheduled Events of its rule
    assert sandbox.run_until(lambda: len(_calls("notification_scheduler")) >= 2, deadline=10)
    event = _calls("notification_scheduler")[0].event
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [
        sandbox.materialized.ref(Kind.RULE, "prd3292-local-us-east-1-ntfcn-schdlr-schedule")
    ]


def test_queries_and_direct_invocations_reach_the_resolver_and_the_worker(
    sandbox: Sandbox, handlers: Any
) -> None:
    # When eventDetails is queried, for a known and an unknown event
    found = sandbox.query("eventDetails", {"eventId": "vvG1IZ9KBxv3Tg"})
    missing = sandbox.query("tmAccount", {"eventId": "missing"})
    # Then the answers are AppSync's, from the resolver workers
    assert found == {"data": {"eventDetails": {"eventId": "vvG1IZ9KBxv3Tg", "field": "eventDetails"}}}
    assert missing["data"] is None and missing["errors"][0]["errorType"] == "EventNotFoundError"
    assert (
        _calls("proxy_tm_account_service")[0].environment["AWS_LAMBDA_FUNCTION_NAME"].endswith("-prxy-acct")
    )
    # And a direct invocation returns the handler's answer
    assert sandbox.invoke("shorten_event_url", {"Records": []}) == {"batchItemFailures": []}
    with pytest.raises(KeyError, match="no worker 'nope'"):
        sandbox.invoke("nope", {})
    assert set(sandbox.counters()) == set(DOUBLES)


def test_the_mappings_are_registered_in_the_emulator_and_disabling_one_pauses_its_poller(
    sandbox: Sandbox, handlers: Any
) -> None:
    # Given the running sandbox: every poller's mapping exists in the emulator, enabled (an added
    # worker's as its stack config deploys it: a scaffolded queue worker on a consumed queue, disabled)
    lambda_ = sandbox.clients.client("lambda")
    mappings = {
        mapping["UUID"]: mapping for mapping in lambda_.list_event_source_mappings()["EventSourceMappings"]
    }
    registered = sandbox.materialized.of(Kind.EVENT_SOURCE_MAPPING)
    assert set(mappings) == set(registered.values())
    assert len(mappings) == len(sandbox.pollers)
    states = {name.removesuffix("-trigger"): mappings[uuid]["State"] for name, uuid in registered.items()}
    assert states == {
        name: "Enabled" if trigger_enabled(stack_config("local"), name) else "Disabled"
        for name in worker_names("stream", "queue")
    }
    assert {states[name] for name in SHIPPED_WORKERS if name in states} == {"Enabled"}
    generator = sandbox.materialized.ref(Kind.EVENT_SOURCE_MAPPING, "notification_generator-trigger")
    poller = sandbox.pollers["notification_generator"]
    url = sandbox.materialized.ref(Kind.QUEUE_URL, GENERATION_QUEUE)
    # When the generator's mapping is disabled in the emulator, and a job is queued
    lambda_.update_event_source_mapping(UUID=generator, Enabled=False)
    try:
        assert sandbox.run_until(lambda: not poller.enabled, deadline=5)
        time.sleep(LONG_POLL_SECONDS + 0.2)  # receives already waiting when it was disabled end (drain)
        sandbox.clients.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({"saleId": "paused"}))
        # Then the job waits in the queue, undelivered
        assert not sandbox.run_until(lambda: bool(_calls("notification_generator")), deadline=1.5)
    finally:
        # And once enabled again, it is delivered
        lambda_.update_event_source_mapping(UUID=generator, Enabled=True)
    assert sandbox.run_until(lambda: bool(_calls("notification_generator")), deadline=10)
    [call] = _calls("notification_generator")
    assert json.loads(call.event["Records"][0]["body"]) == {"saleId": "paused"}


def test_a_disabled_schedule_rule_fires_nothing_until_enabled_again(sandbox: Sandbox, handlers: Any) -> None:
    # Given the scheduler's rule disabled in the emulator
    events = sandbox.clients.client("events")
    rule = "prd3292-local-us-east-1-ntfcn-schdlr-schedule"
    [schedule] = [item for item in sandbox.schedules if item.rule_name == rule]
    events.disable_rule(Name=rule)
    try:
        assert sandbox.run_until(lambda: not schedule.enabled, deadline=5)
        # When the clock passes two half hours
        sandbox.clock.advance(3600)
        # Then the scheduler is not invoked
        assert not sandbox.run_until(lambda: bool(_calls("notification_scheduler")), deadline=1.0)
        assert schedule.skipped >= 2
    finally:
        events.enable_rule(Name=rule)
    # And enabled again, it fires at its next time
    assert sandbox.run_until(lambda: schedule.enabled, deadline=5)
    sandbox.clock.advance(1800)
    assert sandbox.run_until(lambda: len(_calls("notification_scheduler")) == 1, deadline=10)


def test_a_resolver_runs_the_version_the_live_alias_routes_to_and_lambdas_metrics_count_it(
    sandbox: Sandbox, handlers: Any
) -> None:
    # Given event_details' live alias sending all traffic to a new version with a failing handler
    lambda_ = sandbox.clients.client("lambda")
    function = sandbox.function("event_details")
    name = function.settings.function_name
    live = lambda_.get_alias(FunctionName=name, Name="live")
    program_handler = lambda_.get_function_configuration(FunctionName=name)["Handler"]
    lambda_.update_function_configuration(FunctionName=name, Handler=f"{doubles.PATH}.always_raise")
    failing = lambda_.publish_version(FunctionName=name)["Version"]
    lambda_.update_alias(
        FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {failing: 1.0}}
    )
    try:
        # When eventDetails is queried, as AppSync would, until the alias is re-read (within ~1 s)
        assert sandbox.run_until(
            lambda: sandbox.query("eventDetails", {"eventId": "E1"})["data"] is None, deadline=5
        )
        # Then the new version ran its own handler, with its version in the context and the alias ARN
        call = handlers.invocations("always_raise")[-1]
        assert call.context.function_version == failing
        assert call.context.invoked_function_arn == live["AliasArn"]
    finally:
        # And when routing is cleared (a rollback), the program's version (the double) answers again
        lambda_.update_alias(FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
        lambda_.update_function_configuration(FunctionName=name, Handler=program_handler)
        assert function.router is not None
        function.router.refresh()
    answer = sandbox.query("eventDetails", {"eventId": "E1"})
    assert answer == {"data": {"eventDetails": {"eventId": "E1", "field": "eventDetails"}}}
    # And the emulator's CloudWatch counts the failing version's errors by ExecutedVersion
    assert sandbox.metrics is not None
    sandbox.metrics.flush()
    resource = [{"Name": "FunctionName", "Value": name}, {"Name": "Resource", "Value": f"{name}:live"}]
    errors = _lambda_metric(sandbox, "Errors", [*resource, {"Name": "ExecutedVersion", "Value": failing}])
    assert errors >= 1
    assert _lambda_metric(sandbox, "Invocations", resource) >= errors + 1


def _lambda_metric(sandbox: Sandbox, metric: str, dimensions: list[dict[str, str]]) -> float:
    """The AWS/Lambda metric's sum over the last 10 minutes under exactly these dimensions."""
    now = datetime.now(UTC)
    answer = sandbox.clients.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": dimensions},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
    )
    return float(sum(answer["MetricDataResults"][0]["Values"]))
