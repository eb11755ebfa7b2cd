"""Pure comparisons: a resource's graph inputs and AWS's answers (plain dicts) in, findings out.

Environment variables are compared by key only: values may hold ARNs of secrets and never appear
in a finding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from infra.config.cross_resource_rules import UNRESERVED_CONCURRENCY_MINIMUM
from ops.aws_check.findings import NOT_REPORTED, Finding, ResourceFindings, Status, show

_ENABLED_STATES: Final = frozenset({"Enabled", "Enabling", "Creating", "Updating"})


def paused(actual: str, since: datetime) -> str:
    """What a trigger's state reads as when a maintenance window disabled it."""
    return f"{actual}: paused by maintenance since {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def compare_function(inputs: Mapping[str, Any], deployed: Mapping[str, Any] | None) -> list[Finding]:
    """A function's settings; `deployed` is GetFunctionConfiguration plus `ReservedConcurrentExecutions`."""
    function = ResourceFindings("function", inputs["name"])
    if deployed is None:
        return [function.absent()]
    reported = (
        ("runtime", "Runtime", inputs.get("runtime")),
        ("handler", "Handler", inputs.get("handler")),
        ("memory MB", "MemorySize", inputs.get("memorySize", 128)),
        ("timeout s", "Timeout", inputs.get("timeout", 3)),
        ("architectures", "Architectures", list(inputs.get("architectures") or ["x86_64"])),
    )
    reserved = inputs.get("reservedConcurrentExecutions", -1)
    return [
        function.present(),
        *(
            function.reported(check, expected, deployed=deployed, key=key)
            for check, key, expected in reported
        ),
        function.field(
            "reserved concurrency",
            "unreserved" if reserved is None or reserved < 0 else reserved,
            deployed.get("ReservedConcurrentExecutions", "unreserved"),
        ),
        _env_keys(function, inputs, deployed),
    ]


def _env_keys(function: ResourceFindings, inputs: Mapping[str, Any], deployed: Mapping[str, Any]) -> Finding:
    expected = set(((inputs.get("environment") or {}).get("variables") or {}).keys())
    actual = set(((deployed.get("Environment") or {}).get("Variables") or {}).keys())
    if expected == actual:
        return function.finding("env keys", Status.OK, f"{len(expected)} keys", f"{len(actual)} keys")
    # Keys only, never values: they may hold secret ARNs.
    return function.finding(
        "env keys",
        Status.DRIFT,
        "missing: " + show(sorted(expected - actual)),
        "unexpected: " + show(sorted(actual - expected)),
    )


