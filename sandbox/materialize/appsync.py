"""AppSync GraphQL APIs (with their schema), data sources and resolvers; moto 5.2 lacks the last two."""

from __future__ import annotations

import time
from typing import Any, Final

from sandbox.materialize.api_shapes import compact
from sandbox.materialize.results import Kind, MaterializeError
from sandbox.materialize.step import Step, call_or_unsupported

_SCHEMA_POLL_SECONDS: Final = 0.05
_SCHEMA_POLL_ATTEMPTS: Final = 100


def create_graphql_api(step: Step) -> dict[str, str]:
    """An API with its log configuration, tags and schema."""
    inputs, appsync = step.inputs, step.client("appsync")
    log = inputs.get("logConfig") or {}
    api = call_or_unsupported(
        appsync.create_graphql_api,
        **compact(
            name=step.physical_name(),
            authenticationType=inputs["authenticationType"],
            logConfig=compact(
                cloudWatchLogsRoleArn=log.get("cloudwatchLogsRoleArn"),
                fieldLogLevel=log.get("fieldLogLevel"),
                excludeVerboseContent=log.get("excludeVerboseContent"),
            )
            or None,
            xrayEnabled=inputs.get("xrayEnabled"),
            tags=inputs.get("tags"),
        ),
    )["graphqlApi"]
    if inputs.get("schema"):
        _create_schema(appsync, api["apiId"], inputs["schema"])
    step.record(Kind.GRAPHQL_API, step.physical_name(), api["arn"])
    uris = api.get("uris") or {}
    return {"id": api["apiId"], "arn": api["arn"], **{f"uris.{key}": value for key, value in uris.items()}}


def create_data_source(step: Step) -> dict[str, str]:
    """A data source of an API (a Lambda function, as the program declares them)."""
    inputs = step.inputs
    lambda_config = inputs.get("lambdaConfig") or {}
    source = call_or_unsupported(
        step.client("appsync").create_data_source,
        **compact(
            apiId=inputs["apiId"],
            name=step.physical_name(),
            type=inputs["type"],
            serviceRoleArn=inputs.get("serviceRoleArn"),
            lambdaConfig={"lambdaFunctionArn": lambda_config["functionArn"]} if lambda_config else None,
        ),
    )["dataSource"]
    step.record(Kind.GRAPHQL_DATA_SOURCE, step.physical_name(), source["dataSourceArn"])
    return {"id": f"{inputs['apiId']}-{inputs['name']}", "arn": source["dataSourceArn"]}


def create_resolver(step: Step) -> dict[str, str]:
    """A resolver of one field of an API on a data source."""
    inputs = step.inputs
    resolver = call_or_unsupported(
        step.client("appsync").create_resolver,
        **compact(
            apiId=inputs["apiId"],
            typeName=inputs["type"],
            fieldName=inputs["field"],
            dataSourceName=inputs.get("dataSource"),
            kind=inputs.get("kind"),
        ),
    )["resolver"]
    step.record(Kind.GRAPHQL_RESOLVER, f"{inputs['type']}.{inputs['field']}", resolver["resolverArn"])
    return {"id": f"{inputs['apiId']}-{inputs['type']}-{inputs['field']}", "arn": resolver["resolverArn"]}


def _create_schema(appsync: Any, api_id: str, schema: str) -> None:
    appsync.start_schema_creation(apiId=api_id, definition=schema.encode())
    for _ in range(_SCHEMA_POLL_ATTEMPTS):
        status = appsync.get_schema_creation_status(apiId=api_id)
        if status["status"] in ("SUCCESS", "ACTIVE"):
            return
        if status["status"] == "FAILED":
            raise MaterializeError(f"AppSync schema rejected: {status.get('details')}")
        time.sleep(_SCHEMA_POLL_SECONDS)
    raise MaterializeError("AppSync schema creation did not finish")
