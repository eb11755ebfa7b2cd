"""Lambda layers, functions (with placeholder code), aliases, event source mappings and permissions."""

from __future__ import annotations

import io
import zipfile
from typing import Any, Final

from botocore.exceptions import ClientError

from sandbox.materialize.api_shapes import compact, same_named
from sandbox.materialize.results import Kind
from sandbox.materialize.step import EmulatorUnsupportedError, Step

UNREGISTERED_MAPPING: Final = (
    "left to the sandbox's pollers (Materialized.event_source_mappings): with a mapping registered, a stock "
    "moto invokes the function through Docker on every PutRecord to the stream (failing without Docker) and "
    "consumes the queue's messages itself (the sandbox's emulator process does not: see "
    "sandbox.emulator_server)"
)
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)


def placeholder_archive(handler: str | None = None) -> bytes:
    """A tiny, deterministic zip whose module answers `handler` (moto stores code, never runs it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        module, _, function = (handler or "index.handler").rpartition(".")
        entry = zipfile.ZipInfo(f"{module.replace('.', '/')}.py", _ZIP_EPOCH)
        body = f'def {function}(event, context):\n    return {{"sandbox": "placeholder"}}\n'
        archive.writestr(entry, body)
    return buffer.getvalue()


def create_layer(step: Step) -> dict[str, str]:
    """A layer version holding a placeholder archive."""
    inputs = step.inputs
    layer = step.client("lambda").publish_layer_version(
        **compact(
            LayerName=step.physical_name("layerName"),
            Content={"ZipFile": placeholder_archive()},
            **same_named(inputs, "description", "compatibleRuntimes", "compatibleArchitectures"),
        )
    )
    step.record(Kind.LAYER, step.physical_name("layerName"), layer["LayerVersionArn"])
    return {
        "id": layer["LayerVersionArn"],
        "arn": layer["LayerVersionArn"],
        "layerArn": layer["LayerArn"],
        "version": str(layer["Version"]),
    }


def create_function(step: Step) -> dict[str, str]:
    """A function with the graph's settings and placeholder code, read back and verified."""
    inputs, lambda_ = step.inputs, step.client("lambda")
    name = step.physical_name()
    logging = inputs.get("loggingConfig") or {}
    vpc = inputs.get("vpcConfig") or {}
    request = compact(
        FunctionName=name,
        Runtime=inputs.get("runtime"),
        Role=inputs["role"],
        **same_named(inputs, "handler", "description", "timeout", "memorySize", "architectures"),
        Environment={"Variables": inputs["environment"].get("variables", {})}
        if "environment" in inputs
        else None,
        Layers=inputs.get("layers"),
        LoggingConfig=same_named(logging, "logFormat", "applicationLogLevel", "systemLogLevel", "logGroup")
        or None,
        TracingConfig={"Mode": inputs["tracingConfig"]["mode"]} if "tracingConfig" in inputs else None,
        VpcConfig=same_named(vpc, "subnetIds", "securityGroupIds") or None,
        EphemeralStorage={"Size": inputs["ephemeralStorage"]["size"]}
        if "ephemeralStorage" in inputs
        else None,
        DeadLetterConfig={"TargetArn": inputs["deadLetterConfig"]["targetArn"]}
        if "deadLetterConfig" in inputs
        else None,
        KMSKeyArn=inputs.get("kmsKeyArn"),
        Publish=bool(inputs.get("publish", False)),
        Tags=inputs.get("tags"),
    )
    created = lambda_.create_function(Code={"ZipFile": placeholder_archive(inputs.get("handler"))}, **request)
    reserved = inputs.get("reservedConcurrentExecutions", -1)
    if reserved is not None and reserved >= 0:
        lambda_.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    stored = lambda_.get_function_configuration(FunctionName=name)
    stored["Layers"] = [layer["Arn"] for layer in stored.get("Layers", [])]
    step.verify({key: value for key, value in request.items() if key not in ("Publish", "Tags")}, stored)
    arn, version = created["FunctionArn"], created["Version"]
    step.run.published_versions[name] = version
    step.record(Kind.FUNCTION, name, arn)
    return {"id": name, "arn": arn, "qualifiedArn": f"{arn}:{version}", "version": version}


