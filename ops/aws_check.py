"""The post-deploy resource check: what AWS holds, compared with what the program declares.

Three layers: `compare_*` functions are pure (graph inputs and AWS API answers as plain dicts in,
findings out); `DeployedState` is the only place that reads AWS; `check_stack` walks the graph with
one table entry per resource type. Environment variables are compared by key only: values may hold
ARNs of secrets and never appear in a finding.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from botocore.exceptions import ClientError

from aws_clients import AwsClients
from infra.synth import RecordedResource, ResourceGraph

LIVE_ALIAS: Final = "live"
NOT_REPORTED: Final = "not reported by the endpoint"
_ENABLED_STATES: Final = frozenset({"Enabled", "Enabling", "Creating", "Updating"})
_NOT_FOUND_CODES: Final = frozenset(
    {
        "ResourceNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "ResourceNotFound",
    }
)
_ALARM_BATCH: Final = 100


class Status(StrEnum):
    """The outcome of one check."""

    OK = "OK"
    MISSING = "MISSING"
    DRIFT = "DRIFT"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class Finding:
    """One check of one deployed resource, with what the program expects and what AWS holds."""

    kind: str
    resource: str
    check: str
    status: Status
    expected: str = ""
    actual: str = ""

    @property
    def failed(self) -> bool:
        """MISSING and DRIFT fail the check; SKIPPED (a field the endpoint does not report) does not."""
        return self.status in (Status.MISSING, Status.DRIFT)


class AwsReadError(Exception):
    """AWS refused a read (permissions, throttling, bad endpoint), so the check cannot conclude."""


# --------------------------------------------------------------------------------------------------
# Pure comparisons
# --------------------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_show(item) for item in value) or "none"
    return str(value)


def _exists(kind: str, resource: str, deployed: object) -> Finding:
    if deployed is None:
        return Finding(kind, resource, "exists", Status.MISSING, "present", "absent")
    return Finding(kind, resource, "exists", Status.OK, "present", "present")


def _field(kind: str, resource: str, check: str, expected: Any, actual: Any) -> Finding:
    status = Status.OK if expected == actual else Status.DRIFT
    return Finding(kind, resource, check, status, _show(expected), _show(actual))


def _reported_field(
    kind: str, resource: str, check: str, expected: Any, *, deployed: Mapping[str, Any], key: str
) -> Finding:
    """A field AWS always reports: its absence means the endpoint (an emulator) does not store it."""
    if key not in deployed:
        return Finding(kind, resource, check, Status.SKIPPED, _show(expected), NOT_REPORTED)
    return _field(kind, resource, check, expected, deployed[key])


def compare_function(inputs: Mapping[str, Any], deployed: Mapping[str, Any] | None) -> list[Finding]:
    """A function's settings; `deployed` is GetFunctionConfiguration plus `ReservedConcurrentExecutions`."""
    name = inputs["name"]
    findings = [_exists("function", name, deployed)]
    if deployed is None:
        return findings
    for check, key, expected in (
        ("runtime", "Runtime", inputs.get("runtime")),
        ("handler", "Handler", inputs.get("handler")),
        ("memory MB", "MemorySize", inputs.get("memorySize", 128)),
        ("timeout s", "Timeout", inputs.get("timeout", 3)),
        ("architectures", "Architectures", list(inputs.get("architectures") or ["x86_64"])),
    ):
        findings.append(_reported_field("function", name, check, expected, deployed=deployed, key=key))
    reserved = inputs.get("reservedConcurrentExecutions", -1)
    findings.append(
        _field(
            "function",
            name,
            "reserved concurrency",
            "unreserved" if reserved is None or reserved < 0 else reserved,
            deployed.get("ReservedConcurrentExecutions", "unreserved"),
        )
    )
    findings.append(_env_keys(name, inputs, deployed))
    return findings


