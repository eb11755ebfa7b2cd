"""Offline synth: run a Pulumi program under recording mocks with a stack's committed config."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import re
import runpy
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, NoReturn

import pulumi
import yaml
from pulumi.output import Unknown
from pulumi.runtime import rpc as pulumi_rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.settings import _shutdown_callbacks
from pulumi.runtime.stack import wait_for_rpcs

DEFAULT_ACCOUNT_ID: Final = "123456789012"
DEFAULT_REGION: Final = "us-east-1"
UNKNOWN_PLACEHOLDER: Final = "<unknown>"
SECRET_PLACEHOLDER: Final = "<secret>"  # noqa: S105 - a placeholder, not a password

_STACK_TYPE: Final = "pulumi:pulumi:Stack"
_STACK_REFERENCE_TYPE: Final = "pulumi:pulumi:StackReference"
_YAML_NULL_TAG: Final = "tag:yaml.org,2002:null"
# Go's encoding/json writes integral floats below 1e21 without a fraction ("1", not "1.0").
_GO_JSON_PLAIN_FLOAT_LIMIT: Final = 1e21
# Stable fake timestamp for DynamoDB stream labels, so snapshots do not churn.
_STREAM_LABEL: Final = "2024-01-01T00:00:00.000"
_FAKE_ID_NAMESPACE: Final = uuid.UUID("6f1d3c3e-5b0a-4c59-9a57-1f2d4c8e0b7a")

# One program at a time: runpy swaps `sys.modules["__main__"]` and `sys.argv[0]`, and the harness edits
# `sys.path` and `sys.modules`, all of which are process-wide.
_RUN_LOCK: Final = threading.Lock()


class SynthError(Exception):
    """The offline synth cannot produce a faithful graph for this program or stack."""


class StackFileError(SynthError):
    """A Pulumi.yaml or Pulumi.<stack>.yaml file is missing or cannot be used offline."""


class SecureConfigError(StackFileError):
    """A stack file holds an encrypted `secure:` value, which an offline synth cannot decrypt."""


class InvokeNotAllowedError(SynthError):
    """The program called a provider function (data source); config and outputs must serve instead."""


class ExistingResourceReadError(SynthError):
    """The program read an existing resource or stack reference, which needs a real cloud and backend."""


class TransformNotSupportedError(SynthError):
    """The program uses engine-side transforms, which mocks never run, so the graph would be wrong."""


class DuplicateUrnError(SynthError):
    """Two resources were registered with the same URN, which the real engine rejects."""


@dataclass(frozen=True)
class Secret:
    """An input value the program marked secret; serializes as a placeholder, never in clear."""

    value: Any


@dataclass(frozen=True)
class RecordedResource:
    """One resource registration as the engine would have received it."""

    type_: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    provider: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    urn: str = ""


@dataclass(frozen=True)
class ResourceGraph:
    """Every resource a program registered for one stack, with its exports."""

    project: str
    stack: str
    preview: bool
    resources: tuple[RecordedResource, ...]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, token: str) -> list[RecordedResource]:
        """Resources of one type token, e.g. `aws:sqs/queue:Queue`."""
        return [resource for resource in self.resources if resource.type_ == token]

    def named(self, name: str) -> RecordedResource:
        """The one resource with this logical name."""
        matches = [resource for resource in self.resources if resource.name == name]
        if len(matches) != 1:
            raise LookupError(f"expected exactly one resource named {name!r}, found {len(matches)}")
        return matches[0]

    def children_of(self, name: str) -> list[RecordedResource]:
        """Resources whose parent is the resource with this logical name."""
        return [resource for resource in self.resources if resource.parent == name]

    def to_json(self) -> str:
        """Stable JSON: sorted keys, resources by type then name, secrets and unknowns as placeholders."""
        document = {
            "project": self.project,
            "stack": self.stack,
            "preview": self.preview,
            "outputs": _jsonable(self.outputs),
            "resources": [
                {
                    "type": resource.type_,
                    "name": resource.name,
                    "parent": resource.parent,
                    "custom": resource.custom,
                    "provider": resource.provider,
                    "inputs": _jsonable(resource.inputs),
                    "options": _jsonable(resource.options),
                }
                for resource in sorted(self.resources, key=_resource_order)
            ],
        }
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)


def _resource_order(resource: RecordedResource) -> tuple[str, str, str]:
    return (resource.type_, resource.name, resource.parent or "")


# --------------------------------------------------------------------------------------------------
# Stack config, encoded as the CLI hands it to a Python program
# --------------------------------------------------------------------------------------------------


class _StackFileLoader(yaml.SafeLoader):
    """Resolves plain scalars like the CLI's YAML 1.2 decoder: `on`, `yes`, `10:30`, dates stay strings."""


