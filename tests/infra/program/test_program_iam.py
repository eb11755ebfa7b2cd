"""Least privilege: each role trusts one service and grants exactly what the catalog implies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.catalog import CATALOG, Access, QueueSource, StreamSource, WorkerSpec
from tests.infra.graphs import document, synthesize_with_changes
from tests.infra.program.resource_types import ROLE_POLICY
from tests.infra.program.stack_under_test import (
    SPECS,
    VENDOR_ACCESS,
    Stack,
    fleet,
    grants_of,
    listed,
    statements_of,
    up_stack,
)

# IAM actions, written out here so a change in infra/access.py has to be mirrored on purpose.
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
STREAM_READ_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
)
QUEUE_CONSUME_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)
TABLE_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
TABLE_WRITE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem")
TABLE_UPDATE_ACTIONS = ("dynamodb:UpdateItem",)
ENI_MANAGE_ACTIONS = (
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
WILDCARD_RESOURCE_ACTIONS = frozenset({"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"})


def test_no_role_policy_uses_wildcard_actions_or_unscoped_resources(stack: Stack) -> None:
    # Given every inline role policy of the stack
    policies = stack.graph.of_type(ROLE_POLICY)
    assert len(policies) >= len(CATALOG)

    # When their statements are parsed
    grants = {
        (policy.name, action, resource)
        for policy in policies
        for action, resource in grants_of(document(policy, "policy"))
    }

    # Then no action has a wildcard, and `*` resources appear only where AWS allows no scoping
    assert {grant for grant in grants if "*" in grant[1]} == set()
    assert {
        grant for grant in grants if grant[2] == "*" and grant[1] not in WILDCARD_RESOURCE_ACTIONS
    } == set()


def _source_grants(stack: Stack, spec: WorkerSpec) -> set[tuple[str, str]]:
    """What reading the worker's source takes: the stream (and its customer key) or the queue."""
    source = spec.source
    grants: set[tuple[str, str]] = set()
    if isinstance(source, StreamSource):
        grants |= {(action, stack.source_stream_arn(spec)) for action in STREAM_READ_ACTIONS}
        key = stack.source_stream_kms_key_arn(spec)
        if key is not None:
            grants.add(("kms:Decrypt", key))
        grants.add(("sqs:SendMessage", stack.queue_arn(f"{stack.function_name(spec)}-on-failure")))
    if isinstance(source, QueueSource):
        queue_arn = stack.queue_arn(stack.work_queue_name(source.queue))
        grants |= {(action, queue_arn) for action in QUEUE_CONSUME_ACTIONS}
    return grants


def _expected_worker_grants(stack: Stack, spec: WorkerSpec) -> set[tuple[str, str]]:
    """What the worker's role may do, from its catalog source and Access, named by convention."""
    grants = {(action, f"{stack.log_group_arn(spec)}:*") for action in LOG_ACTIONS} | _source_grants(
        stack, spec
    )
    table_resources = [
        stack.table_arn(),
        *(
            f"{stack.table_arn()}/index/{i}"
            for i in ("sales", "demand-by-sale", "notification-by-message-id", "pending-notifications")
        ),
    ]
    variables = stack.environment_variables(spec)
    vendors = stack.config.vendors
    role_arns = {Access.SMS_SERVICE: vendors.sms_service_role_arn, Access.ACCOUNTS: vendors.accounts_role_arn}
    for access in spec.access:
        if access is Access.TABLE_READ:
            grants |= {(action, resource) for action in TABLE_READ_ACTIONS for resource in table_resources}
        elif access is Access.TABLE_WRITE:
            grants |= {(action, stack.table_arn()) for action in TABLE_WRITE_ACTIONS}
        elif access is Access.TABLE_UPDATE:
            grants |= {(action, stack.table_arn()) for action in TABLE_UPDATE_ACTIONS}
        elif access is Access.SHORT_URL_QUEUE_SEND:
            grants.add(("sqs:SendMessage", stack.queue_arn(stack.work_queue_name("short_url"))))
        elif access is Access.GENERATION_QUEUE_SEND:
            grants.add(("sqs:SendMessage", stack.queue_arn(stack.work_queue_name("generation"))))
        elif access is Access.GENERATION_DLQ_PARK:
            grants.add(("sqs:SendMessage", stack.queue_arn(f"{stack.work_queue_name('generation')}-dlq")))
        elif access is Access.EMAIL:
            identity = stack.arn("ses", f"identity/{stack.config.email.identity_domain}")
            templates = {
                stack.arn("ses", f"template/{stack.prefix}-sale-reminder-{locale}")
                for locale in stack.config.email.locales
            }
            grants |= {("ses:SendTemplatedEmail", resource) for resource in {identity, *templates}}
        else:
            _, variable = VENDOR_ACCESS[access]
            grants.add(("secretsmanager:GetSecretValue", variables[f"{variable}_SECRET_ARN"]))
            role_arn = role_arns.get(access)
            if role_arn is not None:
                grants.add(("sts:AssumeRole", role_arn))
    grants |= _expected_stack_key_grants(stack, spec)
    vpc = stack.config.platform.vpc
    if vpc is not None:
        interfaces = stack.arn("ec2", "network-interface/*")
        grants |= {
            ("ec2:CreateNetworkInterface", resource)
            for resource in (
                interfaces,
                *(stack.arn("ec2", f"subnet/{subnet}") for subnet in vpc.subnet_ids),
                *(stack.arn("ec2", f"security-group/{group}") for group in vpc.security_group_ids),
            )
        }
        grants |= {(action, interfaces) for action in ENI_MANAGE_ACTIONS}
        grants |= {("ec2:DescribeNetworkInterfaces", "*"), ("ec2:DescribeSubnets", "*")}
    return grants


