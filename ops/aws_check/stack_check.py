"""The walk over a stack's graph: which resources are checked, and how each type is read and compared."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from infra.naming import api_log_group_name
from infra.synth import RecordedResource, ResourceGraph
from ops.aws_check import comparisons
from ops.aws_check.deployed_state import DeployedState
from ops.aws_check.findings import Finding
from ops.operations_records import MaintenanceRecord

LIVE_ALIAS: Final = "live"
ALARM_TYPE: Final = "aws:cloudwatch/metricAlarm:MetricAlarm"
GRAPHQL_API_TYPE: Final = "aws:appsync/graphQLApi:GraphQLApi"


@dataclass(frozen=True)
class CheckContext:
    """What a resource's check reads: the deployed state, and the maintenance window, if one is active."""

    state: DeployedState
    maintenance: MaintenanceRecord | None = None
    graph: ResourceGraph | None = None

    def paused_since(self, resource: RecordedResource) -> datetime | None:
        """When maintenance paused the worker owning this trigger (its parent); None if it did not."""
        record = self.maintenance
        if record is None:
            return None
        paused = {*record.workers, *(rule.worker for rule in record.rules)}
        paused |= {mapping.worker for mapping in record.mappings}
        return record.started_at if resource.parent in paused else None


def _check_function(context: CheckContext, resource: RecordedResource) -> list[Finding]:
    return comparisons.compare_function(resource.inputs, context.state.function(resource.inputs["name"]))


def _check_alias(context: CheckContext, resource: RecordedResource) -> list[Finding]:
    function, name = resource.inputs["functionName"], resource.inputs["name"]
    deployed = context.state.alias(function, name)
    versions = context.state.published_versions(function) if deployed is not None else []
    return comparisons.compare_alias(function, name, deployed, versions)


def _check_event_source_mapping(context: CheckContext, resource: RecordedResource) -> list[Finding]:
    qualified = resource.inputs["functionName"].split(":function:", 1)[-1]
    function, _, qualifier = qualified.partition(":")
    alias = context.state.alias(function, qualifier or LIVE_ALIAS)
    # Listing by the alias ARN answers exactly the mappings that invoke the alias.
    on_alias = None if alias is None else context.state.event_source_mappings(alias["AliasArn"])
    return comparisons.compare_event_source_mapping(
        resource.inputs, on_alias, paused_since=context.paused_since(resource)
    )


def _deployed_log_group_name(context: CheckContext, resource: RecordedResource) -> str:
    """The group's name in AWS: an AppSync API's group is named after the id AWS gave the API."""
    name: str = resource.inputs["name"]
    if context.graph is None or resource.parent is None or not name.startswith(api_log_group_name("")):
        return name
    # The graph holds the synth's invented API id; the API's name finds the deployed one.
    apis = [child for child in context.graph.children_of(resource.parent) if child.type_ == GRAPHQL_API_TYPE]
    api_id = context.state.graphql_api_id(apis[0].inputs["name"]) if len(apis) == 1 else None
    return name if api_id is None else api_log_group_name(api_id)


def _check_log_group(context: CheckContext, resource: RecordedResource) -> list[Finding]:
    name = _deployed_log_group_name(context, resource)
    return comparisons.compare_log_group({**resource.inputs, "name": name}, context.state.log_group(name))


def _check_alarm(context: CheckContext, resource: RecordedResource) -> list[Finding]:
    return comparisons.compare_alarm(resource.inputs, context.state.alarm(resource.inputs["name"]))


def _check_queue(context: CheckContext, resource: RecordedResource) -> list[Finding]:
    return comparisons.compare_queue(resource.inputs, context.state.queue_attributes(resource.inputs["name"]))


def _check_table(context: CheckContext, resource: RecordedResource) -> list[Finding]:
    name = resource.inputs["name"]
    deployed = context.state.table(name)
    if deployed is None:
        return comparisons.compare_table(resource.inputs, None, None)
    return comparisons.compare_table(
        resource.inputs,
        deployed,
        context.state.time_to_live(name),
        context.state.continuous_backups(name),
    )


def _check_rule(context: CheckContext, resource: RecordedResource) -> list[Finding]:
    return comparisons.compare_rule(
        resource.inputs,
        context.state.rule(resource.inputs["name"]),
        paused_since=context.paused_since(resource),
    )


def _check_subscription_filter(context: CheckContext, resource: RecordedResource) -> list[Finding]:
    filters = context.state.subscription_filters(resource.inputs["logGroup"], resource.inputs["name"])
    return comparisons.compare_subscription_filter(resource.inputs, filters)


def _check_stream(context: CheckContext, resource: RecordedResource) -> list[Finding]:
    return comparisons.compare_stream(resource.inputs, context.state.stream(resource.inputs["name"]))


Check = Callable[[CheckContext, RecordedResource], list[Finding]]

CHECKS: Final[Mapping[str, Check]] = {
    "aws:dynamodb/table:Table": _check_table,
    "aws:kinesis/stream:Stream": _check_stream,
    "aws:sqs/queue:Queue": _check_queue,
    "aws:lambda/function:Function": _check_function,
    "aws:lambda/alias:Alias": _check_alias,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _check_event_source_mapping,
    "aws:cloudwatch/logGroup:LogGroup": _check_log_group,
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": _check_subscription_filter,
    "aws:cloudwatch/eventRule:EventRule": _check_rule,
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
    *,
    maintenance: MaintenanceRecord | None = None,
) -> list[Finding]:
    """Every finding for the graph's checked resources; `on_progress` is called after each resource.

    `maintenance`: the stack's active maintenance window; the triggers it paused are SKIPPED.
    """
    state.load_alarms([alarm.inputs["name"] for alarm in graph.of_type(ALARM_TYPE)])
    context = CheckContext(state, maintenance, graph)
    findings: list[Finding] = []
    for resource in checked_resources(graph):
        findings.extend(CHECKS[resource.type_](context, resource))
        if on_progress is not None:
            on_progress(resource)
    return findings


FUNCTION_TYPE: Final = "aws:lambda/function:Function"


def check_account_concurrency(
    graph: ResourceGraph, state: DeployedState, configured_quota: int
) -> list[Finding]:
    """The account's real concurrency quota and unreserved pool against the config and the reservations."""
    functions = graph.of_type(FUNCTION_TYPE)
    declared = {
        str(function.inputs["name"]): int(function.inputs.get("reservedConcurrentExecutions", -1))
        for function in functions
    }
    deployed = {name: state.reserved_concurrency(name) for name in declared}
    return comparisons.compare_account_concurrency(
        configured_quota, declared, deployed, state.account_settings()
    )
