"""The security and reliability rules of the fleet, as plain functions over a resource's type and inputs.

Each rule mirrors a check of a standard IaC policy scanner (the Checkov id is named where there is
one) or a rule of this product (house rules, issue #11). The same functions run in two places:

- the Pulumi policy pack (`policy/__main__.py`, `pulumi preview --policy-pack policy`), where the
  engine hands each resource's inputs over as it registers them;
- offline over the synthesized graph of a committed stack (`dmd scan --stack prod1`, tests).

A deliberate exception is declared once in `EXCEPTIONS`, with its reason; docs/security.md lists
them (a test keeps the two in step). An excepted finding is reported as such, never silently
dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

TABLE: Final = "aws:dynamodb/table:Table"
LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
SECRET: Final = "aws:secretsmanager/secret:Secret"  # noqa: S105 - a type token
QUEUE: Final = "aws:sqs/queue:Queue"
STREAM: Final = "aws:kinesis/stream:Stream"
TOPIC: Final = "aws:sns/topic:Topic"
KEY: Final = "aws:kms/key:Key"
FUNCTION: Final = "aws:lambda/function:Function"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
GRAPHQL_API: Final = "aws:appsync/graphQLApi:GraphQLApi"
WEB_ACL: Final = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_ASSOCIATION: Final = "aws:wafv2/webAclAssociation:WebAclAssociation"
WEB_ACL_LOGGING: Final = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
METRIC_ALARM: Final = "aws:cloudwatch/metricAlarm:MetricAlarm"
EVENT_TARGET: Final = "aws:cloudwatch/eventTarget:EventTarget"
EVENT_SOURCE_MAPPING: Final = "aws:lambda/eventSourceMapping:EventSourceMapping"

AWS_MANAGED_KINESIS_KEY: Final = "alias/aws/kinesis"
# A value not known before `pulumi preview` creates its resource (an ARN of a new key): pulumi's wire
# sentinels, and the offline synth's placeholder (infra.synth.values.UNKNOWN_PLACEHOLDER). A rule
# treats such a value as set; `pulumi up` checks the real one. (In the engine, the SDK's proxies raise
# on reading an unknown instead: see policy/pack.py.)
PREVIEW_UNKNOWNS: Final = frozenset(
    {
        "<unknown>",
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)
# Actions IAM cannot scope to a resource: `Resource: "*"` is the only form AWS accepts for them.
UNSCOPABLE_ACTIONS: Final = frozenset(
    {
        "cloudwatch:PutMetricData",
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "kinesis:ListStreams",
        "ses:SendTemplatedEmail",
    }
)


@dataclass(frozen=True)
class Resource:
    """One resource as a rule sees it: its type token, logical name and inputs (camelCase)."""

    type_: str
    name: str
    props: Mapping[str, Any]


@dataclass(frozen=True)
class Finding:
    """A rule a resource breaks."""

    rule: str
    resource: str
    message: str


@dataclass(frozen=True)
class ResourceRule:
    """A rule over one resource of the given types; `check` answers the violation or None."""

    id: str
    scanner_id: str
    description: str
    types: frozenset[str]
    check: Callable[[Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class StackRule:
    """A rule over the whole stack; `check` yields (resource name, violation) pairs."""

    id: str
    scanner_id: str
    description: str
    check: Callable[[Sequence[Resource]], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class PolicyException:
    """A deliberate exception: the rule does not apply to the resources `applies` picks, for `reason`."""

    rule: str
    reason: str
    applies: Callable[[Resource], bool]


def _missing(props: Mapping[str, Any], key: str, message: str) -> str | None:
    return None if props.get(key) else message


def _table_cmk(props: Mapping[str, Any]) -> str | None:
    encryption = props.get("serverSideEncryption") or {}
    if not (encryption.get("enabled") and encryption.get("kmsKeyArn")):
        return "the table is not encrypted with a customer-managed KMS key (serverSideEncryption.kmsKeyArn)"
    return None


def _table_pitr(props: Mapping[str, Any]) -> str | None:
    if not (props.get("pointInTimeRecovery") or {}).get("enabled"):
        return "point-in-time recovery is off"
    return None


def _log_group_retention(props: Mapping[str, Any]) -> str | None:
    return None if (props.get("retentionInDays") or 0) > 0 else "the log group keeps its logs forever"


def _log_group_year(props: Mapping[str, Any]) -> str | None:
    days = props.get("retentionInDays") or 0
    return None if days == 0 or days >= 365 else f"retention is {days} days, less than one year"


def _queue_cmk(props: Mapping[str, Any]) -> str | None:
    return _missing(props, "kmsMasterKeyId", "the queue is not encrypted with a customer-managed KMS key")


def _stream_cmk(props: Mapping[str, Any]) -> str | None:
    if props.get("encryptionType") != "KMS":
        return "the stream is not encrypted"
    if props.get("kmsKeyId") in (None, "", AWS_MANAGED_KINESIS_KEY):
        return "the stream is encrypted with the AWS-managed key, not a customer-managed one"
    return None


def _key_rotation(props: Mapping[str, Any]) -> str | None:
    return None if props.get("enableKeyRotation") else "automatic key rotation is off"


def _key_policy_public(props: Mapping[str, Any]) -> str | None:
    for statement in _statements(props.get("policy")):
        principal = statement.get("Principal")
        public = principal == "*" or (isinstance(principal, Mapping) and principal.get("AWS") == "*")
        if statement.get("Effect") == "Allow" and public and not statement.get("Condition"):
            return f"statement {statement.get('Sid', '?')} allows any principal without a condition"
    return None


def _function_concurrency(props: Mapping[str, Any]) -> str | None:
    reserved = props.get("reservedConcurrentExecutions")
    return None if isinstance(reserved, int) and reserved >= 0 else "no reserved concurrency"


def _function_vpc(props: Mapping[str, Any]) -> str | None:
    config = props.get("vpcConfig") or {}
    return None if config.get("subnetIds") else "the function does not run in a VPC"


def _function_tracing(props: Mapping[str, Any]) -> str | None:
    mode = (props.get("tracingConfig") or {}).get("mode")
    return None if mode == "Active" else "X-Ray active tracing is off"


def _function_env_cmk(props: Mapping[str, Any]) -> str | None:
    if not (props.get("environment") or {}).get("variables"):
        return None
    return _missing(props, "kmsKeyArn", "environment variables are encrypted with the AWS-managed key")


def _function_code_signing(props: Mapping[str, Any]) -> str | None:
    return _missing(props, "codeSigningConfigArn", "no code-signing configuration")


def _function_dlq(props: Mapping[str, Any]) -> str | None:
    return _missing(props, "deadLetterConfig", "no dead-letter queue for asynchronous invocations")


def is_unknown(value: Any) -> bool:
    """Whether `value` is a preview-time unknown."""
    return isinstance(value, str) and value in PREVIEW_UNKNOWNS


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:  # unknown during preview: checked again at `pulumi up`
            return []
    if not isinstance(document, Mapping):
        return []
    statements = document.get("Statement") or []
    return [statements] if isinstance(statements, Mapping) else list(statements)


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _iam_wildcard_actions(props: Mapping[str, Any]) -> str | None:
    for statement in _statements(props.get("policy")):
        if statement.get("Effect") != "Allow":
            continue
        wild = [
            action for action in _as_list(statement.get("Action")) if action == "*" or action.endswith(":*")
        ]
        if wild:
            return f"statement {statement.get('Sid', '?')} allows wildcard actions {wild}"
    return None


def _iam_wildcard_resources(props: Mapping[str, Any]) -> str | None:
    for statement in _statements(props.get("policy")):
        if statement.get("Effect") != "Allow" or "*" not in _as_list(statement.get("Resource")):
            continue
        scopable = sorted(set(_as_list(statement.get("Action"))) - UNSCOPABLE_ACTIONS)
        if scopable:
            return f"statement {statement.get('Sid', '?')} grants {scopable} on every resource"
    return None


def _api_logging(props: Mapping[str, Any]) -> str | None:
    level = (props.get("logConfig") or {}).get("fieldLogLevel")
    return None if level in ("ERROR", "ALL", "INFO", "DEBUG") else "AppSync field-level logging is off"


def _alarm_actions(props: Mapping[str, Any]) -> str | None:
    return _missing(props, "alarmActions", "the alarm notifies nobody")


RESOURCE_RULES: Final[tuple[ResourceRule, ...]] = (
    ResourceRule(
        "dynamodb-cmk",
        "CKV_AWS_119",
        "DynamoDB tables use a customer-managed KMS key.",
        frozenset({TABLE}),
        _table_cmk,
    ),
    ResourceRule(
        "dynamodb-pitr",
        "CKV_AWS_28",
        "DynamoDB tables have point-in-time recovery.",
        frozenset({TABLE}),
        _table_pitr,
    ),
    ResourceRule(
        "log-group-cmk",
        "CKV_AWS_158",
        "Log groups are encrypted with a customer-managed KMS key.",
        frozenset({LOG_GROUP}),
        lambda props: _missing(
            props, "kmsKeyId", "the log group is not encrypted with a customer-managed KMS key"
        ),
    ),
    ResourceRule(
        "log-group-retention",
        "CKV_AWS_66",
        "Log groups have a retention period.",
        frozenset({LOG_GROUP}),
        _log_group_retention,
    ),
    ResourceRule(
        "log-group-retention-one-year",
        "CKV_AWS_338",
        "Log groups keep logs for at least a year.",
        frozenset({LOG_GROUP}),
        _log_group_year,
    ),
    ResourceRule(
        "secret-cmk",
        "CKV_AWS_149",
        "Secrets are encrypted with a customer-managed KMS key.",
        frozenset({SECRET}),
        lambda props: _missing(props, "kmsKeyId", "the secret is encrypted with the AWS-managed key"),
    ),
    ResourceRule(
        "sqs-cmk",
        "CKV_AWS_27",
        "Queues are encrypted with a customer-managed KMS key.",
        frozenset({QUEUE}),
        _queue_cmk,
    ),
    ResourceRule(
        "kinesis-cmk",
        "CKV_AWS_43/CKV_AWS_185",
        "Kinesis streams use a customer-managed KMS key.",
        frozenset({STREAM}),
        _stream_cmk,
    ),
    ResourceRule(
        "sns-cmk",
        "CKV_AWS_26",
        "Topics are encrypted with a KMS key.",
        frozenset({TOPIC}),
        lambda props: _missing(props, "kmsMasterKeyId", "the topic is not encrypted"),
    ),
    ResourceRule(
        "kms-rotation",
        "CKV_AWS_7",
        "Customer-managed keys rotate automatically.",
        frozenset({KEY}),
        _key_rotation,
    ),
    ResourceRule(
        "kms-no-public-principal",
        "CKV_AWS_33",
        "Key policies allow no unconditioned wildcard principal.",
        frozenset({KEY}),
        _key_policy_public,
    ),
    ResourceRule(
        "lambda-concurrency",
        "CKV_AWS_115",
        "Functions have reserved concurrency.",
        frozenset({FUNCTION}),
        _function_concurrency,
    ),
    ResourceRule(
        "lambda-vpc", "CKV_AWS_117", "Functions run in a VPC.", frozenset({FUNCTION}), _function_vpc
    ),
    ResourceRule(
        "lambda-tracing",
        "CKV_AWS_50",
        "Functions have X-Ray active tracing.",
        frozenset({FUNCTION}),
        _function_tracing,
    ),
    ResourceRule(
        "lambda-env-cmk",
        "CKV_AWS_173",
        "Function environments use a customer-managed KMS key.",
        frozenset({FUNCTION}),
        _function_env_cmk,
    ),
    ResourceRule(
        "lambda-code-signing",
        "CKV_AWS_272",
        "Functions verify code signatures.",
        frozenset({FUNCTION}),
        _function_code_signing,
    ),
    ResourceRule(
        "lambda-dlq",
        "CKV_AWS_116",
        "Functions have a dead-letter queue.",
        frozenset({FUNCTION}),
        _function_dlq,
    ),
    ResourceRule(
        "iam-no-wildcard-action",
        "CKV_AWS_290",
        "Role policies grant no wildcard actions.",
        frozenset({ROLE_POLICY}),
        _iam_wildcard_actions,
    ),
    ResourceRule(
        "iam-no-wildcard-resource",
        "CKV_AWS_355",
        'Role policies use Resource "*" only for actions IAM cannot scope.',
        frozenset({ROLE_POLICY}),
        _iam_wildcard_resources,
    ),
    ResourceRule(
        "appsync-logging",
        "CKV_AWS_193/CKV_AWS_194",
        "The GraphQL API logs field-level errors.",
        frozenset({GRAPHQL_API}),
        _api_logging,
    ),
    ResourceRule(
        "alarm-actions",
        "",
        "Every alarm notifies the alarm topic.",
        frozenset({METRIC_ALARM}),
        _alarm_actions,
    ),
)


def _by_type(resources: Sequence[Resource], type_: str) -> list[Resource]:
    return [resource for resource in resources if resource.type_ == type_]


def _mentions(resources: Sequence[Resource], value: str) -> bool:
    """Whether any resource's inputs hold `value` (an ARN or URL) anywhere."""
    return any(value in json.dumps(resource.props, default=str) for resource in resources)