def _env_keys(name: str, inputs: Mapping[str, Any], deployed: Mapping[str, Any]) -> Finding:
    expected = set(((inputs.get("environment") or {}).get("variables") or {}).keys())
    actual = set(((deployed.get("Environment") or {}).get("Variables") or {}).keys())
    if expected == actual:
        return Finding(
            "function", name, "env keys", Status.OK, f"{len(expected)} keys", f"{len(actual)} keys"
        )
    # Keys only, never values: they may hold secret ARNs.
    return Finding(
        "function",
        name,
        "env keys",
        Status.DRIFT,
        "missing: " + (_show(sorted(expected - actual))),
        "unexpected: " + (_show(sorted(actual - expected))),
    )


def compare_alias(
    function: str, alias: str, deployed: Mapping[str, Any] | None, published_versions: Iterable[str]
) -> list[Finding]:
    """The alias exists and points at a published version (never $LATEST)."""
    resource = f"{function}:{alias}"
    findings = [_exists("alias", resource, deployed)]
    if deployed is None:
        return findings
    version = deployed.get("FunctionVersion")
    published = {item for item in published_versions if item != "$LATEST"}
    status = Status.OK if version in published else Status.DRIFT
    findings.append(Finding("alias", resource, "points at", status, "a published version", _show(version)))
    return findings


def source_name(arn: str) -> str:
    """The name an event source ARN ends with: a stream, queue or table name."""
    resource = arn.split(":", 5)[-1]
    if resource.startswith("table/"):  # DynamoDB: table/NAME/stream/LABEL
        return resource.split("/")[1]
    return resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _patterns(filters: Iterable[Mapping[str, Any]], key: str) -> list[str]:
    patterns = []
    for item in filters:
        text = item.get(key, "")
        try:
            patterns.append(json.dumps(json.loads(text), sort_keys=True))
        except ValueError:
            patterns.append(text)
    return sorted(patterns)


def compare_event_source_mapping(
    inputs: Mapping[str, Any], on_alias: Sequence[Mapping[str, Any]] | None
) -> list[Finding]:
    """The mapping on the alias from the same source; `on_alias` is None when the alias is missing."""
    function = inputs["functionName"].split(":function:", 1)[-1]
    source = source_name(inputs["eventSourceArn"])
    resource = f"{source} → {function}"
    if on_alias is None:
        return [Finding("event source mapping", resource, "exists", Status.MISSING, "present", "no alias")]
    deployed = next((item for item in on_alias if source_name(item["EventSourceArn"]) == source), None)
    if deployed is None:
        sources = sorted(source_name(item["EventSourceArn"]) for item in on_alias)
        return [
            Finding(
                "event source mapping",
                resource,
                "exists",
                Status.MISSING,
                f"from {source}",
                "on alias: " + _show(sources),
            )
        ]
    kind = "event source mapping"
    state = deployed.get("State", "")
    expected_enabled = bool(inputs.get("enabled", True))
    return [
        _exists(kind, resource, deployed),
        _reported_field(
            kind, resource, "batch size", inputs.get("batchSize"), deployed=deployed, key="BatchSize"
        ),
        Finding(
            kind,
            resource,
            "enabled",
            Status.OK if (state in _ENABLED_STATES) == expected_enabled else Status.DRIFT,
            "Enabled" if expected_enabled else "Disabled",
            state or "none",
        ),
        _field(
            kind,
            resource,
            "function response types",
            sorted(inputs.get("functionResponseTypes") or []),
            sorted(deployed.get("FunctionResponseTypes") or []),
        ),
        _field(
            kind,
            resource,
            "filter patterns",
            _patterns((inputs.get("filterCriteria") or {}).get("filters") or [], "pattern"),
            _patterns((deployed.get("FilterCriteria") or {}).get("Filters") or [], "Pattern"),
        ),
    ]


