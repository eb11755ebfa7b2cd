"""The aws check's pure comparisons: graph inputs and AWS answers as plain dicts in, findings out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ops.aws_check import (
    NOT_REPORTED,
    Finding,
    Status,
    compare_account_concurrency,
    compare_alarm,
    compare_alias,
    compare_event_source_mapping,
    compare_function,
    compare_log_group,
    compare_queue,
    compare_rule,
    compare_stream,
    compare_subscription_filter,
    compare_table,
    source_name,
)

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prd/bitly-AbCdEf"


def _statuses(findings: list[Finding]) -> dict[str, Status]:
    return {finding.check: finding.status for finding in findings}


FUNCTION_INPUTS: dict[str, Any] = {
    "name": "fn",
    "runtime": "python3.12",
    "handler": "workers.fn.handler.lambda_handler",
    "memorySize": 512,
    "timeout": 30,
    "architectures": ["arm64"],
    "reservedConcurrentExecutions": -1,
    "environment": {"variables": {"BITLY_SECRET_ARN": SECRET_ARN, "LOG_LEVEL": "INFO"}},
}
FUNCTION_CONFIGURATION: dict[str, Any] = {
    "FunctionName": "fn",
    "Runtime": "python3.12",
    "Handler": "workers.fn.handler.lambda_handler",
    "MemorySize": 512,
    "Timeout": 30,
    "Architectures": ["arm64"],
    "Environment": {"Variables": {"BITLY_SECRET_ARN": SECRET_ARN, "LOG_LEVEL": "INFO"}},
}


def test_a_function_deployed_as_declared_passes_every_check() -> None:
    # Given a configuration that matches the graph
    # When compared
    findings = compare_function(FUNCTION_INPUTS, FUNCTION_CONFIGURATION)
    # Then every check is OK
    assert _statuses(findings) == {
        "exists": Status.OK,
        "runtime": Status.OK,
        "handler": Status.OK,
        "memory MB": Status.OK,
        "timeout s": Status.OK,
        "architectures": Status.OK,
        "reserved concurrency": Status.OK,
        "env keys": Status.OK,
    }


def test_an_absent_function_is_one_missing_finding() -> None:
    assert compare_function(FUNCTION_INPUTS, None) == [
        Finding("function", "fn", "exists", Status.MISSING, "present", "absent")
    ]


def test_memory_drift_shows_expected_and_actual() -> None:
    # Given a function whose memory was changed by hand
    findings = compare_function(FUNCTION_INPUTS, {**FUNCTION_CONFIGURATION, "MemorySize": 1024})
    # Then exactly that check drifts, with both values
    assert [finding for finding in findings if finding.failed] == [
        Finding("function", "fn", "memory MB", Status.DRIFT, "512", "1024")
    ]


def test_env_drift_names_keys_and_never_values() -> None:
    # Given a deployed function missing one variable and holding an extra one (both secret ARNs)
    deployed = {
        **FUNCTION_CONFIGURATION,
        "Environment": {"Variables": {"LOG_LEVEL": "INFO", "EXTRA": SECRET_ARN}},
    }
    # When compared
    (drift,) = [finding for finding in compare_function(FUNCTION_INPUTS, deployed) if finding.failed]
    # Then the finding names the keys, and no value appears anywhere in it
    assert drift == Finding(
        "function", "fn", "env keys", Status.DRIFT, "missing: BITLY_SECRET_ARN", "unexpected: EXTRA"
    )
    assert SECRET_ARN not in repr(compare_function(FUNCTION_INPUTS, deployed))


def test_reserved_concurrency_compares_unreserved_and_reserved() -> None:
    # Given a graph that reserves 10 and a function that reserves none (GetFunctionConcurrency is empty)
    reserved = {**FUNCTION_INPUTS, "reservedConcurrentExecutions": 10}
    (drift,) = [finding for finding in compare_function(reserved, FUNCTION_CONFIGURATION) if finding.failed]
    assert drift == Finding("function", "fn", "reserved concurrency", Status.DRIFT, "10", "unreserved")
    # And a function that reserves 10 matches
    matching = {**FUNCTION_CONFIGURATION, "ReservedConcurrentExecutions": 10}
    assert not [finding for finding in compare_function(reserved, matching) if finding.failed]


def test_a_field_the_endpoint_does_not_report_is_skipped_not_passed() -> None:
    # Given an endpoint (an emulator) whose DescribeTable omits DeletionProtectionEnabled,
    # which AWS always reports
    inputs = {"name": "t", "deletionProtectionEnabled": True, "globalSecondaryIndexes": []}
    recovery = {"PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}
    findings = compare_table(inputs, {"TableName": "t"}, {"TimeToLiveStatus": "DISABLED"}, recovery)
    # Then that check is SKIPPED with the reason, neither OK nor failing
    (skipped,) = [finding for finding in findings if finding.status is Status.SKIPPED]
    assert skipped == Finding("table", "t", "deletion protection", Status.SKIPPED, "true", NOT_REPORTED)
    assert not skipped.failed


TABLE_INPUTS: dict[str, Any] = {
    "name": "t",
    "deletionProtectionEnabled": True,
    "globalSecondaryIndexes": [{"name": "sales"}, {"name": "demand-by-sale"}],
    "ttl": {"attributeName": "expiresAt", "enabled": True},
    "pointInTimeRecovery": {"enabled": True},
}


def test_table_checks_indexes_ttl_deletion_protection_and_point_in_time_recovery() -> None:
    # Given a table that lost an index, its TTL, its deletion protection and its point-in-time recovery
    deployed = {"GlobalSecondaryIndexes": [{"IndexName": "sales"}], "DeletionProtectionEnabled": False}
    recovery = {"PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}
    findings = compare_table(TABLE_INPUTS, deployed, {"TimeToLiveStatus": "DISABLED"}, recovery)
    # Then each is a drift with expected vs actual
    assert [(f.check, f.expected, f.actual) for f in findings if f.failed] == [
        ("global secondary indexes", "demand-by-sale, sales", "sales"),
        ("TTL attribute", "expiresAt", "none"),
        ("deletion protection", "true", "false"),
        ("point-in-time recovery", "ENABLED", "DISABLED"),
    ]


def test_point_in_time_recovery_declared_and_enabled_passes() -> None:
    # Given a table deployed as declared, with point-in-time recovery on
    deployed = {
        "GlobalSecondaryIndexes": [{"IndexName": "sales"}, {"IndexName": "demand-by-sale"}],
        "DeletionProtectionEnabled": True,
    }
    ttl = {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
    recovery = {"PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "ENABLED"}}
    # When compared
    findings = compare_table(TABLE_INPUTS, deployed, ttl, recovery)
    # Then the recovery check is OK like every other
    assert findings[-1] == Finding("table", "t", "point-in-time recovery", Status.OK, "ENABLED", "ENABLED")
    assert {finding.status for finding in findings} == {Status.OK}


def test_point_in_time_recovery_an_endpoint_does_not_report_is_skipped() -> None:
    # Given an endpoint that answers no point-in-time recovery status
    findings = compare_table(TABLE_INPUTS, {"DeletionProtectionEnabled": True}, {}, None)
    # Then that check is SKIPPED, not passed
    assert findings[-1] == Finding(
        "table", "t", "point-in-time recovery", Status.SKIPPED, "ENABLED", NOT_REPORTED
    )


RULE_INPUTS: dict[str, Any] = {"name": "r", "scheduleExpression": "rate(1 minute)", "state": "ENABLED"}
PAUSED_AT = datetime(2026, 12, 1, 8, 15, tzinfo=UTC)


def test_a_rule_enabled_as_declared_passes_and_an_absent_one_is_missing() -> None:
    deployed = {"Name": "r", "ScheduleExpression": "rate(1 minute)", "State": "ENABLED"}
    assert {finding.status for finding in compare_rule(RULE_INPUTS, deployed)} == {Status.OK}
    assert compare_rule(RULE_INPUTS, None) == [
        Finding("rule", "r", "exists", Status.MISSING, "present", "absent")
    ]


def test_a_rule_left_disabled_is_drift() -> None:
    # Given a rule someone disabled (and a schedule changed by hand), with no maintenance window
    deployed = {"Name": "r", "ScheduleExpression": "rate(5 minutes)", "State": "DISABLED"}
    # When compared
    findings = compare_rule(RULE_INPUTS, deployed)
    # Then both are drifts
    assert [(f.check, f.status, f.expected, f.actual) for f in findings if f.check != "exists"] == [
        ("schedule", Status.DRIFT, "rate(1 minute)", "rate(5 minutes)"),
        ("state", Status.DRIFT, "ENABLED", "DISABLED"),
    ]


def test_a_rule_paused_by_maintenance_is_skipped_naming_since_when() -> None:
    # Given a rule a maintenance window disabled
    deployed = {"Name": "r", "ScheduleExpression": "rate(1 minute)", "State": "DISABLED"}
    # When compared while the window is active
    findings = compare_rule(RULE_INPUTS, deployed, paused_since=PAUSED_AT)
    # Then the state is SKIPPED (not failing the check) and says since when
    state = findings[-1]
    assert state == Finding(
        "rule",
        "r",
        "state",
        Status.SKIPPED,
        "ENABLED",
        "DISABLED: paused by maintenance since 2026-12-01 08:15 UTC",
    )
    assert not state.failed


def test_a_mapping_paused_by_maintenance_is_skipped_not_drift() -> None:
    # Given the mapping a maintenance window disabled
    deployed = {**ESM_DEPLOYED, "State": "Disabled"}
    # When compared while the window is active
    findings = compare_event_source_mapping(ESM_INPUTS, [deployed], paused_since=PAUSED_AT)
    # Then nothing fails, and its state says why it is off
    assert not [finding for finding in findings if finding.failed]
    (enabled,) = [finding for finding in findings if finding.check == "enabled"]
    assert enabled.status is Status.SKIPPED
    assert enabled.actual == "Disabled: paused by maintenance since 2026-12-01 08:15 UTC"


SUBSCRIPTION_INPUTS: dict[str, Any] = {
    "name": "fn-to-central-logs",
    "logGroup": "/aws/lambda/fn",
    "destinationArn": "arn:aws:kinesis:us-east-1:210987654321:stream/prd3292-prod1-logs",
    "filterPattern": "",
}


def test_a_subscription_filter_to_the_declared_destination_passes() -> None:
    deployed = {
        "filterName": "fn-to-central-logs",
        "destinationArn": SUBSCRIPTION_INPUTS["destinationArn"],
        "filterPattern": "",
    }
    findings = compare_subscription_filter(SUBSCRIPTION_INPUTS, [deployed])
    assert [(f.check, f.status) for f in findings] == [
        ("exists", Status.OK),
        ("destination", Status.OK),
        ("filter pattern", Status.OK),
    ]
    assert findings[0].resource == "/aws/lambda/fn → fn-to-central-logs"


def test_a_subscription_filter_elsewhere_drifts_and_a_missing_one_is_missing() -> None:
    # Given the filter sends to another stream, and then no filter of that name at all
    elsewhere = {
        "filterName": "fn-to-central-logs",
        "destinationArn": "arn:aws:kinesis:us-east-1:210987654321:stream/other",
        "filterPattern": "",
    }
    other_filter = {**elsewhere, "filterName": "fn-to-central-logs-old"}
    # Then the destination drifts, and a group without the exact name is MISSING
    drifts = [f for f in compare_subscription_filter(SUBSCRIPTION_INPUTS, [elsewhere]) if f.failed]
    assert [(f.check, f.actual) for f in drifts] == [
        ("destination", "arn:aws:kinesis:us-east-1:210987654321:stream/other")
    ]
    assert [f.status for f in compare_subscription_filter(SUBSCRIPTION_INPUTS, [other_filter])] == [
        Status.MISSING
    ]


def test_alias_on_latest_is_drift_and_on_a_published_version_ok() -> None:
    versions = ["$LATEST", "1", "2"]
    assert (
        _statuses(compare_alias("fn", "live", {"FunctionVersion": "2"}, versions))["points at"] is Status.OK
    )
    latest = compare_alias("fn", "live", {"FunctionVersion": "$LATEST"}, versions)
    assert latest[1] == Finding(
        "alias", "fn:live", "points at", Status.DRIFT, "a published version", "$LATEST"
    )
    assert compare_alias("fn", "live", None, [])[0].status is Status.MISSING


def test_alias_behind_the_newest_version_or_with_weights_reads_release_pending_not_drift() -> None:
    # Given `pulumi up` published version 3 and left `live` to the release step
    behind = compare_alias("fn", "live", {"FunctionVersion": "2"}, ["$LATEST", "1", "2", "3"])
    # Then the alias is OK, and the pending release is reported (never a failure)
    assert [finding.failed for finding in behind] == [False, False, False]
    assert behind[2] == Finding(
        "alias",
        "fn:live",
        "release",
        Status.OK,
        "newest published version 3",
        "live on 2: release pending (`dmd release`)",
    )
    # Given a canary sending 10% to version 3, and weights on a version that is not published
    canary = {"FunctionVersion": "2", "RoutingConfig": {"AdditionalVersionWeights": {"3": 0.1}}}
    assert _statuses(compare_alias("fn", "live", canary, ["1", "2", "3"])) == {
        "exists": Status.OK,
        "points at": Status.OK,
        "routing": Status.OK,
        "release": Status.OK,
    }
    stray = {"FunctionVersion": "2", "RoutingConfig": {"AdditionalVersionWeights": {"9": 0.5}}}
    routing = next(f for f in compare_alias("fn", "live", stray, ["1", "2"]) if f.check == "routing")
    assert (routing.status, routing.actual) == (Status.DRIFT, "9: 50%")
    # And an alias on the newest version without weights reports no release at all
    assert "release" not in _statuses(compare_alias("fn", "live", {"FunctionVersion": "3"}, ["1", "2", "3"]))


ESM_INPUTS: dict[str, Any] = {
    "functionName": "arn:aws:lambda:us-east-1:343550350117:function:fn:live",
    "eventSourceArn": "arn:aws:kinesis:us-east-1:343550350117:stream/table-stream",
    "batchSize": 100,
    "enabled": True,
    "functionResponseTypes": ["ReportBatchItemFailures"],
    "filterCriteria": {"filters": [{"pattern": '{"eventName": ["INSERT"]}'}]},
}
ESM_DEPLOYED: dict[str, Any] = {
    "EventSourceArn": "arn:aws:kinesis:us-east-1:343550350117:stream/table-stream",
    "BatchSize": 100,
    "State": "Enabled",
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "FilterCriteria": {"Filters": [{"Pattern": '{"eventName":["INSERT"]}'}]},
}


def test_mapping_on_the_alias_from_the_same_source_passes() -> None:
    # Given the alias's mappings include one from the same stream (filter JSON spaced differently)
    other = {**ESM_DEPLOYED, "EventSourceArn": "arn:aws:sqs:us-east-1:343550350117:other"}
    findings = compare_event_source_mapping(ESM_INPUTS, [other, ESM_DEPLOYED])
    # Then it is found by the source's name and every check passes
    assert {finding.status for finding in findings} == {Status.OK}
    assert findings[0].resource == "table-stream → fn:live"


def test_mapping_settings_drift_is_reported_per_setting() -> None:
    deployed = {**ESM_DEPLOYED, "BatchSize": 10, "State": "Disabled", "FunctionResponseTypes": []}
    drifts = [
        (f.check, f.expected, f.actual)
        for f in compare_event_source_mapping(ESM_INPUTS, [deployed])
        if f.failed
    ]
    assert drifts == [
        ("batch size", "100", "10"),
        ("enabled", "Enabled", "Disabled"),
        ("function response types", "ReportBatchItemFailures", "none"),
    ]


def test_mapping_missing_from_the_alias_names_what_the_alias_has() -> None:
    other = {**ESM_DEPLOYED, "EventSourceArn": "arn:aws:sqs:us-east-1:343550350117:other"}
    assert compare_event_source_mapping(ESM_INPUTS, [other]) == [
        Finding(
            "event source mapping",
            "table-stream → fn:live",
            "exists",
            Status.MISSING,
            "from table-stream",
            "on alias: other",
        )
    ]
    assert compare_event_source_mapping(ESM_INPUTS, None)[0].actual == "no alias"


@pytest.mark.parametrize(
    ("arn", "name"),
    [
        ("arn:aws:kinesis:us-east-1:1:stream/orders", "orders"),
        ("arn:aws:sqs:us-east-1:1:orders-dlq", "orders-dlq"),
        ("arn:aws:dynamodb:us-east-1:1:table/orders/stream/2024-01-01T00:00:00.000", "orders"),
    ],
)
def test_source_name_is_the_stream_queue_or_table_name(arn: str, name: str) -> None:
    assert source_name(arn) == name


def test_queue_checks_visibility_timeout_and_redrive_policy() -> None:
    inputs = {
        "name": "jobs",
        "visibilityTimeoutSeconds": 180,
        "redrivePolicy": '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:jobs-dlq", "maxReceiveCount": 3}',
    }
    deployed = {
        "VisibilityTimeout": "60",
        "RedrivePolicy": '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:jobs-dlq","maxReceiveCount":5}',
    }
    assert [(f.check, f.expected, f.actual) for f in compare_queue(inputs, deployed) if f.failed] == [
        ("visibility timeout s", "180", "60"),
        ("redrive policy", "jobs-dlq after 3 receives", "jobs-dlq after 5 receives"),
    ]
    # A queue without redrive policy and with the default visibility timeout matches AWS's defaults
    assert {f.status for f in compare_queue({"name": "dlq"}, {"VisibilityTimeout": "30"})} == {Status.OK}


def test_log_group_alarm_and_stream_comparisons() -> None:
    assert compare_log_group({"name": "/g", "retentionInDays": 7}, {"logGroupName": "/g"})[1] == Finding(
        "log group", "/g", "retention days", Status.DRIFT, "7", "never expire"
    )
    assert compare_alarm({"name": "a", "threshold": 5}, {"Threshold": 5.0})[1].status is Status.OK
    assert compare_alarm({"name": "a", "threshold": 5}, None)[0].status is Status.MISSING
    stream = {"name": "s", "streamModeDetails": {"streamMode": "ON_DEMAND"}, "retentionPeriod": 48}
    summary = {
        "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        "RetentionPeriodHours": 48,
        "OpenShardCount": 1,
    }
    assert [(f.check, f.expected, f.actual) for f in compare_stream(stream, summary) if f.failed] == [
        ("mode", "ON_DEMAND", "PROVISIONED")
    ]


def _account_settings(quota: int, unreserved: int) -> dict[str, Any]:
    return {"AccountLimit": {"ConcurrentExecutions": quota, "UnreservedConcurrentExecutions": unreserved}}


QUOTA_CHECK = "quota = platform.alarmTopic.accountConcurrencyLimit"
UNRESERVED_CHECK = "unreserved >= 100 with the stack's reservations"


def test_account_quota_as_configured_with_room_left_passes() -> None:
    # Given a 1000 quota as configured, the stack reserving 120 (already deployed), 880 left unreserved
    findings = compare_account_concurrency(
        1000,
        {"send": 100, "gen": 20, "api": -1},
        {"send": 100, "gen": 20, "api": None},
        _account_settings(1000, 880),
    )
    # Then both checks pass, and the actual says what stays unreserved
    assert [(finding.check, finding.status) for finding in findings] == [
        (QUOTA_CHECK, Status.OK),
        (UNRESERVED_CHECK, Status.OK),
    ]
    assert (
        findings[1].actual == "880 left unreserved (account: 880 unreserved of 1000, stack reserves 120 now)"
    )


def test_a_real_quota_other_than_the_configured_one_is_drift() -> None:
    # Given the config assuming 3000 where the account's quota is still the default 1000
    findings = compare_account_concurrency(3000, {}, {}, _account_settings(1000, 1000))
    # Then the quota drifts, expected the configured value, actual AWS's
    assert findings[0] == Finding("account", "lambda concurrency", QUOTA_CHECK, Status.DRIFT, "3000", "1000")


def test_reservations_that_would_leave_under_100_unreserved_are_drift() -> None:
    # Given another team reserving 800 of a 1000 quota (200 unreserved), and a stack about to
    # reserve 125 on its first deploy (nothing reserved yet)
    findings = compare_account_concurrency(
        1000,
        {"send": 100, "gen": 20, "url": 5},
        {"send": None, "gen": None, "url": None},
        _account_settings(1000, 200),
    )
    # Then the quota matches, but the reservations would leave 75: Lambda would refuse the last one
    assert findings[0].status is Status.OK
    assert findings[1] == Finding(
        "account",
        "lambda concurrency",
        UNRESERVED_CHECK,
        Status.DRIFT,
        "stack reserves 125",
        "75 left unreserved (account: 200 unreserved of 1000, stack reserves 0 now)",
    )


def test_account_settings_an_endpoint_does_not_answer_are_skipped() -> None:
    # Given an emulator without GetAccountSettings (moto 5.2)
    findings = compare_account_concurrency(1000, {"send": 100}, {"send": 100}, None)
    # Then both checks are skipped, not passed
    assert [(finding.status, finding.actual) for finding in findings] == [
        (Status.SKIPPED, NOT_REPORTED),
        (Status.SKIPPED, NOT_REPORTED),
    ]
