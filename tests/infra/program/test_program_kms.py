"""The stack's customer-managed KMS key: its policy, what is under it, and who may use it for what."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.catalog import CATALOG, Access, QueueSource, StreamSource, WorkerSpec
from infra.config import ExternalStreamSettings
from infra.kms_key import StackKeyArgs
from infra.naming import Naming
from infra.synth import RecordedResource, ResourceGraph
from tests.infra.graphs import document, only, synthesize_with_changes
from tests.infra.program.resource_types import (
    KMS_ALIAS,
    KMS_KEY,
    LOG_GROUP,
    QUEUE,
    ROLE_POLICY,
    SECRET,
    STREAM,
    TABLE,
    TOPIC,
)
from tests.infra.program.stack_under_test import VENDOR_ACCESS, Stack, fleet, grants_of, statements_of

# The input that names the key, per type of resource the program puts under it.
KEY_INPUTS = {
    TABLE: lambda inputs: inputs["serverSideEncryption"].get("kmsKeyArn"),
    LOG_GROUP: lambda inputs: inputs.get("kmsKeyId"),
    QUEUE: lambda inputs: inputs.get("kmsMasterKeyId"),
    SECRET: lambda inputs: inputs.get("kmsKeyId"),
    STREAM: lambda inputs: inputs.get("kmsKeyId"),
    TOPIC: lambda inputs: inputs.get("kmsMasterKeyId"),
}
TEAM_KEY = "arn:aws:kms:us-east-1:343550350117:key/5e6f7081-92a3-4b4c-8d9e-0f1a2b3c4d5e"
QUEUE_SEND_ACCESS = {Access.SHORT_URL_QUEUE_SEND, Access.GENERATION_QUEUE_SEND, Access.GENERATION_DLQ_PARK}
TABLE_ACCESS = {Access.TABLE_READ, Access.TABLE_WRITE, Access.TABLE_UPDATE}


def _keys_by_resource(graph: ResourceGraph) -> dict[str, Any]:
    return {
        resource.name: KEY_INPUTS[resource.type_](resource.inputs)
        for resource in graph.resources
        if resource.type_ in KEY_INPUTS
    }


def _kms_grants(graph: ResourceGraph) -> set[tuple[str, str, str]]:
    return {
        (policy.name, action, resource)
        for policy in graph.of_type(ROLE_POLICY)
        for action, resource in grants_of(json.loads(policy.inputs["policy"]))
        if action.startswith("kms:")
    }


def test_the_stack_key_rotates_has_its_alias_and_is_protected_in_production(stack: Stack) -> None:
    # Given a stack with platform.kms: {create: true} (every committed stack)
    settings = stack.config.platform.kms
    assert settings is not None and settings.create

    # When its key and alias are declared
    key = stack.graph.named("platform-kms-key")
    alias = only(stack.graph.children_of("platform-kms"), KMS_ALIAS)

    # Then the key is a symmetric key with yearly rotation and the configured deletion window, its
    # alias is alias/prd3292-{env}-{region}, and only production protects it from deletion
    assert stack.graph.named("platform-kms").type_ == "dmd:platform:StackKey"
    assert key.parent == "platform-kms"
    assert {
        name: key.inputs.get(name) for name in ("enableKeyRotation", "keyUsage", "customerMasterKeySpec")
    } == {
        "enableKeyRotation": True,
        "keyUsage": "ENCRYPT_DECRYPT",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
    }
    assert key.inputs["deletionWindowInDays"] == settings.deletion_window_days
    assert alias.inputs["name"] == f"alias/{stack.prefix}"
    assert stack.kms_key_arn == stack.arn("kms", f"key/{alias.inputs['targetKeyId']}")
    assert key.options["protect"] is stack.config.production
    assert "bypassPolicyLockoutSafetyCheck" not in key.inputs


def test_the_key_policy_lets_the_account_administer_and_the_writing_services_encrypt(stack: Stack) -> None:
    # Given the stack's region and account
    region, account = stack.config.region, stack.config.account_id

    # When the key policy is parsed
    statements = statements_of(document(stack.graph.named("platform-kms-key"), "policy"))

    # Then the account administers it through IAM, CloudWatch Logs of this region may use it for this
    # account's log groups (encryption-context condition), CloudWatch alarms may publish to the alarm
    # topic, EventBridge rules of this stack may send to their dead-letter queues; nothing else
    assert statements == [
        {
            "Sid": "EnableIamPolicies",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsEncryptsLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account}:log-group:*"
                }
            },
        },
        {
            "Sid": "CloudWatchAlarmsPublishToAlarmTopic",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        },
        {
            "Sid": "EventBridgeSendsToDeadLetterQueues",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": f"arn:aws:events:{region}:{account}:rule/{stack.prefix}-*"},
            },
        },
    ]


def test_every_table_log_group_queue_secret_stream_and_topic_is_under_the_stack_key(stack: Stack) -> None:
    # Given the stack's one key
    key = stack.kms_key_arn

    # When every encryptable resource the program creates is read
    keys = _keys_by_resource(stack.graph)

    # Then each is under that key: the table, each worker's and the API's log group, each queue and
    # DLQ, each secret, each stream the program creates, the alarm topic
    assert len([name for name in keys if name.endswith("-logs")]) >= len(CATALOG) + 1
    assert len(stack.graph.of_type(QUEUE)) >= 4 and len(stack.graph.of_type(SECRET)) == 5
    assert keys == dict.fromkeys(keys, key)
    assert len(stack.graph.of_type(KMS_KEY)) == 1


def test_without_platform_kms_every_resource_keeps_aws_managed_encryption(tmp_path: Path) -> None:
    # Given qa1 without platform.kms
    graph = synthesize_with_changes(tmp_path, "qa1", {"platform.kms": None})

    # When its encryptable resources and role policies are read
    resources = {resource.name: resource for resource in graph.resources}
    keys = _keys_by_resource(graph)

    # Then nothing names a customer key but the alarm topic (its own, as before), queues use SSE-SQS,
    # streams AWS's Kinesis key, the table DynamoDB's, and no worker role gets a KMS grant
    assert [resource.name for resource in graph.of_type(KMS_KEY)] == ["platform-alarm-topic-key"]
    assert graph.of_type(KMS_ALIAS) == []
    assert {name: value for name, value in keys.items() if value is not None} == {
        "platform-alarm-topic-topic": keys["platform-alarm-topic-topic"],
        "platform-demand-stream": "alias/aws/kinesis",
        "platform-sms-status": "alias/aws/kinesis",
    }
    assert all(queue.inputs["sqsManagedSseEnabled"] is True for queue in graph.of_type(QUEUE))
    assert resources["platform-demand-table"].inputs["serverSideEncryption"] == {"enabled": True}
    assert _kms_grants(graph) == set()


def test_a_team_managed_key_arn_creates_no_key_and_is_used_everywhere(tmp_path: Path) -> None:
    # Given qa1 pointing at a key the team manages
    graph = synthesize_with_changes(tmp_path, "qa1", {"platform.kms": {"keyArn": TEAM_KEY}})

    # When its keys, encryptable resources and KMS grants are read
    keys = _keys_by_resource(graph)
    grants = _kms_grants(graph)

    # Then no key or alias is created (not even the alarm topic's), everything is under the team's key,
    # and the workers' KMS grants name that key only
    assert graph.of_type(KMS_KEY) == [] and graph.of_type(KMS_ALIAS) == []
    assert keys == dict.fromkeys(keys, TEAM_KEY)
    assert grants and {resource for _, _, resource in grants} == {TEAM_KEY}


def _services(stack: Stack, spec: WorkerSpec) -> list[str]:
    """The services through which the worker's role uses the stack key, from its catalog entry."""
    services: set[str] = set()
    if spec.access & TABLE_ACCESS:
        services.add("dynamodb")
    if spec.access & set(VENDOR_ACCESS):
        services.add("secretsmanager")
    if spec.access & QUEUE_SEND_ACCESS or isinstance(spec.source, QueueSource | StreamSource):
        services.add("sqs")
    # Only the streams the program creates are under its key (another team's keeps its own).
    if isinstance(spec.source, StreamSource) and not isinstance(
        stack.config.platform.stream(spec.source.stream), ExternalStreamSettings
    ):
        services.add("kinesis")
    return sorted(f"{service}.{stack.config.region}.amazonaws.com" for service in services)


