"""Rejected stack files: each problem on one line naming the file, the exact key and the rule."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import LOG_RETENTION_DAYS, QueueTriggerSettings, load_stack_config
from tests.infra.config.stack_file_edits import CATALOG_NAMES, DELETED, VALUES, rejection, with_change

# ---------------------------------------------------------------------------------------------
# Rejected configurations: one line naming the file, the exact key and the rule
# ---------------------------------------------------------------------------------------------

NOT_KINESIS = "arn:aws:sqs:us-east-1:210987654321:prd3292-prod1-sms-status"
KINESIS_VIDEO = "arn:aws:kinesisvideo:us-east-1:343550350117:stream/prd3292-qa1-logs/1700000000000"
LOG_KEY = "arn:aws:kms:us-east-1:210987654321:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
TEAM_KEY = "arn:aws:kms:us-east-1:343550350117:key/5e6f7081-92a3-4b4c-8d9e-0f1a2b3c4d5e"
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
    # --- alarms on the workers' own metrics ---
    pytest.param(
        "qa1", "workers.notification_generator.alarms.metricThresholds", {"OrphanedDemand": 5},
        "dmd-workers:workers.notification_generator.alarms.metricThresholds.OrphanedDemand",
        ["notification_generator has no alarm on this metric", "SalesWithoutDemand"],
        id="metric-threshold-for-a-metric-the-worker-does-not-alarm-on",
    ),
    pytest.param(
        "qa1", "workers.proxy_tm_account_service.alarms.metricThresholds", {"SalesWithoutDemand": 1},
        "dmd-workers:workers.proxy_tm_account_service.alarms.metricThresholds.SalesWithoutDemand",
        ["it has no metric alarms"],
        id="metric-threshold-on-a-worker-without-metric-alarms",
    ),
    pytest.param(
        "qa1", "workers.notification_generator.alarms.metricThresholds", {"SalesWithoutDemand": -1},
        "dmd-workers:workers.notification_generator.alarms.metricThresholds.SalesWithoutDemand",
        ["greater than or equal to 0", "(got -1)"],
        id="metric-threshold-negative",
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
    # --- never late (docs/notification-send.md) ---
    pytest.param(
        "qa1", "workers.notification_generator.settings.shortUrlTimeoutSeconds", 30,
        "dmd-workers:workers.notification_generator.settings.shortUrlTimeoutSeconds",
        ["less than or equal to 10", "(got 30)"],
        id="short-url-wait-longer-than-a-small-bound",
    ),
    pytest.param(
        "qa1", "workers.notification_send.settings.lateGraceMinutes", -1,
        "dmd-workers:workers.notification_send.settings.lateGraceMinutes",
        ["greater than or equal to 0", "(got -1)"],
        id="negative-late-grace",
    ),
    pytest.param(
        "qa1", "workers.notification_send.settings.lateGraceMinutes", 15,
        "dmd-workers:workers.notification_send.settings.lateGraceMinutes",
        ["must equal workers.notification_generator.settings.lateGraceMinutes (5)", "(got 15)"],
        id="generator-and-sender-disagree-on-the-late-grace",
    ),
    # --- claims are leases (docs/notification-send.md) ---
    pytest.param(
        "qa1", "workers.notification_sweeper.settings.releaseAfterMinutes", 0,
        "dmd-workers:workers.notification_sweeper.settings.releaseAfterMinutes",
        ["greater than or equal to 1", "(got 0)"],
        id="sweeper-releasing-at-the-due-time",
    ),
    pytest.param(
        "qa1", "workers.notification_sweeper.settings.releaseAfterMinutes", 15,
        "dmd-workers:workers.notification_sweeper.settings.releaseAfterMinutes",
        ["must equal workers.notification_generator.settings.releaseAfterMinutes (5)", "(got 15)"],
        id="sweeper-and-writers-disagree-on-the-release-bound",
    ),
    pytest.param(
        "qa1", "workers.notification_sweeper.settings.maxReleasesPerRun", 0,
        "dmd-workers:workers.notification_sweeper.settings.maxReleasesPerRun",
        ["greater than or equal to 1", "(got 0)"],
        id="sweeper-allowed-no-release",
    ),
    pytest.param(
        "qa1", "vendors.bitlyGroupGuid", "Bx y",
        "dmd-workers:vendors.bitlyGroupGuid",
        ["should match pattern", "(got 'Bx y')"],
        id="bitly-group-guid-malformed",
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
        "prod1", "platform.shortUrlQueue.maxReceiveCount", 3,
        "dmd-workers:platform.shortUrlQueue.maxReceiveCount",
        ["must be >= 5", "Lambda function consumes", "DLQ early", "(got 3)"],
        id="max-receive-count-below-the-lambda-consumer-minimum",
    ),
    pytest.param(
        "prod1", "platform.smsStatusStream.kmsKeyArn", "alias/sms-status",
        "dmd-workers:platform.smsStatusStream.kmsKeyArn",
        ["not a KMS key ARN", "(got 'alias/sms-status')"],
        id="external-stream-key-not-a-key-arn",
    ),
    pytest.param(
        "qa1", "platform.centralLogStreamKmsKeyArn", "arn:aws:kms:us-east-1:343550350117:alias/logs",
        "dmd-workers:platform.centralLogStreamKmsKeyArn",
        ["not a KMS key ARN"],
        id="central-log-stream-key-not-a-key-arn",
    ),
    pytest.param(
        "local", "platform.centralLogStreamKmsKeyArn", LOG_KEY,
        "dmd-workers:platform.centralLogStreamKmsKeyArn",
        ["applies only with centralLogStreamArn", f"(got {LOG_KEY!r})"],
        id="central-log-stream-key-without-the-stream",
    ),
    pytest.param(
        "qa1", "platform.appsyncLogRetentionDays", 10,
        "dmd-workers:platform.appsyncLogRetentionDays",
        ["not a CloudWatch Logs retention", "(got 10)"],
        id="appsync-log-retention-not-a-cloudwatch-value",
    ),
    pytest.param(
        "prod1", "platform.alarmTopic.accountConcurrencyLimit", 200,
        "dmd-workers:platform.alarmTopic.accountConcurrencyLimit",
        [
            "notification_generator 20, notification_scheduler 1, notification_send 100, "
            "shorten_event_url 5", "sums to 126", "leaving 74", "at least 100 unreserved",
            "must be >= 226", "(got 200)",
        ],
        id="reservations-leave-less-than-the-unreserved-minimum",
    ),
    pytest.param(
        "qa1", "vendors.smsServiceRoleArn", "arn:aws:iam::111111111111:user/sms",
        "dmd-workers:vendors.smsServiceRoleArn",
        ["not an IAM role ARN"],
        id="vendor-role-arn-not-a-role",
    ),
    # --- the stack's customer-managed KMS key ---
    pytest.param(
        "prod1", "platform.kms", DELETED,
        "dmd-workers:platform.kms",
        ["production stack needs a customer-managed KMS key", "create: true", "keyArn", "(got None)"],
        id="production-without-a-kms-key",
    ),
    pytest.param(
        "qa1", "platform.kms", {"create": True, "keyArn": TEAM_KEY},
        "dmd-workers:platform.kms.keyArn",
        ["either create: true or keyArn, not both", f"(got {TEAM_KEY!r})"],
        id="kms-create-and-key-arn",
    ),
    pytest.param(
        "qa1", "platform.kms", {},
        "dmd-workers:platform.kms.create",
        ["set create: true", "or keyArn", "(got False)"],
        id="kms-neither-create-nor-key-arn",
    ),
    pytest.param(
        "qa1", "platform.kms", {"keyArn": "arn:aws:kms:us-east-1:343550350117:alias/prd3292-qa1"},
        "dmd-workers:platform.kms.keyArn",
        ["not a KMS key ARN"],
        id="kms-key-arn-is-an-alias",
    ),
    pytest.param(
        "qa1", "platform.kms", {"keyArn": TEAM_KEY, "deletionWindowDays": 7},
        "dmd-workers:platform.kms.deletionWindowDays",
        ["applies only with create: true", "(got 7)"],
        id="kms-deletion-window-on-an-existing-key",
    ),
    pytest.param(
        "qa1", "platform.kms.deletionWindowDays", 3,
        "dmd-workers:platform.kms.deletionWindowDays",
        ["greater than or equal to 7", "(got 3)"],
        id="kms-deletion-window-below-7-days",
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


def test_reservations_leaving_exactly_the_unreserved_minimum_are_accepted() -> None:
    # Given prod1, whose workers reserve 126, in an account whose quota leaves exactly 100 unreserved
    values = with_change(VALUES["prod1"], "platform.alarmTopic.accountConcurrencyLimit", 226)

    # When it is validated
    config = load_stack_config("prod1", values)

    # Then the boundary passes
    assert config.platform.alarm_topic.account_concurrency_limit == 226


def test_five_receives_before_the_dlq_is_the_default_and_the_minimum() -> None:
    # Given qa1 without maxReceiveCount on its short-url queue
    values = with_change(VALUES["qa1"], "platform.shortUrlQueue.maxReceiveCount", DELETED)

    # When it is validated
    config = load_stack_config("qa1", values)

    # Then the queue redrives after 5 receives, the least AWS recommends for a Lambda consumer
    assert config.platform.short_url_queue.max_receive_count == 5


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