def compare_log_group(inputs: Mapping[str, Any], deployed: Mapping[str, Any] | None) -> list[Finding]:
    """The log group exists with its retention (absent or 0 = never expire)."""
    name = inputs["name"]
    findings = [_exists("log group", name, deployed)]
    if deployed is not None:
        expected = inputs.get("retentionInDays") or "never expire"
        actual = deployed.get("retentionInDays") or "never expire"
        findings.append(_field("log group", name, "retention days", expected, actual))
    return findings


def compare_alarm(inputs: Mapping[str, Any], deployed: Mapping[str, Any] | None) -> list[Finding]:
    """The alarm exists with its threshold."""
    name = inputs["name"]
    findings = [_exists("alarm", name, deployed)]
    if deployed is not None and "threshold" in inputs:
        actual = deployed.get("Threshold")
        findings.append(
            _field(
                "alarm",
                name,
                "threshold",
                float(inputs["threshold"]),
                None if actual is None else float(actual),
            )
        )
    return findings


def _redrive(policy: Any) -> str:
    if not policy:
        return "none"
    parsed = json.loads(policy) if isinstance(policy, str) else policy
    return f"{source_name(parsed['deadLetterTargetArn'])} after {int(parsed['maxReceiveCount'])} receives"


def compare_queue(inputs: Mapping[str, Any], attributes: Mapping[str, Any] | None) -> list[Finding]:
    """The queue exists with its visibility timeout and redrive policy (DLQ, maxReceiveCount)."""
    name = inputs["name"]
    findings = [_exists("queue", name, attributes)]
    if attributes is None:
        return findings
    findings.append(
        _reported_field(
            "queue",
            name,
            "visibility timeout s",
            str(inputs.get("visibilityTimeoutSeconds", 30)),
            deployed=attributes,
            key="VisibilityTimeout",
        )
    )
    findings.append(
        _field(
            "queue",
            name,
            "redrive policy",
            _redrive(inputs.get("redrivePolicy")),
            _redrive(attributes.get("RedrivePolicy")),
        )
    )
    return findings


def compare_table(
    inputs: Mapping[str, Any], deployed: Mapping[str, Any] | None, time_to_live: Mapping[str, Any] | None
) -> list[Finding]:
    """The table exists with its GSIs, TTL attribute and deletion protection."""
    name = inputs["name"]
    findings = [_exists("table", name, deployed)]
    if deployed is None:
        return findings
    findings.append(
        _field(
            "table",
            name,
            "global secondary indexes",
            sorted(index["name"] for index in inputs.get("globalSecondaryIndexes") or []),
            sorted(index["IndexName"] for index in deployed.get("GlobalSecondaryIndexes") or []),
        )
    )
    ttl = inputs.get("ttl") or {}
    live_ttl = time_to_live or {}
    findings.append(
        _field(
            "table",
            name,
            "TTL attribute",
            ttl.get("attributeName") if ttl.get("enabled") else None,
            live_ttl.get("AttributeName")
            if live_ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
            else None,
        )
    )
    findings.append(
        _reported_field(
            "table",
            name,
            "deletion protection",
            bool(inputs.get("deletionProtectionEnabled", False)),
            deployed=deployed,
            key="DeletionProtectionEnabled",
        )
    )
    return findings


def compare_stream(inputs: Mapping[str, Any], summary: Mapping[str, Any] | None) -> list[Finding]:
    """The Kinesis stream exists with its capacity mode, shard count (provisioned) and retention."""
    name = inputs["name"]
    findings = [_exists("stream", name, summary)]
    if summary is None:
        return findings
    mode = (inputs.get("streamModeDetails") or {}).get("streamMode", "PROVISIONED")
    findings.append(
        _field("stream", name, "mode", mode, (summary.get("StreamModeDetails") or {}).get("StreamMode"))
    )
    if mode == "PROVISIONED" and "shardCount" in inputs:
        findings.append(
            _reported_field(
                "stream", name, "open shards", inputs["shardCount"], deployed=summary, key="OpenShardCount"
            )
        )
    findings.append(
        _reported_field(
            "stream",
            name,
            "retention hours",
            inputs.get("retentionPeriod", 24),
            deployed=summary,
            key="RetentionPeriodHours",
        )
    )
    return findings