def _stack_key_statements(resource: RecordedResource) -> list[dict[str, Any]]:
    return [s for s in statements_of(document(resource, "policy")) if s["Sid"] == "UseStackKey"]


def test_each_worker_uses_the_stack_key_in_one_statement_through_the_services_it_reaches(
    stack: Stack,
) -> None:
    # Given each worker's source and Access in the catalog
    expected = fleet(lambda spec: _services(stack, spec))

    # When its role policy's stack-key statements are read
    statements = fleet(lambda spec: _stack_key_statements(stack.child(spec, "policy")))

    # Then there is exactly one, on the key's ARN only, limited to those services (kms:ViaService)
    assert {name: len(found) for name, found in statements.items()} == fleet(lambda spec: 1)
    assert {name: found[0]["Resource"] for name, found in statements.items()} == fleet(
        lambda spec: [stack.kms_key_arn]
    )
    assert {
        name: found[0]["Condition"]["StringEquals"]["kms:ViaService"] for name, found in statements.items()
    } == expected


@pytest.mark.parametrize(
    ("worker", "actions"),
    [
        # Readers only: the table, a secret, a source queue
        ("notification_sweeper", ["kms:Decrypt"]),
        ("proxy_tm_account_service", ["kms:Decrypt"]),
        ("shorten_event_url", ["kms:Decrypt"]),
        # SQS senders (a work queue, or a stream worker's on-failure queue) also generate data keys
        ("notification_scheduler", ["kms:Decrypt", "kms:GenerateDataKey"]),
        ("notification_generator", ["kms:Decrypt", "kms:GenerateDataKey"]),
        ("notification_send", ["kms:Decrypt", "kms:GenerateDataKey"]),
        ("demand_stream_to_sqs", ["kms:Decrypt", "kms:GenerateDataKey"]),
        ("sms_status_consumer", ["kms:Decrypt", "kms:GenerateDataKey"]),
        ("event_details", ["kms:Decrypt", "kms:GenerateDataKey"]),
    ],
)
def test_which_worker_gets_which_key_action(stack: Stack, worker: str, actions: list[str]) -> None:
    # Given one worker of the catalog, written out by name so a catalog change is reviewed here
    spec = next(spec for spec in CATALOG if spec.name == worker)

    # When its stack-key statement is read
    (statement,) = _stack_key_statements(stack.child(spec, "policy"))

    # Then it holds exactly these actions, never kms:* or a wildcard resource
    assert statement["Action"] == actions
    assert statement["Resource"] == [stack.kms_key_arn]


@pytest.mark.parametrize("days", [6, 31])
def test_stack_key_args_refuse_a_deletion_window_kms_does_not_allow(days: int) -> None:
    # Given a deletion window outside KMS's 7-30 days
    # When the key's args are built
    # Then they are refused, naming the field
    with pytest.raises(ValueError, match="deletion_window_days"):
        StackKeyArgs(
            naming=Naming(environment="qa1", region="us-east-1"),
            account_id="343550350117",
            deletion_window_days=days,
            production=False,
        )