def _queues_have_dead_letters(resources: Sequence[Resource]) -> Iterator[tuple[str, str]]:
    # A queue either sends what it cannot deliver to a dead-letter queue, or is itself where a
    # queue, a mapping or a rule target sends its failures.
    failure_sinks = [
        resource
        for resource in resources
        if resource.type_ in (QUEUE, EVENT_SOURCE_MAPPING, EVENT_TARGET, FUNCTION)
        and any(key in resource.props for key in ("redrivePolicy", "destinationConfig", "deadLetterConfig"))
    ]
    for queue in _by_type(resources, QUEUE):
        if "redrivePolicy" in queue.props:
            continue
        name = str(queue.props.get("name", queue.name))
        if not any(name in json.dumps(sink.props, default=str) for sink in failure_sinks):
            yield queue.name, "the queue has no dead-letter queue and receives no one's failures"


def _api_behind_waf(resources: Sequence[Resource]) -> Iterator[tuple[str, str]]:
    # The API's ARN is an output the inputs cannot name before it exists: each API needs one
    # association of an AppSync ARN (one API per stack here).
    associations = [
        association
        for association in _by_type(resources, WEB_ACL_ASSOCIATION)
        if ":appsync:" in str(association.props.get("resourceArn", ""))
        or is_unknown(association.props.get("resourceArn"))
    ]
    for api in _by_type(resources, GRAPHQL_API)[len(associations) :]:
        yield api.name, "the GraphQL API has no WAF web ACL associated"


