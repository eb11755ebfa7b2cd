"""Materializing the synthesized `local` stack into moto: everything created or skipped with a reason.

One materialization serves the module (moto in-process, module scope): the tests only read it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.offline import synthesize_stack
from infra.synth import RecordedResource, ResourceGraph
from sandbox.materialize import (
    CDC_STREAM_VIEW,
    PLACEHOLDER_SECRET_VALUE,
    Kind,
    Materialized,
    MaterializeError,
    Skipped,
    materialize,
)

REGION = "us-east-1"
FUNCTION = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"


@pytest.fixture(scope="module")
def local_graph() -> ResourceGraph:
    """The real program's `local` stack, synthesized once for the module."""
    return synthesize_stack("local")


@pytest.fixture(scope="module")
def emulator() -> Iterator[AwsClients]:
    """moto in-process, reached the way the sandbox reaches an emulator (fake credentials, and
    account-id endpoints off in the client config: moto does not route DynamoDB Streams there)."""
    # Module scope runs before the per-test hermetic fixture: clear what an earlier sandbox test in
    # this process may have left pointing at its (stopped) emulator.
    with pytest.MonkeyPatch.context() as patch:
        for key in [key for key in os.environ if key.startswith("AWS_ENDPOINT_URL")]:
            patch.delenv(key)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        with mock_aws():
            yield AwsClients.for_emulator(None, region=REGION)


@pytest.fixture(scope="module")
def progress() -> list[tuple[int, int, str]]:
    """What the materialization reported through its progress callback."""
    return []


@pytest.fixture(scope="module")
def materialized(
    local_graph: ResourceGraph, emulator: AwsClients, progress: list[tuple[int, int, str]]
) -> Materialized:
    return materialize(
        local_graph,
        emulator,
        on_progress=lambda done, total, resource: progress.append((done, total, resource.name)),
    )


def _custom(graph: ResourceGraph) -> list[RecordedResource]:
    return [resource for resource in graph.resources if resource.custom]


# ---------------------------------------------------------------------------------------------
# Coverage: nothing silently ignored
# ---------------------------------------------------------------------------------------------


def test_every_custom_resource_is_created_or_skipped_with_a_reason(
    local_graph: ResourceGraph, materialized: Materialized
) -> None:
    # Given the local stack's graph materialized into moto
    # When its custom resources are compared with what was created and skipped
    custom = {resource.name for resource in _custom(local_graph)}
    skipped = {item.name for item in materialized.skipped}
    # Then each is exactly one of the two, and every skip says why
    assert materialized.created_names | skipped == custom
    assert not materialized.created_names & skipped
    assert all(item.reason for item in materialized.skipped)


def test_only_what_moto_cannot_hold_is_skipped(materialized: Materialized) -> None:
    # Given the local stack materialized into moto 5.2
    # Then exactly the Kinesis streaming destination, AppSync data sources/resolvers and saved Logs
    # Insights queries are skipped
    reasons = {item.name: item.reason for item in materialized.skipped}
    assert set(reasons) == {
        "platform-demand-cdc",
        "event_details-data-source",
        "event_details-resolver",
        "proxy_tm_account_service-data-source",
        "proxy_tm_account_service-resolver",
        "fleet-query-errors",
        "fleet-query-send-latency",
        "fleet-query-cold-starts",
        "fleet-query-notification",
    }
    assert reasons["event_details-data-source"] == "the emulator does not implement create_data_source"
    assert reasons["event_details-resolver"] == "the emulator does not implement create_resolver"
    assert reasons["fleet-query-errors"] == "the emulator does not implement put_query_definition"
    assert reasons["platform-demand-cdc"].startswith(
        "the emulator does not implement enable_kinesis_streaming_destination; the table's DynamoDB stream"
    )


def test_a_type_without_handler_is_reported_not_materialized(
    local_graph: ResourceGraph, emulator: AwsClients
) -> None:
    # Given a graph holding a resource type the materializer does not know
    unknown = RecordedResource(
        type_="aws:glue/job:Job", name="nightly-job", parent=None, custom=True, inputs={"name": "nightly"}
    )
    graph = dataclasses.replace(local_graph, resources=(unknown,))
    # When it is materialized
    result = materialize(graph, emulator)
    # Then that resource is skipped as "not materialized", not dropped silently
    assert result.skipped == [Skipped("aws:glue/job:Job", "nightly-job", "not materialized")]
    assert result.created == []


def test_a_preview_graph_is_refused(local_graph: ResourceGraph, emulator: AwsClients) -> None:
    # Given a graph synthesized in preview mode (unknown outputs)
    preview = dataclasses.replace(local_graph, preview=True)
    # When / Then materializing it fails with the reason
    with pytest.raises(MaterializeError, match="preview"):
        materialize(preview, emulator)