# --------------------------------------------------------------------------------------------------
# AWS reads
# --------------------------------------------------------------------------------------------------


class DeployedState:
    """Reads deployed resources with cached boto3 clients; `None` means the resource does not exist."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients
        self._alarms: dict[str, dict[str, Any] | None] = {}

    def _read(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            answer: dict[str, Any] = getattr(self._clients.client(service), operation)(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _NOT_FOUND_CODES:
                return None
            raise AwsReadError(f"{service} {operation} {kwargs}: {code}: {error}") from error
        return answer

    def _pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        try:
            paginator = self._clients.client(service).get_paginator(operation)
            return [item for page in paginator.paginate(**kwargs) for item in page.get(key, [])]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _NOT_FOUND_CODES:
                return []
            raise AwsReadError(f"{service} {operation} {kwargs}: {code}: {error}") from error

    def account_id(self) -> str:
        """The account the credentials belong to."""
        answer = self._read("sts", "get_caller_identity")
        return str((answer or {}).get("Account", ""))

    def function(self, name: str) -> dict[str, Any] | None:
        """GetFunctionConfiguration, plus `ReservedConcurrentExecutions` when the function reserves some."""
        configuration = self._read("lambda", "get_function_configuration", FunctionName=name)
        if configuration is None:
            return None
        concurrency = self._read("lambda", "get_function_concurrency", FunctionName=name) or {}
        if "ReservedConcurrentExecutions" in concurrency:
            configuration["ReservedConcurrentExecutions"] = concurrency["ReservedConcurrentExecutions"]
        return configuration

    def alias(self, function: str, name: str) -> dict[str, Any] | None:
        """GetAlias."""
        return self._read("lambda", "get_alias", FunctionName=function, Name=name)

    def published_versions(self, function: str) -> list[str]:
        """Every version of the function (with $LATEST)."""
        versions = self._pages("lambda", "list_versions_by_function", "Versions", FunctionName=function)
        return [str(item["Version"]) for item in versions]

    def event_source_mappings(self, function_arn: str) -> list[dict[str, Any]]:
        """The mappings that invoke exactly this (qualified) function ARN."""
        return self._pages(
            "lambda", "list_event_source_mappings", "EventSourceMappings", FunctionName=function_arn
        )

    def log_group(self, name: str) -> dict[str, Any] | None:
        """The log group with exactly this name."""
        groups = self._pages("logs", "describe_log_groups", "logGroups", logGroupNamePrefix=name)
        return next((group for group in groups if group.get("logGroupName") == name), None)

    def load_alarms(self, names: Sequence[str]) -> None:
        """Read many metric alarms in batches of 100, so `alarm` answers from memory."""
        for start in range(0, len(names), _ALARM_BATCH):
            batch = list(names[start : start + _ALARM_BATCH])
            found = self._pages("cloudwatch", "describe_alarms", "MetricAlarms", AlarmNames=batch)
            by_name = {alarm["AlarmName"]: alarm for alarm in found}
            self._alarms.update({name: by_name.get(name) for name in batch})

    def alarm(self, name: str) -> dict[str, Any] | None:
        """One metric alarm (from `load_alarms` when it covered the name)."""
        if name not in self._alarms:
            self.load_alarms([name])
        return self._alarms[name]

    def queue_attributes(self, name: str) -> dict[str, Any] | None:
        """All attributes of the queue with this name."""
        located = self._read("sqs", "get_queue_url", QueueName=name)
        if located is None:
            return None
        answer = self._read(
            "sqs", "get_queue_attributes", QueueUrl=located["QueueUrl"], AttributeNames=["All"]
        )
        return None if answer is None else dict(answer.get("Attributes", {}))

    def table(self, name: str) -> dict[str, Any] | None:
        """DescribeTable's `Table`."""
        answer = self._read("dynamodb", "describe_table", TableName=name)
        return None if answer is None else dict(answer["Table"])

    def time_to_live(self, name: str) -> dict[str, Any] | None:
        """DescribeTimeToLive's `TimeToLiveDescription`."""
        answer = self._read("dynamodb", "describe_time_to_live", TableName=name)
        return None if answer is None else dict(answer.get("TimeToLiveDescription", {}))

    def stream(self, name: str) -> dict[str, Any] | None:
        """DescribeStreamSummary's `StreamDescriptionSummary`."""
        answer = self._read("kinesis", "describe_stream_summary", StreamName=name)
        return None if answer is None else dict(answer["StreamDescriptionSummary"])


