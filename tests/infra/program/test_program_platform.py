"""The shared platform: table and stream, queues, SMS stream, alarm topic, secrets, templates, dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra.catalog import CATALOG
from infra.log_queries import ID_PLACEHOLDER
from tests.infra.graphs import document, of_type, only, synthesize_with_changes
from tests.infra.program.resource_types import (
    DASHBOARD,
    GRAPHQL_API,
    KMS_KEY,
    LOG_GROUP,
    QUERY_DEFINITION,
    SECRET,
    SECRET_VERSION,
    SES_TEMPLATE,
    STREAM,
    STREAMING_DESTINATION,
    TABLE,
    TOPIC,
    TOPIC_SUBSCRIPTION,
)
from tests.infra.program.stack_under_test import QUEUE_SUFFIXES, SPECS, Stack, statements_of, up_stack


def test_demand_table_keys_indexes_and_protection(stack: Stack) -> None:
    # Given the stack's table settings and whether it is production
    settings = stack.config.platform.table
    production = stack.config.production

    # When the table is declared
    table = only(stack.graph.children_of("platform-demand"), TABLE)
    inputs = table.inputs

    # Then it has the single-table keys, the four GSIs, TTL, PITR and SSE, and is protected in production
    assert inputs["name"] == f"prd3292-{stack.environment}-us-east-1-demand-table"
    assert (inputs["hashKey"], inputs["rangeKey"]) == ("PK", "SK")
    assert inputs["billingMode"] == settings.billing_mode
    assert [
        (index["name"], index["keySchemas"], index["projectionType"], index.get("nonKeyAttributes"))
        for index in inputs["globalSecondaryIndexes"]
    ] == [
        (
            "sales",
            [
                {"attributeName": "saleStartDate", "keyType": "HASH"},
                {"attributeName": "saleStartDateTime", "keyType": "RANGE"},
            ],
            "ALL",
            None,
        ),
        # A sale's demand by attributes the fan-facing writer writes (docs/contracts/demand.md):
        # eventId and the demand item's SK, projecting what the generator reads and nothing else
        (
            "demand-by-sale",
            [
                {"attributeName": "eventId", "keyType": "HASH"},
                {"attributeName": "SK", "keyType": "RANGE"},
            ],
            "INCLUDE",
            ["type", "fanId", "saleId", "contactMethod", "phoneNumber", "email", "marketId", "locale"],
        ),
        (
            "notification-by-message-id",
            [{"attributeName": "messageId", "keyType": "HASH"}],
            "KEYS_ONLY",
            None,
        ),
        # Notifications waiting to be sent, by shard and when the sweeper may release them
        # (docs/notification-send.md): sparse, keys only
        (
            "pending-notifications",
            [
                {"attributeName": "sweepShard", "keyType": "HASH"},
                {"attributeName": "sweepAt", "keyType": "RANGE"},
            ],
            "KEYS_ONLY",
            None,
        ),
    ]
    assert sorted(attribute["name"] for attribute in inputs["attributes"]) == sorted(
        ["PK", "SK", "saleStartDate", "saleStartDateTime", "eventId", "messageId", "sweepShard", "sweepAt"]
    )
    assert inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert inputs["pointInTimeRecovery"] == {"enabled": settings.point_in_time_recovery}
    key = stack.kms_key_arn
    assert inputs["serverSideEncryption"] == {"enabled": True, **({"kmsKeyArn": key} if key else {})}
    assert inputs["deletionProtectionEnabled"] is production
    assert table.options["protect"] is production


@pytest.mark.parametrize(("stack_name", "protected"), [("prod1", True), ("qa1", False), ("local", False)])
def test_only_production_data_is_protected(stack_name: str, protected: bool) -> None:
    # Given prod1 is the production stack
    graph = up_stack(stack_name).graph

    # When the table and its change stream are declared
    table = graph.named("platform-demand-table")
    stream = graph.named("platform-demand-stream")

    # Then deletion protection and Pulumi `protect` are on in prod1 only (with the key they are under)
    assert table.inputs["deletionProtectionEnabled"] is protected
    assert (table.options["protect"], stream.options["protect"]) == (protected, protected)
    assert sorted(resource.name for resource in graph.resources if resource.options.get("protect")) == (
        ["platform-demand-stream", "platform-demand-table", "platform-kms-key"] if protected else []
    )


def test_table_changes_stream_into_an_encrypted_kinesis_stream(stack: Stack) -> None:
    # Given the stack's table stream settings
    settings = stack.config.platform.table_stream

    # When the stream and the streaming destination are declared
    stream = stack.graph.named("platform-demand-stream")
    destination = only(stack.graph.children_of("platform-demand"), STREAMING_DESTINATION)

    # Then the stream is KMS-encrypted (the stack's key, else AWS's) with the configured retention and
    # mode, and the table feeds it
    assert stream.inputs["name"] == f"prd3292-{stack.environment}-dmnd-table-stream"
    assert (stream.inputs["encryptionType"], stream.inputs["kmsKeyId"]) == (
        "KMS",
        stack.kms_key_arn or "alias/aws/kinesis",
    )
    assert stream.inputs["retentionPeriod"] == settings.retention_hours
    assert stream.inputs["streamModeDetails"] == {"streamMode": settings.mode}
    assert stream.inputs.get("shardCount") == settings.shard_count
    assert destination.inputs["tableName"] == stack.table_name()
    assert (
        destination.inputs["streamArn"] == stack.table_stream_arn() == stack.graph.outputs["table_stream_arn"]
    )


def test_table_streaming_destination_is_deleted_before_it_is_replaced(stack: Stack) -> None:
    # Given DynamoDB streams a table into one Kinesis destination at a time
    # When the streaming destination is declared
    destination = only(stack.graph.children_of("platform-demand"), STREAMING_DESTINATION)

    # Then a replacement deletes the old destination first (create-first would fail on a real up)
    assert destination.options["delete_before_replace"] is True


@pytest.mark.parametrize(("stack_name", "hours"), [("prod1", 48), ("qa1", 24)])
def test_table_stream_retention_spot_checks(stack_name: str, hours: int) -> None:
    # Given tableStream.retentionHours in the stack file
    # When the stack is synthesized
    stream = up_stack(stack_name).graph.named("platform-demand-stream")

    # Then the stream keeps records that long
    assert stream.inputs["retentionPeriod"] == hours


@pytest.mark.parametrize("queue", ["short_url", "generation"])
def test_work_queues_redrive_to_encrypted_dead_letter_queues(stack: Stack, queue: str) -> None:
    # Given the queue's settings
    settings = stack.config.platform.queue(queue)  # type: ignore[arg-type]
    name = stack.work_queue_name(queue)
    component = f"platform-{QUEUE_SUFFIXES[queue]}"

    # When the queue component is declared
    main = stack.graph.named(f"{component}-queue").inputs
    dlq = stack.graph.named(f"{component}-dlq").inputs
    allow = stack.graph.named(f"{component}-dlq-allow").inputs

    # Then the queue is encrypted with the configured visibility and retention, moves a message to its
    # encrypted DLQ after maxReceiveCount receives, and only it may redrive into that DLQ
    assert main["name"] == name
    assert main["visibilityTimeoutSeconds"] == settings.visibility_timeout_seconds
    assert main["messageRetentionSeconds"] == settings.message_retention_seconds
    assert {key: main[key] for key in stack.queue_encryption()} == stack.queue_encryption()
    assert "sqsManagedSseEnabled" not in main or stack.kms_key_arn is None
    assert json.loads(main["redrivePolicy"]) == {
        "deadLetterTargetArn": stack.queue_arn(f"{name}-dlq"),
        "maxReceiveCount": settings.max_receive_count,
    }
    assert (dlq["name"], dlq["messageRetentionSeconds"]) == (f"{name}-dlq", settings.dlq_retention_seconds)
    assert {key: dlq[key] for key in stack.queue_encryption()} == stack.queue_encryption()
    assert json.loads(allow["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [stack.queue_arn(name)],
    }


def test_work_queue_spot_checks_against_the_stack_file() -> None:
    # Given prod1's queue settings
    graph = up_stack("prod1").graph

    # When the queues are declared
    short_url = graph.named("platform-event-short-url-queue").inputs
    generation = graph.named("platform-generation-jobs-queue").inputs

    # Then they carry the values in the file
    assert (
        short_url["visibilityTimeoutSeconds"],
        json.loads(short_url["redrivePolicy"])["maxReceiveCount"],
    ) == (
        360,
        5,
    )
    assert generation["visibilityTimeoutSeconds"] == 5400


def test_prod1_references_the_existing_sms_status_stream_instead_of_creating_one() -> None:
    # Given prod1 names an existing SMS status stream
    graph = up_stack("prod1").graph

    # When the platform is declared
    streams = graph.of_type(STREAM)

    # Then the only stream it creates is the table's
    assert [stream.inputs["name"] for stream in streams] == ["prd3292-prod1-dmnd-table-stream"]


def test_qa1_creates_its_own_encrypted_sms_status_stream() -> None:
    # Given qa1 configures a created (not existing) SMS status stream
    qa1 = up_stack("qa1")

    # When the platform is declared
    stream = qa1.graph.named("platform-sms-status")

    # Then it creates it, under the stack's key, with the configured capacity, and the consumer reads it
    assert stream.parent == "platform"
    assert stream.inputs["name"] == "prd3292-qa1-us-east-1-sms-status"
    assert qa1.kms_key_arn is not None
    assert (stream.inputs["encryptionType"], stream.inputs["kmsKeyId"]) == ("KMS", qa1.kms_key_arn)
    assert (
        stream.inputs["streamModeDetails"],
        stream.inputs["shardCount"],
        stream.inputs["retentionPeriod"],
    ) == (
        {"streamMode": "PROVISIONED"},
        1,
        24,
    )
    assert qa1.child(SPECS["sms_status_consumer"], "trigger").inputs["eventSourceArn"] == (
        "arn:aws:kinesis:us-east-1:343550350117:stream/prd3292-qa1-us-east-1-sms-status"
    )


def test_alarm_topic_is_encrypted_with_the_stack_key_cloudwatch_may_use(stack: Stack) -> None:
    # Given the AWS-managed SNS key does not let CloudWatch publish, and every committed stack has a key
    children = stack.graph.children_of("platform-alarm-topic")
    assert stack.kms_key_arn is not None

    # When the alarm topic and the stack's key are declared
    topic = only(children, TOPIC)
    statements = statements_of(document(stack.graph.named("platform-kms-key"), "policy"))

    # Then the topic is under the stack's one key (no key of its own), whose policy lets
    # cloudwatch.amazonaws.com (from this account) decrypt and generate data keys
    assert topic.inputs["name"] == f"{stack.prefix}-alarms"
    assert topic.inputs["kmsMasterKeyId"] == stack.kms_key_arn
    assert "platform-kms-key" in topic.options["dependencies"]
    assert of_type(children, KMS_KEY) == []
    cloudwatch = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch == [
        {
            "Sid": "CloudWatchAlarmsPublishToAlarmTopic",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": stack.config.account_id}},
        }
    ]


def test_without_a_stack_key_the_alarm_topic_keeps_a_rotating_key_of_its_own(tmp_path: Path) -> None:
    # Given qa1 without platform.kms
    graph = synthesize_with_changes(tmp_path, "qa1", {"platform.kms": None})
    children = graph.children_of("platform-alarm-topic")

    # When the alarm topic and its key are declared
    key = only(children, KMS_KEY)
    topic = only(children, TOPIC)
    statements = statements_of(document(key, "policy"))

    # Then the topic uses its own rotating key, whose policy lets CloudWatch of this account publish
    assert re.fullmatch(
        r"arn:aws:kms:us-east-1:343550350117:key/[0-9a-f-]{36}", topic.inputs["kmsMasterKeyId"]
    )
    assert key.name in topic.options["dependencies"]
    assert key.inputs["enableKeyRotation"] is True
    assert [s["Sid"] for s in statements] == ["AccountAdministers", "CloudWatchPublishes"]
    assert statements[1]["Condition"] == {"StringEquals": {"aws:SourceAccount": "343550350117"}}


def test_alarm_topic_subscriptions_are_the_configured_ones(stack: Stack) -> None:
    # Given the stack's alarm subscribers
    configured = [(s.protocol, s.endpoint) for s in stack.config.platform.alarm_topic.subscriptions]

    # When the subscriptions are declared
    subscriptions = of_type(stack.graph.children_of("platform-alarm-topic"), TOPIC_SUBSCRIPTION)

    # Then there is one per subscriber, on the alarm topic
    assert [(s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions] == configured
    assert {s.inputs["topic"] for s in subscriptions} <= {stack.graph.outputs["alarm_topic_arn"]}


def test_https_subscriptions_are_declared_as_confirming_themselves(stack: Stack) -> None:
    # Given the stack's alarm subscribers
    subscriptions = of_type(stack.graph.children_of("platform-alarm-topic"), TOPIC_SUBSCRIPTION)

    # When their inputs are read
    auto_confirms = {s.inputs["protocol"]: s.inputs.get("endpointAutoConfirms") for s in subscriptions}

    # Then an https endpoint (a paging service) confirms by itself and is declared so; others confirm
    # by hand (an email link) and are not
    assert auto_confirms == {
        s.protocol: True if s.protocol == "https" else None
        for s in stack.config.platform.alarm_topic.subscriptions
    }


def test_prod1_pages_on_call_by_email_and_pagerduty() -> None:
    # Given prod1's two subscribers
    # When the stack is synthesized
    subscriptions = up_stack("prod1").graph.of_type(TOPIC_SUBSCRIPTION)

    # Then both are subscribed
    assert [s.inputs["protocol"] for s in subscriptions] == ["email", "https"]
    assert subscriptions[0].inputs["endpoint"] == "dmnd-oncall@example.com"


def test_appsync_writes_only_to_its_own_log_group_declared_with_retention(stack: Stack) -> None:
    # Given the AppSync API, whose log group AppSync names after the API id
    children = stack.graph.children_of("platform-graphql")
    api = only(children, GRAPHQL_API)
    group = only(children, LOG_GROUP)
    policy = stack.graph.named("platform-graphql-logging-policy")
    api_id = group.inputs["name"].removeprefix("/aws/appsync/apis/")
    group_arn = stack.arn("logs", f"log-group:/aws/appsync/apis/{api_id}")

    # When its logging role's policy is parsed
    statements = statements_of(document(policy, "policy"))

    # Then the group is the API's, with the configured retention; the role may write to it only, may
    # not create groups, and gets its grant only once the group exists, so AppSync can never create
    # the group itself without retention
    assert api.name in group.options["dependencies"]
    assert api.inputs["logConfig"]["cloudwatchLogsRoleArn"] == stack.role_arn(f"{stack.prefix}-api-logs")
    assert group.inputs["retentionInDays"] == stack.config.platform.appsync_log_retention_days
    assert statements == [
        {
            "Sid": "WriteApiLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [group_arn, f"{group_arn}:*"],
        }
    ]
    assert policy.options["depends_on"] == [group.name]


def test_appsync_log_retention_follows_the_stack_file(tmp_path: Path) -> None:
    # Given qa1 keeping AppSync's logs 90 days
    graph = synthesize_with_changes(tmp_path, "qa1", {"platform.appsyncLogRetentionDays": 90})

    # When the API's log group is declared
    group = graph.named("platform-graphql-logs")

    # Then it keeps them 90 days
    assert group.inputs["retentionInDays"] == 90


def test_secrets_are_declared_without_values(stack: Stack) -> None:
    # Given vendor credentials are set outside the program
    # When the platform is declared
    secrets = stack.graph.of_type(SECRET)

    # Then five secrets exist (four vendors of the workers, TM Publish of `dmd suppression publish`),
    # none carries a value, and no secret version is declared anywhere
    assert sorted(secret.inputs["name"] for secret in secrets) == sorted(
        f"{stack.prefix}/{name}" for name in ("sms-service", "bitly", "discovery", "accounts", "publish")
    )
    assert all("secretString" not in s.inputs and "secretBinary" not in s.inputs for s in secrets)
    assert stack.graph.of_type(SECRET_VERSION) == []
    assert {s.inputs["recoveryWindowInDays"] for s in secrets} == {30 if stack.config.production else 7}


def test_email_templates_exist_per_locale(stack: Stack) -> None:
    # Given the stack's email locales
    locales = stack.config.email.locales

    # When the platform is declared
    templates = stack.graph.of_type(SES_TEMPLATE)

    # Then there is one template per locale, each with subject, HTML and text
    assert sorted(t.inputs["name"] for t in templates) == sorted(
        f"{stack.prefix}-sale-reminder-{locale}" for locale in locales
    )
    assert all(t.inputs["subject"] and t.inputs["html"] and t.inputs["text"] for t in templates)
    assert len(templates) == 3


def test_fleet_dashboard_shows_every_function(stack: Stack) -> None:
    # Given the fleet
    # When the dashboard is declared
    dashboard = only(stack.graph.children_of("fleet"), DASHBOARD)
    body = json.loads(dashboard.inputs["dashboardBody"])
    shown = {
        metric[3]
        for widget in body["widgets"]
        for metric in widget["properties"]["metrics"]
        if metric[:3] == ["AWS/Lambda", "Invocations", "FunctionName"]
    }

    # Then it is named for the stack and charts the invocations of all nine functions
    assert dashboard.inputs["dashboardName"] == f"{stack.prefix}-fleet"
    assert shown == {stack.function_name(spec) for spec in CATALOG}


def test_the_runbooks_logs_insights_queries_are_saved_per_stack(stack: Stack) -> None:
    # Given the fleet's log groups
    every_group = sorted(stack.log_group_name(spec) for spec in CATALOG)
    sender = next(spec for spec in CATALOG if spec.name == "notification_send")

    # When the saved queries are declared
    queries = {
        query.inputs["name"]: query.inputs
        for query in of_type(stack.graph.children_of("fleet"), QUERY_DEFINITION)
    }

    # Then the four presets are saved in the stack's folder, each on the log groups it reads
    folder = f"dmd-workers/{stack.environment}"
    assert {name: sorted(inputs["logGroupNames"]) for name, inputs in queries.items()} == {
        f"{folder}/errors": every_group,
        f"{folder}/send-latency": [stack.log_group_name(sender)],
        f"{folder}/cold-starts": every_group,
        f"{folder}/notification": every_group,
    }
    # And they read the workers' real fields; the notification query carries the placeholder to edit
    assert 'filter level in ["ERROR", "CRITICAL"]' in queries[f"{folder}/errors"]["queryString"]
    assert 'filter message = "Notification sent"' in queries[f"{folder}/send-latency"]["queryString"]
    assert 'filter type = "platform.report"' in queries[f"{folder}/cold-starts"]["queryString"]
    assert f'correlation_id = "{ID_PLACEHOLDER}"' in queries[f"{folder}/notification"]["queryString"]