def _waf_known_bad_inputs(resources: Sequence[Resource]) -> Iterator[tuple[str, str]]:
    for acl in _by_type(resources, WEB_ACL):
        text = json.dumps(acl.props.get("rules", []), default=str)
        if "AWSManagedRulesKnownBadInputsRuleSet" not in text:
            yield acl.name, "the web ACL lacks the known-bad-inputs managed rules (Log4j and the like)"


def _waf_logged(resources: Sequence[Resource]) -> Iterator[tuple[str, str]]:
    logged = _by_type(resources, WEB_ACL_LOGGING)
    for acl in _by_type(resources, WEB_ACL):
        if not logged:
            yield acl.name, "the web ACL's requests are not logged"


STACK_RULES: Final[tuple[StackRule, ...]] = (
    StackRule(
        "sqs-dead-letters", "", "Every queue has a dead-letter queue or is one.", _queues_have_dead_letters
    ),
    StackRule(
        "appsync-waf", "CKV2_AWS_33", "The public GraphQL API is behind a WAF web ACL.", _api_behind_waf
    ),
    StackRule(
        "waf-known-bad-inputs", "CKV_AWS_192", "Web ACLs block known bad inputs.", _waf_known_bad_inputs
    ),
    StackRule("waf-logging", "CKV2_AWS_31", "Web ACL requests are logged.", _waf_logged),
)


