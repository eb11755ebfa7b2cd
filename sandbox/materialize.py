"""Create a synthesized stack's resources in an AWS emulator (moto), straight from the program's graph.

The sandbox does not hand-write its resources: it runs the real Pulumi program offline
(`infra.offline.synthesize_stack`) and turns every custom resource of the graph into the emulator's
equivalent with boto3, one small function per resource type (`HANDLERS`). Nothing is dropped silently:

* a type without a handler, or an operation the emulator does not implement, becomes a `Skipped`
  entry with the reason (e.g. AppSync data sources and resolvers, which moto 5.2 lacks);
* after creating a resource, its handler reads it back and reports every field the emulator did not
  store as sent as a `DroppedField` (e.g. moto keeps no Lambda `LoggingConfig` nor SQS
  `RedriveAllowPolicy`).

Cross references: the graph's inputs hold the ARNs, URLs and ids the recording mocks invented
(`infra.synth_outputs.OUTPUT_TEMPLATES`). Each handler returns the emulator's real outputs under the same
keys, so every later input is rewritten from mock value to real value, per resource, before use.

CDC: DynamoDB → Kinesis streaming destinations are not implemented by moto. Every table that has one
(or asks for a stream) gets its DynamoDB stream enabled with NEW_AND_OLD_IMAGES instead, and the
destination is reported skipped with a `CdcRoute` (table stream → Kinesis stream) for a tailer that
copies the stream's records into the Kinesis stream, as AWS would.

Event source mappings: moto stores them (with filters), but runs the registered ones itself: without
Docker every PutRecord to a stream with a mapping fails, and a queue's messages are consumed by moto.
A sandbox that runs the workers through its own pollers materializes with
`register_event_source_mappings=False` and reads the resolved requests from
`Materialized.event_source_mappings`.
"""

from __future__ import annotations

import heapq
import io
import json
import re
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from botocore.exceptions import ClientError

from aws_clients import AwsClients
from infra.synth import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    OUTPUT_TEMPLATES,
    UNKNOWN_PLACEHOLDER,
    CloudContext,
    RecordedResource,
    ResourceGraph,
    Secret,
)

PLACEHOLDER_SECRET_VALUE: Final = '{"sandbox": true}'  # noqa: S105 - a visible placeholder
CDC_STREAM_VIEW: Final = "NEW_AND_OLD_IMAGES"
_KINESIS_DESTINATION_TYPE: Final = "aws:dynamodb/kinesisStreamingDestination:KinesisStreamingDestination"
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
UNREGISTERED_MAPPING: Final = (
    "left to the sandbox's pollers (Materialized.event_source_mappings): with a mapping registered, moto "
    "invokes the function through Docker on every PutRecord to the stream (failing without Docker) and "
    "consumes the queue's messages itself"
)
_SCHEMA_POLL_SECONDS: Final = 0.05
_SCHEMA_POLL_ATTEMPTS: Final = 100


class Kind(StrEnum):
    """What a created entry names; `Materialized.of(kind)` maps physical names to ARNs, URLs or ids."""

    TABLE = "table"
    TABLE_STREAM = "table-stream"
    STREAM = "stream"
    KINESIS_DESTINATION = "kinesis-destination"
    QUEUE = "queue"
    QUEUE_URL = "queue-url"
    QUEUE_POLICY = "queue-policy"
    REDRIVE_ALLOW_POLICY = "redrive-allow-policy"
    TOPIC = "topic"
    SUBSCRIPTION = "subscription"
    KMS_KEY = "kms-key"
    SECRET = "secret"  # noqa: S105 - a resource kind
    LOG_GROUP = "log-group"
    LOG_SUBSCRIPTION = "log-subscription"
    ROLE = "role"
    ROLE_POLICY = "role-policy"
    LAYER = "layer"
    FUNCTION = "function"
    ALIAS = "alias"
    EVENT_SOURCE_MAPPING = "event-source-mapping"
    PERMISSION = "permission"
    RULE = "rule"
    RULE_TARGET = "rule-target"
    ALARM = "alarm"
    DASHBOARD = "dashboard"
    EMAIL_TEMPLATE = "email-template"
    GRAPHQL_API = "graphql-api"
    GRAPHQL_DATA_SOURCE = "graphql-data-source"
    GRAPHQL_RESOLVER = "graphql-resolver"


@dataclass(frozen=True)
class Created:
    """One thing the emulator now holds: a resource's physical name and its ARN, URL or id."""

    type_: str
    name: str
    kind: Kind
    key: str
    ref: str


@dataclass(frozen=True)
class Skipped:
    """A graph resource the emulator does not hold, and why."""

    type_: str
    name: str
    reason: str


@dataclass(frozen=True)
class DroppedField:
    """A field sent to the emulator that reads back absent (`stored` None) or different."""

    type_: str
    name: str
    field: str
    sent: Any
    stored: Any


@dataclass(frozen=True)
class CdcRoute:
    """A DynamoDB table whose changes a tailer must copy into a Kinesis stream (moto cannot)."""

    table: str
    table_stream_arn: str
    kinesis_stream_arn: str


