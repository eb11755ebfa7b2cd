"""What invokes each worker: stream and queue mappings, the schedule, the AppSync resolver."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.catalog import QueueSource, StreamSource, WorkerSpec
from infra.config import QueueTriggerSettings, ScheduleTriggerSettings, StreamTriggerSettings
from tests.infra.graphs import document
from tests.infra.program.resource_types import (
    DATA_SOURCE,
    EVENT_RULE,
    EVENT_TARGET,
    PERMISSION,
    QUEUE,
    RESOLVER,
)
from tests.infra.program.stack_under_test import (
    QUEUE_WORKERS,
    RESOLVER_WORKERS,
    SCHEDULE_WORKERS,
    SPECS,
    STREAM_WORKERS,
    Stack,
    grants_of,
    ids_of,
    statements_of,
    up_stack,
)

REPORT_BATCH_ITEM_FAILURES = ["ReportBatchItemFailures"]
STREAM_ONLY_MAPPING_KEYS = frozenset(
    {
        "startingPosition",
        "parallelizationFactor",
        "bisectBatchOnFunctionError",
        "maximumRetryAttempts",
        "maximumRecordAgeInSeconds",
        "tumblingWindowInSeconds",
        "destinationConfig",
    }
)
RESOLVER_FIELDS = {
    "event_details": ("Query", "eventDetails"),
    "proxy_tm_account_service": ("Query", "tmAccount"),
}


def _encryption(inputs: dict[str, Any]) -> dict[str, Any]:
    """A queue's encryption inputs (SSE-SQS, or a KMS key and its data-key reuse period)."""
    keys = ("sqsManagedSseEnabled", "kmsMasterKeyId", "kmsDataKeyReusePeriodSeconds")
    return {key: inputs[key] for key in keys if key in inputs}


@pytest.mark.parametrize("spec", STREAM_WORKERS, ids=ids_of(STREAM_WORKERS))
def test_stream_mapping_has_every_option_from_config(stack: Stack, spec: WorkerSpec) -> None:
    # Given the worker's stream trigger settings
    trigger = stack.worker(spec).trigger
    assert isinstance(trigger, StreamTriggerSettings)

    # When its event source mapping is declared
    mapping = stack.child(spec, "trigger")
    inputs = {key: value for key, value in mapping.inputs.items() if key not in ("tags", "filterCriteria")}

    # Then it invokes the live alias with every stream option, partial failures and an on-failure queue
    expected: dict[str, Any] = {
        "eventSourceArn": stack.source_stream_arn(spec),
        "functionName": stack.alias_arn(spec),
        "enabled": trigger.enabled,
        "startingPosition": trigger.starting_position,
        "batchSize": trigger.batch_size,
        "maximumBatchingWindowInSeconds": trigger.maximum_batching_window_seconds,
        "parallelizationFactor": trigger.parallelization_factor,
        "maximumRetryAttempts": trigger.maximum_retry_attempts,
        "maximumRecordAgeInSeconds": trigger.maximum_record_age_seconds,
        "bisectBatchOnFunctionError": trigger.bisect_batch_on_function_error,
        "functionResponseTypes": REPORT_BATCH_ITEM_FAILURES,
        "destinationConfig": {
            "onFailure": {"destinationArn": stack.queue_arn(f"{stack.function_name(spec)}-on-failure")}
        },
    }
    if trigger.tumbling_window_seconds:
        expected["tumblingWindowInSeconds"] = trigger.tumbling_window_seconds
    if trigger.metrics:
        expected["metricsConfig"] = {"metrics": ["EventCount"]}
    assert inputs == expected
    assert inputs["functionName"].endswith(":live")


