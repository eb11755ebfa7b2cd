"""What AWS would compute for each resource: the mock outputs that keep ARNs and URLs realistic."""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi

from infra.synth.values import UNKNOWN_PLACEHOLDER, Secret

# Stable fake timestamp for DynamoDB stream labels, so snapshots do not churn.
_STREAM_LABEL: Final = "2024-01-01T00:00:00.000"
_FAKE_ID_NAMESPACE: Final = uuid.UUID("6f1d3c3e-5b0a-4c59-9a57-1f2d4c8e0b7a")


class NotYetKnownError(Exception):
    """An input a template needs is unknown (preview), so the outputs stay unknown too."""


@dataclass(frozen=True)
class CloudContext:
    """What an output template knows when it invents the outputs AWS would compute."""

    type_: str
    logical_name: str
    inputs: Mapping[str, Any]
    region: str
    account: str

    def text(self, key: str) -> str | None:
        """A string input, None when absent; unknown values stop the template."""
        value = self.inputs.get(key)
        if isinstance(value, Secret):
            value = value.value
        if value is None or (isinstance(value, str) and value != UNKNOWN_PLACEHOLDER):
            return value
        raise NotYetKnownError(key)

    def physical_name(self, key: str = "name") -> str:
        """The name AWS would use: the explicit input, else the logical name."""
        return self.text(key) or self.logical_name

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        """An ARN in this account (and region, for regional services)."""
        return f"arn:aws:{service}:{self.region if regional else ''}:{self.account}:{resource}"

    def fake_id(self, length: int = 32, alphabet: str = "0123456789abcdef") -> str:
        """A deterministic id derived from the type and logical name, so snapshots do not churn."""
        digest = hashlib.sha256(f"{self.type_}::{self.logical_name}".encode()).digest()
        return "".join(alphabet[byte % len(alphabet)] for byte in digest)[:length]

    def fake_uuid(self) -> str:
        """A deterministic UUID derived from the type and logical name."""
        return str(uuid.uuid5(_FAKE_ID_NAMESPACE, f"{self.type_}::{self.logical_name}"))

    def function_arn(self, key: str = "functionName") -> str:
        """The function ARN behind a `functionName` input that holds a name or an ARN."""
        name = self.text(key) or self.logical_name
        return name if name.startswith("arn:") else self.arn("lambda", f"function:{name}")


@dataclass(frozen=True)
class CloudOutputs:
    """The physical id and the outputs AWS computes for a resource."""

    id: str
    outputs: dict[str, Any] = field(default_factory=dict)


OutputTemplate = Callable[[CloudContext], CloudOutputs]


def _invoke_arn(ctx: CloudContext, target_arn: str) -> str:
    return f"arn:aws:apigateway:{ctx.region}:lambda:path/2015-03-31/functions/{target_arn}/invocations"


def _lambda_function(ctx: CloudContext) -> CloudOutputs:
    name = ctx.physical_name()
    arn = ctx.arn("lambda", f"function:{name}")
    # AWS numbers the first published version "1"; an unpublished function only has $LATEST.
    version = "1" if ctx.inputs.get("publish") is True else "$LATEST"
    qualified = f"{arn}:{version}"
    return CloudOutputs(
        id=name,
        outputs={
            "arn": arn,
            "invokeArn": _invoke_arn(ctx, arn),
            "qualifiedArn": qualified,
            "qualifiedInvokeArn": _invoke_arn(ctx, qualified),
            "version": version,
        },
    )


def _lambda_alias(ctx: CloudContext) -> CloudOutputs:
    arn = f"{ctx.function_arn()}:{ctx.physical_name()}"
    return CloudOutputs(id=arn, outputs={"arn": arn, "invokeArn": _invoke_arn(ctx, arn)})


def _lambda_layer_version(ctx: CloudContext) -> CloudOutputs:
    layer_arn = ctx.arn("lambda", f"layer:{ctx.physical_name('layerName')}")
    arn = f"{layer_arn}:1"
    return CloudOutputs(id=arn, outputs={"arn": arn, "layerArn": layer_arn, "version": "1"})