_YAML_1_1_ONLY_TAGS: Final = frozenset(
    {
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:timestamp",
    }
)
_StackFileLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in _YAML_1_1_ONLY_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StackFileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StackFileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_StackFileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class _Project:
    name: str
    main: str | None
    defaults: dict[str, Any]


def project_name(project_root: Path) -> str:
    """The project name declared in `Pulumi.yaml`."""
    return _read_project(project_root).name


def stack_config(stack: str, project_root: Path) -> dict[str, str]:
    """The stack's config as `{"<namespace>:<key>": "<string>"}`, exactly as the Pulumi CLI passes it."""
    project = _read_project(project_root)
    stack_file = project_root / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        available = sorted(path.name for path in project_root.glob("Pulumi.*.yaml"))
        raise StackFileError(
            f"stack file {stack_file} not found: stack {stack!r} has no committed config "
            f"(stack files present: {', '.join(available) or 'none'})"
        )
    document = _compose(stack_file)
    sections = _mapping_entries(document, stack_file) if document is not None else {}
    if "environment" in sections:
        raise StackFileError(
            f"{stack_file} imports Pulumi ESC environments, which cannot be resolved offline; "
            "keep stack config in the file itself"
        )
    encoded = {_full_key(key, project.name): value for key, value in project.defaults.items()}
    config_node = sections.get("config")
    if config_node is not None:
        for key, node in _mapping_entries(config_node, stack_file).items():
            full_key = _full_key(key, project.name)
            encoded[full_key] = _encode_value(node, full_key, stack_file)
    return encoded


def _read_project(project_root: Path) -> _Project:
    project_file = project_root / "Pulumi.yaml"
    if not project_file.is_file():
        raise StackFileError(f"project file {project_file} not found: {project_root} is not a Pulumi project")
    loader = _StackFileLoader(project_file.read_text(encoding="utf-8"))
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as error:
        raise StackFileError(f"{project_file} is not valid YAML: {error}") from error
    finally:
        loader.dispose()
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise StackFileError(f"{project_file} does not declare a project `name`")
    main = document.get("main")
    return _Project(
        name=document["name"],
        main=main if isinstance(main, str) else None,
        defaults=_project_defaults(document.get("config"), project_file),
    )


def _project_defaults(declared: Any, project_file: Path) -> dict[str, str]:
    """Values and defaults that Pulumi.yaml's own `config:` block gives every stack."""
    if declared is None:
        return {}
    if not isinstance(declared, dict):
        raise StackFileError(f"{project_file}: `config` must be a mapping")
    defaults: dict[str, str] = {}
    for key, spec in declared.items():
        if isinstance(spec, dict):
            # A typed declaration carries its value under `value` or `default`; without either, the
            # stack must provide it (the CLI checks that, and so would the program's own validation).
            for value_key in ("value", "default"):
                if value_key in spec:
                    defaults[str(key)] = _encode_plain(spec[value_key], str(key), project_file)
                    break
        else:
            defaults[str(key)] = _encode_plain(spec, str(key), project_file)
    return defaults


def _compose(path: Path) -> yaml.Node | None:
    try:
        return yaml.compose(path.read_text(encoding="utf-8"), Loader=_StackFileLoader)
    except yaml.YAMLError as error:
        raise StackFileError(f"{path} is not valid YAML: {error}") from error


