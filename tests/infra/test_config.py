"""Stack configuration: committed stack files validate, resolve exactly, and every rule names file and key."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from infra.catalog import CATALOG, DEMAND_STREAM_TO_SQS_FILTERS, NOTIFICATION_SEND_FILTERS
from infra.config import (
    LOG_RETENTION_DAYS,
    AlarmSettings,
    ConfigError,
    ExternalStreamSettings,
    QueueTriggerSettings,
    ScheduleTriggerSettings,
    StreamSettings,
    StreamTriggerSettings,
    load_stack_config,
    stack_values,
)
from infra.stack_files import PROJECT_ROOT

STACK_FILES = sorted(path for path in PROJECT_ROOT.glob("Pulumi.*.yaml") if path.name != "Pulumi.yaml")
STACKS = [path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in STACK_FILES]
CATALOG_NAMES = sorted(spec.name for spec in CATALOG)
DELETED = object()  # with_change value that removes the key instead of setting it


# ---------------------------------------------------------------------------------------------
# Helpers: stack-file values as the program receives them, and one-key changes to them
# ---------------------------------------------------------------------------------------------


class FakeConfig:
    """A pulumi.Config stand-in: `get(key)` returns the text the Pulumi CLI hands the program."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def get(self, key: str) -> str | None:
        return self._values.get(key)


def _cli_text(value: Any) -> str:
    # The CLI passes structured stack-file values as JSON text and scalars as their plain text.
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _namespace(document: dict[str, Any], namespace: str) -> FakeConfig:
    prefix = f"{namespace}:"
    return FakeConfig(
        {
            key.removeprefix(prefix): _cli_text(value)
            for key, value in document.items()
            if key.startswith(prefix)
        }
    )


def stack_file_values(stack: str) -> dict[str, Any]:
    """The `dmd-workers:*` values of a committed stack file (plus `aws:region`), as the program gets them."""
    document = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]
    return stack_values(_namespace(document, "dmd-workers"), _namespace(document, "aws"))