def _lambda_event_source_mapping(ctx: CloudContext) -> CloudOutputs:
    mapping_uuid = ctx.fake_uuid()
    return CloudOutputs(
        id=mapping_uuid,
        outputs={
            "arn": ctx.arn("lambda", f"event-source-mapping:{mapping_uuid}"),
            "uuid": mapping_uuid,
            "functionArn": ctx.function_arn(),
            "state": "Enabled",
        },
    )


def _lambda_permission(ctx: CloudContext) -> CloudOutputs:
    return CloudOutputs(id=ctx.text("statementId") or ctx.logical_name)


def _sqs_queue(ctx: CloudContext) -> CloudOutputs:
    name = ctx.physical_name()
    url = f"https://sqs.{ctx.region}.amazonaws.com/{ctx.account}/{name}"
    return CloudOutputs(id=url, outputs={"arn": ctx.arn("sqs", name), "url": url})


def _sqs_queue_policy(ctx: CloudContext) -> CloudOutputs:
    return CloudOutputs(id=ctx.text("queueUrl") or ctx.logical_name)


def _kinesis_stream(ctx: CloudContext) -> CloudOutputs:
    arn = ctx.arn("kinesis", f"stream/{ctx.physical_name()}")
    return CloudOutputs(id=arn, outputs={"arn": arn})


def _dynamodb_table(ctx: CloudContext) -> CloudOutputs:
    name = ctx.physical_name()
    arn = ctx.arn("dynamodb", f"table/{name}")
    outputs: dict[str, Any] = {"arn": arn}
    # AWS only reports a stream ARN while DynamoDB Streams is enabled on the table.
    if ctx.inputs.get("streamEnabled") is True:
        outputs["streamArn"] = f"{arn}/stream/{_STREAM_LABEL}"
        outputs["streamLabel"] = _STREAM_LABEL
    return CloudOutputs(id=name, outputs=outputs)


def _dynamodb_kinesis_destination(ctx: CloudContext) -> CloudOutputs:
    return CloudOutputs(id=f"{ctx.text('tableName')},{ctx.text('streamArn')}")


def _iam_role(ctx: CloudContext) -> CloudOutputs:
    name = ctx.physical_name()
    path = ctx.text("path") or "/"
    return CloudOutputs(
        id=name,
        outputs={
            "arn": ctx.arn("iam", f"role{path}{name}", regional=False),
            "uniqueId": "AROA" + ctx.fake_id(17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
        },
    )


def _iam_policy(ctx: CloudContext) -> CloudOutputs:
    path = ctx.text("path") or "/"
    arn = ctx.arn("iam", f"policy{path}{ctx.physical_name()}", regional=False)
    return CloudOutputs(id=arn, outputs={"arn": arn})


def _iam_role_policy(ctx: CloudContext) -> CloudOutputs:
    return CloudOutputs(id=f"{ctx.text('role')}:{ctx.physical_name()}")


def _log_group(ctx: CloudContext) -> CloudOutputs:
    name = ctx.physical_name()
    return CloudOutputs(id=name, outputs={"arn": ctx.arn("logs", f"log-group:{name}")})


def _log_subscription_filter(ctx: CloudContext) -> CloudOutputs:
    return CloudOutputs(id="cwlsf-" + ctx.fake_id(10, "0123456789"))


def _query_definition(ctx: CloudContext) -> CloudOutputs:
    query_id = ctx.fake_uuid()
    return CloudOutputs(
        id=query_id,
        outputs={"arn": ctx.arn("logs", f"query-definition:{query_id}"), "queryDefinitionId": query_id},
    )


def _event_rule(ctx: CloudContext) -> CloudOutputs:
    name = ctx.physical_name()
    bus = ctx.text("eventBusName") or "default"
    path = f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}"
    return CloudOutputs(
        id=name if bus == "default" else f"{bus}|{name}", outputs={"arn": ctx.arn("events", path)}
    )