@dataclass
class Materialized:
    """What `materialize` created, skipped, and saw dropped."""

    created: list[Created] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    dropped: list[DroppedField] = field(default_factory=list)
    cdc_routes: list[CdcRoute] = field(default_factory=list)
    # Logical name → the resolved CreateEventSourceMapping request, for the sandbox's own pollers.
    event_source_mappings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of(self, kind: Kind) -> dict[str, str]:
        """Physical name → ARN/URL/id for one kind, e.g. `of(Kind.QUEUE_URL)`."""
        return {entry.key: entry.ref for entry in self.created if entry.kind == kind}

    def ref(self, kind: Kind, key: str) -> str:
        """The ARN/URL/id of one created thing; KeyError names what exists when it is absent."""
        refs = self.of(kind)
        if key not in refs:
            raise KeyError(f"no {kind.value} named {key!r} (have: {', '.join(sorted(refs)) or 'none'})")
        return refs[key]

    @property
    def created_names(self) -> set[str]:
        """Logical names of the graph resources that were created."""
        return {entry.name for entry in self.created}


class MaterializeError(Exception):
    """A resource could not be created for a reason other than an emulator limitation."""


class _EmulatorUnsupportedError(Exception):
    """The emulator does not implement what a resource needs; the resource is reported skipped."""


# Called after each resource: (resources done, total, the resource just handled).
Progress = Callable[[int, int, RecordedResource], None]


# --------------------------------------------------------------------------------------------------
# Cross references: mock outputs → real outputs
# --------------------------------------------------------------------------------------------------


class _References:
    """Learns mock → real output pairs per resource and rewrites them wherever inputs embed them."""

    def __init__(self, *, account_id: str, region: str) -> None:
        self._account_id = account_id
        self._region = region
        self._real: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def mock_outputs(self, resource: RecordedResource) -> dict[str, str]:
        """The id and outputs the recording mocks gave this resource, flattened to strings."""
        template = OUTPUT_TEMPLATES.get(resource.type_)
        if template is None:
            return {}
        context = CloudContext(
            type_=resource.type_,
            logical_name=resource.name,
            inputs=resource.inputs,
            region=self._region,
            account=self._account_id,
        )
        cloud = template(context)
        return {"id": cloud.id, **dict(_flatten(cloud.outputs))}

    def learn(self, mock: Mapping[str, str], real: Mapping[str, str]) -> None:
        """Remember each distinctive mock value whose real counterpart differs."""
        for key, mock_value in mock.items():
            real_value = real.get(key)
            if real_value is not None and real_value != mock_value and _is_distinctive(mock_value):
                self._real[mock_value] = real_value
                self._pattern = None

    def resolve(self, value: Any) -> Any:
        """The value with every known mock ARN/URL/id replaced by the emulator's, at any depth."""
        if isinstance(value, Secret):
            return self.resolve(value.value)
        if isinstance(value, str):
            return self._rewrite(value)
        if isinstance(value, Mapping):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.resolve(item) for item in value]
        return value

    def _rewrite(self, text: str) -> str:
        if not self._real:
            return text
        if self._pattern is None:
            # Longest first, and never inside a longer name: `…:queue` must not match in `…:queue-dlq`.
            alternatives = "|".join(re.escape(mock) for mock in sorted(self._real, key=len, reverse=True))
            self._pattern = re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w.-])")
        return self._pattern.sub(lambda match: self._real[match.group(0)], text)