QUEUE_SEND_ACCESS = {Access.SHORT_URL_QUEUE_SEND, Access.GENERATION_QUEUE_SEND, Access.GENERATION_DLQ_PARK}
TABLE_ACCESS = {Access.TABLE_READ, Access.TABLE_WRITE, Access.TABLE_UPDATE}


def _expected_stack_key_grants(stack: Stack, spec: WorkerSpec) -> set[tuple[str, str]]:
    """The stack key's grants: Decrypt for whatever encrypted the worker reads (table, secret, source
    queue or stream) and, for SQS senders (a send grant, or a stream worker's on-failure queue),
    GenerateDataKey; nothing without a stack key."""
    key = stack.kms_key_arn
    if key is None:
        return set()
    sends = bool(spec.access & QUEUE_SEND_ACCESS) or isinstance(spec.source, StreamSource)
    reads = (
        sends
        or bool(spec.access & (TABLE_ACCESS | set(VENDOR_ACCESS)))
        or isinstance(spec.source, QueueSource)
    )
    return ({("kms:Decrypt", key)} if reads else set()) | ({("kms:GenerateDataKey", key)} if sends else set())


@pytest.mark.parametrize("worker", ["notification_sweeper", "notification_send", "sms_status_consumer"])
def test_workers_that_create_nothing_may_only_update_the_tables_items(stack: Stack, worker: str) -> None:
    # Given a worker that only moves existing items on (TABLE_READ and TABLE_UPDATE)
    spec = SPECS[worker]

    # When its role policy is parsed
    granted = grants_of(document(stack.child(spec, "policy"), "policy"))

    # Then it reads the table and its indexes, and of the writes it may only update the table's items
    assert ("dynamodb:Query", f"{stack.table_arn()}/index/pending-notifications") in granted
    assert {action for action, _ in granted if action.startswith("dynamodb:")} == {
        *TABLE_READ_ACTIONS,
        *TABLE_UPDATE_ACTIONS,
    }
    assert {resource for action, resource in granted if action in TABLE_UPDATE_ACTIONS} == {stack.table_arn()}


def test_the_sweeper_reaches_nothing_but_the_table_and_its_logs(stack: Stack) -> None:
    # Given notification_sweeper's catalog entry: a schedule, the table, nothing else
    granted = grants_of(document(stack.child(SPECS["notification_sweeper"], "policy"), "policy"))
    # Then it reaches no queue, stream, secret or vendor (and the stack's key only to read the table)
    services = {action.split(":")[0] for action, _ in granted}
    assert services - {"dynamodb", "logs", "ec2", "kms"} == set()
    assert {grant for grant in granted if grant[0].startswith("kms:")} == (
        {("kms:Decrypt", stack.kms_key_arn)} if stack.kms_key_arn else set()
    )