def create_alias(step: Step) -> dict[str, str]:
    """An alias on the version the emulator published for the function."""
    inputs = step.inputs
    function = inputs["functionName"]
    # The graph holds the mock's version ("1"); the alias must point at what the emulator published.
    version = step.run.published_versions.get(function, inputs["functionVersion"])
    alias = step.client("lambda").create_alias(
        **compact(
            FunctionName=function,
            Name=step.physical_name(),
            FunctionVersion=version,
            **same_named(inputs, "description"),
        )
    )
    step.record(Kind.ALIAS, f"{function}:{step.physical_name()}", alias["AliasArn"])
    return {"id": alias["AliasArn"], "arn": alias["AliasArn"]}


def create_event_source_mapping(step: Step) -> dict[str, str]:
    """A mapping kept (resolved) for the sandbox's pollers, and registered in the emulator when asked."""
    inputs, lambda_ = step.inputs, step.client("lambda")
    destination = ((inputs.get("destinationConfig") or {}).get("onFailure") or {}).get("destinationArn")
    filters = (inputs.get("filterCriteria") or {}).get("filters")
    request = compact(
        FunctionName=inputs["functionName"],
        EventSourceArn=step.require_in_stack(inputs["eventSourceArn"], "event source"),
        Enabled=inputs.get("enabled", True),
        **same_named(
            inputs,
            "batchSize",
            "maximumBatchingWindowInSeconds",
            "parallelizationFactor",
            "startingPosition",
            "maximumRetryAttempts",
            "maximumRecordAgeInSeconds",
            "bisectBatchOnFunctionError",
            "tumblingWindowInSeconds",
            "functionResponseTypes",
        ),
        FilterCriteria={"Filters": [{"Pattern": item["pattern"]} for item in filters]} if filters else None,
        DestinationConfig={"OnFailure": {"Destination": destination}} if destination else None,
        ScalingConfig={"MaximumConcurrency": inputs["scalingConfig"]["maximumConcurrency"]}
        if (inputs.get("scalingConfig") or {}).get("maximumConcurrency")
        else None,
        MetricsConfig={"Metrics": inputs["metricsConfig"]["metrics"]}
        if inputs.get("metricsConfig")
        else None,
        Tags=inputs.get("tags"),
    )
    step.run.result.event_source_mappings[step.resource.name] = request
    if not step.run.register_event_source_mappings:
        raise EmulatorUnsupportedError(UNREGISTERED_MAPPING)
    mapping = lambda_.create_event_source_mapping(**request)
    stored = lambda_.get_event_source_mapping(UUID=mapping["UUID"])
    stored["FunctionName"] = stored.get("FunctionArn")
    stored["Enabled"] = {"Enabled": True, "Enabling": True, "Disabled": False}.get(stored.get("State", ""))
    if "Tags" in request:
        stored["Tags"] = _mapping_tags(lambda_, stored.get("EventSourceMappingArn"))
    step.verify(request, stored)
    arn = stored.get("EventSourceMappingArn") or step.run.references.mock_outputs(step.resource)["arn"]
    step.record(Kind.EVENT_SOURCE_MAPPING, step.resource.name, mapping["UUID"])
    return {"id": mapping["UUID"], "uuid": mapping["UUID"], "arn": arn}


def _mapping_tags(lambda_: Any, arn: str | None) -> dict[str, str] | None:
    if arn is None:
        return None
    try:
        tags: dict[str, str] = lambda_.list_tags(Resource=arn).get("Tags") or {}
    except ClientError:
        return None
    return tags or None


def create_permission(step: Step) -> dict[str, str]:
    """A resource-policy statement allowing a principal to invoke a function."""
    inputs = step.inputs
    statement_id = inputs.get("statementId") or step.resource.name
    step.client("lambda").add_permission(
        **compact(
            FunctionName=inputs["function"],
            StatementId=statement_id,
            Action=inputs["action"],
            Principal=inputs["principal"],
            **same_named(inputs, "sourceArn", "sourceAccount", "qualifier"),
        )
    )
    step.record(Kind.PERMISSION, statement_id, inputs["function"])
    return {"id": statement_id}