def compare_alias(
    function: str, alias: str, deployed: Mapping[str, Any] | None, published_versions: Iterable[str]
) -> list[Finding]:
    """The alias exists and points at a published version (never $LATEST), and so do its weights.

    The program creates `live` at the first published version and leaves its version and routing to
    `dmd release` (ignore_changes), so any published version is right; a newer published version
    than `live`'s (or weights left on it) is a release pending, reported but not a problem.
    """
    found = ResourceFindings("alias", f"{function}:{alias}")
    if deployed is None:
        return [found.absent()]
    version = deployed.get("FunctionVersion")
    published = {item for item in published_versions if item != "$LATEST"}
    status = Status.OK if version in published else Status.DRIFT
    findings = [found.present(), found.finding("points at", status, "a published version", show(version))]
    weights: Mapping[str, float] = (deployed.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    if weights:
        shares = ", ".join(f"{other}: {weight:.0%}" for other, weight in sorted(weights.items()))
        routed = Status.OK if set(weights) <= published else Status.DRIFT
        findings.append(found.finding("routing", routed, "published versions", shares))
    newest = max((item for item in published if item.isdigit()), key=int, default=None)
    if newest is not None and (newest != version or weights):
        findings.append(
            found.finding(
                "release",
                Status.OK,
                f"newest published version {newest}",
                f"live on {show(version)}: release pending (`dmd release`)",
            )
        )
    return findings


def source_name(arn: str) -> str:
    """The name an event source ARN ends with: a stream, queue or table name."""
    resource = arn.split(":", 5)[-1]
    if resource.startswith("table/"):  # DynamoDB: table/NAME/stream/LABEL
        return resource.split("/")[1]
    return resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _patterns(filters: Iterable[Mapping[str, Any]], key: str) -> list[str]:
    patterns = []
    for item in filters:
        text = item.get(key, "")
        try:
            patterns.append(json.dumps(json.loads(text), sort_keys=True))
        except ValueError:
            patterns.append(text)
    return sorted(patterns)


def compare_event_source_mapping(
    inputs: Mapping[str, Any],
    on_alias: Sequence[Mapping[str, Any]] | None,
    *,
    paused_since: datetime | None = None,
) -> list[Finding]:
    """The mapping on the alias from the same source; `on_alias` is None when the alias is missing.

    `paused_since`: a maintenance window covers the worker, so a disabled mapping is SKIPPED, not DRIFT.
    """
    function = inputs["functionName"].split(":function:", 1)[-1]
    source = source_name(inputs["eventSourceArn"])
    mapping = ResourceFindings("event source mapping", f"{source} → {function}")
    if on_alias is None:
        return [mapping.absent(actual="no alias")]
    deployed = next((item for item in on_alias if source_name(item["EventSourceArn"]) == source), None)
    if deployed is None:
        sources = sorted(source_name(item["EventSourceArn"]) for item in on_alias)
        return [mapping.absent(f"from {source}", "on alias: " + show(sources))]
    state = deployed.get("State", "")
    expected_enabled = bool(inputs.get("enabled", True))
    enabled = mapping.finding(
        "enabled",
        Status.OK if (state in _ENABLED_STATES) == expected_enabled else Status.DRIFT,
        "Enabled" if expected_enabled else "Disabled",
        state or "none",
    )
    if enabled.status is Status.DRIFT and expected_enabled and paused_since is not None:
        enabled = mapping.finding("enabled", Status.SKIPPED, "Enabled", paused(state, paused_since))
    return [
        mapping.present(),
        mapping.reported("batch size", inputs.get("batchSize"), deployed=deployed, key="BatchSize"),
        enabled,
        mapping.field(
            "function response types",
            sorted(inputs.get("functionResponseTypes") or []),
            sorted(deployed.get("FunctionResponseTypes") or []),
        ),
        mapping.field(
            "filter patterns",
            _patterns((inputs.get("filterCriteria") or {}).get("filters") or [], "pattern"),
            _patterns((deployed.get("FilterCriteria") or {}).get("Filters") or [], "Pattern"),
        ),
    ]


def compare_log_group(inputs: Mapping[str, Any], deployed: Mapping[str, Any] | None) -> list[Finding]:
    """The log group exists with its retention (absent or 0 = never expire)."""
    group = ResourceFindings("log group", inputs["name"])
    if deployed is None:
        return [group.absent()]
    expected = inputs.get("retentionInDays") or "never expire"
    actual = deployed.get("retentionInDays") or "never expire"
    return [group.present(), group.field("retention days", expected, actual)]


def compare_alarm(inputs: Mapping[str, Any], deployed: Mapping[str, Any] | None) -> list[Finding]:
    """The alarm exists with its threshold."""
    alarm = ResourceFindings("alarm", inputs["name"])
    if deployed is None:
        return [alarm.absent()]
    if "threshold" not in inputs:
        return [alarm.present()]
    actual = deployed.get("Threshold")
    return [
        alarm.present(),
        alarm.field("threshold", float(inputs["threshold"]), None if actual is None else float(actual)),
    ]


def _redrive(policy: Any) -> str:
    if not policy:
        return "none"
    parsed = json.loads(policy) if isinstance(policy, str) else policy
    return f"{source_name(parsed['deadLetterTargetArn'])} after {int(parsed['maxReceiveCount'])} receives"


def compare_queue(inputs: Mapping[str, Any], attributes: Mapping[str, Any] | None) -> list[Finding]:
    """The queue exists with its visibility timeout and redrive policy (DLQ, maxReceiveCount)."""
    queue = ResourceFindings("queue", inputs["name"])
    if attributes is None:
        return [queue.absent()]
    visibility = str(inputs.get("visibilityTimeoutSeconds", 30))
    return [
        queue.present(),
        queue.reported("visibility timeout s", visibility, deployed=attributes, key="VisibilityTimeout"),
        queue.field(
            "redrive policy", _redrive(inputs.get("redrivePolicy")), _redrive(attributes.get("RedrivePolicy"))
        ),
    ]


def compare_table(
    inputs: Mapping[str, Any],
    deployed: Mapping[str, Any] | None,
    time_to_live: Mapping[str, Any] | None,
    continuous_backups: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """The table exists with its GSIs, TTL attribute, deletion protection and point-in-time recovery.

    `continuous_backups` is DescribeContinuousBackups' description (None: not read or not reported).
    """
    table = ResourceFindings("table", inputs["name"])
    if deployed is None:
        return [table.absent()]
    ttl = inputs.get("ttl") or {}
    live_ttl = time_to_live or {}
    return [
        table.present(),
        table.field(
            "global secondary indexes",
            sorted(index["name"] for index in inputs.get("globalSecondaryIndexes") or []),
            sorted(index["IndexName"] for index in deployed.get("GlobalSecondaryIndexes") or []),
        ),
        table.field(
            "TTL attribute",
            ttl.get("attributeName") if ttl.get("enabled") else None,
            live_ttl.get("AttributeName")
            if live_ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
            else None,
        ),
        table.reported(
            "deletion protection",
            bool(inputs.get("deletionProtectionEnabled", False)),
            deployed=deployed,
            key="DeletionProtectionEnabled",
        ),
        _point_in_time_recovery(table, inputs, continuous_backups),
    ]


def _point_in_time_recovery(
    table: ResourceFindings, inputs: Mapping[str, Any], continuous_backups: Mapping[str, Any] | None
) -> Finding:
    expected = "ENABLED" if (inputs.get("pointInTimeRecovery") or {}).get("enabled") else "DISABLED"
    recovery = (continuous_backups or {}).get("PointInTimeRecoveryDescription") or {}
    if "PointInTimeRecoveryStatus" not in recovery:
        return table.finding("point-in-time recovery", Status.SKIPPED, expected, NOT_REPORTED)
    return table.field("point-in-time recovery", expected, recovery["PointInTimeRecoveryStatus"])


def compare_rule(
    inputs: Mapping[str, Any], deployed: Mapping[str, Any] | None, *, paused_since: datetime | None = None
) -> list[Finding]:
    """The EventBridge rule exists with its schedule and state (ENABLED unless declared otherwise).

    `paused_since`: a maintenance window covers the rule's worker, so DISABLED is SKIPPED, not DRIFT.
    """
    rule = ResourceFindings("rule", inputs["name"])
    if deployed is None:
        return [rule.absent()]
    expected_state = inputs.get("state") or "ENABLED"
    actual_state = deployed.get("State")
    state = rule.field("state", expected_state, actual_state)
    if state.status is Status.DRIFT and actual_state == "DISABLED" and paused_since is not None:
        state = rule.finding("state", Status.SKIPPED, expected_state, paused(actual_state, paused_since))
    findings = [rule.present()]
    if "scheduleExpression" in inputs:
        findings.append(
            rule.field("schedule", inputs["scheduleExpression"], deployed.get("ScheduleExpression"))
        )
    return [*findings, state]


def compare_subscription_filter(
    inputs: Mapping[str, Any], on_group: Sequence[Mapping[str, Any]]
) -> list[Finding]:
    """The log group's subscription filter exists and sends to the declared destination."""
    subscription = ResourceFindings("log subscription", f"{inputs['logGroup']} → {inputs['name']}")
    deployed = next((item for item in on_group if item.get("filterName") == inputs["name"]), None)
    if deployed is None:
        return [subscription.absent()]
    return [
        subscription.present(),
        subscription.field("destination", inputs.get("destinationArn"), deployed.get("destinationArn")),
        subscription.field(
            "filter pattern",
            inputs.get("filterPattern") or "all events",
            deployed.get("filterPattern") or "all events",
        ),
    ]


def compare_stream(inputs: Mapping[str, Any], summary: Mapping[str, Any] | None) -> list[Finding]:
    """The Kinesis stream exists with its capacity mode, shard count (provisioned) and retention."""
    stream = ResourceFindings("stream", inputs["name"])
    if summary is None:
        return [stream.absent()]
    mode = (inputs.get("streamModeDetails") or {}).get("streamMode", "PROVISIONED")
    findings = [
        stream.present(),
        stream.field("mode", mode, (summary.get("StreamModeDetails") or {}).get("StreamMode")),
    ]
    if mode == "PROVISIONED" and "shardCount" in inputs:
        findings.append(
            stream.reported("open shards", inputs["shardCount"], deployed=summary, key="OpenShardCount")
        )
    findings.append(
        stream.reported(
            "retention hours", inputs.get("retentionPeriod", 24), deployed=summary, key="RetentionPeriodHours"
        )
    )
    return findings


def compare_account_concurrency(
    configured_quota: int,
    declared: Mapping[str, int],
    deployed: Mapping[str, int | None],
    settings: Mapping[str, Any] | None,
) -> list[Finding]:
    """The account's real Lambda concurrency quota against the configured one, and what stays unreserved.

    `declared`: each function's reserved concurrency in the graph (< 0: none); `deployed`: what each
    reserves in AWS now (None: none); `settings`: GetAccountSettings, None if the endpoint lacks it.
    """
    account = ResourceFindings("account", "lambda concurrency")
    quota_check = "quota = platform.alarmTopic.accountConcurrencyLimit"
    unreserved_check = f"unreserved >= {UNRESERVED_CONCURRENCY_MINIMUM} with the stack's reservations"
    if settings is None:
        return [
            account.finding(quota_check, Status.SKIPPED, str(configured_quota), NOT_REPORTED),
            account.finding(unreserved_check, Status.SKIPPED, "", NOT_REPORTED),
        ]
    limit = settings.get("AccountLimit") or {}
    quota, unreserved = limit.get("ConcurrentExecutions"), limit.get("UnreservedConcurrentExecutions")
    # AWS's unreserved figure already leaves out what the stack's functions reserve today; swap that
    # for what the program declares, so the answer holds after the next `pulumi up` too.
    reserved_now = sum(value for value in deployed.values() if value is not None and value > 0)
    reserved_declared = sum(value for value in declared.values() if value > 0)
    findings = [account.field(quota_check, configured_quota, quota)]
    if unreserved is None:
        return [*findings, account.finding(unreserved_check, Status.SKIPPED, "", NOT_REPORTED)]
    left = int(unreserved) + reserved_now - reserved_declared
    status = Status.OK if left >= UNRESERVED_CONCURRENCY_MINIMUM else Status.DRIFT
    return [
        *findings,
        account.finding(
            unreserved_check,
            status,
            f"stack reserves {reserved_declared}",
            f"{left} left unreserved (account: {unreserved} unreserved of {quota}, stack reserves "
            f"{reserved_now} now)",
        ),
    ]