def _flatten(outputs: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for key, value in outputs.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            yield f"{prefix}{key}", value


def _is_distinctive(value: str) -> bool:
    """ARNs, URLs and long generated ids; never short values like a version number."""
    return value.startswith("arn:") or "://" in value or (len(value) >= 20 and not value.isdigit())


# --------------------------------------------------------------------------------------------------
# One step: the resource being created, with its resolved inputs
# --------------------------------------------------------------------------------------------------


@dataclass
class _Step:
    run: _Run
    resource: RecordedResource
    inputs: dict[str, Any]

    def client(self, service: str) -> Any:
        """The emulator's client for one service."""
        return self.run.clients.client(service)

    def require_in_stack(self, arn: str, role: str) -> str:
        """The ARN, when this run created it; otherwise the resource is skipped."""
        # Resources outside the stack (the organisation's central log stream, another team's stream)
        # exist in AWS but never in the emulator.
        if arn not in {entry.ref for entry in self.run.result.created}:
            raise _EmulatorUnsupportedError(f"its {role} {arn} is outside the stack, so not in the emulator")
        return arn

    def physical_name(self, key: str = "name") -> str:
        """The explicit name input, else the logical name (as the mocks named it)."""
        return str(self.inputs.get(key) or self.resource.name)

    def record(self, kind: Kind, key: str, ref: str) -> None:
        """Remember one created thing under its kind."""
        self.run.result.created.append(Created(self.resource.type_, self.resource.name, kind, key, ref))

    def verify(self, sent: Mapping[str, Any], stored: Mapping[str, Any]) -> None:
        """Report each sent field the emulator stored differently or not at all."""
        for path, sent_value, stored_value in _differences(sent, stored):
            self.run.result.dropped.append(
                DroppedField(self.resource.type_, self.resource.name, path, sent_value, stored_value)
            )


@dataclass
class _Run:
    graph: ResourceGraph
    clients: AwsClients
    references: _References
    result: Materialized = field(default_factory=Materialized)
    published_versions: dict[str, str] = field(default_factory=dict)
    table_streams: dict[str, str] = field(default_factory=dict)
    register_event_source_mappings: bool = True


def _differences(sent: Any, stored: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(field, sent, stored) for each part of `sent` that `stored` lacks or holds differently."""
    if isinstance(sent, Mapping):
        if not isinstance(stored, Mapping):
            yield path, sent, stored
            return
        for key, value in sent.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in stored or stored[key] is None:
                yield child, value, None
            else:
                yield from _differences(value, stored[key], child)
        return
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(sent) != len(stored):
            yield path, sent, stored
            return
        for index, (sent_item, stored_item) in enumerate(zip(sent, stored, strict=True)):
            yield from _differences(sent_item, stored_item, f"{path}[{index}]")
        return
    if not _same_scalar(sent, stored):
        yield path, sent, stored


def _same_scalar(sent: Any, stored: Any) -> bool:
    if isinstance(sent, str) and isinstance(stored, str) and sent.startswith(("{", "[")):
        try:
            return bool(json.loads(sent) == json.loads(stored))
        except ValueError:
            return sent == stored
    if isinstance(sent, int | float) and isinstance(stored, int | float | str) and not isinstance(sent, bool):
        try:
            return float(sent) == float(stored)
        except ValueError:
            return False
    if isinstance(sent, bool) and isinstance(stored, str):
        return str(sent).lower() == stored.lower()
    return bool(sent == stored)


# --------------------------------------------------------------------------------------------------
# Small translation helpers (Pulumi camelCase wire names → AWS API shapes)
# --------------------------------------------------------------------------------------------------


def _compact(**values: Any) -> dict[str, Any]:
    """Keyword arguments without the ones the graph left unset."""
    return {key: value for key, value in values.items() if value is not None}


def _tag_list(tags: Mapping[str, str] | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted((tags or {}).items())]


def _find(items: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    """The item whose `key` equals `value`, else an empty dict (every field then reads as dropped)."""
    return next((item for item in items if item.get(key) == value), {})


def _arn_name(arn: str) -> str:
    """The last name segment of an ARN: `…:stream/NAME` → NAME, `…:NAME` → NAME."""
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def placeholder_archive(handler: str | None = None) -> bytes:
    """A tiny, deterministic zip whose module answers `handler` (moto stores code, never runs it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        module, _, function = (handler or "index.handler").rpartition(".")
        entry = zipfile.ZipInfo(f"{module.replace('.', '/')}.py", _ZIP_EPOCH)
        body = f'def {function}(event, context):\n    return {{"sandbox": "placeholder"}}\n'
        archive.writestr(entry, body)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# Handlers: one per resource type, each returning the real outputs under the mock template's keys
# --------------------------------------------------------------------------------------------------

Handler = Callable[[_Step], dict[str, str]]


def _table(step: _Step) -> dict[str, str]:
    inputs, ddb = step.inputs, step.client("dynamodb")
    name = step.physical_name()
    request = _compact(
        TableName=name,
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
        StreamSpecification=_table_stream(step),
        SSESpecification=_compact(
            Enabled=(inputs.get("serverSideEncryption") or {}).get("enabled"),
            KMSMasterKeyId=(inputs.get("serverSideEncryption") or {}).get("kmsKeyArn"),
        )
        or None,
        DeletionProtectionEnabled=inputs.get("deletionProtectionEnabled"),
        TableClass=inputs.get("tableClass"),
        Tags=_tag_list(inputs.get("tags")) or None,
    )
    table = ddb.create_table(**request)["TableDescription"]
    ttl = inputs.get("ttl") or {}
    if ttl.get("enabled"):
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]}
        )
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


def _verify_table(step: _Step, request: Mapping[str, Any]) -> dict[str, Any]:
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
    return _compact(
        ProjectionType=spec.get("projectionType", "ALL"), NonKeyAttributes=spec.get("nonKeyAttributes")
    )


def _global_index(index: Mapping[str, Any], table: Mapping[str, Any]) -> dict[str, Any]:
    provisioned = table.get("billingMode", "PROVISIONED") == "PROVISIONED"
    return _compact(
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


def _table_stream(step: _Step) -> dict[str, Any] | None:
    """NEW_AND_OLD_IMAGES when a Kinesis destination reads the table, else the table's own setting."""
    # The destination's records always carry both images, whatever the table's own stream shows.
    name = step.physical_name()
    destinations = step.run.graph.of_type(_KINESIS_DESTINATION_TYPE)
    if any(step.run.references.resolve(item.inputs.get("tableName")) == name for item in destinations):
        return {"StreamEnabled": True, "StreamViewType": CDC_STREAM_VIEW}
    if step.inputs.get("streamEnabled"):
        return {"StreamEnabled": True, "StreamViewType": step.inputs.get("streamViewType", CDC_STREAM_VIEW)}
    return None


def _kinesis_destination(step: _Step) -> dict[str, str]:
    inputs, ddb = step.inputs, step.client("dynamodb")
    table, stream_arn = inputs["tableName"], inputs["streamArn"]
    request = _compact(
        TableName=table,
        StreamArn=stream_arn,
        EnableKinesisStreamingConfiguration=_compact(
            ApproximateCreationDateTimePrecision=inputs.get("approximateCreationDateTimePrecision")
        )
        or None,
    )
    try:
        _call_or_unsupported(ddb.enable_kinesis_streaming_destination, **request)
    except _EmulatorUnsupportedError as error:
        table_stream = step.run.table_streams.get(table)
        if table_stream is None:
            raise
        step.run.result.cdc_routes.append(CdcRoute(table, table_stream, stream_arn))
        raise _EmulatorUnsupportedError(
            f"{error}; the table's DynamoDB stream ({CDC_STREAM_VIEW}) is enabled instead, for a CDC tailer "
            f"to copy into {_arn_name(stream_arn)} (see Materialized.cdc_routes)"
        ) from None
    step.record(Kind.KINESIS_DESTINATION, table, stream_arn)
    return {"id": f"{table},{stream_arn}"}


def _stream(step: _Step) -> dict[str, str]:
    inputs, kinesis = step.inputs, step.client("kinesis")
    name = step.physical_name()
    mode = (inputs.get("streamModeDetails") or {}).get("streamMode", "PROVISIONED")
    request = _compact(
        StreamName=name,
        StreamModeDetails={"StreamMode": mode},
        ShardCount=inputs.get("shardCount") if mode == "PROVISIONED" else None,
    )
    kinesis.create_stream(**request)
    retention = inputs.get("retentionPeriod", 24)
    if retention > 24:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=retention)
    if inputs.get("encryptionType") == "KMS":
        kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=inputs["kmsKeyId"])
    if inputs.get("shardLevelMetrics"):
        kinesis.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=inputs["shardLevelMetrics"])
    if inputs.get("tags"):
        kinesis.add_tags_to_stream(StreamName=name, Tags=inputs["tags"])
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    sent = _compact(
        StreamModeDetails=request["StreamModeDetails"],
        OpenShardCount=request.get("ShardCount"),
        RetentionPeriodHours=retention,
        EncryptionType=inputs.get("encryptionType"),
        KeyId=inputs.get("kmsKeyId"),
        ShardLevelMetrics=sorted(inputs["shardLevelMetrics"]) if inputs.get("shardLevelMetrics") else None,
    )
    monitoring = summary.get("EnhancedMonitoring") or [{}]
    stored = {**summary, "ShardLevelMetrics": sorted(monitoring[0].get("ShardLevelMetrics", []))}
    step.verify(sent, stored)
    arn = summary["StreamARN"]
    step.record(Kind.STREAM, name, arn)
    return {"id": arn, "arn": arn}