def _is_function(resource: Resource) -> bool:
    return resource.type_ == FUNCTION


def _is_log_group(resource: Resource) -> bool:
    return resource.type_ == LOG_GROUP


def _unreserved(resource: Resource) -> bool:
    return _is_function(resource) and resource.props.get("reservedConcurrentExecutions", -1) == -1


EXCEPTIONS: Final[tuple[PolicyException, ...]] = (
    PolicyException(
        "log-group-retention-one-year",
        "Worker and API logs are operational records that name fans; they are kept only as long as the "
        "stack's logRetentionDays (30 days in prod1) to keep personal data short-lived. Audit trails live "
        "in CloudTrail and the central log stream, not here.",
        _is_log_group,
    ),
    PolicyException(
        "lambda-concurrency",
        "Workers without a reservation are bounded by their trigger instead (a schedule, a queue mapping's "
        "maximumConcurrency, or shards × parallelizationFactor); reserving for them would take capacity "
        "from the account's unreserved pool the other workers need. The workers whose concurrency must be "
        "capped (sender, generator, scheduler, shortener) are reserved in production.",
        _unreserved,
    ),
    PolicyException(
        "lambda-tracing",
        "Tracing is OpenTelemetry, exported to the platform's collector "
        "(observability.otelCollectorEndpoint); X-Ray active tracing would trace every invocation twice.",
        _is_function,
    ),
    PolicyException(
        "lambda-env-cmk",
        "Function environments hold only names, URLs and ARNs; every secret is in Secrets Manager under the "
        "stack's customer-managed key and read at run time.",
        _is_function,
    ),
    PolicyException(
        "lambda-code-signing",
        "Code archives are built reproducibly in CI from the locked dependencies and deployed only by the "
        "pipeline's role; AWS Signer is not part of the team's platform yet.",
        _is_function,
    ),
    PolicyException(
        "lambda-dlq",
        "No worker is invoked asynchronously by a caller that could lose an event: stream and queue workers "
        "send failures to their mapping's on-failure destination or the queue's DLQ, the resolvers answer "
        "synchronously, and the schedule targets carry their own dead-letter queue and retry policy.",
        _is_function,
    ),
)