def test_progress_is_reported_once_per_custom_resource(
    local_graph: ResourceGraph, materialized: Materialized, progress: list[tuple[int, int, str]]
) -> None:
    # Given the stack materialized with a progress callback
    calls = progress
    # Then it was called after each custom resource, counting up to the total
    total = len(_custom(local_graph))
    assert [done for done, _, _ in calls] == list(range(1, total + 1))
    assert {seen_total for _, seen_total, _ in calls} == {total}
    assert sorted(name for _, _, name in calls) == sorted(resource.name for resource in _custom(local_graph))


# ---------------------------------------------------------------------------------------------
# Per-field honesty: what moto dropped
# ---------------------------------------------------------------------------------------------


def test_fields_moto_does_not_store_are_reported_per_field(
    local_graph: ResourceGraph, materialized: Materialized
) -> None:
    # Given the local stack materialized into moto 5.2.5
    dropped = Counter((item.type_, item.field) for item in materialized.dropped)
    functions = len(local_graph.of_type(FUNCTION))
    mappings = len(local_graph.of_type(ESM))
    # Then exactly these fields read back differently, each reported on its resource:
    assert dropped == {
        # moto keeps no Lambda logging configuration (JSON format, log levels, log group)
        (FUNCTION, "LoggingConfig"): functions,
        # moto resolves an alias to its version: the mapping reads back on `…:1`, not `…:live`
        (ESM, "FunctionName"): mappings,
        # moto ignores the RedriveAllowPolicy queue attribute
        ("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "RedriveAllowPolicy"): 2,
    }
    esm = next(item for item in materialized.dropped if item.type_ == ESM)
    assert esm.sent.endswith(":live")
    assert esm.stored.endswith(":1")


def test_event_source_mappings_keep_every_trigger_setting_of_the_graph(
    local_graph: ResourceGraph, materialized: Materialized, emulator: AwsClients
) -> None:
    # Given the materialized mappings
    lambda_ = emulator.client("lambda")
    for resource in local_graph.of_type(ESM):
        inputs = resource.inputs
        mapping = lambda_.get_event_source_mapping(
            UUID=materialized.ref(Kind.EVENT_SOURCE_MAPPING, resource.name)
        )
        # Then the filter criteria are the graph's, pattern for pattern
        expected_patterns = [
            item["pattern"] for item in (inputs.get("filterCriteria") or {}).get("filters", [])
        ]
        stored_patterns = [
            item["Pattern"] for item in (mapping.get("FilterCriteria") or {}).get("Filters", [])
        ]
        assert stored_patterns == expected_patterns, resource.name
        # And so are the batching, retry and response settings
        assert mapping["BatchSize"] == inputs["batchSize"]
        assert mapping["FunctionResponseTypes"] == inputs["functionResponseTypes"]
        assert mapping["MaximumBatchingWindowInSeconds"] == inputs["maximumBatchingWindowInSeconds"]
        for key, wire in (
            ("maximumRetryAttempts", "MaximumRetryAttempts"),
            ("maximumRecordAgeInSeconds", "MaximumRecordAgeInSeconds"),
            ("bisectBatchOnFunctionError", "BisectBatchOnFunctionError"),
            ("parallelizationFactor", "ParallelizationFactor"),
            ("startingPosition", "StartingPosition"),
        ):
            if key in inputs:
                assert mapping[wire] == inputs[key], (resource.name, key)
        destination = ((inputs.get("destinationConfig") or {}).get("onFailure") or {}).get("destinationArn")
        if destination:
            assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == destination
    # And the mappings with filters are the two stream workers that filter
    filtered = [r.name for r in local_graph.of_type(ESM) if r.inputs.get("filterCriteria")]
    assert sorted(filtered) == ["demand_stream_to_sqs-trigger", "notification_send-trigger"]


# ---------------------------------------------------------------------------------------------
# Platform resources as declared
# ---------------------------------------------------------------------------------------------


def test_queues_redrive_to_their_dead_letter_queue(
    local_graph: ResourceGraph, materialized: Materialized, emulator: AwsClients
) -> None:
    # Given the queues the graph gives a redrive policy
    sqs = emulator.client("sqs")
    redriven = [queue for queue in local_graph.of_type(QUEUE) if "redrivePolicy" in queue.inputs]
    assert len(redriven) == 2
    for queue in redriven:
        declared = json.loads(queue.inputs["redrivePolicy"])
        url = materialized.ref(Kind.QUEUE_URL, queue.inputs["name"])
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        policy = json.loads(attributes["RedrivePolicy"])
        # Then the policy names the emulator's DLQ ARN and the declared receive count
        dlq_name = declared["deadLetterTargetArn"].rsplit(":", 1)[1]
        assert policy["deadLetterTargetArn"] == materialized.ref(Kind.QUEUE, dlq_name)
        assert int(policy["maxReceiveCount"]) == declared["maxReceiveCount"]
        assert attributes["VisibilityTimeout"] == str(queue.inputs["visibilityTimeoutSeconds"])
        assert attributes["KmsMasterKeyId"] == materialized.ref(Kind.KMS_KEY, "platform-kms-key")


def test_table_has_the_declared_indexes_ttl_and_a_change_stream_for_the_cdc_tailer(
    local_graph: ResourceGraph, materialized: Materialized, emulator: AwsClients
) -> None:
    # Given the demand table and the Kinesis stream its changes should reach
    table_inputs = local_graph.named("platform-demand-table").inputs
    name = table_inputs["name"]
    ddb = emulator.client("dynamodb")
    table = ddb.describe_table(TableName=name)["Table"]
    # Then it has exactly the declared GSIs (the generator's demand-by-sale among them) with their
    # key schemas and projection, included attributes too
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {declared["name"] for declared in table_inputs["globalSecondaryIndexes"]}
    assert {"sales", "demand-by-sale"} <= set(indexes)
    for declared in table_inputs["globalSecondaryIndexes"]:
        index = indexes[declared["name"]]
        assert index["KeySchema"] == [
            {"AttributeName": key["attributeName"], "KeyType": key["keyType"]}
            for key in declared["keySchemas"]
        ]
        assert index["Projection"]["ProjectionType"] == declared["projectionType"]
        assert index["Projection"].get("NonKeyAttributes") == declared.get("nonKeyAttributes")
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionProtectionEnabled"] is False
    # And the TTL attribute
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
    # And a NEW_AND_OLD_IMAGES DynamoDB stream standing in for the Kinesis destination moto lacks
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": CDC_STREAM_VIEW}
    (route,) = materialized.cdc_routes
    assert route.table == name
    assert route.table_stream_arn == table["LatestStreamArn"]
    assert route.kinesis_stream_arn == materialized.ref(Kind.STREAM, "prd3292-local-dmnd-table-stream")


def test_streams_alarms_log_groups_and_templates_exist_as_declared(
    local_graph: ResourceGraph, materialized: Materialized, emulator: AwsClients
) -> None:
    # Given the emulator after materializing
    kinesis, logs, cloudwatch = (
        emulator.client("kinesis"),
        emulator.client("logs"),
        emulator.client("cloudwatch"),
    )
    # Then each Kinesis stream has its shard count and retention
    for stream in local_graph.of_type("aws:kinesis/stream:Stream"):
        summary = kinesis.describe_stream_summary(StreamName=stream.inputs["name"])[
            "StreamDescriptionSummary"
        ]
        assert summary["OpenShardCount"] == stream.inputs["shardCount"]
        assert summary["RetentionPeriodHours"] == stream.inputs["retentionPeriod"]
    # And each log group its retention (AppSync's under the id the emulator gave the API)
    api_id = materialized.ref(Kind.GRAPHQL_API, "prd3292-local-us-east-1-api").rsplit("/", 1)[1]
    for group in local_graph.of_type("aws:cloudwatch/logGroup:LogGroup"):
        name = re.sub(r"^/aws/appsync/apis/.+$", f"/aws/appsync/apis/{api_id}", group.inputs["name"])
        (found,) = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        assert found["retentionInDays"] == group.inputs["retentionInDays"]
    assert set(materialized.of(Kind.LOG_GROUP)) >= {f"/aws/appsync/apis/{api_id}"}
    # And every alarm exists
    alarms = local_graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    names = [alarm.inputs["name"] for alarm in alarms]
    stored = cloudwatch.describe_alarms(AlarmNames=names, MaxRecords=100)["MetricAlarms"]
    assert sorted(alarm["AlarmName"] for alarm in stored) == sorted(names)
    # And every SES template
    templates = {item["Name"] for item in emulator.client("ses").list_templates()["TemplatesMetadata"]}
    assert templates == {t.inputs["name"] for t in local_graph.of_type("aws:ses/template:Template")}
    assert set(materialized.of(Kind.EMAIL_TEMPLATE)) == templates


def test_secrets_hold_the_sandbox_placeholder(materialized: Materialized, emulator: AwsClients) -> None:
    # Given the secrets the program declares (without values)
    secrets = materialized.of(Kind.SECRET)
    assert len(secrets) == 5  # four vendors of the workers, TM Publish of `dmd suppression publish`
    # Then each holds the recognisable placeholder
    for arn in secrets.values():
        value = emulator.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        assert value == PLACEHOLDER_SECRET_VALUE


# ---------------------------------------------------------------------------------------------
# Functions and cross references
# ---------------------------------------------------------------------------------------------


def test_functions_are_published_with_a_live_alias_and_the_graph_settings(
    local_graph: ResourceGraph, materialized: Materialized, emulator: AwsClients
) -> None:
    lambda_ = emulator.client("lambda")
    for function in local_graph.of_type(FUNCTION):
        inputs = function.inputs
        # Given a materialized function
        configuration = lambda_.get_function_configuration(FunctionName=inputs["name"])
        # Then its settings are the graph's
        assert configuration["Handler"] == inputs["handler"]
        assert configuration["Runtime"] == inputs["runtime"]
        assert configuration["MemorySize"] == inputs["memorySize"]
        assert configuration["Timeout"] == inputs["timeout"]
        assert configuration["Architectures"] == inputs["architectures"]
        assert set(configuration["Environment"]["Variables"]) == set(inputs["environment"]["variables"])
        # And its `live` alias points at the published version
        alias = lambda_.get_alias(FunctionName=inputs["name"], Name="live")
        assert alias["FunctionVersion"] == "1"
        assert materialized.ref(Kind.ALIAS, f"{inputs['name']}:live") == alias["AliasArn"]


def test_references_to_generated_ids_resolve_to_the_emulators(
    local_graph: ResourceGraph, materialized: Materialized, emulator: AwsClients
) -> None:
    # Given the graph's mock secret ARN (with the mock's six-character suffix)
    declared = local_graph.named("event_details-function").inputs["environment"]["variables"][
        "DISCOVERY_SECRET_ARN"
    ]
    real = materialized.ref(Kind.SECRET, "prd3292-local-us-east-1/discovery")
    assert declared != real  # moto picks its own suffix
    # Then the function's environment holds the emulator's ARN
    variables = emulator.client("lambda").get_function_configuration(
        FunctionName="prd3292-local-us-east-1-evnt-dtls"
    )["Environment"]["Variables"]
    assert variables["DISCOVERY_SECRET_ARN"] == real
    # And the alarm topic is encrypted with the emulator's key (the stack's one key)
    topic = materialized.ref(Kind.TOPIC, "prd3292-local-us-east-1-alarms")
    attributes = emulator.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["KmsMasterKeyId"] == materialized.ref(Kind.KMS_KEY, "platform-kms-key")
    # And the AppSync resolver roles trust the emulator's API id, not the mock's
    api_arn = materialized.ref(Kind.GRAPHQL_API, "prd3292-local-us-east-1-api")
    role = emulator.client("iam").get_role(RoleName="prd3292-local-us-east-1-evnt-dtls-appsync")["Role"]
    document = role["AssumeRolePolicyDocument"]
    statement: dict[str, Any] = (json.loads(document) if isinstance(document, str) else document)[
        "Statement"
    ][0]
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == api_arn


def test_the_stack_key_rotates_and_encrypts_the_tables_queues_logs_secrets_and_streams(
    materialized: Materialized, emulator: AwsClients
) -> None:
    # Given the local stack, which sets platform.kms: {create: true} like qa1 and prod1
    key_arn = materialized.ref(Kind.KMS_KEY, "platform-kms-key")
    kms = emulator.client("kms")
    prefix = "prd3292-local-us-east-1"

    # When the emulator's resources are read back
    rotation = kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"]
    aliases = {alias["AliasName"]: alias["TargetKeyId"] for alias in kms.list_aliases()["Aliases"]}
    table = emulator.client("dynamodb").describe_table(TableName=f"{prefix}-demand-table")["Table"]
    queue_url = materialized.ref(Kind.QUEUE_URL, f"{prefix}-generation-jobs-dlq")
    queue = emulator.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    groups = emulator.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    secret = emulator.client("secretsmanager").describe_secret(SecretId=f"{prefix}/sms-service")
    stream = emulator.client("kinesis").describe_stream_summary(StreamName=f"{prefix}-sms-status")

    # Then the key rotates, its alias points at it, and the data of the stack is under it
    assert rotation is True
    assert aliases[f"alias/{prefix}"] == key_arn.rsplit("/", 1)[1]
    assert table["SSEDescription"]["KMSMasterKeyArn"] == key_arn
    assert queue["Attributes"]["KmsMasterKeyId"] == key_arn
    assert {group["logGroupName"]: group.get("kmsKeyId") for group in groups} == {
        group["logGroupName"]: key_arn for group in groups
    }
    assert len(groups) >= 9
    assert secret["KmsKeyId"] == key_arn
    assert stream["StreamDescriptionSummary"]["KeyId"] == key_arn