_QUEUE_ATTRIBUTES: Final[Mapping[str, str]] = {
    "visibilityTimeoutSeconds": "VisibilityTimeout",
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "delaySeconds": "DelaySeconds",
    "maxMessageSize": "MaximumMessageSize",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "redrivePolicy": "RedrivePolicy",
    "redriveAllowPolicy": "RedriveAllowPolicy",
    "policy": "Policy",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "kmsDataKeyReusePeriodSeconds": "KmsDataKeyReusePeriodSeconds",
    "fifoQueue": "FifoQueue",
    "contentBasedDeduplication": "ContentBasedDeduplication",
}


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _queue(step: _Step) -> dict[str, str]:
    inputs, sqs = step.inputs, step.client("sqs")
    name = step.physical_name()
    attributes = {
        attribute: _attribute_text(inputs[key])
        for key, attribute in _QUEUE_ATTRIBUTES.items()
        if key in inputs
    }
    url = sqs.create_queue(QueueName=name, Attributes=attributes, tags=inputs.get("tags") or {})["QueueUrl"]
    stored = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    step.verify(attributes, stored)
    arn = stored["QueueArn"]
    step.record(Kind.QUEUE, name, arn)
    step.record(Kind.QUEUE_URL, name, url)
    return {"id": url, "arn": arn, "url": url}


def _queue_attribute(attribute: str, input_key: str, kind: Kind) -> Handler:
    """A handler that sets one attribute on an existing queue (queue policy, redrive allow policy)."""

    def handle(step: _Step) -> dict[str, str]:
        sqs, url = step.client("sqs"), step.inputs["queueUrl"]
        sent = {attribute: _attribute_text(step.inputs[input_key])}
        sqs.set_queue_attributes(QueueUrl=url, Attributes=sent)
        step.verify(sent, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])
        step.record(kind, url.rsplit("/", 1)[-1], url)
        return {"id": url}

    return handle


def _kms_key(step: _Step) -> dict[str, str]:
    inputs, kms = step.inputs, step.client("kms")
    metadata = kms.create_key(
        **_compact(
            Description=inputs.get("description"),
            Policy=inputs.get("policy"),
            KeyUsage=inputs.get("keyUsage"),
            KeySpec=inputs.get("customerMasterKeySpec"),
            Tags=_tag_list(inputs.get("tags"), "TagKey", "TagValue") or None,
        )
    )["KeyMetadata"]
    if inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
        rotation = kms.get_key_rotation_status(KeyId=metadata["KeyId"])
        step.verify({"KeyRotationEnabled": True}, rotation)
    step.record(Kind.KMS_KEY, step.resource.name, metadata["Arn"])
    return {"id": metadata["KeyId"], "keyId": metadata["KeyId"], "arn": metadata["Arn"]}


def _topic(step: _Step) -> dict[str, str]:
    inputs, sns = step.inputs, step.client("sns")
    name = step.physical_name()
    attributes = {
        attribute: _attribute_text(inputs[key])
        for key, attribute in {
            "kmsMasterKeyId": "KmsMasterKeyId",
            "displayName": "DisplayName",
            "policy": "Policy",
            "fifoTopic": "FifoTopic",
        }.items()
        if key in inputs
    }
    arn = sns.create_topic(Name=name, Attributes=attributes, Tags=_tag_list(inputs.get("tags")))["TopicArn"]
    step.verify(attributes, sns.get_topic_attributes(TopicArn=arn)["Attributes"])
    step.record(Kind.TOPIC, name, arn)
    return {"id": arn, "arn": arn}