def _event_target(ctx: CloudContext) -> CloudOutputs:
    return CloudOutputs(id=f"{ctx.text('rule')}-{ctx.text('targetId') or ctx.logical_name}")


def _metric_alarm(ctx: CloudContext) -> CloudOutputs:
    name = ctx.physical_name()
    return CloudOutputs(id=name, outputs={"arn": ctx.arn("cloudwatch", f"alarm:{name}")})


def _dashboard(ctx: CloudContext) -> CloudOutputs:
    name = ctx.physical_name("dashboardName")
    return CloudOutputs(
        id=name, outputs={"dashboardArn": ctx.arn("cloudwatch", f"dashboard/{name}", regional=False)}
    )


def _sns_topic(ctx: CloudContext) -> CloudOutputs:
    arn = ctx.arn("sns", ctx.physical_name())
    return CloudOutputs(id=arn, outputs={"arn": arn})


def _sns_subscription(ctx: CloudContext) -> CloudOutputs:
    topic_arn = ctx.text("topic") or ctx.arn("sns", ctx.logical_name)
    arn = f"{topic_arn}:{ctx.fake_uuid()}"
    return CloudOutputs(id=arn, outputs={"arn": arn})


def _kms_key(ctx: CloudContext) -> CloudOutputs:
    key_id = ctx.fake_uuid()
    return CloudOutputs(id=key_id, outputs={"arn": ctx.arn("kms", f"key/{key_id}"), "keyId": key_id})


def _kms_alias(ctx: CloudContext) -> CloudOutputs:
    name = ctx.physical_name()  # `alias/…`, which is also the ARN's resource part
    return CloudOutputs(id=name, outputs={"arn": ctx.arn("kms", name)})


