"""DynamoDB tables (with the change stream the CDC tailer reads) and their Kinesis streaming destinations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sandbox.materialize.api_shapes import arn_name, compact, same_named, tag_list
from sandbox.materialize.results import CdcRoute, Kind
from sandbox.materialize.step import EmulatorUnsupportedError, Step, call_or_unsupported

CDC_STREAM_VIEW: Final = "NEW_AND_OLD_IMAGES"
KINESIS_DESTINATION_TYPE: Final = "aws:dynamodb/kinesisStreamingDestination:KinesisStreamingDestination"


def table_request(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """CreateTable's arguments for an `aws.dynamodb.Table`'s inputs, but its name and stream."""
    sse = inputs.get("serverSideEncryption") or {}
    return compact(
        AttributeDefinitions=[
            {"AttributeName": item["name"], "AttributeType": item["type"]} for item in inputs["attributes"]
        ],
        KeySchema=_key_schema(inputs),
        BillingMode=inputs.get("billingMode", "PROVISIONED"),
        ProvisionedThroughput=_throughput(inputs),
        GlobalSecondaryIndexes=[
            _global_index(index, inputs) for index in inputs.get("globalSecondaryIndexes", [])
        ]
        or None,
        LocalSecondaryIndexes=[
            _local_index(index, inputs) for index in inputs.get("localSecondaryIndexes", [])
        ]
        or None,
        SSESpecification=compact(Enabled=sse.get("enabled"), KMSMasterKeyId=sse.get("kmsKeyArn")) or None,
        **same_named(inputs, "deletionProtectionEnabled", "tableClass"),
        Tags=tag_list(inputs.get("tags")) or None,
    )


def time_to_live(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """UpdateTimeToLive's specification for the table's `ttl` input, when TTL is on."""
    ttl = inputs.get("ttl") or {}
    return {"Enabled": True, "AttributeName": ttl["attributeName"]} if ttl.get("enabled") else None


def create_table(step: Step) -> dict[str, str]:
    """A table with its indexes, TTL, point-in-time recovery and stream, read back and verified."""
    inputs, ddb = step.inputs, step.client("dynamodb")
    name = step.physical_name()
    request = compact(TableName=name, StreamSpecification=_table_stream(step), **table_request(inputs))
    table = ddb.create_table(**request)["TableDescription"]
    ttl = time_to_live(inputs)
    if ttl is not None:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    recovery = (inputs.get("pointInTimeRecovery") or {}).get("enabled")
    if recovery:
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    described = _verify_table(step, request)
    arn = table["TableArn"]
    step.record(Kind.TABLE, name, arn)
    outputs = {"id": name, "arn": arn}
    stream_arn = described.get("LatestStreamArn")
    if stream_arn:
        step.record(Kind.TABLE_STREAM, name, stream_arn)
        step.run.table_streams[name] = stream_arn
        outputs["streamArn"] = stream_arn
    return outputs


def create_kinesis_destination(step: Step) -> dict[str, str]:
    """A table → Kinesis streaming destination; where the emulator lacks them, a CDC route instead."""
    inputs, ddb = step.inputs, step.client("dynamodb")
    table, stream_arn = inputs["tableName"], inputs["streamArn"]
    request = compact(
        TableName=table,
        StreamArn=stream_arn,
        EnableKinesisStreamingConfiguration=same_named(inputs, "approximateCreationDateTimePrecision")
        or None,
    )
    try:
        call_or_unsupported(ddb.enable_kinesis_streaming_destination, **request)
    except EmulatorUnsupportedError as error:
        table_stream = step.run.table_streams.get(table)
        if table_stream is None:
            raise
        step.run.result.cdc_routes.append(CdcRoute(table, table_stream, stream_arn))
        raise EmulatorUnsupportedError(
            f"{error}; the table's DynamoDB stream ({CDC_STREAM_VIEW}) is enabled instead, for a CDC tailer "
            f"to copy into {arn_name(stream_arn)} (see Materialized.cdc_routes)"
        ) from None
    step.record(Kind.KINESIS_DESTINATION, table, stream_arn)
    return {"id": f"{table},{stream_arn}"}


def _verify_table(step: Step, request: Mapping[str, Any]) -> dict[str, Any]:
    """Read the table back (with TTL and backups) and report what the emulator did not keep."""
    ddb, name, inputs = step.client("dynamodb"), request["TableName"], step.inputs
    described: dict[str, Any] = ddb.describe_table(TableName=name)["Table"]
    compared = (
        "AttributeDefinitions",
        "KeySchema",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "StreamSpecification",
        "DeletionProtectionEnabled",
        "BillingMode",
    )
    sent: dict[str, Any] = {key: request[key] for key in compared if key in request}
    stored = {**described, "BillingMode": (described.get("BillingModeSummary") or {}).get("BillingMode")}
    if "SSESpecification" in request:
        sent["SSEEnabled"] = request["SSESpecification"].get("Enabled", False)
        stored["SSEEnabled"] = (described.get("SSEDescription") or {}).get("Status") == "ENABLED"
    ttl = inputs.get("ttl") or {}
    if ttl.get("enabled"):
        sent["TimeToLive"] = {"AttributeName": ttl["attributeName"], "TimeToLiveStatus": "ENABLED"}
        stored["TimeToLive"] = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
        backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        sent["PointInTimeRecoveryStatus"] = "ENABLED"
        stored["PointInTimeRecoveryStatus"] = (backups.get("PointInTimeRecoveryDescription") or {}).get(
            "PointInTimeRecoveryStatus"
        )
    step.verify(sent, stored)
    return described


def _key_schema(spec: Mapping[str, Any]) -> list[dict[str, str]]:
    if "keySchemas" in spec:
        return [
            {"AttributeName": key["attributeName"], "KeyType": key["keyType"]} for key in spec["keySchemas"]
        ]
    schema = [{"AttributeName": spec["hashKey"], "KeyType": "HASH"}]
    if spec.get("rangeKey"):
        schema.append({"AttributeName": spec["rangeKey"], "KeyType": "RANGE"})
    return schema


def _throughput(spec: Mapping[str, Any]) -> dict[str, int] | None:
    if "readCapacity" not in spec and "writeCapacity" not in spec:
        return None
    return {
        "ReadCapacityUnits": spec.get("readCapacity", 1),
        "WriteCapacityUnits": spec.get("writeCapacity", 1),
    }


def _projection(spec: Mapping[str, Any]) -> dict[str, Any]:
    return compact(
        ProjectionType=spec.get("projectionType", "ALL"), NonKeyAttributes=spec.get("nonKeyAttributes")
    )


def _global_index(index: Mapping[str, Any], table: Mapping[str, Any]) -> dict[str, Any]:
    provisioned = table.get("billingMode", "PROVISIONED") == "PROVISIONED"
    return compact(
        IndexName=index["name"],
        KeySchema=_key_schema(index),
        Projection=_projection(index),
        ProvisionedThroughput=_throughput(index) if provisioned else None,
    )


def _local_index(index: Mapping[str, Any], table: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "IndexName": index["name"],
        "KeySchema": _key_schema({"hashKey": table["hashKey"], "rangeKey": index["rangeKey"]}),
        "Projection": _projection(index),
    }


def _table_stream(step: Step) -> dict[str, Any] | None:
    """NEW_AND_OLD_IMAGES when a Kinesis destination reads the table, else the table's own setting."""
    # The destination's records always carry both images, whatever the table's own stream shows.
    name = step.physical_name()
    destinations = step.run.graph.of_type(KINESIS_DESTINATION_TYPE)
    if any(step.run.references.resolve(item.inputs.get("tableName")) == name for item in destinations):
        return {"StreamEnabled": True, "StreamViewType": CDC_STREAM_VIEW}
    if step.inputs.get("streamEnabled"):
        return {"StreamEnabled": True, "StreamViewType": step.inputs.get("streamViewType", CDC_STREAM_VIEW)}
    return None
