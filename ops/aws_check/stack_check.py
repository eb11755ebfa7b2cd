"""The walk over a stack's graph: which resources are checked, and how each type is read and compared."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from infra.synth import RecordedResource, ResourceGraph
from ops.aws_check import comparisons
from ops.aws_check.deployed_state import DeployedState
from ops.aws_check.findings import Finding

LIVE_ALIAS: Final = "live"
ALARM_TYPE: Final = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _check_function(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    return comparisons.compare_function(resource.inputs, state.function(resource.inputs["name"]))


def _check_alias(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    function, name = resource.inputs["functionName"], resource.inputs["name"]
    deployed = state.alias(function, name)
    versions = state.published_versions(function) if deployed is not None else []
    return comparisons.compare_alias(function, name, deployed, versions)


def _check_event_source_mapping(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    qualified = resource.inputs["functionName"].split(":function:", 1)[-1]
    function, _, qualifier = qualified.partition(":")
    alias = state.alias(function, qualifier or LIVE_ALIAS)
    # Listing by the alias ARN answers exactly the mappings that invoke the alias.
    on_alias = None if alias is None else state.event_source_mappings(alias["AliasArn"])
    return comparisons.compare_event_source_mapping(resource.inputs, on_alias)


def _check_log_group(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    return comparisons.compare_log_group(resource.inputs, state.log_group(resource.inputs["name"]))


def _check_alarm(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    return comparisons.compare_alarm(resource.inputs, state.alarm(resource.inputs["name"]))


def _check_queue(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    return comparisons.compare_queue(resource.inputs, state.queue_attributes(resource.inputs["name"]))


def _check_table(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    name = resource.inputs["name"]
    deployed = state.table(name)
    return comparisons.compare_table(
        resource.inputs, deployed, state.time_to_live(name) if deployed is not None else None
    )


def _check_stream(state: DeployedState, resource: RecordedResource) -> list[Finding]:
    return comparisons.compare_stream(resource.inputs, state.stream(resource.inputs["name"]))


Check = Callable[[DeployedState, RecordedResource], list[Finding]]

CHECKS: Final[Mapping[str, Check]] = {
    "aws:dynamodb/table:Table": _check_table,
    "aws:kinesis/stream:Stream": _check_stream,
    "aws:sqs/queue:Queue": _check_queue,
    "aws:lambda/function:Function": _check_function,
    "aws:lambda/alias:Alias": _check_alias,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _check_event_source_mapping,
    "aws:cloudwatch/logGroup:LogGroup": _check_log_group,
    ALARM_TYPE: _check_alarm,
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
    state.load_alarms([alarm.inputs["name"] for alarm in graph.of_type(ALARM_TYPE)])
    findings: list[Finding] = []
    for resource in checked_resources(graph):
        findings.extend(CHECKS[resource.type_](state, resource))
        if on_progress is not None:
            on_progress(resource)
    return findings