# --------------------------------------------------------------------------------------------------
# The walk: one entry per checked resource type
# --------------------------------------------------------------------------------------------------


def _check_function(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    return compare_function(resource.inputs, state.function(resource.inputs["name"]))


def _check_alias(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    function, name = resource.inputs["functionName"], resource.inputs["name"]
    deployed = state.alias(function, name)
    versions = state.published_versions(function) if deployed is not None else []
    return compare_alias(function, name, deployed, versions)


def _check_event_source_mapping(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    qualified = resource.inputs["functionName"].split(":function:", 1)[-1]
    function, _, qualifier = qualified.partition(":")
    alias = state.alias(function, qualifier or LIVE_ALIAS)
    # Listing by the alias ARN answers exactly the mappings that invoke the alias.
    on_alias = None if alias is None else state.event_source_mappings(alias["AliasArn"])
    return compare_event_source_mapping(resource.inputs, on_alias)


def _check_log_group(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    return compare_log_group(resource.inputs, state.log_group(resource.inputs["name"]))


def _check_alarm(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    return compare_alarm(resource.inputs, state.alarm(resource.inputs["name"]))


def _check_queue(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    return compare_queue(resource.inputs, state.queue_attributes(resource.inputs["name"]))


def _check_table(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    name = resource.inputs["name"]
    deployed = state.table(name)
    return compare_table(
        resource.inputs, deployed, state.time_to_live(name) if deployed is not None else None
    )


def _check_stream(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    return compare_stream(resource.inputs, state.stream(resource.inputs["name"]))


Check = Callable[[DeployedState, RecordedResource], list[Finding]]

CHECKS: Final[Mapping[str, Check]] = {
    "aws:dynamodb/table:Table": _check_table,
    "aws:kinesis/stream:Stream": _check_stream,
    "aws:sqs/queue:Queue": _check_queue,
    "aws:lambda/function:Function": _check_function,
    "aws:lambda/alias:Alias": _check_alias,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _check_event_source_mapping,
    "aws:cloudwatch/logGroup:LogGroup": _check_log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _check_alarm,
}


def checked_resources(graph: ResourceGraph) -> list[RecordedResource]:
    """The graph's resources this check covers, in `CHECKS` order."""
    return [resource for token in CHECKS for resource in graph.of_type(token)]


def unchecked_types(graph: ResourceGraph) -> dict[str, int]:
    """Custom resource types of the graph this check does not cover, with their counts."""
    counts: dict[str, int] = {}
    for resource in graph.resources:
        if resource.custom and resource.type_ not in CHECKS:
            counts[resource.type_] = counts.get(resource.type_, 0) + 1
    return counts


def check_stack(
    graph: ResourceGraph,
    state: DeployedState,
    on_progress: Callable[[RecordedResource], None] | None = None,
) -> list[Finding]:
    """Every finding for the graph's checked resources; `on_progress` is called after each resource."""
    state.load_alarms(
        [alarm.inputs["name"] for alarm in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]
    )
    findings: list[Finding] = []
    for resource in checked_resources(graph):
        findings.extend(CHECKS[resource.type_](state, resource))
        if on_progress is not None:
            on_progress(resource)
    return findings
