"""The Pulumi program (`__main__.py`) as every committed stack file deploys it, in preview and up modes.

Expected values come from the committed stack config (never from the code under test); a few
literal spot checks per stack catch a config merge that silently takes the wrong value.
"""

from __future__ import annotations

import importlib
import inspect
import json
import keyword
import re
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pulumi
import pytest
import yaml

from infra.catalog import (
    CATALOG,
    Access,
    QueueSource,
    ResolverSource,
    ScheduleSource,
    StreamSource,
    WorkerSpec,
)
from infra.config import (
    ExternalStreamSettings,
    QueueTriggerSettings,
    ScheduleTriggerSettings,
    StackConfig,
    StreamTriggerSettings,
    WorkerConfig,
)
from infra.offline import synthesize_stack
from infra.synth import RecordedResource, ResourceGraph
from tests.infra.graphs import (
    MODES,
    PROJECT_ROOT,
    STACKS,
    document,
    of_type,
    only,
    runbook_anchors,
    stack_config,
    stack_graph,
)

WORKER = "dmd:workers:Worker"
FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
LAYER = "aws:lambda/layerVersion:LayerVersion"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
PERMISSION = "aws:lambda/permission:Permission"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SUBSCRIPTION_FILTER = "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
REDRIVE_ALLOW = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
TABLE = "aws:dynamodb/table:Table"
STREAMING_DESTINATION = "aws:dynamodb/kinesisStreamingDestination:KinesisStreamingDestination"
STREAM = "aws:kinesis/stream:Stream"
TOPIC = "aws:sns/topic:Topic"
TOPIC_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
KMS_KEY = "aws:kms/key:Key"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
SES_TEMPLATE = "aws:ses/template:Template"
DATA_SOURCE = "aws:appsync/dataSource:DataSource"
RESOLVER = "aws:appsync/resolver:Resolver"

OTEL_SERVICE_NAME = "vf.dmnd.workers"
TABLE_ACCESS = frozenset({Access.TABLE_READ, Access.TABLE_WRITE})
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
QUEUE_SUFFIXES = {"short_url": "event-short-url", "generation": "generation-jobs"}
RESOLVER_FIELDS = {
    "event_details": ("Query", "eventDetails"),
    "proxy_tm_account_service": ("Query", "tmAccount"),
}
SOURCE_KINDS = {
    "notification_scheduler": "schedule",
    "notification_generator": "queue",
    "notification_send": "stream",
    "demand_stream_to_sqs": "stream",
    "shorten_event_url": "queue",
    "sms_status_consumer": "stream",
    "event_details": "resolver",
    "proxy_tm_account_service": "resolver",
}
REQUIRED_TAG_KEYS = ("ProductCode", "Environment", "InventoryCode", "ProductName", "Repository")