def _mapping_entries(node: yaml.Node, path: Path) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise StackFileError(f"{path}: expected a mapping at line {node.start_mark.line + 1}")
    entries: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        entries[str(key_node.value)] = value_node
    return entries


def _full_key(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _encode_value(node: yaml.Node, key: str, path: Path) -> str:
    """One stack-file value as the CLI passes it: scalars as their raw text, structures as JSON."""
    if isinstance(node, yaml.ScalarNode):
        # The CLI first decodes every scalar into a Go string, so `True`, `05` or `1.50` reach the
        # program as written, and an empty value as "".
        return "" if node.tag == _YAML_NULL_TAG else str(node.value)
    loader = _StackFileLoader("")
    try:
        value = loader.construct_document(node)
    finally:
        loader.dispose()
    return _encode_plain(value, key, path)


def _encode_plain(value: Any, key: str, path: Path) -> str:
    if _is_secure(value):
        raise SecureConfigError(
            f"{path}: config {key!r} holds an encrypted `secure:` value; an offline synth cannot decrypt "
            "it. Keep secrets out of stack files (Secrets Manager holds them)."
        )
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        return json.dumps(_go_json_numbers(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    except ValueError as error:
        raise StackFileError(f"{path}: config {key!r} cannot be encoded as JSON: {error}") from error


def _is_secure(value: Any) -> bool:
    if isinstance(value, dict):
        if set(value) == {"secure"} and isinstance(value["secure"], str):
            return True
        return any(_is_secure(item) for item in value.values())
    if isinstance(value, list):
        return any(_is_secure(item) for item in value)
    return False


def _go_json_numbers(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a JSON number")
        if value.is_integer() and abs(value) < _GO_JSON_PLAIN_FLOAT_LIMIT:
            return int(value)
        return value
    if isinstance(value, dict):
        return {str(key): _go_json_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_json_numbers(item) for item in value]
    return value


# --------------------------------------------------------------------------------------------------
# Cloud-computed outputs
# --------------------------------------------------------------------------------------------------


class _NotYetKnownError(Exception):
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
        raise _NotYetKnownError(key)

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
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": _event_target,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:sns/topic:Topic": _sns_topic,
    "aws:sns/topicSubscription:TopicSubscription": _sns_subscription,
    "aws:kms/key:Key": _kms_key,
    "aws:secretsmanager/secret:Secret": _secretsmanager_secret,
    "aws:appsync/graphQLApi:GraphQLApi": _appsync_api,
    "aws:appsync/dataSource:DataSource": _appsync_data_source,
    "aws:appsync/resolver:Resolver": _appsync_resolver,
    "aws:ses/template:Template": _ses_template,
}

# Token modules whose ARN service prefix differs from the module name.
_ARN_SERVICES: Final[Mapping[str, str]] = {"sesv2": "ses", "cloudwatch": "cloudwatch", "cfg": "config"}
_GLOBAL_SERVICES: Final = frozenset({"iam", "cloudfront", "route53", "organizations"})


def _generic_arn(ctx: CloudContext) -> CloudOutputs:
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
_RESOURCE_CLASSES: Final = _ResourceClasses()


def _subclasses(cls: type) -> Iterator[type]:
    subclasses: list[type] = cls.__subclasses__()
    for subclass in subclasses:
        yield subclass
        yield from _subclasses(subclass)


# --------------------------------------------------------------------------------------------------
# Recording mocks
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Registration:
    urn: str
    request: Any


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every registration and answer with the outputs AWS would compute."""

    def __init__(
        self,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        project_root: Path | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self._project_root = project_root
        self._records: list[RecordedResource] = []
        self._urns: set[str] = set()
        self._lock = threading.Lock()
        self._in_flight = threading.local()

    @property
    def resources(self) -> list[RecordedResource]:
        """The registrations recorded so far, in arrival order."""
        with self._lock:
            return list(self._records)

    @contextlib.contextmanager
    def _registering(self, registration: _Registration) -> Iterator[None]:
        """Make the wire request visible to `new_resource`, which runs on the same thread."""
        self._in_flight.registration = registration
        try:
            yield
        finally:
            self._in_flight.registration = None

    def call(self, args: MockCallArgs) -> NoReturn:
        """Refuse every invoke: stack config and resource outputs serve instead of data sources."""
        raise InvokeNotAllowedError(
            f"the program called the provider function {args.token!r}; an offline synth answers no "
            "data-source invokes (house rule: take account, region and ARNs from config and outputs)"
        )

    def register_transform(self, transform: pulumi.ResourceTransform) -> NoReturn:
        """Refuse stack transforms: the mock monitor never runs them, so the graph would silently differ."""
        raise TransformNotSupportedError(
            f"the program registers the transform {getattr(transform, '__name__', transform)!r}; engine-side "
            "transforms do not run under mocks, so the offline graph would not match a deployment"
        )

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Record the registration and return an id plus inputs merged with computed outputs."""
        if args.transforms:
            raise TransformNotSupportedError(
                f"{args.typ} {args.name!r} declares `transforms`; engine-side transforms do not run under "
                "mocks, so the offline graph would not match a deployment"
            )
        if args.custom is None:
            # Only `ReadResource` (Resource.get, StackReference) leaves `custom` unset.
            what = "a stack reference" if args.typ == _STACK_REFERENCE_TYPE else "an existing resource"
            raise ExistingResourceReadError(
                f"the program reads {what} ({args.typ} {args.name!r}), which needs a real backend; "
                "an offline synth cannot"
            )
        registration: _Registration | None = getattr(self._in_flight, "registration", None)
        inputs = _plain(args.inputs, self._project_root)
        options = _wire_options(registration.request) if registration is not None else {}
        record = RecordedResource(
            type_=args.typ,
            name=args.name,
            parent=options.get("parent"),
            custom=bool(args.custom),
            inputs=inputs,
            provider=_provider_name(args.provider),
            options=options,
            urn=registration.urn if registration is not None else "",
        )
        with self._lock:
            if record.urn and record.urn in self._urns:
                raise DuplicateUrnError(
                    f"duplicate resource URN {record.urn!r}; give the resource a unique name"
                )
            self._urns.add(record.urn)
            self._records.append(record)
        if not args.custom:
            # Components have no physical id; their outputs come from `register_outputs`.
            return "", dict(args.inputs)
        cloud = self._cloud_outputs(args.typ, args.name, inputs)
        return cloud.id, {**cloud.outputs, **args.inputs}

    def _cloud_outputs(self, token: str, name: str, inputs: dict[str, Any]) -> CloudOutputs:
        ctx = CloudContext(
            type_=token, logical_name=name, inputs=inputs, region=self.region, account=self.account_id
        )
        template = OUTPUT_TEMPLATES.get(token)
        if template is None and token.startswith("aws:") and _RESOURCE_CLASSES.has_arn(token):
            template = _generic_arn
        try:
            if template is not None:
                return template(ctx)
            return CloudOutputs(id=ctx.physical_name())
        except _NotYetKnownError:
            # In a preview, outputs the mock leaves out resolve as unknown, as they would for real.
            return CloudOutputs(id=f"{name}-id")


class _RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, showing each wire request (options, parent, dependencies) to the mocks."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self._recorder = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        """Register as the SDK's monitor does, with the request visible to `new_resource`."""
        if request.type == _STACK_TYPE:
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._recorder._registering(_Registration(urn=urn, request=request)):
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def _urn_name(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<qualified type>::<name>; the name may itself contain "::".
    return urn.split("::", 3)[3] if urn.count("::") >= 3 else urn


def _urn_type(urn: str) -> str:
    return urn.split("::", 3)[2].rsplit("$", 1)[-1] if urn.count("::") >= 3 else ""


def _parent_name(parent_urn: str) -> str | None:
    if not parent_urn or _urn_type(parent_urn) == _STACK_TYPE:
        return None
    return _urn_name(parent_urn)


def _provider_name(provider_ref: str | None) -> str | None:
    # A provider reference is "<provider urn>::<provider id>"; "" means the default provider.
    if not provider_ref:
        return None
    return _urn_name(provider_ref.rsplit("::", 1)[0])


def _wire_options(request: Any) -> dict[str, Any]:
    aliases: list[dict[str, Any]] = [{"urn": urn} for urn in request.aliasURNs]
    for alias in request.aliases:
        if alias.HasField("urn"):
            aliases.append({"urn": alias.urn})
        else:
            spec = alias.spec
            described = {
                key: getattr(spec, key)
                for key in ("name", "type", "stack", "project", "parentUrn")
                if getattr(spec, key)
            }
            if spec.noParent:
                described["noParent"] = True
            aliases.append(described)
    return {
        "parent": _parent_name(request.parent),
        "protect": bool(request.protect),
        "depends_on": [],
        "dependencies": sorted({_urn_name(urn) for urn in request.dependencies}),
        "delete_before_replace": bool(request.deleteBeforeReplace),
        "retain_on_delete": bool(request.retainOnDelete),
        "ignore_changes": sorted(request.ignoreChanges),
        "replace_on_changes": sorted(request.replaceOnChanges),
        "deleted_with": _urn_name(request.deletedWith) if request.deletedWith else None,
        "aliases": aliases,
    }


def _plain(value: Any, project_root: Path | None) -> Any:
    """A deserialized wire value as plain data: unknowns and secrets marked, assets as path records."""
    if isinstance(value, Unknown):
        return UNKNOWN_PLACEHOLDER
    if isinstance(value, str):
        return UNKNOWN_PLACEHOLDER if value == pulumi_rpc.UNKNOWN else value
    if isinstance(value, float) and value.is_integer():
        # The wire carries every number as a double; integral ones read better (and diff less) as ints.
        return int(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        if pulumi_rpc.is_rpc_secret(value):
            return Secret(_plain(pulumi_rpc.unwrap_rpc_secret(value), project_root))
        return {str(key): _plain(item, project_root) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [_plain(item, project_root) for item in value]
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        kind = "fileAsset" if isinstance(value, pulumi.FileAsset) else "fileArchive"
        return {kind: _project_relative(str(value.path), project_root)}
    if isinstance(value, pulumi.StringAsset):
        return {"stringAsset": value.text}
    if isinstance(value, pulumi.RemoteAsset | pulumi.RemoteArchive):
        return {"remoteAsset" if isinstance(value, pulumi.RemoteAsset) else "remoteArchive": value.uri}
    if isinstance(value, pulumi.AssetArchive):
        return {"assetArchive": {key: _plain(item, project_root) for key, item in value.assets.items()}}
    if isinstance(value, pulumi.Resource):
        # A resource reference; the SDK rebuilt it from its URN, whose name it keeps privately.
        return {"resource": pulumi.get_type_token(type(value)), "name": getattr(value, "_name", None)}
    return repr(value)


def _project_relative(path: str, project_root: Path | None) -> str:
    if project_root is None:
        return path
    candidate = Path(path)
    if candidate.is_absolute() and candidate.is_relative_to(project_root):
        return candidate.relative_to(project_root).as_posix()
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, Secret):
        return SECRET_PLACEHOLDER
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


# --------------------------------------------------------------------------------------------------
# Resource options the wire request does not carry as declared
# --------------------------------------------------------------------------------------------------


class _DeclaredDependsOn:
    """A legacy stack transformation: it runs in-process (so under mocks) and sees each `depends_on`."""

    def __init__(self) -> None:
        self._declared: list[tuple[pulumi.Resource, Any]] = []

    def __call__(self, args: pulumi.ResourceTransformationArgs) -> None:
        # `opts.urn` marks a lookup of a resource that already exists (e.g. a rebuilt reference).
        if args.opts.urn is None and args.opts.depends_on is not None:
            self._declared.append((args.resource, args.opts.depends_on))

    async def by_urn(self) -> dict[str, list[str]]:
        """Each resource's URN with the names it declared in `depends_on`."""
        declared: dict[str, list[str]] = {}
        for resource, depends_on in self._declared:
            # A constructor that failed after this transformation (and was caught) never registered.
            if not hasattr(resource, "urn"):
                continue
            urn = await resource.urn.future()
            resolved = await pulumi.Output.from_input(depends_on).future()
            items = resolved if isinstance(resolved, Sequence) else [resolved]
            names = [
                _urn_name(str(await item.urn.future())) for item in items if isinstance(item, pulumi.Resource)
            ]
            if urn:
                declared[urn] = sorted(names)
        return declared


async def _stack_exports(project_root: Path | None) -> dict[str, Any]:
    root = pulumi_settings.get_root_resource()
    exports: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
    resolved: dict[str, Any] = {}
    for key, value in exports.items():
        output = pulumi.Output.from_input(value)
        plain = _plain(await output.future(with_unknowns=True), project_root)
        resolved[key] = Secret(plain) if await output.is_secret() else plain
    return resolved


# --------------------------------------------------------------------------------------------------
# Running a program
# --------------------------------------------------------------------------------------------------


def synthesize(
    stack: str,
    *,
    project_root: Path,
    preview: bool = False,
    program: Path | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> ResourceGraph:
    """Run the project's program under recording mocks with the stack's committed config."""
    root = project_root.resolve()
    project = _read_project(root)
    config = stack_config(stack, root)
    entry = program if program is not None else _entry_point(root, project)
    if not entry.is_file():
        raise StackFileError(f"program {entry} not found")
    run = _ProgramRun(
        body=lambda: runpy.run_path(str(entry), run_name="__main__"),
        project=project.name,
        stack=stack,
        preview=preview,
        config=config,
        mocks=RecordingMocks(
            account_id=account_id, region=config.get("aws:region", DEFAULT_REGION), project_root=root
        ),
        root=root,
    )
    return run.in_own_thread()


def run_under_mocks(
    build: Callable[[], object],
    *,
    project: str = "test-project",
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    preview: bool = False,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
) -> ResourceGraph:
    """Call `build` (e.g. construct one component) under recording mocks and return what it registered."""
    run = _ProgramRun(
        body=build,
        project=project,
        stack=stack,
        preview=preview,
        config=dict(config or {}),
        mocks=RecordingMocks(account_id=account_id, region=region),
        root=None,
    )
    return run.in_own_thread()


def _entry_point(root: Path, project: _Project) -> Path:
    main = root / project.main if project.main else root
    return main / "__main__.py" if main.is_dir() else main


@dataclass(frozen=True)
class _ProgramRun:
    body: Callable[[], object]
    project: str
    stack: str
    preview: bool
    config: dict[str, str]
    mocks: RecordingMocks
    root: Path | None

    def in_own_thread(self) -> ResourceGraph:
        with _RUN_LOCK, ThreadPoolExecutor(max_workers=1, thread_name_prefix="pulumi-synth") as runner:
            # A fresh thread starts with an empty contextvars context and no event loop, so nothing
            # the SDK keeps in context variables (settings, root stack, config) leaks between runs or
            # into the caller, and the caller's event loop is never touched.
            return runner.submit(self._execute).result()

    def _execute(self) -> ResourceGraph:
        loop = _new_loop()
        asyncio.set_event_loop(loop)
        worker_loops: list[asyncio.AbstractEventLoop] = []
        # The mock monitor runs on executor threads and needs an event loop there; give each worker
        # one we can close, instead of the unclosed loops the SDK would create.
        executor = ThreadPoolExecutor(
            thread_name_prefix="pulumi-monitor", initializer=_give_thread_a_loop, initargs=(worker_loops,)
        )
        loop.set_default_executor(executor)
        try:
            with _program_imports(self.root):
                self._configure()
                declared = _DeclaredDependsOn()
                pulumi.runtime.register_stack_transformation(declared)
                loop.run_until_complete(self._run_body())
                depends_on = loop.run_until_complete(declared.by_urn())
                exports = loop.run_until_complete(_stack_exports(self.root))
        except BaseException:
            # Cleanup after a failure must never replace the program's own error.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                _shut_down(loop, worker_loops)
            raise
        _shut_down(loop, worker_loops)
        resources = tuple(
            sorted(
                (
                    replace(record, options={**record.options, "depends_on": depends_on.get(record.urn, [])})
                    if record.options
                    else record
                    for record in self.mocks.resources
                ),
                key=_resource_order,
            )
        )
        return ResourceGraph(
            project=self.project, stack=self.stack, preview=self.preview, resources=resources, outputs=exports
        )

    def _configure(self) -> None:
        settings = pulumi_settings.SETTINGS
        # `set_mocks` replaces the monitor and RPC manager but not these; set them so no task or lock
        # from another run is ever awaited here.
        settings.outputs = set()
        settings.lock = threading.Lock()
        pulumi_settings.ROOT.set(None)
        pulumi.runtime.set_all_config(self.config, secret_keys=[])
        pulumi.runtime.set_mocks(
            self.mocks,
            project=self.project,
            stack=self.stack,
            preview=self.preview,
            monitor=_RecordingMonitor(self.mocks),
        )
        if self.root is not None:
            settings.root_directory = str(self.root)

    async def _run_body(self) -> None:
        # Run inside the loop, as the language host does, so synchronous invokes can pump it. If the
        # body raises, its exception propagates as is: nothing waits on registrations it left behind.
        self.body()
        await wait_for_rpcs()


@contextlib.contextmanager
def _program_imports(root: Path | None) -> Iterator[None]:
    """Let the program import the project's packages, and forget them afterwards."""
    if root is None:
        yield
        return
    modules_before = set(sys.modules)
    added_to_path = str(root) not in sys.path
    if added_to_path:
        sys.path.insert(0, str(root))
    try:
        yield
    finally:
        if added_to_path:
            sys.path.remove(str(root))
        _forget_program_modules(modules_before, root)


def _new_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_drop_unretrieved_failures)
    return loop


def _drop_unretrieved_failures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Skip asyncio's report of a failed future nobody awaited; report anything else as usual."""
    # After a failed run, every output that depended on the failure holds a copy of its exception. The
    # caller already has the first one, and logging each copy when the garbage collector finds it means
    # formatting tracebacks (so `ast.parse`) on arbitrary threads, which races with pytest's import
    # hook on CPython < 3.11.8 (gh-106905: "AST constructor recursion depth mismatch").
    future = context.get("future")
    failed = (
        isinstance(future, asyncio.Future)
        and future.done()
        and not future.cancelled()
        and future.exception() is not None
    )
    if not failed:
        loop.default_exception_handler(context)


def _give_thread_a_loop(worker_loops: list[asyncio.AbstractEventLoop]) -> None:
    worker_loop = _new_loop()
    asyncio.set_event_loop(worker_loop)
    worker_loops.append(worker_loop)


def _shut_down(loop: asyncio.AbstractEventLoop, worker_loops: list[asyncio.AbstractEventLoop]) -> None:
    """Stop callback servers, cancel what a failed program left behind, release executor and loops."""
    try:
        # Resource hooks and transforms start a gRPC callback server on this loop; stop it before its
        # tasks are cancelled below (the SDK only stops servers created on the current loop).
        loop.run_until_complete(_shutdown_callbacks())  # type: ignore[no-untyped-call]
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        for worker_loop in worker_loops:
            worker_loop.close()


def _forget_program_modules(modules_before: set[str], root: Path) -> None:
    """Drop modules the program imported from the project, so the next run starts from clean module state."""
    # A virtualenv inside the project (.venv) holds the SDKs, whose modules register themselves with
    # the Pulumi runtime once per process and must stay imported.
    environments = {Path(prefix).resolve() for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    for name in set(sys.modules) - modules_before:
        location = getattr(sys.modules.get(name), "__file__", None)
        if location is None:
            continue
        path = Path(location).resolve()
        if not path.is_relative_to(root) or any(path.is_relative_to(env) for env in environments):
            continue
        relative_parts = path.relative_to(root).parts
        if any(part.startswith(".") or part == "site-packages" for part in relative_parts):
            continue
        del sys.modules[name]