def test_worker_role_grants_exactly_what_its_catalog_access_implies(stack: Stack) -> None:
    # Given each worker's source and declared Access
    expected = fleet(lambda spec: _expected_worker_grants(stack, spec))

    # When the role policies are parsed
    policies = fleet(lambda spec: stack.child(spec, "policy"))
    granted = fleet(lambda spec: grants_of(document(policies[spec.name], "policy")))

    # Then each grants exactly those (action, resource) pairs: nothing missing, nothing extra
    assert fleet(lambda spec: policies[spec.name].inputs["role"]) == fleet(stack.function_name)
    assert {
        name: {"extra": sorted(granted[name] - wanted), "missing": sorted(wanted - granted[name])}
        for name, wanted in expected.items()
        if granted[name] != wanted
    } == {}


def test_worker_sends_templated_email_only_from_the_configured_address(stack: Stack) -> None:
    # Given SES permissions can be pinned to a sender
    condition = {"StringEquals": {"ses:FromAddress": stack.config.email.from_address}}

    # When each worker's SES statements are read
    def ses_conditions(spec: WorkerSpec) -> list[Any]:
        statements = statements_of(document(stack.child(spec, "policy"), "policy"))
        return [
            s.get("Condition") for s in statements if any(a.startswith("ses:") for a in listed(s["Action"]))
        ]

    # Then only email workers have one, and it is conditioned on the configured From address
    assert fleet(ses_conditions) == fleet(lambda spec: [condition] if Access.EMAIL in spec.access else [])


def test_demand_stream_to_sqs_grants_spot_check() -> None:
    # Given prod1's stream forwarder, which only reads the table stream and sends to the short-url queue
    prod1 = up_stack("prod1")
    policy = document(prod1.child(SPECS["demand_stream_to_sqs"], "policy"), "policy")
    account = "arn:aws:{}:us-east-1:210987654321:{}"

    # When its grants are listed
    granted = grants_of(policy)

    # Then they are, literally: logs on its own group, kinesis read on the table stream, SendMessage on
    # the short-url queue and its own on-failure queue, the stack key to read the stream and send to
    # the queues, the VPC interface actions, and no DynamoDB
    assert {resource for action, resource in granted if action == "sqs:SendMessage"} == {
        account.format("sqs", "prd3292-prod1-us-east-1-event-short-url"),
        account.format("sqs", "prd3292-prod1-us-east-1-dmnd-stream-to-sqs-on-failure"),
    }
    assert {resource for action, resource in granted if action.startswith("kinesis:")} == {
        account.format("kinesis", "stream/prd3292-prod1-dmnd-table-stream")
    }
    assert {resource for action, resource in granted if action.startswith("logs:")} == {
        account.format("logs", "log-group:/aws/lambda/prd3292-prod1-us-east-1-dmnd-stream-to-sqs:*")
    }
    assert {action.split(":")[0] for action, _ in granted} == {"logs", "kinesis", "sqs", "kms", "ec2"}
    assert not any(action.startswith("dynamodb:") for action, _ in granted)
    key = prod1.graph.named("platform-kms-alias").inputs["targetKeyId"]
    assert {grant for grant in granted if grant[0].startswith("kms:")} == {
        ("kms:Decrypt", account.format("kms", f"key/{key}")),
        ("kms:GenerateDataKey", account.format("kms", f"key/{key}")),
    }


def test_table_readers_may_query_the_indexes(stack: Stack) -> None:
    # Given the workers that read the table
    readers = [spec for spec in CATALOG if Access.TABLE_READ in spec.access]
    assert len(readers) >= 5

    # When their Query grants are listed
    queried = {
        spec.name: {
            r for a, r in grants_of(document(stack.child(spec, "policy"), "policy")) if a == "dynamodb:Query"
        }
        for spec in readers
    }

    # Then each may query the table and its four GSIs
    expected = {
        stack.table_arn(),
        f"{stack.table_arn()}/index/sales",
        f"{stack.table_arn()}/index/demand-by-sale",
        f"{stack.table_arn()}/index/notification-by-message-id",
        f"{stack.table_arn()}/index/pending-notifications",
    }
    assert {name: resources for name, resources in queried.items() if resources != expected} == {}