# What each kind of source adds to a Worker besides role, policy, log group, function and alias.
TRIGGER_CHILD_TYPES: dict[str, Counter[str]] = {
    "stream": Counter({MAPPING: 1, QUEUE: 1}),
    "queue": Counter({MAPPING: 1}),
    "schedule": Counter({EVENT_RULE: 1, EVENT_TARGET: 1, QUEUE: 1, QUEUE_POLICY: 1, PERMISSION: 1}),
    "resolver": Counter({ROLE: 1, ROLE_POLICY: 1, DATA_SOURCE: 1, RESOLVER: 1}),
}
FUNCTION_ALARMS = frozenset({"error-rate", "throttles", "duration", "concurrency"})
SOURCE_ALARMS = {
    "stream": frozenset({"iterator-age", "on-failure-not-empty", "failed-invoke-events", "dropped-events"}),
    "queue": frozenset(
        {"queue-age", "queue-depth", "dlq-not-empty", "failed-invoke-events", "dropped-events"}
    ),
    "schedule": frozenset({"did-not-run", "schedule-failed-invocations", "schedule-dlq-not-empty"}),
    "resolver": frozenset({"latency"}),
}
LOG_DELIVERY_ALARMS = frozenset({"log-delivery-errors", "log-delivery-throttling"})

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
ENI_MANAGE_ACTIONS = (
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
WILDCARD_RESOURCE_ACTIONS = frozenset({"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"})
VENDOR_ACCESS = {
    Access.SMS_SERVICE: ("sms-service", "SMS_SERVICE"),
    Access.BITLY: ("bitly", "BITLY"),
    Access.DISCOVERY: ("discovery", "DISCOVERY"),
    Access.ACCOUNTS: ("accounts", "ACCOUNTS"),
}


# --------------------------------------------------------------------------------------------------
# The stack under test
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """One committed stack: its synthesized graph, its config, and the names both imply."""

    name: str
    mode: str
    graph: ResourceGraph
    config: StackConfig

    @property
    def environment(self) -> str:
        return self.config.environment

    @property
    def prefix(self) -> str:
        return f"prd3292-{self.config.environment}-{self.config.region}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.config.region}:{self.config.account_id}:{resource}"

    def role_arn(self, role_name: str) -> str:
        return f"arn:aws:iam::{self.config.account_id}:role/{role_name}"

    def queue_arn(self, queue_name: str) -> str:
        return self.arn("sqs", queue_name)

    def function_name(self, spec: WorkerSpec) -> str:
        return f"{self.prefix}-{spec.inventory_code}"

    def alias_arn(self, spec: WorkerSpec) -> str:
        return self.arn("lambda", f"function:{self.function_name(spec)}:live")

    def log_group_name(self, spec: WorkerSpec) -> str:
        return f"/aws/lambda/{self.function_name(spec)}"

    def log_group_arn(self, spec: WorkerSpec) -> str:
        return self.arn("logs", f"log-group:{self.log_group_name(spec)}")

    def table_name(self) -> str:
        return f"{self.prefix}-demand-table"

    def table_arn(self) -> str:
        return self.arn("dynamodb", f"table/{self.table_name()}")

    def table_stream_arn(self) -> str:
        return self.arn("kinesis", f"stream/prd3292-{self.environment}-dmnd-table-stream")

    def source_stream_arn(self, spec: WorkerSpec) -> str:
        assert isinstance(spec.source, StreamSource)
        if spec.source.stream == "table":
            return self.table_stream_arn()
        settings = self.config.platform.sms_status_stream
        if isinstance(settings, ExternalStreamSettings):
            return settings.existing_arn
        return self.arn("kinesis", f"stream/{self.prefix}-sms-status")

    def work_queue_name(self, queue: str) -> str:
        return f"{self.prefix}-{QUEUE_SUFFIXES[queue]}"

    def worker(self, spec: WorkerSpec) -> WorkerConfig:
        return self.config.workers[spec.name]

    def children(self, spec: WorkerSpec) -> list[RecordedResource]:
        return self.graph.children_of(spec.name)

    def child(self, spec: WorkerSpec, suffix: str) -> RecordedResource:
        resource = self.graph.named(f"{spec.name}-{suffix}")
        assert resource.parent == spec.name, f"{resource.name} is not a child of the {spec.name} Worker"
        return resource

    def alarm(self, spec: WorkerSpec, suffix: str) -> dict[str, Any]:
        return self.child(spec, f"alarm-{suffix}").inputs

    def environment_variables(self, spec: WorkerSpec) -> dict[str, str]:
        variables: dict[str, str] = self.child(spec, "function").inputs["environment"]["variables"]
        return variables

    def tags(self, inventory_code: str) -> dict[str, str]:
        return {
            "ProductCode": "PRD3292",
            "Environment": self.environment,
            "InventoryCode": inventory_code,
            "ProductName": "demand-capture",
            "Repository": "demand-capture/dmd-workers",
        }


T = TypeVar("T")
CASES = [(stack, mode) for stack in STACKS for mode in MODES]
SPECS = {spec.name: spec for spec in CATALOG}
STREAM_WORKERS = [spec for spec in CATALOG if isinstance(spec.source, StreamSource)]
QUEUE_WORKERS = [spec for spec in CATALOG if isinstance(spec.source, QueueSource)]
SCHEDULE_WORKERS = [spec for spec in CATALOG if isinstance(spec.source, ScheduleSource)]
RESOLVER_WORKERS = [spec for spec in CATALOG if isinstance(spec.source, ResolverSource)]


def _ids(specs: list[WorkerSpec]) -> list[str]:
    return [spec.name for spec in specs]


@pytest.fixture(params=CASES, ids=[f"{stack}-{mode}" for stack, mode in CASES])
def stack(request: pytest.FixtureRequest) -> Stack:
    name, mode = request.param
    return Stack(
        name=name, mode=mode, graph=stack_graph(name, preview=MODES[mode]), config=stack_config(name)
    )


def _up(name: str) -> Stack:
    return Stack(name=name, mode="up", graph=stack_graph(name), config=stack_config(name))


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = policy["Statement"]
    return statements


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _grants(policy: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (action, resource) pair an identity policy allows."""
    pairs: set[tuple[str, str]] = set()
    for statement in _statements(policy):
        assert statement["Effect"] == "Allow", statement
        pairs |= {
            (action, resource)
            for action in _listed(statement["Action"])
            for resource in _listed(statement["Resource"])
        }
    return pairs


def _fleet(value: Callable[[WorkerSpec], T]) -> dict[str, T]:
    """One value per worker of the catalog, keyed by name, so a failure names the worker."""
    return {spec.name: value(spec) for spec in CATALOG}


def _pick(inputs: dict[str, Any], like: dict[str, Any]) -> dict[str, Any]:
    """The inputs with the keys of `like` (absent ones as None)."""
    return {key: inputs.get(key) for key in like}


def _kind(spec: WorkerSpec) -> str:
    return spec.source.kind


# --------------------------------------------------------------------------------------------------
# Every committed stack runs
# --------------------------------------------------------------------------------------------------


def test_the_committed_stacks_are_discovered() -> None:
    # Given the stack files in the repository
    # When the suite lists them
    # Then the three environments are there, so no parametrized test is silently empty
    assert {"local", "prod1", "qa1"} <= set(STACKS)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("stack_name", STACKS)
def test_every_committed_stack_runs_through_the_program(stack_name: str, mode: str) -> None:
    # Given a committed stack file
    # When __main__.py runs under the recording mocks in this mode
    graph = stack_graph(stack_name, preview=MODES[mode])

    # Then it declares the fleet, in the mode asked for, with the stack's exports
    assert graph.stack == stack_name
    assert graph.preview is MODES[mode]
    assert len(graph.of_type(FUNCTION)) == len(CATALOG)
    assert sorted(graph.outputs) == [
        "alarm_topic_arn",
        "functions",
        "graphql_api_url",
        "table_name",
        "table_stream_arn",
    ]


@pytest.mark.parametrize("stack_name", STACKS)
def test_preview_declares_the_same_resources_as_up(stack_name: str) -> None:
    # Given the stack synthesized in both modes
    preview, up = stack_graph(stack_name, preview=True), stack_graph(stack_name)

    # When the resource identities are compared
    # Then preview and up declare the same resources (no resource depends on an unknown to exist)
    assert [(r.type_, r.name, r.parent) for r in preview.resources] == [
        (r.type_, r.name, r.parent) for r in up.resources
    ]


# --------------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------------


def test_the_fleet_is_one_worker_component_per_catalog_entry(stack: Stack) -> None:
    # Given the catalog
    # When the stack is synthesized
    workers = stack.graph.of_type(WORKER)
    functions = stack.graph.of_type(FUNCTION)

    # Then there is exactly one Worker per entry, named after it, each holding exactly one function
    assert sorted(worker.name for worker in workers) == sorted(SPECS)
    assert all(worker.parent is None and not worker.custom for worker in workers)
    assert len(functions) == 8
    assert sorted((function.parent, function.name) for function in functions) == sorted(
        (name, f"{name}-function") for name in SPECS
    )


def test_function_identity_runtime_and_layer(stack: Stack) -> None:
    # Given the catalog and the platform's dependency layer
    layer = only(stack.graph.children_of("platform"), LAYER)
    layer_arn = stack.arn("lambda", f"layer:{layer.inputs['layerName']}:1")
    keys = ("name", "runtime", "architectures", "handler", "publish", "role", "description", "code", "layers")

    # When each worker's function is declared
    functions = _fleet(lambda spec: stack.child(spec, "function"))

    # Then it is named by convention, runs python3.12 on arm64 from its own handler, published,
    # with its own role and the platform's layer
    assert _fleet(lambda spec: {key: functions[spec.name].inputs.get(key) for key in keys}) == _fleet(
        lambda spec: {
            "name": f"prd3292-{stack.environment}-us-east-1-{spec.inventory_code}",
            "runtime": "python3.12",
            "architectures": ["arm64"],
            "handler": f"workers.{spec.name}.handler.lambda_handler",
            "publish": True,
            "role": stack.role_arn(stack.function_name(spec)),
            "description": spec.description,
            "code": {"fileArchive": f"build/code/{spec.name}.zip"},
            "layers": [layer_arn],
        }
    )
    assert {stack.worker(spec).architecture for spec in CATALOG} == {"arm64"}
    assert layer.name == "platform-deps-layer-arm64"
    assert all(layer.name in function.options["dependencies"] for function in functions.values())


def test_function_sizing_is_the_resolved_config(stack: Stack) -> None:
    # Given each worker's resolved settings (defaults merged with its overrides)
    expected = _fleet(
        lambda spec: (
            stack.worker(spec).memory_mb,
            stack.worker(spec).timeout_seconds,
            stack.worker(spec).reserved_concurrency,
        )
    )

    # When the functions are declared
    inputs = _fleet(lambda spec: stack.child(spec, "function").inputs)

    # Then memory, timeout and reserved concurrency are the resolved values
    assert {
        name: (value["memorySize"], value["timeout"], value["reservedConcurrentExecutions"])
        for name, value in inputs.items()
    } == expected


def test_snap_start_is_on_exactly_for_the_workers_that_ask_for_it(stack: Stack) -> None:
    # Given each worker's resolved snapStart setting
    expected = _fleet(
        lambda spec: {"applyOn": "PublishedVersions"} if stack.worker(spec).snap_start else None
    )

    # When the functions are declared
    declared = _fleet(lambda spec: stack.child(spec, "function").inputs.get("snapStart"))

    # Then SnapStart applies to published versions (what the live alias points at) only where asked
    assert declared == expected


def test_prod1_restores_the_fan_facing_resolver_from_a_snapshot() -> None:
    # Given prod1 turns SnapStart on for event_details only
    functions = {spec.name: _up("prod1").child(spec, "function").inputs for spec in SPECS.values()}

    # Then exactly that function has it
    assert {name for name, inputs in functions.items() if inputs.get("snapStart")} == {"event_details"}


SIZING_SPOT_CHECKS = {
    # stack -> worker -> (memorySize, timeout, reservedConcurrentExecutions), read off the YAML
    "prod1": {
        "notification_send": (2048, 60, 100),
        "notification_generator": (3008, 900, 20),
        "notification_scheduler": (1024, 300, 1),
        "demand_stream_to_sqs": (512, 60, -1),
        "event_details": (1536, 15, -1),
    },
    "qa1": {
        "notification_send": (1024, 60, 20),
        "notification_generator": (2048, 900, 10),
        "sms_status_consumer": (512, 60, -1),
    },
    "local": {
        "notification_send": (512, 30, -1),
        "notification_scheduler": (512, 120, -1),
        "notification_generator": (512, 300, -1),
    },
}


@pytest.mark.parametrize(
    ("stack_name", "worker", "expected"),
    [
        (stack_name, worker, expected)
        for stack_name, workers in SIZING_SPOT_CHECKS.items()
        for worker, expected in workers.items()
    ],
)
def test_function_sizing_spot_checks_against_the_stack_file(
    stack_name: str, worker: str, expected: tuple[int, int, int]
) -> None:
    # Given a value written in Pulumi.<stack>.yaml (or its defaults block)
    # When the stack is synthesized
    inputs = _up(stack_name).child(SPECS[worker], "function").inputs

    # Then the function carries exactly that value (a broken defaults/override merge fails here)
    assert (inputs["memorySize"], inputs["timeout"], inputs["reservedConcurrentExecutions"]) == expected


def test_function_logs_json_to_its_own_log_group_with_retention(stack: Stack) -> None:
    # Given each worker's log settings
    def expected(spec: WorkerSpec) -> dict[str, Any]:
        config = stack.worker(spec)
        return {
            "loggingConfig": {
                "logFormat": "JSON",
                "logGroup": stack.log_group_name(spec),
                "applicationLogLevel": {"WARNING": "WARN"}.get(config.log_level, config.log_level),
                "systemLogLevel": "WARN",
            },
            "logGroup": {
                "name": f"/aws/lambda/{stack.function_name(spec)}",
                "retentionInDays": config.log_retention_days,
            },
        }

    # When the functions and their log groups are declared
    def declared(spec: WorkerSpec) -> dict[str, Any]:
        log_group = stack.child(spec, "logs").inputs
        return {
            "loggingConfig": stack.child(spec, "function").inputs["loggingConfig"],
            "logGroup": {key: log_group[key] for key in ("name", "retentionInDays")},
        }

    # Then each function logs JSON into /aws/lambda/<function>, kept for the configured days
    assert _fleet(declared) == _fleet(expected)


@pytest.mark.parametrize(("stack_name", "retention"), [("prod1", 30), ("qa1", 7), ("local", 1)])
def test_log_retention_spot_checks_against_the_stack_file(stack_name: str, retention: int) -> None:
    # Given defaults.logRetentionDays in the stack file
    # When the stack is synthesized
    log_groups = _up(stack_name).graph.of_type(LOG_GROUP)

    # Then every worker's log group keeps logs that long
    assert [group.inputs["retentionInDays"] for group in log_groups] == [retention] * 8


def test_function_environment_carries_identity_telemetry_access_and_tunables(stack: Stack) -> None:
    # Given each worker's catalog entry and resolved config
    endpoint = stack.config.observability.otel_collector_endpoint

    def expected(spec: WorkerSpec) -> dict[str, str | None]:
        return {
            "POWERTOOLS_SERVICE_NAME": spec.name,
            "OTEL_SERVICE_NAME": OTEL_SERVICE_NAME,
            "DMD_ENVIRONMENT": stack.environment,
            "OTEL_EXPORTER_OTLP_ENDPOINT": None if endpoint is None else endpoint.rstrip("/"),
            "DEMAND_TABLE_NAME": stack.table_name() if spec.access & TABLE_ACCESS else None,
            **stack.worker(spec).tunables,
        }

    # When the functions are declared
    variables = _fleet(stack.environment_variables)

    # Then each environment names the service, the collector (when configured), the table (table
    # workers only) and the worker's own tunables
    assert _fleet(lambda spec: {key: variables[spec.name].get(key) for key in expected(spec)}) == _fleet(
        expected
    )
    assert stack.worker(SPECS["notification_scheduler"]).tunables.keys() >= {"LEAD_MINUTES", "WINDOW_MINUTES"}


def test_function_environment_spot_checks_against_the_stack_file() -> None:
    # Given prod1's observability endpoint and the scheduler's settings block
    prod1 = _up("prod1")

    # When the stack is synthesized
    scheduler = prod1.environment_variables(SPECS["notification_scheduler"])
    forwarder = prod1.environment_variables(SPECS["demand_stream_to_sqs"])

    # Then the literal values reach the function
    assert scheduler["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel.prod.use1.prod-tmaws.io:4318"
    assert (scheduler["LEAD_MINUTES"], scheduler["WINDOW_MINUTES"], scheduler["EVENT_FETCH_PARALLELISM"]) == (
        "30",
        "30",
        "16",
    )
    assert scheduler["DEMAND_TABLE_NAME"] == "prd3292-prod1-us-east-1-demand-table"
    assert "DEMAND_TABLE_NAME" not in forwarder
    assert forwarder["SHORT_URL_QUEUE_URL"] == (
        "https://sqs.us-east-1.amazonaws.com/210987654321/prd3292-prod1-us-east-1-event-short-url"
    )


def test_function_environment_holds_secret_arns_never_secret_values(stack: Stack) -> None:
    # Given the vendor secrets each worker may read
    secret_arn = re.compile(
        rf"arn:aws:secretsmanager:{stack.config.region}:{stack.config.account_id}:secret:"
        rf"{re.escape(stack.prefix)}/(?P<secret>[a-z-]+)-[A-Za-z]{{6}}"
    )

    def expected(spec: WorkerSpec) -> dict[str, str]:
        return {
            f"{variable}_SECRET_ARN": secret
            for access, (secret, variable) in VENDOR_ACCESS.items()
            if access in spec.access
        }

    # When the secret-related variables are read
    def declared(spec: WorkerSpec) -> dict[str, str | None]:
        found = {
            key: secret_arn.fullmatch(value)
            for key, value in stack.environment_variables(spec).items()
            if "SECRET" in key
        }
        return {key: match["secret"] if match else None for key, match in found.items()}

    # Then each is the ARN of that vendor's secret, one per vendor access, and nothing else names a secret
    assert _fleet(declared) == _fleet(expected)


def test_function_runs_in_the_stack_vpc(stack: Stack) -> None:
    # Given the stack's VPC placement (none for the local emulator)
    vpc = stack.config.platform.vpc
    placement = (
        None
        if vpc is None
        else {"subnetIds": list(vpc.subnet_ids), "securityGroupIds": list(vpc.security_group_ids)}
    )

    # When the functions are declared
    declared = _fleet(lambda spec: stack.child(spec, "function").inputs.get("vpcConfig"))

    # Then each is placed in exactly those subnets and security groups
    assert declared == _fleet(lambda spec: placement)


def test_vpc_spot_checks_against_the_stack_file() -> None:
    # Given prod1's three subnets and one security group, and local without a VPC
    # When both stacks are synthesized
    prod1 = _up("prod1").child(SPECS["notification_send"], "function").inputs
    local = _up("local").child(SPECS["notification_send"], "function").inputs

    # Then prod1's function is in them and local's has no VPC
    assert prod1["vpcConfig"]["subnetIds"] == [
        "subnet-0f1e2d3c4b5a60001",
        "subnet-0f1e2d3c4b5a60002",
        "subnet-0f1e2d3c4b5a60003",
    ]
    assert prod1["vpcConfig"]["securityGroupIds"] == ["sg-0f1e2d3c4b5a60001"]
    assert local.get("vpcConfig") is None


def test_function_waits_for_its_log_group_and_role_policy(stack: Stack) -> None:
    # Given Lambda auto-creates a retention-less log group, and an unattached role fails the first poll
    # When the functions are declared
    depends_on = _fleet(lambda spec: stack.child(spec, "function").options["depends_on"])

    # Then each depends on its own log group and role policy
    assert depends_on == _fleet(lambda spec: sorted([f"{spec.name}-logs", f"{spec.name}-policy"]))


def test_live_alias_points_at_the_published_version(stack: Stack) -> None:
    # Given each function publishes a version on each change
    # When the aliases are declared
    def declared(spec: WorkerSpec) -> dict[str, Any]:
        alias = stack.child(spec, "alias")
        return {
            "name": alias.inputs["name"],
            "functionName": alias.inputs["functionName"],
            "functionVersion": alias.inputs["functionVersion"],
            "follows the function": f"{spec.name}-function" in alias.options["dependencies"],
            "exported": stack.graph.outputs["functions"].get(stack.function_name(spec)),
        }

    # Then `live` follows the function's version output, and its ARN is what the stack exports
    assert _fleet(declared) == _fleet(
        lambda spec: {
            "name": "live",
            "functionName": stack.function_name(spec),
            "functionVersion": "1",  # the mocks' first published version
            "follows the function": True,
            "exported": stack.alias_arn(spec),
        }
    )


# --------------------------------------------------------------------------------------------------
# The Worker's children
# --------------------------------------------------------------------------------------------------


def _expected_alarm_suffixes(stack: Stack, spec: WorkerSpec) -> set[str]:
    if not stack.worker(spec).alarms.enabled:
        return set()
    suffixes = set(FUNCTION_ALARMS | SOURCE_ALARMS[_kind(spec)])
    if stack.worker(spec).log_streaming:
        suffixes |= LOG_DELIVERY_ALARMS
    return suffixes


def _expected_child_types(stack: Stack, spec: WorkerSpec) -> Counter[str]:
    expected = Counter({ROLE: 1, ROLE_POLICY: 1, LOG_GROUP: 1, FUNCTION: 1, ALIAS: 1})
    expected += TRIGGER_CHILD_TYPES[_kind(spec)]
    if stack.worker(spec).log_streaming:
        expected += Counter({ROLE: 1, ROLE_POLICY: 1, SUBSCRIPTION_FILTER: 1})
    expected[ALARM] = len(_expected_alarm_suffixes(stack, spec))
    return +expected


def test_catalog_sources_are_the_expected_kinds() -> None:
    # Given the catalog
    # When each worker's source kind is read
    # Then the fleet is wired as designed (the child-set tests below rely on it)
    assert {spec.name: spec.source.kind for spec in CATALOG} == SOURCE_KINDS


def test_worker_has_exactly_the_children_its_source_and_settings_imply(stack: Stack) -> None:
    # Given each worker's source kind, log streaming setting and alarms
    expected_types = _fleet(lambda spec: dict(_expected_child_types(stack, spec)))
    expected_alarms = _fleet(
        lambda spec: sorted(f"{spec.name}-alarm-{suffix}" for suffix in _expected_alarm_suffixes(stack, spec))
    )

    # When the Workers' children are listed
    children = _fleet(stack.children)

    # Then each type appears exactly as often as expected, and the alarms are exactly the expected ones
    assert _fleet(lambda spec: dict(Counter(child.type_ for child in children[spec.name]))) == expected_types
    assert _fleet(lambda spec: sorted(c.name for c in of_type(children[spec.name], ALARM))) == expected_alarms


def test_log_streaming_adds_a_subscription_filter_to_the_central_stream(stack: Stack) -> None:
    # Given each worker's logStreaming and the stack's central log stream
    destination = stack.config.platform.central_log_stream_arn

    def expected(spec: WorkerSpec) -> list[dict[str, Any]]:
        if not stack.worker(spec).log_streaming:
            return []
        return [
            {
                "inputs": {
                    "name": f"{stack.function_name(spec)}-to-central-logs",
                    "logGroup": stack.log_group_name(spec),
                    "filterPattern": "",
                    "destinationArn": destination,
                    "roleArn": stack.role_arn(f"{stack.function_name(spec)}-logs"),
                    "distribution": "Random",
                },
                "depends_on": [f"{spec.name}-log-delivery-policy"],
            }
        ]

    # When the Workers' subscription filters are listed
    declared = _fleet(
        lambda spec: [
            {"inputs": f.inputs, "depends_on": f.options["depends_on"]}
            for f in of_type(stack.children(spec), SUBSCRIPTION_FILTER)
        ]
    )

    # Then a streaming worker ships its whole log group to the central stream with its own role
    assert declared == _fleet(expected)


@pytest.mark.parametrize("stack_name", ["prod1", "qa1"])
def test_every_deployed_worker_has_at_least_six_alarms(stack_name: str) -> None:
    # Given a deployed (non-emulator) stack
    stack = _up(stack_name)

    # When each Worker's alarms are counted
    counts = {spec.name: len(of_type(stack.children(spec), ALARM)) for spec in CATALOG}

    # Then none is below six
    assert {name: count for name, count in counts.items() if count < 6} == {}


# --------------------------------------------------------------------------------------------------
# Triggers
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", STREAM_WORKERS, ids=_ids(STREAM_WORKERS))
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


@pytest.mark.parametrize("spec", STREAM_WORKERS, ids=_ids(STREAM_WORKERS))
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


@pytest.mark.parametrize("spec", STREAM_WORKERS, ids=_ids(STREAM_WORKERS))
def test_stream_worker_owns_an_encrypted_on_failure_queue(stack: Stack, spec: WorkerSpec) -> None:
    # Given Kinesis discards records past their age or retries
    # When the worker's on-failure queue is declared
    queue = stack.child(spec, "on-failure")

    # Then it is the worker's own, encrypted, and keeps failures for the SQS maximum of 14 days
    assert queue.type_ == QUEUE
    assert queue.inputs["name"] == f"{stack.function_name(spec)}-on-failure"
    assert queue.inputs["sqsManagedSseEnabled"] is True
    assert queue.inputs["messageRetentionSeconds"] == 1_209_600


@pytest.mark.parametrize("spec", QUEUE_WORKERS, ids=_ids(QUEUE_WORKERS))
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
    "spec", [*STREAM_WORKERS, *QUEUE_WORKERS], ids=_ids([*STREAM_WORKERS, *QUEUE_WORKERS])
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
    inputs = _up(stack_name).child(SPECS[worker], "trigger").inputs

    # Then the mapping carries them
    assert {key: inputs.get(key) for key in expected} == expected


def test_sms_status_consumer_reads_the_existing_stream_in_prod1() -> None:
    # Given prod1 names the SMS team's existing stream
    prod1 = _up("prod1")

    # When the consumer's mapping is declared
    mapping = prod1.child(SPECS["sms_status_consumer"], "trigger").inputs

    # Then it reads that stream
    assert (
        mapping["eventSourceArn"] == "arn:aws:kinesis:us-east-1:210987654321:stream/prd3292-prod1-sms-status"
    )


@pytest.mark.parametrize("spec", SCHEDULE_WORKERS, ids=_ids(SCHEDULE_WORKERS))
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
    assert (dlq.inputs["name"], dlq.inputs["sqsManagedSseEnabled"]) == (f"{function_name}-schedule-dlq", True)
    assert _statements(document(dlq_policy, "policy")) == [
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
    rule = _up("prod1").child(SPECS["notification_scheduler"], "schedule").inputs

    # Then the rule carries that cron expression
    assert rule["scheduleExpression"] == "cron(0/30 * * * ? *)"


def _api_id(stack: Stack) -> str:
    url = stack.graph.outputs["graphql_api_url"]["GRAPHQL"]
    match = re.fullmatch(
        rf"https://(?P<id>[a-z0-9]+)\.appsync-api\.{stack.config.region}\.amazonaws\.com/graphql", url
    )
    assert match is not None, url
    return match["id"]


@pytest.mark.parametrize("spec", RESOLVER_WORKERS, ids=_ids(RESOLVER_WORKERS))
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
    assert _statements(document(role, "assumeRolePolicy")) == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "appsync.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnLike": {"aws:SourceArn": stack.arn("appsync", f"apis/{api_id}")}},
        }
    ]
    assert _grants(document(policy, "policy")) == {("lambda:InvokeFunction", stack.alias_arn(spec))}


# --------------------------------------------------------------------------------------------------
# Alarms
# --------------------------------------------------------------------------------------------------


def test_duration_alarm_threshold_is_a_ratio_of_the_timeout(stack: Stack) -> None:
    # Given each worker's timeout and duration ratio
    def expected(spec: WorkerSpec) -> dict[str, Any]:
        config = stack.worker(spec)
        return {
            "threshold": round(config.timeout_seconds * 1000 * config.alarms.duration_ratio),
            "metricName": "Duration",
            "extendedStatistic": "p90",
            "dimensions": {"FunctionName": stack.function_name(spec)},
            "comparisonOperator": "GreaterThanThreshold",
        }

    # When the duration alarms are declared
    declared = _fleet(lambda spec: _pick(stack.alarm(spec, "duration"), expected(spec)))

    # Then each watches p90 duration against timeout × 1000 × ratio
    assert declared == _fleet(expected)


def test_concurrency_alarm_threshold_is_a_ratio_of_the_reservation_or_the_account_quota(stack: Stack) -> None:
    # Given each worker's reserved concurrency (or none) and the account's concurrency quota
    quota = stack.config.platform.alarm_topic.account_concurrency_limit

    def expected(spec: WorkerSpec) -> dict[str, Any]:
        config = stack.worker(spec)
        ceiling = config.reserved_concurrency if config.reserved_concurrency > 0 else quota
        return {
            "threshold": max(1, round(ceiling * config.alarms.concurrency_ratio)),
            "metricName": "ConcurrentExecutions",
            "statistic": "Maximum",
        }

    # When the concurrency alarms are declared
    declared = _fleet(lambda spec: _pick(stack.alarm(spec, "concurrency"), expected(spec)))

    # Then each fires above ratio × that ceiling (at least 1)
    assert declared == _fleet(expected)


def test_error_rate_alarm_divides_errors_by_invocations(stack: Stack) -> None:
    # Given each worker's error-rate objective
    def expected(spec: WorkerSpec) -> dict[str, Any]:
        dimensions = {"FunctionName": stack.function_name(spec)}
        return {
            "threshold": stack.worker(spec).alarms.error_rate_percent,
            "single metric": None,
            "queries": [
                ("errors", "Errors", dimensions, False),
                ("invocations", "Invocations", dimensions, False),
                ("result", None, None, True),
            ],
            "divides errors by invocations": True,
        }

    # When the error-rate alarms are declared
    def declared(spec: WorkerSpec) -> dict[str, Any]:
        alarm = stack.alarm(spec, "error-rate")
        queries = alarm["metricQueries"]
        return {
            "threshold": alarm["threshold"],
            "single metric": alarm.get("metricName"),
            "queries": [
                (
                    query["id"],
                    query.get("metric", {}).get("metricName"),
                    query.get("metric", {}).get("dimensions"),
                    query["returnData"],
                )
                for query in queries
            ],
            "divides errors by invocations": "100 * errors / invocations"
            in queries[-1].get("expression", ""),
        }

    # Then metric math compares 100 × errors / invocations with the configured percentage
    assert _fleet(declared) == _fleet(expected)


def test_throttle_alarm_threshold_is_from_config(stack: Stack) -> None:
    # Given each worker's tolerated throttles
    # When the throttle alarms are declared
    declared = _fleet(
        lambda spec: (
            stack.alarm(spec, "throttles")["metricName"],
            stack.alarm(spec, "throttles")["threshold"],
        )
    )

    # Then each fires above that count
    assert declared == _fleet(lambda spec: ("Throttles", stack.worker(spec).alarms.throttles))


@pytest.mark.parametrize("spec", STREAM_WORKERS, ids=_ids(STREAM_WORKERS))
def test_iterator_age_alarm_fires_at_a_ratio_of_the_maximum_record_age(
    stack: Stack, spec: WorkerSpec
) -> None:
    # Given records older than maximumRecordAgeSeconds are discarded
    config = stack.worker(spec)
    assert isinstance(config.trigger, StreamTriggerSettings)

    # When the iterator-age alarm is declared
    alarm = stack.alarm(spec, "iterator-age")

    # Then it fires at ratio × that age, in milliseconds, well before records are lost
    assert alarm["threshold"] == round(
        config.trigger.maximum_record_age_seconds * 1000 * config.alarms.iterator_age_ratio
    )
    assert (alarm["metricName"], alarm["statistic"], alarm["treatMissingData"]) == (
        "IteratorAge",
        "Maximum",
        "missing",
    )


@pytest.mark.parametrize("spec", QUEUE_WORKERS, ids=_ids(QUEUE_WORKERS))
def test_queue_alarms_derive_from_the_source_queue_settings(stack: Stack, spec: WorkerSpec) -> None:
    # Given the source queue's retention and the worker's backlog settings
    assert isinstance(spec.source, QueueSource)
    config = stack.worker(spec)
    queue_name = stack.work_queue_name(spec.source.queue)
    retention = stack.config.platform.queue(spec.source.queue).message_retention_seconds

    # When the queue alarms are declared
    age, depth, dlq = (stack.alarm(spec, suffix) for suffix in ("queue-age", "queue-depth", "dlq-not-empty"))

    # Then age is a ratio of retention, depth is the configured backlog, and the DLQ alarms on any message
    assert (age["threshold"], age["dimensions"]) == (
        int(retention * config.alarms.queue_age_ratio),
        {"QueueName": queue_name},
    )
    assert (depth["threshold"], depth["dimensions"]) == (config.alarms.queue_depth, {"QueueName": queue_name})
    assert (dlq["metricName"], dlq["threshold"], dlq["dimensions"]) == (
        "ApproximateNumberOfMessagesVisible",
        0,
        {"QueueName": f"{queue_name}-dlq"},
    )


@pytest.mark.parametrize("spec", SCHEDULE_WORKERS, ids=_ids(SCHEDULE_WORKERS))
def test_scheduled_worker_alarms_when_it_did_not_run(stack: Stack, spec: WorkerSpec) -> None:
    # Given Lambda publishes no datapoint when nothing runs
    trigger = stack.worker(spec).trigger
    assert isinstance(trigger, ScheduleTriggerSettings)

    # When the did-not-run alarm is declared
    alarm = stack.alarm(spec, "did-not-run")

    # Then fewer than one invocation in two schedule intervals, or no data at all, is an alarm
    assert (alarm["metricName"], alarm["comparisonOperator"], alarm["threshold"]) == (
        "Invocations",
        "LessThanThreshold",
        1,
    )
    assert alarm["treatMissingData"] == "breaching"
    assert alarm["period"] == max(60, 2 * trigger.interval_seconds())


@pytest.mark.parametrize("spec", RESOLVER_WORKERS, ids=_ids(RESOLVER_WORKERS))
def test_resolver_latency_alarm_uses_the_configured_objective(stack: Stack, spec: WorkerSpec) -> None:
    # Given the resolver's latency objective
    # When its latency alarm is declared
    alarm = stack.alarm(spec, "latency")

    # Then p95 duration is compared with it
    assert (alarm["extendedStatistic"], alarm["threshold"]) == (
        "p95",
        stack.worker(spec).alarms.latency_slo_ms,
    )


ALARM_SPOT_CHECKS = [
    ("prod1", "notification_send", "duration", 48_000),
    ("prod1", "notification_send", "concurrency", 80),
    ("prod1", "notification_send", "iterator-age", 1_800_000),
    ("prod1", "notification_generator", "duration", 720_000),
    ("prod1", "notification_generator", "concurrency", 16),
    ("prod1", "notification_scheduler", "duration", 240_000),
    ("prod1", "demand_stream_to_sqs", "concurrency", 800),
    ("prod1", "event_details", "latency", 500),
    ("qa1", "notification_send", "concurrency", 16),
    ("local", "notification_send", "iterator-age", 1_800_000),  # half the 3600 s record age
]


@pytest.mark.parametrize(
    ("stack_name", "worker", "suffix", "threshold"),
    ALARM_SPOT_CHECKS,
    ids=[f"{s}-{w}-{a}" for s, w, a, _ in ALARM_SPOT_CHECKS],
)
def test_alarm_threshold_spot_checks_against_the_stack_file(
    stack_name: str, worker: str, suffix: str, threshold: int
) -> None:
    # Given timeouts, reservations and record ages written in the stack file
    # When the stack is synthesized
    alarm = _up(stack_name).alarm(SPECS[worker], suffix)

    # Then the derived threshold is the number worked out by hand
    assert alarm["threshold"] == threshold


def test_scheduler_did_not_run_spot_check() -> None:
    # Given prod1's half-hourly schedule
    # When the stack is synthesized
    alarm = _up("prod1").alarm(SPECS["notification_scheduler"], "did-not-run")

    # Then the alarm looks at one-hour periods (two intervals)
    assert alarm["period"] == 3600


def _alarm_periods(alarm: dict[str, Any]) -> list[int]:
    if "metricQueries" in alarm:
        return [query["metric"]["period"] for query in alarm["metricQueries"] if "metric" in query]
    return [alarm["period"]]


def test_function_metric_alarms_use_the_configured_period(tmp_path: Path) -> None:
    # Given qa1 with alarms.periodSeconds 300 for a stream worker and a resolver
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    document_ = yaml.safe_load((PROJECT_ROOT / "Pulumi.qa1.yaml").read_text(encoding="utf-8"))
    workers = document_["config"]["dmd-workers:workers"]
    for name in ("notification_send", "event_details"):
        workers[name]["alarms"] = {**workers[name].get("alarms", {}), "periodSeconds": 300}
    (tmp_path / "Pulumi.qa1.yaml").write_text(yaml.safe_dump(document_), encoding="utf-8")

    # When the program runs with that stack file
    graph = synthesize_stack("qa1", project_root=tmp_path, program=PROJECT_ROOT / "__main__.py")

    # Then every alarm on the worker's own Lambda metrics aggregates over 300 s
    periods = {
        name: _alarm_periods(graph.named(name).inputs)
        for name in (
            *(f"notification_send-alarm-{s}" for s in ("error-rate", "throttles", "duration", "concurrency")),
            "notification_send-alarm-iterator-age",
            "event_details-alarm-latency",
        )
    }
    assert {name: found for name, found in periods.items() if set(found) != {300}} == {}


def test_every_alarm_links_an_existing_runbook_section(stack: Stack) -> None:
    # Given the runbook's section headings
    anchors = runbook_anchors()
    base = stack.config.observability.runbook_base_url
    assert base.endswith("docs/runbooks.md")
    assert len(anchors) >= 10

    # When every alarm's description is read
    alarms = stack.graph.of_type(ALARM)
    links = {alarm.name: alarm.inputs["alarmDescription"].rsplit(" Runbook: ", 1) for alarm in alarms}

    # Then each ends with a link to a section that exists
    assert len(alarms) > len(CATALOG)
    broken = {
        name: parts
        for name, parts in links.items()
        if len(parts) != 2 or not parts[1].startswith(f"{base}#") or parts[1].split("#", 1)[1] not in anchors
    }
    assert broken == {}


def test_every_alarm_notifies_the_stack_alarm_topic(stack: Stack) -> None:
    # Given the stack's alarm topic
    topic_arn = stack.arn("sns", f"{stack.prefix}-alarms")
    assert stack.graph.outputs["alarm_topic_arn"] == topic_arn

    # When every alarm is read
    alarms = stack.graph.of_type(ALARM)

    # Then each sends its alarm and its recovery to that topic, and nowhere else
    assert {alarm.name for alarm in alarms if alarm.inputs["alarmActions"] != [topic_arn]} == set()
    assert {alarm.name for alarm in alarms if alarm.inputs["okActions"] != [topic_arn]} == set()


# --------------------------------------------------------------------------------------------------
# Platform
# --------------------------------------------------------------------------------------------------


def test_demand_table_keys_indexes_and_protection(stack: Stack) -> None:
    # Given the stack's table settings and whether it is production
    settings = stack.config.platform.table
    production = stack.config.production

    # When the table is declared
    table = only(stack.graph.children_of("platform-demand"), TABLE)
    inputs = table.inputs

    # Then it has the single-table keys, both GSIs, TTL, PITR and SSE, and is protected in production
    assert inputs["name"] == f"prd3292-{stack.environment}-us-east-1-demand-table"
    assert (inputs["hashKey"], inputs["rangeKey"]) == ("PK", "SK")
    assert inputs["billingMode"] == settings.billing_mode
    assert [
        (index["name"], index["keySchemas"], index["projectionType"])
        for index in inputs["globalSecondaryIndexes"]
    ] == [
        (
            "sales",
            [
                {"attributeName": "saleStartDate", "keyType": "HASH"},
                {"attributeName": "saleStartDateTime", "keyType": "RANGE"},
            ],
            "ALL",
        ),
        (
            "demand-by-sale",
            [
                {"attributeName": "demandSaleKey", "keyType": "HASH"},
                {"attributeName": "fanId", "keyType": "RANGE"},
            ],
            "ALL",
        ),
    ]
    assert sorted(attribute["name"] for attribute in inputs["attributes"]) == sorted(
        ["PK", "SK", "saleStartDate", "saleStartDateTime", "demandSaleKey", "fanId"]
    )
    assert inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert inputs["pointInTimeRecovery"] == {"enabled": settings.point_in_time_recovery}
    assert inputs["serverSideEncryption"] == {"enabled": True}
    assert inputs["deletionProtectionEnabled"] is production
    assert table.options["protect"] is production


@pytest.mark.parametrize(("stack_name", "protected"), [("prod1", True), ("qa1", False), ("local", False)])
def test_only_production_data_is_protected(stack_name: str, protected: bool) -> None:
    # Given prod1 is the production stack
    graph = _up(stack_name).graph

    # When the table and its change stream are declared
    table = graph.named("platform-demand-table")
    stream = graph.named("platform-demand-stream")

    # Then deletion protection and Pulumi `protect` are on in prod1 only
    assert table.inputs["deletionProtectionEnabled"] is protected
    assert (table.options["protect"], stream.options["protect"]) == (protected, protected)
    assert sorted(resource.name for resource in graph.resources if resource.options.get("protect")) == (
        ["platform-demand-stream", "platform-demand-table"] if protected else []
    )


def test_table_changes_stream_into_an_encrypted_kinesis_stream(stack: Stack) -> None:
    # Given the stack's table stream settings
    settings = stack.config.platform.table_stream

    # When the stream and the streaming destination are declared
    stream = stack.graph.named("platform-demand-stream")
    destination = only(stack.graph.children_of("platform-demand"), STREAMING_DESTINATION)

    # Then the stream is KMS-encrypted with the configured retention and mode, and the table feeds it
    assert stream.inputs["name"] == f"prd3292-{stack.environment}-dmnd-table-stream"
    assert (stream.inputs["encryptionType"], stream.inputs["kmsKeyId"]) == ("KMS", "alias/aws/kinesis")
    assert stream.inputs["retentionPeriod"] == settings.retention_hours
    assert stream.inputs["streamModeDetails"] == {"streamMode": settings.mode}
    assert stream.inputs.get("shardCount") == settings.shard_count
    assert destination.inputs["tableName"] == stack.table_name()
    assert (
        destination.inputs["streamArn"] == stack.table_stream_arn() == stack.graph.outputs["table_stream_arn"]
    )


@pytest.mark.parametrize(("stack_name", "hours"), [("prod1", 48), ("qa1", 24)])
def test_table_stream_retention_spot_checks(stack_name: str, hours: int) -> None:
    # Given tableStream.retentionHours in the stack file
    # When the stack is synthesized
    stream = _up(stack_name).graph.named("platform-demand-stream")

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
    assert main["sqsManagedSseEnabled"] is True
    assert json.loads(main["redrivePolicy"]) == {
        "deadLetterTargetArn": stack.queue_arn(f"{name}-dlq"),
        "maxReceiveCount": settings.max_receive_count,
    }
    assert (dlq["name"], dlq["sqsManagedSseEnabled"], dlq["messageRetentionSeconds"]) == (
        f"{name}-dlq",
        True,
        settings.dlq_retention_seconds,
    )
    assert json.loads(allow["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [stack.queue_arn(name)],
    }


def test_work_queue_spot_checks_against_the_stack_file() -> None:
    # Given prod1's queue settings
    graph = _up("prod1").graph

    # When the queues are declared
    short_url = graph.named("platform-event-short-url-queue").inputs
    generation = graph.named("platform-generation-jobs-queue").inputs

    # Then they carry the values in the file
    assert (
        short_url["visibilityTimeoutSeconds"],
        json.loads(short_url["redrivePolicy"])["maxReceiveCount"],
    ) == (
        360,
        3,
    )
    assert generation["visibilityTimeoutSeconds"] == 5400


def test_prod1_references_the_existing_sms_status_stream_instead_of_creating_one() -> None:
    # Given prod1 names an existing SMS status stream
    graph = _up("prod1").graph

    # When the platform is declared
    streams = graph.of_type(STREAM)

    # Then the only stream it creates is the table's
    assert [stream.inputs["name"] for stream in streams] == ["prd3292-prod1-dmnd-table-stream"]


def test_qa1_creates_its_own_encrypted_sms_status_stream() -> None:
    # Given qa1 configures a created (not existing) SMS status stream
    qa1 = _up("qa1")

    # When the platform is declared
    stream = qa1.graph.named("platform-sms-status")

    # Then it creates it, encrypted, with the configured capacity, and the consumer reads it
    assert stream.parent == "platform"
    assert stream.inputs["name"] == "prd3292-qa1-us-east-1-sms-status"
    assert (stream.inputs["encryptionType"], stream.inputs["kmsKeyId"]) == ("KMS", "alias/aws/kinesis")
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


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(stack: Stack) -> None:
    # Given the AWS-managed SNS key does not let CloudWatch publish
    children = stack.graph.children_of("platform-alarm-topic")

    # When the alarm topic and its key are declared
    key = only(children, KMS_KEY)
    topic = only(children, TOPIC)
    statements = _statements(document(key, "policy"))

    # Then the topic uses its own rotating key, whose policy lets cloudwatch.amazonaws.com (from this
    # account) decrypt and generate data keys
    assert topic.inputs["name"] == f"{stack.prefix}-alarms"
    assert re.fullmatch(
        rf"{re.escape(stack.arn('kms', 'key/'))}[0-9a-f-]{{36}}", topic.inputs["kmsMasterKeyId"]
    )
    assert key.name in topic.options["dependencies"]
    assert key.inputs["enableKeyRotation"] is True
    cloudwatch = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch == [
        {
            "Sid": "CloudWatchPublishes",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": stack.config.account_id}},
        }
    ]


def test_alarm_topic_subscriptions_are_the_configured_ones(stack: Stack) -> None:
    # Given the stack's alarm subscribers
    configured = [(s.protocol, s.endpoint) for s in stack.config.platform.alarm_topic.subscriptions]

    # When the subscriptions are declared
    subscriptions = of_type(stack.graph.children_of("platform-alarm-topic"), TOPIC_SUBSCRIPTION)

    # Then there is one per subscriber, on the alarm topic
    assert [(s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions] == configured
    assert {s.inputs["topic"] for s in subscriptions} <= {stack.graph.outputs["alarm_topic_arn"]}


def test_prod1_pages_on_call_by_email_and_pagerduty() -> None:
    # Given prod1's two subscribers
    # When the stack is synthesized
    subscriptions = _up("prod1").graph.of_type(TOPIC_SUBSCRIPTION)

    # Then both are subscribed
    assert [s.inputs["protocol"] for s in subscriptions] == ["email", "https"]
    assert subscriptions[0].inputs["endpoint"] == "dmnd-oncall@example.com"


def test_secrets_are_declared_without_values(stack: Stack) -> None:
    # Given vendor credentials are set outside the program
    # When the platform is declared
    secrets = stack.graph.of_type(SECRET)

    # Then four secrets exist, none carries a value, and no secret version is declared anywhere
    assert sorted(secret.inputs["name"] for secret in secrets) == sorted(
        f"{stack.prefix}/{name}" for name in ("sms-service", "bitly", "discovery", "accounts")
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

    # Then it is named for the stack and charts the invocations of all eight functions
    assert dashboard.inputs["dashboardName"] == f"{stack.prefix}-fleet"
    assert shown == {stack.function_name(spec) for spec in CATALOG}


# --------------------------------------------------------------------------------------------------
# IAM
# --------------------------------------------------------------------------------------------------


def test_no_role_policy_uses_wildcard_actions_or_unscoped_resources(stack: Stack) -> None:
    # Given every inline role policy of the stack
    policies = stack.graph.of_type(ROLE_POLICY)
    assert len(policies) >= len(CATALOG)

    # When their statements are parsed
    grants = {
        (policy.name, action, resource)
        for policy in policies
        for action, resource in _grants(document(policy, "policy"))
    }

    # Then no action has a wildcard, and `*` resources appear only where AWS allows no scoping
    assert {grant for grant in grants if "*" in grant[1]} == set()
    assert {
        grant for grant in grants if grant[2] == "*" and grant[1] not in WILDCARD_RESOURCE_ACTIONS
    } == set()


def _expected_worker_grants(stack: Stack, spec: WorkerSpec) -> set[tuple[str, str]]:
    """What the worker's role may do, from its catalog source and Access, named by convention."""
    grants = {(action, f"{stack.log_group_arn(spec)}:*") for action in LOG_ACTIONS}
    source = spec.source
    if isinstance(source, StreamSource):
        grants |= {(action, stack.source_stream_arn(spec)) for action in STREAM_READ_ACTIONS}
        grants.add(("sqs:SendMessage", stack.queue_arn(f"{stack.function_name(spec)}-on-failure")))
    if isinstance(source, QueueSource):
        queue_arn = stack.queue_arn(stack.work_queue_name(source.queue))
        grants |= {(action, queue_arn) for action in QUEUE_CONSUME_ACTIONS}
    table_resources = [
        stack.table_arn(),
        *(f"{stack.table_arn()}/index/{i}" for i in ("sales", "demand-by-sale")),
    ]
    variables = stack.environment_variables(spec)
    vendors = stack.config.vendors
    role_arns = {Access.SMS_SERVICE: vendors.sms_service_role_arn, Access.ACCOUNTS: vendors.accounts_role_arn}
    for access in spec.access:
        if access is Access.TABLE_READ:
            grants |= {(action, resource) for action in TABLE_READ_ACTIONS for resource in table_resources}
        elif access is Access.TABLE_WRITE:
            grants |= {(action, stack.table_arn()) for action in TABLE_WRITE_ACTIONS}
        elif access is Access.SHORT_URL_QUEUE_SEND:
            grants.add(("sqs:SendMessage", stack.queue_arn(stack.work_queue_name("short_url"))))
        elif access is Access.GENERATION_QUEUE_SEND:
            grants.add(("sqs:SendMessage", stack.queue_arn(stack.work_queue_name("generation"))))
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


def test_worker_role_grants_exactly_what_its_catalog_access_implies(stack: Stack) -> None:
    # Given each worker's source and declared Access
    expected = _fleet(lambda spec: _expected_worker_grants(stack, spec))

    # When the role policies are parsed
    policies = _fleet(lambda spec: stack.child(spec, "policy"))
    granted = _fleet(lambda spec: _grants(document(policies[spec.name], "policy")))

    # Then each grants exactly those (action, resource) pairs: nothing missing, nothing extra
    assert _fleet(lambda spec: policies[spec.name].inputs["role"]) == _fleet(stack.function_name)
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
        statements = _statements(document(stack.child(spec, "policy"), "policy"))
        return [
            s.get("Condition") for s in statements if any(a.startswith("ses:") for a in _listed(s["Action"]))
        ]

    # Then only email workers have one, and it is conditioned on the configured From address
    assert _fleet(ses_conditions) == _fleet(lambda spec: [condition] if Access.EMAIL in spec.access else [])


def test_demand_stream_to_sqs_grants_spot_check() -> None:
    # Given prod1's stream forwarder, which only reads the table stream and sends to the short-url queue
    prod1 = _up("prod1")
    policy = document(prod1.child(SPECS["demand_stream_to_sqs"], "policy"), "policy")
    account = "arn:aws:{}:us-east-1:210987654321:{}"

    # When its grants are listed
    granted = _grants(policy)

    # Then they are, literally: logs on its own group, kinesis read on the table stream, SendMessage on
    # the short-url queue and its own on-failure queue, the VPC interface actions, and no DynamoDB
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
    assert {action.split(":")[0] for action, _ in granted} == {"logs", "kinesis", "sqs", "ec2"}
    assert not any(action.startswith("dynamodb:") for action, _ in granted)


def test_table_readers_may_query_the_indexes(stack: Stack) -> None:
    # Given the workers that read the table
    readers = [spec for spec in CATALOG if Access.TABLE_READ in spec.access]
    assert len(readers) >= 5

    # When their Query grants are listed
    queried = {
        spec.name: {
            r for a, r in _grants(document(stack.child(spec, "policy"), "policy")) if a == "dynamodb:Query"
        }
        for spec in readers
    }

    # Then each may query the table and both GSIs
    expected = {
        stack.table_arn(),
        f"{stack.table_arn()}/index/sales",
        f"{stack.table_arn()}/index/demand-by-sale",
    }
    assert {name: resources for name, resources in queried.items() if resources != expected} == {}


def test_function_role_is_trusted_by_lambda_only(stack: Stack) -> None:
    # Given each worker's execution role
    # When its trust policy is parsed
    declared = _fleet(
        lambda spec: (
            stack.child(spec, "role").inputs["name"],
            _statements(document(stack.child(spec, "role"), "assumeRolePolicy")),
        )
    )

    # Then only the Lambda service may assume it
    lambda_only = [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert declared == _fleet(lambda spec: (stack.function_name(spec), lambda_only))


def test_log_delivery_role_is_trusted_for_the_workers_own_log_group_only(stack: Stack) -> None:
    # Given each streaming worker's log-delivery role (confused-deputy protection)
    destination = stack.config.platform.central_log_stream_arn

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
            "grants": {("kinesis:PutRecord", destination), ("kinesis:PutRecords", destination)},
        }

    # When its trust and permission policies are parsed
    def declared(spec: WorkerSpec) -> dict[str, Any] | None:
        names = {child.name for child in stack.children(spec)}
        if f"{spec.name}-log-delivery-role" not in names:
            assert f"{spec.name}-log-delivery-policy" not in names
            return None
        return {
            "trust": _statements(document(stack.child(spec, "log-delivery-role"), "assumeRolePolicy")),
            "grants": _grants(document(stack.child(spec, "log-delivery-policy"), "policy")),
        }

    # Then CloudWatch Logs may assume it only for this worker's log group, to write to the central stream
    assert _fleet(declared) == _fleet(expected)


# --------------------------------------------------------------------------------------------------
# Tags and names
# --------------------------------------------------------------------------------------------------


def _resource_class(token: str) -> type[pulumi.CustomResource]:
    """The pulumi_aws class of a type token, found through the module path in the token."""
    _, module_path, class_name = token.split(":")
    module = module_path.split("/")[0]
    python_module = f"{module}_" if keyword.iskeyword(module) else module
    cls: type[pulumi.CustomResource] = getattr(
        importlib.import_module(f"pulumi_aws.{python_module}"), class_name
    )
    assert pulumi.get_type_token(cls) == token, f"{cls} is not {token}"
    return cls


def _accepts_tags(token: str) -> bool:
    initializer = _resource_class(token)._internal_init  # type: ignore[attr-defined]
    return "tags" in inspect.signature(initializer).parameters


def test_tag_introspection_tells_taggable_from_untaggable_classes() -> None:
    # Given classes known to accept tags and classes known not to
    # When the introspection is asked
    # Then it answers correctly, so the tag test below is not vacuous
    assert (
        _accepts_tags(FUNCTION) and _accepts_tags(QUEUE) and _accepts_tags(KMS_KEY) and _accepts_tags(ALARM)
    )
    assert not _accepts_tags(LAYER) and not _accepts_tags(DASHBOARD) and not _accepts_tags(ROLE_POLICY)


def test_every_taggable_resource_carries_the_standard_tags(stack: Stack) -> None:
    # Given the owner of each custom resource (a worker's inventory code, else the platform's)
    codes = {spec.name: spec.inventory_code for spec in CATALOG}
    owners = {resource.name: resource.parent for resource in stack.graph.resources}

    def owner_code(resource: RecordedResource) -> str:
        parent = resource.parent
        while parent is not None and parent not in codes:
            parent = owners[parent]
        return codes.get(parent or "", "dmnd")

    # When every resource whose class accepts tags is checked
    taggable = [r for r in stack.graph.resources if r.custom and _accepts_tags(r.type_)]
    problems = {
        r.name: r.inputs.get("tags")
        for r in taggable
        if {key: (r.inputs.get("tags") or {}).get(key) for key in REQUIRED_TAG_KEYS}
        != stack.tags(owner_code(r))
    }

    # Then each carries ProductCode, Environment, InventoryCode, ProductName and Repository
    assert len(taggable) > 100
    assert problems == {}


NAME_LIMITS = {
    # type -> (input holding the AWS name, the longest name AWS accepts)
    FUNCTION: ("name", 64),
    ROLE: ("name", 64),
    EVENT_RULE: ("name", 64),
    QUEUE: ("name", 80),
    STREAM: ("name", 128),
    TABLE: ("name", 255),
    ALARM: ("name", 255),
    LOG_GROUP: ("name", 512),
}


def test_every_name_fits_its_aws_limit(stack: Stack) -> None:
    # Given AWS's name-length limits (which mocks never enforce)
    # When every named resource is checked
    too_long = {
        resource.name: resource.inputs[key]
        for resource in stack.graph.resources
        if resource.type_ in NAME_LIMITS
        for key, limit in [NAME_LIMITS[resource.type_]]
        if len(resource.inputs[key]) > limit
    }

    # Then none is too long
    assert too_long == {}