@pytest.mark.parametrize("spec", STREAM_WORKERS, ids=ids_of(STREAM_WORKERS))
def test_stream_mapping_filters_are_the_catalog_patterns(stack: Stack, spec: WorkerSpec) -> None:
    # Given the catalog's filter patterns (the stack files do not override them)
    assert isinstance(spec.source, StreamSource)
    patterns = list(spec.source.filter_patterns)

    # When the deployed filter criteria are parsed
    criteria = stack.child(spec, "trigger").inputs.get("filterCriteria")

    # Then they are exactly those patterns (and absent when the worker takes every record)
    if not patterns:
        assert criteria is None
    else:
        assert criteria is not None
        assert [json.loads(item["pattern"]) for item in criteria["filters"]] == patterns


@pytest.mark.parametrize("spec", STREAM_WORKERS, ids=ids_of(STREAM_WORKERS))
def test_stream_worker_owns_an_encrypted_on_failure_queue(stack: Stack, spec: WorkerSpec) -> None:
    # Given Kinesis discards records past their age or retries
    # When the worker's on-failure queue is declared
    queue = stack.child(spec, "on-failure")

    # Then it is the worker's own, encrypted (the stack's key, else SSE-SQS), and keeps failures for
    # the SQS maximum of 14 days
    assert queue.type_ == QUEUE
    assert queue.inputs["name"] == f"{stack.function_name(spec)}-on-failure"
    assert _encryption(queue.inputs) == stack.queue_encryption()
    assert queue.inputs["messageRetentionSeconds"] == 1_209_600


@pytest.mark.parametrize("spec", QUEUE_WORKERS, ids=ids_of(QUEUE_WORKERS))
def test_queue_mapping_has_sqs_options_only(stack: Stack, spec: WorkerSpec) -> None:
    # Given the worker's queue trigger settings
    trigger = stack.worker(spec).trigger
    assert isinstance(trigger, QueueTriggerSettings) and isinstance(spec.source, QueueSource)

    # When its event source mapping is declared
    inputs = {k: v for k, v in stack.child(spec, "trigger").inputs.items() if k != "tags"}

    # Then it reads the platform queue into the live alias, with max concurrency when configured,
    # partial batch failures, and none of the stream-only options
    expected: dict[str, Any] = {
        "eventSourceArn": stack.queue_arn(stack.work_queue_name(spec.source.queue)),
        "functionName": stack.alias_arn(spec),
        "enabled": trigger.enabled,
        "batchSize": trigger.batch_size,
        "maximumBatchingWindowInSeconds": trigger.maximum_batching_window_seconds,
        "functionResponseTypes": REPORT_BATCH_ITEM_FAILURES,
    }
    if trigger.maximum_concurrency is not None:
        expected["scalingConfig"] = {"maximumConcurrency": trigger.maximum_concurrency}
    if trigger.metrics:
        expected["metricsConfig"] = {"metrics": ["EventCount"]}
    if trigger.filter_patterns:
        expected["filterCriteria"] = {
            "filters": [
                {"pattern": json.dumps(p, separators=(",", ":"), sort_keys=True)}
                for p in trigger.filter_patterns
            ]
        }
    assert inputs == expected
    assert STREAM_ONLY_MAPPING_KEYS.isdisjoint(inputs)


@pytest.mark.parametrize(
    "spec", [*STREAM_WORKERS, *QUEUE_WORKERS], ids=ids_of([*STREAM_WORKERS, *QUEUE_WORKERS])
)
def test_mapping_is_replaced_delete_first_after_its_role_policy(stack: Stack, spec: WorkerSpec) -> None:
    # Given AWS refuses a second mapping of one source and function, and polls with the role at once
    # When the mapping is declared
    options = stack.child(spec, "trigger").options

    # Then a replacement deletes the old one first, and creation waits for the role policy
    assert options["delete_before_replace"] is True
    assert options["depends_on"] == [f"{spec.name}-policy"]