def test_function_role_is_trusted_by_lambda_only(stack: Stack) -> None:
    # Given each worker's execution role
    # When its trust policy is parsed
    declared = fleet(
        lambda spec: (
            stack.child(spec, "role").inputs["name"],
            statements_of(document(stack.child(spec, "role"), "assumeRolePolicy")),
        )
    )

    # Then only the Lambda service may assume it
    lambda_only = [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert declared == fleet(lambda spec: (stack.function_name(spec), lambda_only))


def test_log_delivery_role_is_trusted_for_the_workers_own_log_group_only(stack: Stack) -> None:
    # Given each streaming worker's log-delivery role (confused-deputy protection)
    destination = stack.config.platform.central_log_stream_arn
    key = stack.config.platform.central_log_stream_kms_key_arn

    def expected(spec: WorkerSpec) -> dict[str, Any] | None:
        if not stack.worker(spec).log_streaming:
            return None
        return {
            "trust": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "logs.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"ArnLike": {"aws:SourceArn": f"{stack.log_group_arn(spec)}:*"}},
                }
            ],
            "grants": {("kinesis:PutRecord", destination), ("kinesis:PutRecords", destination)}
            | ({("kms:GenerateDataKey", key)} if key is not None else set()),
        }

    # When its trust and permission policies are parsed
    def declared(spec: WorkerSpec) -> dict[str, Any] | None:
        names = {child.name for child in stack.children(spec)}
        if f"{spec.name}-log-delivery-role" not in names:
            assert f"{spec.name}-log-delivery-policy" not in names
            return None
        return {
            "trust": statements_of(document(stack.child(spec, "log-delivery-role"), "assumeRolePolicy")),
            "grants": grants_of(document(stack.child(spec, "log-delivery-policy"), "policy")),
        }

    # Then CloudWatch Logs may assume it only for this worker's log group, to write to the central stream
    assert fleet(declared) == fleet(expected)


CENTRAL_LOG_KEY = "arn:aws:kms:us-east-1:210987654321:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
SMS_STATUS_KEY = "arn:aws:kms:us-east-1:210987654321:key/1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809"


def test_customer_keyed_streams_grant_their_key_to_who_writes_and_who_reads(tmp_path: Path) -> None:
    # Given prod1 where the central log stream and the external SMS status stream use customer keys
    graph = synthesize_with_changes(
        tmp_path,
        "prod1",
        {
            "platform.centralLogStreamKmsKeyArn": CENTRAL_LOG_KEY,
            "platform.smsStatusStream.kmsKeyArn": SMS_STATUS_KEY,
        },
    )
    consumer = grants_of(json.loads(graph.named("sms_status_consumer-policy").inputs["policy"]))
    stack_key = (
        f"arn:aws:kms:us-east-1:210987654321:key/{graph.named('platform-kms-alias').inputs['targetKeyId']}"
    )
    deliveries = {
        policy.name: grants_of(json.loads(policy.inputs["policy"]))
        for policy in graph.of_type(ROLE_POLICY)
        if policy.name.endswith("-log-delivery-policy")
    }
    kms = {
        name: {grant for grant in grants if grant[0].startswith("kms:")}
        for name, grants in deliveries.items()
    }

    # Then the SMS status consumer may decrypt with the stream's key (Lambda reads as its role) besides
    # its use of the stack's key (table, on-failure queue), every log-delivery role may generate data
    # keys with the central stream's key, and nothing more
    assert {grant for grant in consumer if grant[0].startswith("kms:")} == {
        ("kms:Decrypt", SMS_STATUS_KEY),
        ("kms:Decrypt", stack_key),
        ("kms:GenerateDataKey", stack_key),
    }
    assert len(kms) == len(CATALOG)
    assert kms == {name: {("kms:GenerateDataKey", CENTRAL_LOG_KEY)} for name in deliveries}


def test_kms_grants_name_the_stack_key_or_a_configured_stream_key_and_never_everything(stack: Stack) -> None:
    # Given the committed stacks, each with its customer-managed key
    policies = stack.graph.of_type(ROLE_POLICY)
    configured = {stack.config.platform.central_log_stream_kms_key_arn} | {
        stack.source_stream_kms_key_arn(spec) for spec in CATALOG if isinstance(spec.source, StreamSource)
    }

    # When every role policy is parsed
    kms = {
        (policy.name, action, resource)
        for policy in policies
        for action, resource in grants_of(document(policy, "policy"))
        if action.startswith("kms:")
    }

    # Then every KMS grant is Decrypt or GenerateDataKey, on the stack's key or a configured stream key
    assert kms
    assert {action for _, action, _ in kms} <= {"kms:Decrypt", "kms:GenerateDataKey"}
    assert {resource for _, _, resource in kms} <= {stack.kms_key_arn, *configured} - {None}
