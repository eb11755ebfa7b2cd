"""CloudWatch Logs log groups, their subscription filters, and saved Logs Insights queries."""

from __future__ import annotations

from sandbox.materialize.api_shapes import compact, find
from sandbox.materialize.results import Kind
from sandbox.materialize.step import Step, call_or_unsupported


def create_log_group(step: Step) -> dict[str, str]:
    """A log group with its retention, read back and verified."""
    inputs, logs = step.inputs, step.client("logs")
    name = step.physical_name()
    logs.create_log_group(
        **compact(logGroupName=name, kmsKeyId=inputs.get("kmsKeyId"), tags=inputs.get("tags"))
    )
    if inputs.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=inputs["retentionInDays"])
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    stored = find(groups, "logGroupName", name)
    step.verify(compact(retentionInDays=inputs.get("retentionInDays")), stored)
    arn = stored.get("logGroupArn") or stored.get("arn", "").removesuffix(":*")
    step.record(Kind.LOG_GROUP, name, arn)
    return {"id": name, "arn": arn}


def create_subscription_filter(step: Step) -> dict[str, str]:
    """A log subscription filter to a destination of the stack (one outside it is skipped)."""
    inputs, logs = step.inputs, step.client("logs")
    destination = step.require_in_stack(inputs["destinationArn"], "destination")
    request = compact(
        logGroupName=inputs["logGroup"],
        filterName=step.physical_name(),
        filterPattern=inputs.get("filterPattern", ""),
        destinationArn=destination,
        roleArn=inputs.get("roleArn"),
        distribution=inputs.get("distribution"),
    )
    call_or_unsupported(logs.put_subscription_filter, **request)
    filters = logs.describe_subscription_filters(logGroupName=inputs["logGroup"])["subscriptionFilters"]
    stored = find(filters, "filterName", step.physical_name())
    step.verify({key: value for key, value in request.items() if key != "logGroupName"}, stored)
    step.record(Kind.LOG_SUBSCRIPTION, step.physical_name(), inputs["logGroup"])
    return {"id": step.physical_name()}


def create_query_definition(step: Step) -> dict[str, str]:
    """A saved Logs Insights query (moto 5.2 lacks PutQueryDefinition: reported skipped there)."""
    inputs, logs = step.inputs, step.client("logs")
    request = compact(
        name=inputs["name"], queryString=inputs["queryString"], logGroupNames=inputs.get("logGroupNames")
    )
    query_id = str(call_or_unsupported(logs.put_query_definition, **request)["queryDefinitionId"])
    stored = find(
        logs.describe_query_definitions(queryDefinitionNamePrefix=inputs["name"])["queryDefinitions"],
        "queryDefinitionId",
        query_id,
    )
    step.verify(request, stored)
    step.record(Kind.QUERY_DEFINITION, inputs["name"], query_id)
    return {"id": query_id, "queryDefinitionId": query_id}