MAPPING_SPOT_CHECKS = [
    (
        "prod1",
        "notification_send",
        {
            "batchSize": 200,
            "maximumBatchingWindowInSeconds": 1,
            "parallelizationFactor": 10,
            "maximumRetryAttempts": 3,
            "maximumRecordAgeInSeconds": 3600,
        },
    ),
    ("prod1", "demand_stream_to_sqs", {"batchSize": 1000, "parallelizationFactor": 2}),
    ("prod1", "notification_generator", {"batchSize": 1, "scalingConfig": {"maximumConcurrency": 10}}),
    ("prod1", "shorten_event_url", {"batchSize": 10, "scalingConfig": {"maximumConcurrency": 5}}),
    ("qa1", "notification_send", {"batchSize": 100, "parallelizationFactor": 2}),
    ("qa1", "notification_generator", {"scalingConfig": {"maximumConcurrency": 5}}),
    ("local", "notification_send", {"maximumRecordAgeInSeconds": 3600, "parallelizationFactor": 4}),
    ("local", "sms_status_consumer", {"batchSize": 500, "parallelizationFactor": 2}),
]


@pytest.mark.parametrize(
    ("stack_name", "worker", "expected"),
    MAPPING_SPOT_CHECKS,
    ids=[f"{s}-{w}" for s, w, _ in MAPPING_SPOT_CHECKS],
)
def test_mapping_spot_checks_against_the_stack_file(
    stack_name: str, worker: str, expected: dict[str, Any]
) -> None:
    # Given trigger values written in the stack file
    # When the stack is synthesized
    inputs = up_stack(stack_name).child(SPECS[worker], "trigger").inputs

    # Then the mapping carries them
    assert {key: inputs.get(key) for key in expected} == expected


def test_sms_status_consumer_reads_the_existing_stream_in_prod1() -> None:
    # Given prod1 names the SMS team's existing stream
    prod1 = up_stack("prod1")

    # When the consumer's mapping is declared
    mapping = prod1.child(SPECS["sms_status_consumer"], "trigger").inputs

    # Then it reads that stream
    assert (
        mapping["eventSourceArn"] == "arn:aws:kinesis:us-east-1:210987654321:stream/prd3292-prod1-sms-status"
    )