def with_change(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `values` with the dotted `path` set to `value` (or removed for DELETED)."""
    changed = copy.deepcopy(values)
    *parents, leaf = path.split(".")
    node = changed
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETED:
        del node[leaf]
    else:
        node[leaf] = value
    return changed


def rejection(stack: str, values: dict[str, Any]) -> str:
    """The ConfigError message for `values`; fails the test when they are accepted."""
    with pytest.raises(ConfigError) as raised:
        load_stack_config(stack, values)
    return str(raised.value)


VALUES = {stack: stack_file_values(stack) for stack in ("qa1", "prod1", "local")}


# ---------------------------------------------------------------------------------------------
# Committed stack files
# ---------------------------------------------------------------------------------------------


def test_every_committed_stack_file_is_discovered() -> None:
    # Given the stack files next to Pulumi.yaml
    # When they are globbed
    # Then the three committed stacks are found (so the next test cannot pass on an empty list)
    assert {"qa1", "prod1", "local"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_file_validates_and_resolves_every_catalog_worker(stack: str) -> None:
    # Given a committed stack file, read the way the program reads it
    values = stack_file_values(stack)

    # When it is validated
    config = load_stack_config(stack, values)

    # Then every catalog worker is resolved, and nothing else
    assert config.stack == stack
    assert sorted(config.workers) == CATALOG_NAMES


def test_stack_identity_comes_from_the_file_with_account_id_kept_as_text() -> None:
    # Given prod1
    # When it is validated
    config = load_stack_config("prod1", VALUES["prod1"])

    # Then the identity values are as written; the account id is text, not a number
    assert (config.environment, config.region, config.production) == ("prod1", "us-east-1", True)
    assert config.account_id == "210987654321"


# ---------------------------------------------------------------------------------------------
# Resolution: defaults merged with per-worker overrides
# ---------------------------------------------------------------------------------------------


def test_worker_override_wins_over_defaults_key_by_key() -> None:
    # Given prod1, where notification_send overrides memory, concurrency and its trigger only
    # When it is resolved
    worker = load_stack_config("prod1", VALUES["prod1"]).worker("notification_send")

    # Then overridden keys come from the worker and the rest from defaults
    assert worker.memory_mb == 2048
    assert worker.reserved_concurrency == 100
    assert worker.timeout_seconds == 60
    assert worker.architecture == "arm64"
    assert worker.log_retention_days == 30
    assert worker.log_streaming is True
    assert worker.log_level == "INFO"
    assert worker.trigger == StreamTriggerSettings(
        batch_size=200,
        maximum_batching_window_seconds=1,
        parallelization_factor=10,
        maximum_retry_attempts=3,
        maximum_record_age_seconds=3600,
        filter_patterns=NOTIFICATION_SEND_FILTERS,
    )
    assert worker.alarms == AlarmSettings()


def test_worker_without_overrides_gets_the_defaults_and_its_catalog_filters() -> None:
    # Given local, where demand_stream_to_sqs has no entry under workers
    assert "demand_stream_to_sqs" not in VALUES["local"]["workers"]

    # When it is resolved
    worker = load_stack_config("local", VALUES["local"]).worker("demand_stream_to_sqs")

    # Then it carries exactly the stack defaults, the trigger defaults and the catalog's filters
    assert worker.model_dump(exclude={"trigger", "alarms", "tunables"}) == {
        "memory_mb": 512,
        "timeout_seconds": 30,
        "architecture": "arm64",
        "reserved_concurrency": -1,
        "log_retention_days": 1,
        "log_streaming": False,
        "log_level": "DEBUG",
        "snap_start": False,
    }
    assert worker.trigger == StreamTriggerSettings(filter_patterns=DEMAND_STREAM_TO_SQS_FILTERS)
    assert worker.alarms == AlarmSettings()
    assert worker.tunables == {}


def test_removing_a_worker_entry_falls_back_to_defaults_and_default_tunables() -> None:
    # Given prod1 without its event_details entry
    values = with_change(VALUES["prod1"], "workers.event_details", DELETED)

    # When it is resolved
    worker = load_stack_config("prod1", values).worker("event_details")

    # Then the prod1 defaults apply and its tunables are the model defaults as env strings
    assert (worker.memory_mb, worker.timeout_seconds, worker.reserved_concurrency) == (1024, 60, -1)
    assert worker.tunables == {"VENDOR_TIMEOUT_SECONDS": "5"}


def test_tunables_are_rendered_as_upper_snake_environment_strings() -> None:
    # Given prod1, where the scheduler sets all three of its settings
    # When it is resolved
    config = load_stack_config("prod1", VALUES["prod1"])

    # Then each tunable is an UPPER_SNAKE key with a string value; unset ones keep their defaults
    assert config.worker("notification_scheduler").tunables == {
        "LEAD_MINUTES": "30",
        "WINDOW_MINUTES": "30",
        "EVENT_FETCH_PARALLELISM": "16",
    }
    assert config.worker("notification_generator").tunables == {
        "WRITE_PARALLELISM": "32",
        "DEMAND_PAGE_SIZE": "1000",
        "CONTINUATION_MARGIN_SECONDS": "20",
    }


def test_trigger_settings_take_the_model_of_the_catalog_source() -> None:
    # Given qa1
    # When it is resolved
    config = load_stack_config("qa1", VALUES["qa1"])

    # Then each worker's trigger is parsed by the model of its source kind
    assert config.worker("notification_scheduler").trigger == ScheduleTriggerSettings(
        schedule_expression="cron(0/30 * * * ? *)"
    )
    assert config.worker("notification_generator").trigger == QueueTriggerSettings(
        batch_size=1, maximum_concurrency=5
    )
    assert config.worker("sms_status_consumer").trigger == StreamTriggerSettings(batch_size=500)


def test_filter_patterns_in_the_stack_file_replace_the_catalog_defaults() -> None:
    # Given qa1 with one notification_send filter pattern written as a JSON string
    values = with_change(
        VALUES["qa1"],
        "workers.notification_send.trigger.filterPatterns",
        ['{"data": {"eventName": ["INSERT"]}}'],
    )

    # When it is resolved
    trigger = load_stack_config("qa1", values).worker("notification_send").trigger

    # Then that pattern, parsed, is the only one
    assert isinstance(trigger, StreamTriggerSettings)
    assert trigger.filter_patterns == ({"data": {"eventName": ["INSERT"]}},)


def test_sms_status_stream_is_created_or_referenced_by_the_keys_given() -> None:
    # Given qa1 (a stream with shards) and prod1 (another team's stream by ARN)
    # When they are resolved
    qa1 = load_stack_config("qa1", VALUES["qa1"]).platform
    prod1 = load_stack_config("prod1", VALUES["prod1"]).platform

    # Then qa1 creates its stream and prod1 references the existing one
    assert qa1.sms_status_stream == StreamSettings(mode="PROVISIONED", shard_count=1, retention_hours=24)
    assert prod1.sms_status_stream == ExternalStreamSettings(
        existing_arn="arn:aws:kinesis:us-east-1:210987654321:stream/prd3292-prod1-sms-status",
        retention_hours=24,
    )


# ---------------------------------------------------------------------------------------------
# Rejected configurations: one line naming the file, the exact key and the rule
# ---------------------------------------------------------------------------------------------

NOT_KINESIS = "arn:aws:sqs:us-east-1:210987654321:prd3292-prod1-sms-status"
KINESIS_VIDEO = "arn:aws:kinesisvideo:us-east-1:343550350117:stream/prd3292-qa1-logs/1700000000000"
SIX_PATTERNS = [{"data": {"status": [f"S{index}"]}} for index in range(6)]

INVALID = [
    # --- triggers: SQS ---
    pytest.param(
        "qa1", "workers.shorten_event_url.trigger.batchSize", 20,
        "dmd-workers:workers.shorten_event_url.trigger.batchSize",
        ["more than 10", "SQS", "maximumBatchingWindowSeconds >= 1", "(got 20)"],
        id="sqs-batch-over-10-needs-batching-window",
    ),
    pytest.param(
        "qa1", "workers.shorten_event_url.trigger.parallelizationFactor", 2,
        "dmd-workers:workers.shorten_event_url.trigger.parallelizationFactor",
        ["stream triggers only", "SQS", "(got 2)"],
        id="parallelization-factor-on-queue-worker",
    ),
    pytest.param(
        "qa1", "workers.notification_generator.trigger.bisectBatchOnFunctionError", True,
        "dmd-workers:workers.notification_generator.trigger.bisectBatchOnFunctionError",
        ["bisect on error", "stream triggers only", "(got True)"],
        id="bisect-on-error-on-queue-worker",
    ),
    pytest.param(
        "qa1", "workers.shorten_event_url.trigger.maximumConcurrency", 1,
        "dmd-workers:workers.shorten_event_url.trigger.maximumConcurrency",
        ["greater than or equal to 2", "(got 1)"],
        id="sqs-maximum-concurrency-below-2",
    ),
    pytest.param(
        "prod1", "workers.notification_generator.trigger.maximumConcurrency", 30,
        "dmd-workers:workers.notification_generator.trigger.maximumConcurrency",
        ["30 exceeds", "reservedConcurrency 20", "throttled"],
        id="sqs-maximum-concurrency-above-reserved-concurrency",
    ),
    # --- triggers: streams ---
    pytest.param(
        "qa1", "workers.notification_send.trigger.batchSize", 20000,
        "dmd-workers:workers.notification_send.trigger.batchSize",
        ["less than or equal to 10000", "(got 20000)"],
        id="stream-batch-size-over-10000",
    ),
    pytest.param(
        "qa1", "workers.notification_send.trigger.maximumRetryAttempts", -1,
        "dmd-workers:workers.notification_send.trigger.maximumRetryAttempts",
        ["bounded", "0..10000", "infinite", "(got -1)"],
        id="stream-retries-unbounded",
    ),
    pytest.param(
        "qa1", "workers.notification_send.trigger.maximumRecordAgeSeconds", -1,
        "dmd-workers:workers.notification_send.trigger.maximumRecordAgeSeconds",
        ["bounded", "60..604800", "infinite", "(got -1)"],
        id="stream-record-age-unbounded",
    ),
    pytest.param(
        "qa1", "workers.notification_send.trigger.maximumRecordAgeSeconds", 30,
        "dmd-workers:workers.notification_send.trigger.maximumRecordAgeSeconds",
        ["between 60 and 604800", "(got 30)"],
        id="stream-record-age-below-60",
    ),
    pytest.param(
        "prod1", "workers.notification_send.trigger.maximumRecordAgeSeconds", 200_000,
        "dmd-workers:workers.notification_send.trigger.maximumRecordAgeSeconds",
        ["retention of platform.tableStream", "(172800 s)", "(got 200000)"],
        id="stream-record-age-beyond-table-stream-retention",
    ),
    pytest.param(
        "prod1", "workers.sms_status_consumer.trigger.maximumRecordAgeSeconds", 90_000,
        "dmd-workers:workers.sms_status_consumer.trigger.maximumRecordAgeSeconds",
        ["retention of platform.smsStatusStream", "(86400 s)", "(got 90000)"],
        id="stream-record-age-beyond-existing-sms-stream-retention",
    ),
    pytest.param(
        "qa1", "workers.sms_status_consumer.trigger.filterPatterns", SIX_PATTERNS,
        "dmd-workers:workers.sms_status_consumer.trigger.filterPatterns",
        ["at most 5 filter patterns", "(got 6)"],
        id="filter-patterns-more-than-5",
    ),
    pytest.param(
        "qa1", "workers.notification_send.trigger.filterPatterns", ['{"data": {"eventName": ["INSERT"]'],
        "dmd-workers:workers.notification_send.trigger.filterPatterns",
        ["filter pattern 0", "not valid JSON"],
        id="filter-pattern-invalid-json-string",
    ),
    pytest.param(
        "qa1", "workers.notification_send.trigger.filterPatterns", [{"data": {"eventName": ["INSERT"]}}, {}],
        "dmd-workers:workers.notification_send.trigger.filterPatterns",
        ["filter pattern 1 is empty", "omit filterPatterns"],
        id="filter-pattern-empty",
    ),
    pytest.param(
        "qa1", "workers.notification_send.trigger.filterPatterns", ['["INSERT"]'],
        "dmd-workers:workers.notification_send.trigger.filterPatterns",
        ["filter pattern 0", "JSON object"],
        id="filter-pattern-not-an-object",
    ),
    # --- triggers: schedule ---
    pytest.param(
        "qa1", "workers.notification_scheduler.trigger.scheduleExpression", "every 5 minutes",
        "dmd-workers:workers.notification_scheduler.trigger.scheduleExpression",
        ["not an EventBridge schedule", "rate(", "cron(", "(got 'every 5 minutes')"],
        id="schedule-expression-not-rate-or-cron",
    ),
    # --- queues (cross-field with the consumer) ---
    pytest.param(
        "qa1", "platform.generationQueue.visibilityTimeoutSeconds", 5399,
        "dmd-workers:platform.generationQueue.visibilityTimeoutSeconds",
        ["6 x timeout of notification_generator (900 s)", "batching window = 5400 s", "(got 5399)"],
        id="visibility-timeout-below-6x-consumer-timeout",
    ),
    pytest.param(
        "qa1", "workers.shorten_event_url.trigger.maximumBatchingWindowSeconds", 5,
        "dmd-workers:platform.shortUrlQueue.visibilityTimeoutSeconds",
        ["6 x timeout of shorten_event_url (60 s)", "batching window = 365 s", "(got 360)"],
        id="visibility-timeout-below-6x-consumer-timeout-plus-window",
    ),
    # --- function settings ---
    pytest.param(
        "qa1", "defaults.logRetentionDays", 10,
        "dmd-workers:defaults.logRetentionDays",
        ["not a CloudWatch Logs retention", ", ".join(str(days) for days in LOG_RETENTION_DAYS), "(got 10)"],
        id="log-retention-not-a-cloudwatch-value",
    ),
    pytest.param(
        "prod1", "workers.event_details.logRetentionDays", 10,
        "dmd-workers:workers.event_details.logRetentionDays",
        ["not a CloudWatch Logs retention", "use one of 1, 3, 5, 7, 14,", "(got 10)"],
        id="worker-log-retention-not-a-cloudwatch-value",
    ),
    pytest.param(
        "qa1", "workers.event_details.reservedConcurrency", -2,
        "dmd-workers:workers.event_details.reservedConcurrency",
        ["-1 (unreserved) or >= 0 (0 pauses the worker) (got -2)"],
        id="reserved-concurrency-below-minus-1",
    ),
    pytest.param(
        "qa1", "workers.event_details.memoryMb", 64,
        "dmd-workers:workers.event_details.memoryMb",
        ["greater than or equal to 128", "(got 64)"],
        id="memory-below-128",
    ),
    pytest.param(
        "qa1", "workers.notification_generator.timeoutSeconds", 901,
        "dmd-workers:workers.notification_generator.timeoutSeconds",
        ["less than or equal to 900", "(got 901)"],
        id="timeout-above-900",
    ),
    pytest.param(
        "qa1", "defaults.architecture", "arm32",
        "dmd-workers:defaults.architecture",
        ["'arm64' or 'x86_64'", "(got 'arm32')"],
        id="architecture-unknown",
    ),
    pytest.param(
        "qa1", "platform.centralLogStreamArn", DELETED,
        "dmd-workers:defaults.logStreaming",
        ["needs platform.centralLogStreamArn"],
        id="log-streaming-default-without-central-log-stream",
    ),
    pytest.param(
        "local", "workers.event_details.logStreaming", True,
        "dmd-workers:workers.event_details.logStreaming",
        ["needs platform.centralLogStreamArn"],
        id="log-streaming-override-without-central-log-stream",
    ),
    pytest.param(
        "qa1", "workers.notification_scheduler.alarms.durationRatio", 1.5,
        "dmd-workers:workers.notification_scheduler.alarms.durationRatio",
        ["less than or equal to 1", "(got 1.5)"],
        id="alarm-duration-ratio-above-1",
    ),
    # --- names and keys ---
    pytest.param(
        "qa1", "workers.notification_sender", {"memoryMb": 512},
        "dmd-workers:workers.notification_sender",
        ["no such worker", "the catalog has", ", ".join(CATALOG_NAMES)],
        id="worker-name-not-in-catalog",
    ),
    pytest.param(
        "prod1", "workers.notification_send.trigger.batchsize", 200,
        "dmd-workers:workers.notification_send.trigger.batchsize",
        ["Extra inputs are not permitted", "(got 200)"],
        id="trigger-key-typo",
    ),
    pytest.param(
        "qa1", "defaults.memorymb", 512,
        "dmd-workers:defaults.memorymb",
        ["Extra inputs are not permitted", "(got 512)"],
        id="defaults-key-typo",
    ),
    pytest.param(
        "qa1", "workers.notification_scheduler.settings.leadMinute", 15,
        "dmd-workers:workers.notification_scheduler.settings.leadMinute",
        ["Extra inputs are not permitted", "(got 15)"],
        id="tunable-unknown",
    ),
    pytest.param(
        "qa1", "workers.notification_scheduler.settings.windowMinutes", 1,
        "dmd-workers:workers.notification_scheduler.settings.windowMinutes",
        ["greater than or equal to 5", "(got 1)"],
        id="tunable-out-of-range",
    ),
    # --- platform ---
    pytest.param(
        "qa1", "platform.table.billingMode", "PROVISIONED",
        "dmd-workers:platform.table.billingMode",
        ["PROVISIONED needs readCapacity and writeCapacity"],
        id="table-provisioned-without-capacity",
    ),
    pytest.param(
        "qa1", "platform.table.readCapacity", 5,
        "dmd-workers:platform.table.readCapacity",
        ["applies to billingMode PROVISIONED only", "(got 5)"],
        id="table-on-demand-with-capacity",
    ),
    pytest.param(
        "qa1", "platform.tableStream.shardCount", 2,
        "dmd-workers:platform.tableStream.shardCount",
        ["applies to mode PROVISIONED only", "(got 2)"],
        id="stream-on-demand-with-shard-count",
    ),
    pytest.param(
        "local", "platform.tableStream.shardCount", DELETED,
        "dmd-workers:platform.tableStream.mode",
        ["PROVISIONED needs shardCount", "(got 'PROVISIONED')"],
        id="stream-provisioned-without-shard-count",
    ),
    pytest.param(
        "prod1", "platform.smsStatusStream.existingArn", NOT_KINESIS,
        "dmd-workers:platform.smsStatusStream.existingArn",
        ["not a Kinesis stream ARN", "arn:aws:kinesis:REGION:ACCOUNT:stream/NAME"],
        id="existing-sms-stream-arn-not-kinesis",
    ),
    pytest.param(
        "prod1", "platform.smsStatusStream.shardCount", 2,
        "dmd-workers:platform.smsStatusStream.shardCount",
        ["Extra inputs are not permitted", "(got 2)"],
        id="existing-sms-stream-with-shard-count",
    ),
    pytest.param(
        "qa1", "platform.centralLogStreamArn", KINESIS_VIDEO,
        "dmd-workers:platform.centralLogStreamArn",
        ["not a Kinesis stream ARN"],
        id="central-log-stream-arn-not-kinesis",
    ),
    pytest.param(
        "qa1", "platform.vpc.subnetIds", ["subnet-XYZ"],
        "dmd-workers:platform.vpc.subnetIds.0",
        ["^subnet-[0-9a-f]+$", "(got 'subnet-XYZ')"],
        id="vpc-subnet-id-malformed",
    ),
    pytest.param(
        "qa1", "platform.vpc.securityGroupIds", [],
        "dmd-workers:platform.vpc.securityGroupIds",
        ["needs at least one id"],
        id="vpc-without-security-groups",
    ),
    pytest.param(
        "prod1", "platform.alarmTopic.subscriptions", [{"protocol": "slack", "endpoint": "#dmnd"}],
        "dmd-workers:platform.alarmTopic.subscriptions.0.protocol",
        ["'email'", "'https'", "(got 'slack')"],
        id="alarm-subscription-protocol-unknown",
    ),
    pytest.param(
        "qa1", "vendors.smsServiceRoleArn", "arn:aws:iam::111111111111:user/sms",
        "dmd-workers:vendors.smsServiceRoleArn",
        ["not an IAM role ARN"],
        id="vendor-role-arn-not-a-role",
    ),
    # --- stack identity ---
    pytest.param(
        "qa1", "accountId", "34355035011",
        "dmd-workers:accountId",
        ["not a 12-digit AWS account id", "(got '34355035011')"],
        id="account-id-not-12-digits",
    ),
    pytest.param(
        "qa1", "environment", "QA1",
        "dmd-workers:environment",
        ["short lowercase name", "(got 'QA1')"],
        id="environment-not-lowercase",
    ),
    pytest.param(
        "qa1", "region", "us-east",
        "aws:region",
        ["should match pattern", "(got 'us-east')"],
        id="aws-region-malformed",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("stack", "path", "value", "key", "words"), INVALID)
def test_invalid_value_is_rejected_naming_file_key_and_rule(
    stack: str, path: str, value: Any, key: str, words: list[str]
) -> None:
    # Given a committed stack file with one value changed
    values = with_change(VALUES[stack], path, value)

    # When it is validated
    message = rejection(stack, values)

    # Then one line names the file, the exact key and the rule
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"Pulumi.{stack}.yaml: {key}: "), message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_bad_region_is_reported_under_the_aws_namespace() -> None:
    # Given qa1 with a malformed aws:region
    values = with_change(VALUES["qa1"], "region", "us-east")

    # When it is validated
    message = rejection("qa1", values)

    # Then the key named is the one the file holds, not a dmd-workers key
    assert "Pulumi.qa1.yaml: aws:region: " in message
    assert "dmd-workers:region" not in message


def test_log_streaming_without_destination_is_reported_once_at_the_key_that_set_it() -> None:
    # Given qa1 without a central log stream, where every worker inherits defaults.logStreaming
    values = with_change(VALUES["qa1"], "platform.centralLogStreamArn", DELETED)

    # When it is validated
    message = rejection("qa1", values)

    # Then there is one line for the defaults key, none per worker
    assert message == (
        "Pulumi.qa1.yaml: dmd-workers:defaults.logStreaming: needs platform.centralLogStreamArn "
        "(or set logStreaming: false) (got True)"
    )


def test_maximum_concurrency_is_not_capped_by_an_unreserved_worker() -> None:
    # Given qa1, where shorten_event_url is unreserved (-1) and polls with up to 200 pollers
    values = with_change(VALUES["qa1"], "workers.shorten_event_url.trigger.maximumConcurrency", 200)

    # When it is validated
    worker = load_stack_config("qa1", values).worker("shorten_event_url")

    # Then the queue's concurrency cap stands on its own
    assert isinstance(worker.trigger, QueueTriggerSettings)
    assert worker.trigger.maximum_concurrency == 200


def test_visibility_timeout_exactly_six_timeouts_plus_window_is_accepted() -> None:
    # Given qa1, where generationQueue's 5400 s is exactly 6 x 900 s + a 0 s window
    # When it is validated
    config = load_stack_config("qa1", VALUES["qa1"])

    # Then the boundary passes
    assert config.platform.generation_queue.visibility_timeout_seconds == 5400


# ---------------------------------------------------------------------------------------------
# Several problems at once
# ---------------------------------------------------------------------------------------------


def test_problems_in_top_level_keys_are_listed_together() -> None:
    # Given qa1 with a bad account id, region and memory setting
    values = with_change(VALUES["qa1"], "accountId", "1234")
    values = with_change(values, "region", "mars")
    values = with_change(values, "workers.event_details.memoryMb", 64)

    # When it is validated
    lines = rejection("qa1", values).splitlines()

    # Then one ConfigError lists each problem on its own line
    assert len(lines) == 3, lines
    assert [line.split(": ")[1] for line in lines] == [
        "aws:region",
        "dmd-workers:accountId",
        "dmd-workers:workers.event_details.memoryMb",
    ]


def test_problems_across_workers_and_resources_are_listed_together() -> None:
    # Given prod1 with two bad triggers and a queue too short for its consumer
    values = with_change(VALUES["prod1"], "workers.notification_send.trigger.batchSize", 20000)
    values = with_change(values, "workers.shorten_event_url.trigger.parallelizationFactor", 2)
    values = with_change(values, "platform.generationQueue.visibilityTimeoutSeconds", 600)

    # When it is validated
    lines = rejection("prod1", values).splitlines()

    # Then each problem has its own line naming its key
    assert [line.split(": ")[1] for line in lines] == [
        "dmd-workers:workers.notification_send.trigger.batchSize",
        "dmd-workers:workers.shorten_event_url.trigger.parallelizationFactor",
        "dmd-workers:platform.generationQueue.visibilityTimeoutSeconds",
    ]
    assert all(line.startswith("Pulumi.prod1.yaml: ") for line in lines)


# ---------------------------------------------------------------------------------------------
# stack_values: what the Pulumi CLI hands the program
# ---------------------------------------------------------------------------------------------


def test_stack_values_decodes_json_objects_and_lists_and_keeps_plain_strings() -> None:
    # Given config as the CLI passes it: structured values as JSON text, scalars as text
    project = FakeConfig(
        {
            "environment": "qa1",
            "accountId": "012345678901",
            "production": "false",
            "defaults": '{"memoryMb": 512, "logStreaming": false}',
            "workers": '{"event_details": {"timeoutSeconds": 15}}',
            "business": '{"suppressedArtistIds": ["K8vZ9171o_0"]}',
            "observability": '["not", "an", "object"]',
        }
    )

    # When the values are read
    values = stack_values(project, FakeConfig({"region": "eu-west-1"}))

    # Then JSON is decoded, plain strings are left alone, and unset keys are absent
    assert values == {
        "environment": "qa1",
        "accountId": "012345678901",
        "production": "false",
        "defaults": {"memoryMb": 512, "logStreaming": False},
        "workers": {"event_details": {"timeoutSeconds": 15}},
        "business": {"suppressedArtistIds": ["K8vZ9171o_0"]},
        "observability": ["not", "an", "object"],
        "region": "eu-west-1",
    }


def test_stack_values_takes_region_from_the_aws_namespace_only() -> None:
    # Given a region in both namespaces
    project = FakeConfig({"environment": "qa1", "region": "eu-west-1"})

    # When the values are read
    values = stack_values(project, FakeConfig({"region": "us-east-1"}))

    # Then aws:region wins
    assert values["region"] == "us-east-1"


def test_stack_values_without_aws_region_leaves_it_for_validation_to_report() -> None:
    # Given no aws:region
    values = stack_values(FakeConfig({"environment": "qa1"}), FakeConfig({}))

    # When those values are validated
    message = rejection("qa1", {**values, "accountId": "343550350117"})

    # Then the missing key is named as the stack file spells it
    assert values == {"environment": "qa1"}
    assert message == "Pulumi.qa1.yaml: aws:region: Field required"


def test_stack_values_rejects_malformed_json_naming_the_key() -> None:
    # Given a structured value the CLI would never produce
    project = FakeConfig({"environment": "qa1", "defaults": '{"memoryMb": 512'})

    # When the values are read
    with pytest.raises(ConfigError) as raised:
        stack_values(project, FakeConfig({"region": "us-east-1"}))

    # Then the error names the key and the reason
    assert str(raised.value).startswith("dmd-workers:defaults: not valid JSON")


def test_stack_values_rejects_a_misspelt_top_level_key_when_keys_can_be_listed() -> None:
    # Given a stack whose configured keys include a typo and a region in the wrong namespace
    present = ["aws:region", "dmd-workers:environment", "dmd-workers:defualts", "dmd-workers:region"]

    # When the values are read
    with pytest.raises(ConfigError) as raised:
        stack_values(
            FakeConfig({"environment": "qa1"}), FakeConfig({"region": "us-east-1"}), present_keys=present
        )

    # Then each unknown key is named, with the known keys and where the region belongs
    lines = str(raised.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        "dmd-workers:defualts: unknown key; the keys are accountId, business, defaults"
    )
    assert lines[1].endswith("(the region is aws:region)")


# ---------------------------------------------------------------------------------------------
# Schedule intervals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        pytest.param("cron(0/30 * * * ? *)", 1800, id="cron-step"),
        pytest.param("cron(0,30 * * * ? *)", 1800, id="cron-list"),
        pytest.param("cron(0,10 * * * ? *)", 3000, id="cron-uneven-list-takes-longest-gap"),
        pytest.param("rate(5 minutes)", 300, id="rate-minutes"),
        pytest.param("rate(1 hour)", 3600, id="rate-one-hour"),
        pytest.param("rate(2 days)", 172_800, id="rate-days"),
        pytest.param("cron(0 12 * * ? *)", 86_400, id="cron-daily"),
        pytest.param("cron(0 */6 * * ? *)", 21_600, id="cron-hour-step"),
        pytest.param("cron(0 9-17 * * ? *)", 57_600, id="cron-office-hours-overnight-gap"),
        pytest.param("cron(15 10 ? * MON *)", 604_800, id="cron-weekly"),
    ],
)
def test_schedule_interval_is_the_longest_gap_between_runs(expression: str, seconds: int) -> None:
    # Given a schedule trigger
    trigger = ScheduleTriggerSettings(schedule_expression=expression)

    # When its interval is asked for
    # Then it is the longest wait between two runs
    assert trigger.interval_seconds() == seconds


# ---------------------------------------------------------------------------------------------
# Properties: stream trigger ranges
# ---------------------------------------------------------------------------------------------

VALID_STREAM_TRIGGER = st.fixed_dictionaries(
    {
        "batchSize": st.integers(1, 10_000),
        "maximumBatchingWindowSeconds": st.integers(0, 300),
        "parallelizationFactor": st.integers(1, 10),
        "maximumRetryAttempts": st.integers(0, 10_000),
        "maximumRecordAgeSeconds": st.integers(60, 604_800),
    }
)
RECORD_AGE_OUT_OF_RANGE = st.one_of(
    st.integers(max_value=-2), st.integers(0, 59), st.integers(min_value=604_801)
)


@settings(max_examples=75, deadline=None)
@given(options=VALID_STREAM_TRIGGER)
def test_stream_trigger_within_aws_ranges_is_accepted(options: dict[str, int]) -> None:
    # Given stream trigger options inside the ranges AWS and the program allow
    # When they are validated
    trigger = StreamTriggerSettings.model_validate(options)

    # Then they are kept as given
    dumped = trigger.model_dump(by_alias=True)
    assert {key: dumped[key] for key in options} == options


@settings(max_examples=75, deadline=None)
@given(options=VALID_STREAM_TRIGGER, record_age=RECORD_AGE_OUT_OF_RANGE)
def test_stream_trigger_with_record_age_outside_60_to_604800_is_rejected_at_that_key(
    options: dict[str, int], record_age: int
) -> None:
    # Given otherwise valid options with a record age outside [60, 604800] and not -1
    options = {**options, "maximumRecordAgeSeconds": record_age}

    # When they are validated, alone and as notification_send's trigger in a stack file
    with pytest.raises(ValidationError):
        StreamTriggerSettings.model_validate(options)
    message = rejection("qa1", with_change(VALUES["qa1"], "workers.notification_send.trigger", options))

    # Then the stack file's one problem is that key, with the value given
    key = "dmd-workers:workers.notification_send.trigger.maximumRecordAgeSeconds"
    assert message.startswith(f"Pulumi.qa1.yaml: {key}: "), message
    assert message.endswith(f"(got {record_age})"), message