def _subscription(step: _Step) -> dict[str, str]:
    inputs, sns = step.inputs, step.client("sns")
    attributes = {
        attribute: _attribute_text(inputs[key])
        for key, attribute in {
            "rawMessageDelivery": "RawMessageDelivery",
            "filterPolicy": "FilterPolicy",
            "redrivePolicy": "RedrivePolicy",
        }.items()
        if key in inputs
    }
    arn = sns.subscribe(
        TopicArn=inputs["topic"],
        Protocol=inputs["protocol"],
        Endpoint=inputs["endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    step.record(Kind.SUBSCRIPTION, f"{inputs['protocol']}:{inputs['endpoint']}", arn)
    return {"id": arn, "arn": arn}


def _secret(step: _Step) -> dict[str, str]:
    inputs = step.inputs
    name = step.physical_name()
    # The program declares the secret, never its value; the sandbox gives it a recognisable placeholder.
    arn = step.client("secretsmanager").create_secret(
        **_compact(
            Name=name,
            Description=inputs.get("description"),
            KmsKeyId=inputs.get("kmsKeyId"),
            SecretString=PLACEHOLDER_SECRET_VALUE,
            Tags=_tag_list(inputs.get("tags")) or None,
        )
    )["ARN"]
    step.record(Kind.SECRET, name, arn)
    return {"id": arn, "arn": arn}


def _log_group(step: _Step) -> dict[str, str]:
    inputs, logs = step.inputs, step.client("logs")
    name = step.physical_name()
    logs.create_log_group(
        **_compact(logGroupName=name, kmsKeyId=inputs.get("kmsKeyId"), tags=inputs.get("tags"))
    )
    if inputs.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=inputs["retentionInDays"])
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    stored = _find(groups, "logGroupName", name)
    step.verify(_compact(retentionInDays=inputs.get("retentionInDays")), stored)
    arn = stored.get("logGroupArn") or stored.get("arn", "").removesuffix(":*")
    step.record(Kind.LOG_GROUP, name, arn)
    return {"id": name, "arn": arn}


def _log_subscription(step: _Step) -> dict[str, str]:
    inputs, logs = step.inputs, step.client("logs")
    destination = step.require_in_stack(inputs["destinationArn"], "destination")
    request = _compact(
        logGroupName=inputs["logGroup"],
        filterName=step.physical_name(),
        filterPattern=inputs.get("filterPattern", ""),
        destinationArn=destination,
        roleArn=inputs.get("roleArn"),
        distribution=inputs.get("distribution"),
    )
    _call_or_unsupported(logs.put_subscription_filter, **request)
    filters = logs.describe_subscription_filters(logGroupName=inputs["logGroup"])["subscriptionFilters"]
    stored = _find(filters, "filterName", step.physical_name())
    step.verify({key: value for key, value in request.items() if key != "logGroupName"}, stored)
    step.record(Kind.LOG_SUBSCRIPTION, step.physical_name(), inputs["logGroup"])
    return {"id": step.physical_name()}


def _role(step: _Step) -> dict[str, str]:
    inputs = step.inputs
    name = step.physical_name()
    role = step.client("iam").create_role(
        **_compact(
            RoleName=name,
            Path=inputs.get("path"),
            AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
            Description=inputs.get("description"),
            MaxSessionDuration=inputs.get("maxSessionDuration"),
            Tags=_tag_list(inputs.get("tags")) or None,
        )
    )["Role"]
    step.record(Kind.ROLE, name, role["Arn"])
    return {"id": name, "arn": role["Arn"], "uniqueId": role["RoleId"]}


def _role_policy(step: _Step) -> dict[str, str]:
    inputs = step.inputs
    name = step.physical_name()
    step.client("iam").put_role_policy(
        RoleName=inputs["role"], PolicyName=name, PolicyDocument=inputs["policy"]
    )
    step.record(Kind.ROLE_POLICY, f"{inputs['role']}:{name}", name)
    return {"id": f"{inputs['role']}:{name}"}


def _layer(step: _Step) -> dict[str, str]:
    inputs = step.inputs
    layer = step.client("lambda").publish_layer_version(
        **_compact(
            LayerName=step.physical_name("layerName"),
            Description=inputs.get("description"),
            Content={"ZipFile": placeholder_archive()},
            CompatibleRuntimes=inputs.get("compatibleRuntimes"),
            CompatibleArchitectures=inputs.get("compatibleArchitectures"),
        )
    )
    step.record(Kind.LAYER, step.physical_name("layerName"), layer["LayerVersionArn"])
    return {
        "id": layer["LayerVersionArn"],
        "arn": layer["LayerVersionArn"],
        "layerArn": layer["LayerArn"],
        "version": str(layer["Version"]),
    }


def _function(step: _Step) -> dict[str, str]:
    inputs, lambda_ = step.inputs, step.client("lambda")
    name = step.physical_name()
    logging = inputs.get("loggingConfig") or {}
    vpc = inputs.get("vpcConfig") or {}
    request = _compact(
        FunctionName=name,
        Runtime=inputs.get("runtime"),
        Role=inputs["role"],
        Handler=inputs.get("handler"),
        Description=inputs.get("description"),
        Timeout=inputs.get("timeout"),
        MemorySize=inputs.get("memorySize"),
        Architectures=inputs.get("architectures"),
        Environment={"Variables": inputs["environment"].get("variables", {})}
        if "environment" in inputs
        else None,
        Layers=inputs.get("layers"),
        LoggingConfig=_compact(
            LogFormat=logging.get("logFormat"),
            ApplicationLogLevel=logging.get("applicationLogLevel"),
            SystemLogLevel=logging.get("systemLogLevel"),
            LogGroup=logging.get("logGroup"),
        )
        or None,
        TracingConfig={"Mode": inputs["tracingConfig"]["mode"]} if "tracingConfig" in inputs else None,
        VpcConfig=_compact(SubnetIds=vpc.get("subnetIds"), SecurityGroupIds=vpc.get("securityGroupIds"))
        or None,
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


def _alias(step: _Step) -> dict[str, str]:
    inputs = step.inputs
    function = inputs["functionName"]
    # The graph holds the mock's version ("1"); the alias must point at what the emulator published.
    version = step.run.published_versions.get(function, inputs["functionVersion"])
    alias = step.client("lambda").create_alias(
        **_compact(
            FunctionName=function,
            Name=step.physical_name(),
            FunctionVersion=version,
            Description=inputs.get("description"),
        )
    )
    step.record(Kind.ALIAS, f"{function}:{step.physical_name()}", alias["AliasArn"])
    return {"id": alias["AliasArn"], "arn": alias["AliasArn"]}


def _event_source_mapping(step: _Step) -> dict[str, str]:
    inputs, lambda_ = step.inputs, step.client("lambda")
    destination = ((inputs.get("destinationConfig") or {}).get("onFailure") or {}).get("destinationArn")
    filters = (inputs.get("filterCriteria") or {}).get("filters")
    request = _compact(
        FunctionName=inputs["functionName"],
        EventSourceArn=step.require_in_stack(inputs["eventSourceArn"], "event source"),
        Enabled=inputs.get("enabled", True),
        BatchSize=inputs.get("batchSize"),
        MaximumBatchingWindowInSeconds=inputs.get("maximumBatchingWindowInSeconds"),
        ParallelizationFactor=inputs.get("parallelizationFactor"),
        StartingPosition=inputs.get("startingPosition"),
        MaximumRetryAttempts=inputs.get("maximumRetryAttempts"),
        MaximumRecordAgeInSeconds=inputs.get("maximumRecordAgeInSeconds"),
        BisectBatchOnFunctionError=inputs.get("bisectBatchOnFunctionError"),
        TumblingWindowInSeconds=inputs.get("tumblingWindowInSeconds"),
        FunctionResponseTypes=inputs.get("functionResponseTypes"),
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
        raise _EmulatorUnsupportedError(UNREGISTERED_MAPPING)
    mapping = lambda_.create_event_source_mapping(**request)
    stored = lambda_.get_event_source_mapping(UUID=mapping["UUID"])
    stored["FunctionName"] = stored.get("FunctionArn")
    stored["Enabled"] = {"Enabled": True, "Enabling": True, "Disabled": False}.get(stored.get("State", ""))
    if "Tags" in request:
        stored["Tags"] = _esm_tags(lambda_, stored.get("EventSourceMappingArn"))
    step.verify(request, stored)
    arn = stored.get("EventSourceMappingArn") or step.run.references.mock_outputs(step.resource)["arn"]
    step.record(Kind.EVENT_SOURCE_MAPPING, step.resource.name, mapping["UUID"])
    return {"id": mapping["UUID"], "uuid": mapping["UUID"], "arn": arn}


def _esm_tags(lambda_: Any, arn: str | None) -> dict[str, str] | None:
    if arn is None:
        return None
    try:
        tags: dict[str, str] = lambda_.list_tags(Resource=arn).get("Tags") or {}
    except ClientError:
        return None
    return tags or None


def _permission(step: _Step) -> dict[str, str]:
    inputs = step.inputs
    statement_id = inputs.get("statementId") or step.resource.name
    step.client("lambda").add_permission(
        **_compact(
            FunctionName=inputs["function"],
            StatementId=statement_id,
            Action=inputs["action"],
            Principal=inputs["principal"],
            SourceArn=inputs.get("sourceArn"),
            SourceAccount=inputs.get("sourceAccount"),
            Qualifier=inputs.get("qualifier"),
        )
    )
    step.record(Kind.PERMISSION, statement_id, inputs["function"])
    return {"id": statement_id}


def _rule(step: _Step) -> dict[str, str]:
    inputs = step.inputs
    arn = step.client("events").put_rule(
        **_compact(
            Name=step.physical_name(),
            ScheduleExpression=inputs.get("scheduleExpression"),
            EventPattern=inputs.get("eventPattern"),
            State=inputs.get("state", "ENABLED"),
            Description=inputs.get("description"),
            RoleArn=inputs.get("roleArn"),
            EventBusName=inputs.get("eventBusName"),
            Tags=_tag_list(inputs.get("tags")) or None,
        )
    )["RuleArn"]
    step.record(Kind.RULE, step.physical_name(), arn)
    return {"id": step.physical_name(), "arn": arn}


def _rule_target(step: _Step) -> dict[str, str]:
    inputs, events = step.inputs, step.client("events")
    retry = inputs.get("retryPolicy") or {}
    target = _compact(
        Id=inputs.get("targetId") or step.resource.name,
        Arn=inputs["arn"],
        RoleArn=inputs.get("roleArn"),
        Input=inputs.get("input"),
        InputPath=inputs.get("inputPath"),
        DeadLetterConfig={"Arn": inputs["deadLetterConfig"]["arn"]} if "deadLetterConfig" in inputs else None,
        RetryPolicy=_compact(
            MaximumEventAgeInSeconds=retry.get("maximumEventAgeInSeconds"),
            MaximumRetryAttempts=retry.get("maximumRetryAttempts"),
        )
        or None,
    )
    bus = _compact(EventBusName=inputs.get("eventBusName"))
    answer = events.put_targets(Rule=inputs["rule"], Targets=[target], **bus)
    if answer.get("FailedEntryCount"):
        raise MaterializeError(f"put_targets failed: {answer['FailedEntries']}")
    stored = _find(events.list_targets_by_rule(Rule=inputs["rule"], **bus)["Targets"], "Id", target["Id"])
    step.verify(target, stored)
    step.record(Kind.RULE_TARGET, f"{inputs['rule']}/{target['Id']}", inputs["arn"])
    return {"id": f"{inputs['rule']}-{target['Id']}"}


def _dimensions(dimensions: Mapping[str, str] | None) -> list[dict[str, str]] | None:
    return [{"Name": key, "Value": value} for key, value in dimensions.items()] if dimensions else None


def _metric_query(query: Mapping[str, Any]) -> dict[str, Any]:
    metric = query.get("metric")
    return _compact(
        Id=query["id"],
        Expression=query.get("expression"),
        Label=query.get("label"),
        ReturnData=query.get("returnData"),
        Period=query.get("period"),
        AccountId=query.get("accountId"),
        MetricStat=_compact(
            Metric=_compact(
                Namespace=metric.get("namespace"),
                MetricName=metric["metricName"],
                Dimensions=_dimensions(metric.get("dimensions")),
            ),
            Period=metric["period"],
            Stat=metric["stat"],
            Unit=metric.get("unit"),
        )
        if metric
        else None,
    )


def _alarm(step: _Step) -> dict[str, str]:
    inputs, cloudwatch = step.inputs, step.client("cloudwatch")
    name = step.physical_name()
    request = _compact(
        AlarmName=name,
        AlarmDescription=inputs.get("alarmDescription"),
        ActionsEnabled=inputs.get("actionsEnabled"),
        AlarmActions=inputs.get("alarmActions"),
        OKActions=inputs.get("okActions"),
        InsufficientDataActions=inputs.get("insufficientDataActions"),
        MetricName=inputs.get("metricName"),
        Namespace=inputs.get("namespace"),
        Statistic=inputs.get("statistic"),
        ExtendedStatistic=inputs.get("extendedStatistic"),
        Dimensions=_dimensions(inputs.get("dimensions")),
        Period=inputs.get("period"),
        Unit=inputs.get("unit"),
        EvaluationPeriods=inputs["evaluationPeriods"],
        DatapointsToAlarm=inputs.get("datapointsToAlarm"),
        Threshold=inputs.get("threshold"),
        ComparisonOperator=inputs["comparisonOperator"],
        TreatMissingData=inputs.get("treatMissingData"),
        EvaluateLowSampleCountPercentile=inputs.get("evaluateLowSampleCountPercentile"),
        Metrics=[_metric_query(query) for query in inputs["metricQueries"]]
        if inputs.get("metricQueries")
        else None,
        Tags=_tag_list(inputs.get("tags")) or None,
    )
    cloudwatch.put_metric_alarm(**request)
    alarms = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    stored = alarms[0] if alarms else {}
    step.verify({key: value for key, value in request.items() if key != "Tags"}, stored)
    arn = stored.get("AlarmArn", "")
    step.record(Kind.ALARM, name, arn)
    return {"id": name, "arn": arn}


def _dashboard(step: _Step) -> dict[str, str]:
    inputs, cloudwatch = step.inputs, step.client("cloudwatch")
    name = step.physical_name("dashboardName")
    cloudwatch.put_dashboard(DashboardName=name, DashboardBody=inputs["dashboardBody"])
    arn = cloudwatch.get_dashboard(DashboardName=name)["DashboardArn"]
    step.record(Kind.DASHBOARD, name, arn)
    return {"id": name, "dashboardArn": arn}


def _email_template(step: _Step) -> dict[str, str]:
    inputs, ses = step.inputs, step.client("ses")
    name = step.physical_name()
    template = _compact(
        TemplateName=name,
        SubjectPart=inputs.get("subject"),
        HtmlPart=inputs.get("html"),
        TextPart=inputs.get("text"),
    )
    ses.create_template(Template=template)
    step.verify(template, ses.get_template(TemplateName=name)["Template"])
    arn = step.run.references.mock_outputs(step.resource)["arn"]  # SES v1 reports no template ARN
    step.record(Kind.EMAIL_TEMPLATE, name, arn)
    return {"id": name}


def _graphql_api(step: _Step) -> dict[str, str]:
    inputs, appsync = step.inputs, step.client("appsync")
    log = inputs.get("logConfig") or {}
    api = _call_or_unsupported(
        appsync.create_graphql_api,
        **_compact(
            name=step.physical_name(),
            authenticationType=inputs["authenticationType"],
            logConfig=_compact(
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


def _graphql_data_source(step: _Step) -> dict[str, str]:
    inputs = step.inputs
    lambda_config = inputs.get("lambdaConfig") or {}
    source = _call_or_unsupported(
        step.client("appsync").create_data_source,
        **_compact(
            apiId=inputs["apiId"],
            name=step.physical_name(),
            type=inputs["type"],
            serviceRoleArn=inputs.get("serviceRoleArn"),
            lambdaConfig={"lambdaFunctionArn": lambda_config["functionArn"]} if lambda_config else None,
        ),
    )["dataSource"]
    step.record(Kind.GRAPHQL_DATA_SOURCE, step.physical_name(), source["dataSourceArn"])
    return {"id": f"{inputs['apiId']}-{inputs['name']}", "arn": source["dataSourceArn"]}


def _graphql_resolver(step: _Step) -> dict[str, str]:
    inputs = step.inputs
    resolver = _call_or_unsupported(
        step.client("appsync").create_resolver,
        **_compact(
            apiId=inputs["apiId"],
            typeName=inputs["type"],
            fieldName=inputs["field"],
            dataSourceName=inputs.get("dataSource"),
            kind=inputs.get("kind"),
        ),
    )["resolver"]
    step.record(Kind.GRAPHQL_RESOLVER, f"{inputs['type']}.{inputs['field']}", resolver["resolverArn"])
    return {"id": f"{inputs['apiId']}-{inputs['type']}-{inputs['field']}", "arn": resolver["resolverArn"]}


HANDLERS: Final[Mapping[str, Handler]] = {
    "aws:kms/key:Key": _kms_key,
    "aws:dynamodb/table:Table": _table,
    _KINESIS_DESTINATION_TYPE: _kinesis_destination,
    "aws:kinesis/stream:Stream": _stream,
    "aws:sqs/queue:Queue": _queue,
    "aws:sqs/queuePolicy:QueuePolicy": _queue_attribute("Policy", "policy", Kind.QUEUE_POLICY),
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": _queue_attribute(
        "RedriveAllowPolicy", "redriveAllowPolicy", Kind.REDRIVE_ALLOW_POLICY
    ),
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicSubscription:TopicSubscription": _subscription,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": _log_subscription,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:lambda/layerVersion:LayerVersion": _layer,
    "aws:lambda/function:Function": _function,
    "aws:lambda/alias:Alias": _alias,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _event_source_mapping,
    "aws:lambda/permission:Permission": _permission,
    "aws:cloudwatch/eventRule:EventRule": _rule,
    "aws:cloudwatch/eventTarget:EventTarget": _rule_target,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:ses/template:Template": _email_template,
    "aws:appsync/graphQLApi:GraphQLApi": _graphql_api,
    "aws:appsync/dataSource:DataSource": _graphql_data_source,
    "aws:appsync/resolver:Resolver": _graphql_resolver,
}


def _call_or_unsupported(operation: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a boto3 operation; an emulator's "not implemented" answer becomes `_EmulatorUnsupportedError`."""
    unsupported = _EmulatorUnsupportedError(
        f"the emulator does not implement {getattr(operation, '__name__', 'this operation')}"
    )
    try:
        return operation(**kwargs)
    except NotImplementedError:  # moto in-process
        raise unsupported from None
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", ""))
        # In-process moto says so; moto server answers a bare HTML 404/500 page instead of an AWS error.
        if "not yet implemented" in message.lower() or message.lstrip().lower().startswith("<!doctype html"):
            raise unsupported from None
        raise


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------


def creation_order(graph: ResourceGraph) -> list[RecordedResource]:
    """The graph's custom resources, each after everything it depends on (ties in graph order)."""
    custom = {resource.name: resource for resource in graph.resources if resource.custom}
    components = {resource.name for resource in graph.resources if not resource.custom}
    position = {resource.name: index for index, resource in enumerate(graph.resources)}
    children: dict[str, list[str]] = {}
    for resource in graph.resources:
        if resource.parent is not None:
            children.setdefault(resource.parent, []).append(resource.name)

    def custom_under(name: str) -> set[str]:
        found: set[str] = set()
        for child in children.get(name, []):
            found |= {child} if child in custom else custom_under(child)
        return found

    requires: dict[str, set[str]] = {}
    for name, resource in custom.items():
        needed: set[str] = set()
        for dependency in resource.options.get("dependencies", []):
            if dependency in custom:
                needed.add(dependency)
            elif dependency in components:
                needed |= custom_under(dependency)
        requires[name] = needed - {name}
    waiting = {name: len(needed) for name, needed in requires.items()}
    unlocks: dict[str, list[str]] = {}
    for name, needed in requires.items():
        for dependency in needed:
            unlocks.setdefault(dependency, []).append(name)
    ready = [(position[name], name) for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[RecordedResource] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(custom[name])
        for dependent in unlocks.get(name, []):
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, (position[dependent], dependent))
    if len(order) != len(custom):
        cycle = sorted(name for name, count in waiting.items() if count > 0)
        raise MaterializeError(f"dependency cycle among: {', '.join(cycle)}")
    return order


def materialize(
    graph: ResourceGraph,
    clients: AwsClients,
    *,
    graph_account_id: str = DEFAULT_ACCOUNT_ID,
    graph_region: str = DEFAULT_REGION,
    register_event_source_mappings: bool = True,
    on_progress: Progress | None = None,
) -> Materialized:
    """Create every custom resource of `graph` in the emulator `clients` reach; report what it cannot hold.

    `graph_account_id`/`graph_region` are the ones the graph was synthesized with (its mock ARNs).
    `register_event_source_mappings=False` keeps mappings out of moto (they are reported skipped, with
    their resolved requests in `event_source_mappings`): a sandbox that runs the workers with its own
    pollers needs that, because moto runs registered mappings itself (see `UNREGISTERED_MAPPING`).
    The emulator is expected to be empty: names are the program's, so a second run collides.
    """
    if graph.preview:
        raise MaterializeError("a preview graph has unknown values; synthesize without --preview")
    run = _Run(
        register_event_source_mappings=register_event_source_mappings,
        graph=graph,
        clients=clients,
        references=_References(account_id=graph_account_id, region=graph_region),
    )
    order = creation_order(graph)
    for done, resource in enumerate(order, start=1):
        _materialize_one(run, resource)
        if on_progress is not None:
            on_progress(done, len(order), resource)
    return run.result


def _materialize_one(run: _Run, resource: RecordedResource) -> None:
    handler = HANDLERS.get(resource.type_)
    if handler is None:
        run.result.skipped.append(Skipped(resource.type_, resource.name, "not materialized"))
        return
    inputs = run.references.resolve(resource.inputs)
    if UNKNOWN_PLACEHOLDER in json.dumps(inputs):
        raise MaterializeError(f"{resource.type_} {resource.name}: inputs hold unknown values")
    step = _Step(run=run, resource=resource, inputs=inputs)
    try:
        real = handler(step)
    except _EmulatorUnsupportedError as error:
        run.result.skipped.append(Skipped(resource.type_, resource.name, str(error)))
        return
    except (ClientError, KeyError, MaterializeError) as error:
        raise MaterializeError(f"{resource.type_} {resource.name}: {error}") from error
    run.references.learn(run.references.mock_outputs(resource), real)