@pytest.mark.parametrize("spec", SCHEDULE_WORKERS, ids=ids_of(SCHEDULE_WORKERS))
def test_schedule_invokes_the_live_alias_with_retries_and_a_dead_letter_queue(
    stack: Stack, spec: WorkerSpec
) -> None:
    # Given the worker's schedule settings
    trigger = stack.worker(spec).trigger
    assert isinstance(trigger, ScheduleTriggerSettings)
    function_name = stack.function_name(spec)
    rule_arn = stack.arn("events", f"rule/{function_name}-schedule")
    dlq_arn = stack.queue_arn(f"{function_name}-schedule-dlq")

    # When the schedule is declared
    rule = stack.child(spec, "schedule")
    target = stack.child(spec, "schedule-target")
    permission = stack.child(spec, "schedule-permission")
    dlq = stack.child(spec, "schedule-dlq")
    dlq_policy = stack.child(spec, "schedule-dlq-policy")

    # Then the rule fires on the configured expression, its target is the live alias with the
    # configured retries and a DLQ only that rule may write, and Lambda lets exactly that rule invoke `live`
    assert (rule.type_, rule.inputs["name"]) == (EVENT_RULE, f"{function_name}-schedule")
    assert rule.inputs["scheduleExpression"] == trigger.schedule_expression
    assert rule.inputs["state"] == ("ENABLED" if trigger.enabled else "DISABLED")
    assert target.type_ == EVENT_TARGET
    assert target.inputs == {
        "rule": f"{function_name}-schedule",
        "arn": stack.alias_arn(spec),
        "retryPolicy": {
            "maximumRetryAttempts": trigger.retry_attempts,
            "maximumEventAgeInSeconds": trigger.maximum_event_age_seconds,
        },
        "deadLetterConfig": {"arn": dlq_arn},
    }
    assert target.options["depends_on"] == sorted([permission.name, dlq_policy.name])
    assert permission.type_ == PERMISSION
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": function_name,
        "qualifier": "live",
        "principal": "events.amazonaws.com",
        "sourceArn": rule_arn,
    }
    assert dlq.type_ == QUEUE
    assert dlq.inputs["name"] == f"{function_name}-schedule-dlq"
    assert _encryption(dlq.inputs) == stack.queue_encryption()
    assert statements_of(document(dlq_policy, "policy")) == [
        {
            "Sid": "EventBridgeDeadLetters",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": dlq_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        }
    ]


def test_schedule_spot_check_against_the_stack_file() -> None:
    # Given prod1's scheduler runs every half hour
    # When the stack is synthesized
    rule = up_stack("prod1").child(SPECS["notification_scheduler"], "schedule").inputs

    # Then the rule carries that cron expression
    assert rule["scheduleExpression"] == "cron(0/30 * * * ? *)"


@pytest.mark.parametrize("stack_name", ["prod1", "qa1", "local"])
def test_the_sweeper_runs_every_minute_in_every_stack(stack_name: str) -> None:
    # Given each stack file schedules notification_sweeper with rate(1 minute)
    # When the stack is synthesized
    stack = up_stack(stack_name)
    rule = stack.child(SPECS["notification_sweeper"], "schedule").inputs

    # Then the rule fires every minute and invokes the sweeper's live alias: a lost trigger waits
    # its release bound plus at most a minute
    assert (rule["scheduleExpression"], rule["state"]) == ("rate(1 minute)", "ENABLED")
    target = stack.child(SPECS["notification_sweeper"], "schedule-target").inputs
    assert target["arn"] == stack.alias_arn(SPECS["notification_sweeper"])


def _api_id(stack: Stack) -> str:
    url = stack.graph.outputs["graphql_api_url"]["GRAPHQL"]
    match = re.fullmatch(
        rf"https://(?P<id>[a-z0-9]+)\.appsync-api\.{stack.config.region}\.amazonaws\.com/graphql", url
    )
    assert match is not None, url
    return match["id"]


@pytest.mark.parametrize("spec", RESOLVER_WORKERS, ids=ids_of(RESOLVER_WORKERS))
def test_resolver_answers_its_field_through_the_live_alias(stack: Stack, spec: WorkerSpec) -> None:
    # Given the worker resolves one AppSync field
    type_name, field_name = RESOLVER_FIELDS[spec.name]
    api_id = _api_id(stack)
    role_name = f"{stack.function_name(spec)}-appsync"

    # When its data source, resolver and AppSync role are declared
    data_source = stack.child(spec, "data-source")
    resolver = stack.child(spec, "resolver")
    role = stack.child(spec, "resolver-role")
    policy = stack.child(spec, "resolver-policy")

    # Then a Lambda data source on the live alias backs a unit resolver of exactly that field, and
    # its role is trusted by AppSync for this API only and may invoke only the alias
    assert data_source.type_ == DATA_SOURCE
    assert data_source.inputs == {
        "apiId": api_id,
        "name": spec.name,
        "type": "AWS_LAMBDA",
        "serviceRoleArn": stack.role_arn(role_name),
        "lambdaConfig": {"functionArn": stack.alias_arn(spec)},
    }
    assert data_source.options["depends_on"] == [policy.name]
    assert "platform-graphql-api" in data_source.options["dependencies"]
    assert resolver.type_ == RESOLVER
    assert resolver.inputs == {
        "apiId": api_id,
        "type": type_name,
        "field": field_name,
        "dataSource": spec.name,
        "kind": "UNIT",
    }
    assert role.inputs["name"] == role_name
    assert statements_of(document(role, "assumeRolePolicy")) == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "appsync.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnLike": {"aws:SourceArn": stack.arn("appsync", f"apis/{api_id}")}},
        }
    ]
    assert grants_of(document(policy, "policy")) == {("lambda:InvokeFunction", stack.alias_arn(spec))}