def _excepted(rule: str, resource: Resource) -> PolicyException | None:
    return next((known for known in EXCEPTIONS if known.rule == rule and known.applies(resource)), None)


def resource_findings(resource: Resource) -> Iterator[Finding]:
    """Every resource rule `resource` breaks, exceptions included (see `split`)."""
    for rule in RESOURCE_RULES:
        if resource.type_ in rule.types and (message := rule.check(resource.props)) is not None:
            yield Finding(rule.id, resource.name, message)


def stack_findings(resources: Sequence[Resource]) -> Iterator[Finding]:
    """Every stack rule the resources break."""
    for rule in STACK_RULES:
        for name, message in rule.check(resources):
            yield Finding(rule.id, name, message)


@dataclass(frozen=True)
class ScanResult:
    """The findings of a scan, split into failures and deliberate exceptions."""

    failures: tuple[Finding, ...]
    excepted: tuple[tuple[Finding, PolicyException], ...]


def scan(resources: Sequence[Resource]) -> ScanResult:
    """Run every rule over a stack's resources."""
    by_name = {resource.name: resource for resource in resources}
    findings = [finding for resource in resources for finding in resource_findings(resource)]
    findings += list(stack_findings(resources))
    failures: list[Finding] = []
    excepted: list[tuple[Finding, PolicyException]] = []
    for finding in findings:
        resource = by_name.get(finding.resource)
        known = _excepted(finding.rule, resource) if resource is not None else None
        if known is None:
            failures.append(finding)
        else:
            excepted.append((finding, known))
    return ScanResult(tuple(failures), tuple(excepted))


def is_excepted(rule: str, resource: Resource) -> bool:
    """Whether a finding of `rule` on `resource` is a deliberate exception."""
    return _excepted(rule, resource) is not None
