"""`dmd aws check`: pure comparisons on plain dicts, then the whole check against moto and through the CLI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws
from typer.testing import CliRunner

from aws_clients import AwsClients
from infra.offline import synthesize_stack
from infra.synth import ResourceGraph
from ops.aws_check import (
    NOT_REPORTED,
    DeployedState,
    Finding,
    Status,
    check_stack,
    checked_resources,
    compare_alarm,
    compare_alias,
    compare_event_source_mapping,
    compare_function,
    compare_log_group,
    compare_queue,
    compare_stream,
    compare_table,
    source_name,
)
from ops.cli import app
from sandbox.materialize import materialize

REGION = "us-east-1"
ACCOUNT = "123456789012"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prd/bitly-AbCdEf"


def _statuses(findings: list[Finding]) -> dict[str, Status]:
    return {finding.check: finding.status for finding in findings}


# ---------------------------------------------------------------------------------------------
# Pure comparisons: graph inputs and AWS answers as plain dicts
# ---------------------------------------------------------------------------------------------

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
    findings = compare_table(inputs, {"TableName": "t"}, {"TimeToLiveStatus": "DISABLED"})
    # Then that check is SKIPPED with the reason, neither OK nor failing
    (skipped,) = [finding for finding in findings if finding.status is Status.SKIPPED]
    assert skipped == Finding("table", "t", "deletion protection", Status.SKIPPED, "true", NOT_REPORTED)
    assert not skipped.failed


def test_table_checks_indexes_ttl_and_deletion_protection() -> None:
    inputs = {
        "name": "t",
        "deletionProtectionEnabled": True,
        "globalSecondaryIndexes": [{"name": "sales"}, {"name": "demand-by-sale"}],
        "ttl": {"attributeName": "expiresAt", "enabled": True},
    }
    # Given a table that lost an index, its TTL and its deletion protection
    deployed = {"GlobalSecondaryIndexes": [{"IndexName": "sales"}], "DeletionProtectionEnabled": False}
    findings = compare_table(inputs, deployed, {"TimeToLiveStatus": "DISABLED"})
    # Then each is a drift with expected vs actual
    assert [(f.check, f.expected, f.actual) for f in findings if f.failed] == [
        ("global secondary indexes", "demand-by-sale, sales", "sales"),
        ("TTL attribute", "expiresAt", "none"),
        ("deletion protection", "true", "false"),
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


# ---------------------------------------------------------------------------------------------
# Against moto: the `local` stack materialized, then drifted
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_graph() -> ResourceGraph:
    return synthesize_stack("local")


@pytest.fixture
def deployed(local_graph: ResourceGraph) -> Iterator[AwsClients]:
    """The local stack materialized into a fresh in-process moto; yields clients reaching it."""
    with mock_aws():
        clients = AwsClients.for_emulator(None, region=REGION)
        materialize(local_graph, clients)
        yield clients


def _run_cli(*args: str) -> Any:
    # Wide enough that Rich never folds a row of the findings table.
    return CliRunner().invoke(app, ["aws", "check", *args], env={"COLUMNS": "300"})


def test_a_fresh_materialization_passes_every_check(local_graph: ResourceGraph, deployed: AwsClients) -> None:
    # Given the local stack materialized into moto 5.2.5
    # When the check runs
    findings = check_stack(local_graph, DeployedState(deployed))
    # Then every checked resource exists and every check is OK
    assert [finding for finding in findings if finding.status is not Status.OK] == []
    exists = [finding for finding in findings if finding.check == "exists"]
    assert len(exists) == len(checked_resources(local_graph)) == 104
    # And none is SKIPPED: moto stores every field this check reads. What moto drops (Lambda
    # LoggingConfig, the mapping's alias ARN — it reads back the version —, RedriveAllowPolicy; see
    # tests/sandbox) is not read here: mappings are found by listing the alias, not by FunctionArn.
    assert Counter(finding.status for finding in findings) == {Status.OK: len(findings)}


def test_cli_exits_0_and_lists_every_check_when_nothing_drifted(deployed: AwsClients) -> None:
    result = _run_cli("--stack", "local")
    assert result.exit_code == 0, result.output
    assert "104 resources, 285 checks: 285 OK, 0 MISSING, 0 DRIFT, 0 SKIPPED" in result.output
    assert "│ OK " in result.output


def _update_memory(clients: AwsClients) -> None:
    clients.client("lambda").update_function_configuration(
        FunctionName="prd3292-local-us-east-1-ntfcn-snd", MemorySize=1024
    )


def _delete_alarm(clients: AwsClients) -> None:
    # DeleteAlarms ignores unknown names, so make sure this one existed.
    assert clients.client("cloudwatch").describe_alarms(
        AlarmNames=["prd3292-local-us-east-1-ntfcn-snd-error-rate"]
    )["MetricAlarms"]
    clients.client("cloudwatch").delete_alarms(AlarmNames=["prd3292-local-us-east-1-ntfcn-snd-error-rate"])


def _change_retention(clients: AwsClients) -> None:
    clients.client("logs").put_retention_policy(
        logGroupName="/aws/lambda/prd3292-local-us-east-1-sms-status", retentionInDays=7
    )


def _change_visibility(clients: AwsClients) -> None:
    sqs = clients.client("sqs")
    url = sqs.get_queue_url(QueueName="prd3292-local-us-east-1-event-short-url")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "60"})


@pytest.mark.slow  # a fresh materialization per drift
@pytest.mark.parametrize(
    ("drift", "expected"),
    [
        (
            _update_memory,
            Finding(
                "function", "prd3292-local-us-east-1-ntfcn-snd", "memory MB", Status.DRIFT, "512", "1024"
            ),
        ),
        (
            _delete_alarm,
            Finding(
                "alarm",
                "prd3292-local-us-east-1-ntfcn-snd-error-rate",
                "exists",
                Status.MISSING,
                "present",
                "absent",
            ),
        ),
        (
            _change_retention,
            Finding(
                "log group",
                "/aws/lambda/prd3292-local-us-east-1-sms-status",
                "retention days",
                Status.DRIFT,
                "1",
                "7",
            ),
        ),
        (
            _change_visibility,
            Finding(
                "queue",
                "prd3292-local-us-east-1-event-short-url",
                "visibility timeout s",
                Status.DRIFT,
                "180",
                "60",
            ),
        ),
    ],
    ids=["function-memory", "deleted-alarm", "log-retention", "queue-visibility"],
)
def test_one_drift_is_reported_exactly_and_fails_the_check(
    local_graph: ResourceGraph,
    deployed: AwsClients,
    drift: Callable[[AwsClients], None],
    expected: Finding,
) -> None:
    # Given a materialized stack with one thing changed by hand
    drift(deployed)
    # When the check runs
    findings = check_stack(local_graph, DeployedState(deployed))
    # Then exactly that finding fails, with expected vs actual
    assert [finding for finding in findings if finding.failed] == [expected]
    # And the CLI shows it and exits 1
    result = _run_cli("--stack", "local", "--problems-only")
    assert result.exit_code == 1, result.output
    row = next(line for line in result.output.splitlines() if expected.resource in line)
    for cell in (expected.status.value, expected.check, expected.expected, expected.actual):
        assert cell in row
    assert " 0 SKIPPED" in result.output


def test_cli_exits_2_for_a_stack_without_a_stack_file() -> None:
    result = _run_cli("--stack", "nope")
    assert result.exit_code == 2
    assert "Pulumi.nope.yaml" in result.output


def test_cli_exits_2_when_credentials_belong_to_another_account(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given credentials (moto's) for an account the local stack does not deploy to
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111111111111")
    with mock_aws():
        result = _run_cli("--stack", "local")
    # Then the check refuses to compare and says why
    assert result.exit_code == 2
    assert (
        "credentials are for account 111111111111, but stack local deploys to 123456789012" in result.output
    )


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_cli_exits_2_without_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no credentials anywhere (and no network: the failure must come before any request)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    result = _run_cli("--stack", "qa1")
    assert result.exit_code == 2
    assert "cannot read AWS: Unable to locate credentials" in result.output