def _secretsmanager_secret(ctx: CloudContext) -> CloudOutputs:
    # Secrets Manager appends a random six-character suffix to every secret ARN.
    suffix = ctx.fake_id(6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    arn = ctx.arn("secretsmanager", f"secret:{ctx.physical_name()}-{suffix}")
    return CloudOutputs(id=arn, outputs={"arn": arn})


def _appsync_api(ctx: CloudContext) -> CloudOutputs:
    api_id = ctx.fake_id(26, "abcdefghijklmnopqrstuvwxyz0123456789")
    return CloudOutputs(
        id=api_id,
        outputs={
            "arn": ctx.arn("appsync", f"apis/{api_id}"),
            "uris": {
                "GRAPHQL": f"https://{api_id}.appsync-api.{ctx.region}.amazonaws.com/graphql",
                "REALTIME": f"wss://{api_id}.appsync-realtime-api.{ctx.region}.amazonaws.com/graphql",
            },
        },
    )


def _appsync_data_source(ctx: CloudContext) -> CloudOutputs:
    api_id, name = ctx.text("apiId"), ctx.physical_name()
    return CloudOutputs(
        id=f"{api_id}-{name}", outputs={"arn": ctx.arn("appsync", f"apis/{api_id}/datasources/{name}")}
    )


def _appsync_resolver(ctx: CloudContext) -> CloudOutputs:
    api_id, type_name, field_name = ctx.text("apiId"), ctx.text("type"), ctx.text("field")
    return CloudOutputs(
        id=f"{api_id}-{type_name}-{field_name}",
        outputs={"arn": ctx.arn("appsync", f"apis/{api_id}/types/{type_name}/resolvers/{field_name}")},
    )


def _wafv2_web_acl(ctx: CloudContext) -> CloudOutputs:
    # A regional web ACL's ARN carries its scope, name and id; Pulumi's id is the web ACL's id.
    acl_id = ctx.fake_uuid()
    name = ctx.physical_name()
    scope = "global" if ctx.text("scope") == "CLOUDFRONT" else "regional"
    return CloudOutputs(
        id=acl_id, outputs={"arn": ctx.arn("wafv2", f"{scope}/webacl/{name}/{acl_id}"), "capacity": 0}
    )


def _ses_template(ctx: CloudContext) -> CloudOutputs:
    name = ctx.physical_name()
    return CloudOutputs(id=name, outputs={"arn": ctx.arn("ses", f"template/{name}")})


OUTPUT_TEMPLATES: Final[Mapping[str, OutputTemplate]] = {
    "aws:lambda/function:Function": _lambda_function,
    "aws:lambda/alias:Alias": _lambda_alias,
    "aws:lambda/layerVersion:LayerVersion": _lambda_layer_version,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _lambda_event_source_mapping,
    "aws:lambda/permission:Permission": _lambda_permission,
    "aws:sqs/queue:Queue": _sqs_queue,
    "aws:sqs/queuePolicy:QueuePolicy": _sqs_queue_policy,
    "aws:kinesis/stream:Stream": _kinesis_stream,
    "aws:dynamodb/table:Table": _dynamodb_table,
    "aws:dynamodb/kinesisStreamingDestination:KinesisStreamingDestination": _dynamodb_kinesis_destination,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": _iam_policy,
    "aws:iam/rolePolicy:RolePolicy": _iam_role_policy,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": _log_subscription_filter,
    "aws:cloudwatch/queryDefinition:QueryDefinition": _query_definition,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": _event_target,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:sns/topic:Topic": _sns_topic,
    "aws:sns/topicSubscription:TopicSubscription": _sns_subscription,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:secretsmanager/secret:Secret": _secretsmanager_secret,
    "aws:appsync/graphQLApi:GraphQLApi": _appsync_api,
    "aws:appsync/dataSource:DataSource": _appsync_data_source,
    "aws:appsync/resolver:Resolver": _appsync_resolver,
    "aws:ses/template:Template": _ses_template,
    "aws:wafv2/webAcl:WebAcl": _wafv2_web_acl,
}

# Token modules whose ARN service prefix differs from the module name.
_ARN_SERVICES: Final[Mapping[str, str]] = {"sesv2": "ses", "cloudwatch": "cloudwatch", "cfg": "config"}
_GLOBAL_SERVICES: Final = frozenset({"iam", "cloudfront", "route53", "organizations"})


def generic_arn(ctx: CloudContext) -> CloudOutputs:
    """`arn:aws:<service>:<region>:<account>:<kind>/<name>` for types without a template."""
    module, type_name = ctx.type_.split(":")[1], ctx.type_.split(":")[2]
    root_module = module.split("/")[0]
    service = _ARN_SERVICES.get(root_module, root_module)
    kind = re.sub(r"(?<!^)(?=[A-Z])", "-", type_name).lower()
    name = ctx.physical_name()
    arn = ctx.arn(service, f"{kind}/{name}", regional=service not in _GLOBAL_SERVICES)
    return CloudOutputs(id=name, outputs={"arn": arn})


class _ResourceClasses:
    """Finds the SDK class of a type token among the resource classes imported so far."""

    def __init__(self) -> None:
        self._has_arn: dict[str, bool] = {}
        self._lock = threading.Lock()

    def has_arn(self, token: str) -> bool:
        with self._lock:
            if token not in self._has_arn:
                # Classes only exist once their module is imported, so rescan on a miss.
                for cls in _subclasses(pulumi.CustomResource):
                    class_token = pulumi.get_type_token(cls)
                    if class_token is not None:
                        self._has_arn[class_token] = isinstance(getattr(cls, "arn", None), property)
                self._has_arn.setdefault(token, False)
            return self._has_arn[token]


# Shared by every run: whether a type's class has an `arn` never changes within a process.
RESOURCE_CLASSES: Final = _ResourceClasses()


def _subclasses(cls: type) -> Iterator[type]:
    subclasses: list[type] = cls.__subclasses__()
    for subclass in subclasses:
        yield subclass
        yield from _subclasses(subclass)
