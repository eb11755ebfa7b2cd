"""`dmd aws check`: the findings table, the summary and the exit codes, against moto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws
from typer.testing import CliRunner

from aws_clients import AwsClients
from infra.stack_files import load_committed
from infra.synth import ResourceGraph
from ops.aws_check import DeployedState, Finding, Status, check_stack, checked_resources
from ops.cli import app
from ops.operations_records import MAINTENANCE, MaintenanceRecord, create_record
from ops.target import Target
from tests.infra.fleet import shipped_graph


def _run_cli(*args: str) -> Any:
    # Wide enough that Rich never folds a row of the findings table.
    return CliRunner().invoke(app, ["aws", "check", *args], env={"COLUMNS": "300"})


def test_cli_exits_0_and_lists_every_check_when_nothing_drifted(
    local_graph: ResourceGraph, deployed: AwsClients
) -> None:
    result = _run_cli("--stack", "local")
    assert result.exit_code == 0, result.output
    # The platform and the shipped fleet: 126 resources, 339 checks; a worker added after them, its own
    shipped = shipped_graph(local_graph)
    assert (len(checked_resources(shipped)), len(check_stack(shipped, DeployedState(deployed)))) == (126, 339)
    resources, checks = (
        len(checked_resources(local_graph)),
        len(check_stack(local_graph, DeployedState(deployed))),
    )
    # plus the account's concurrency quota: two checks moto cannot answer (no GetAccountSettings)
    summary = f"{resources} resources, {checks + 2} checks: {checks} OK, 0 MISSING, 0 DRIFT, 2 SKIPPED"
    assert summary in result.output
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
    assert " 2 SKIPPED" in result.output  # the account quota checks moto cannot answer


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


@pytest.mark.slow  # a fresh materialization
def test_cli_skips_a_rule_paused_by_the_active_maintenance_window(deployed: AwsClients) -> None:
    # Given the sweeper's rule disabled by a maintenance window whose record is in SSM
    rule = "prd3292-local-us-east-1-ntfcn-swpr-schedule"
    deployed.client("events").disable_rule(Name=rule)
    target = Target(stack="local", config=load_committed("local"), clients=deployed)
    create_record(
        target,
        MAINTENANCE,
        MaintenanceRecord(
            stack="local",
            reason="table migration",
            started_by="arn:aws:sts::123456789012:assumed-role/oncall/jane",
            started_at=datetime(2026, 12, 1, 8, 15, tzinfo=UTC),
            workers=("notification_sweeper",),
        ),
    )

    # When the check runs
    result = _run_cli("--stack", "local", "--problems-only")

    # Then the rule is SKIPPED with the window's start, and the check passes
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if rule in line)
    assert "SKIPPED" in row
    assert "DISABLED: paused by maintenance since 2026-12-01 08:15 UTC" in row
    assert "0 MISSING, 0 DRIFT, 3 SKIPPED" in result.output  # and the two account quota checks


@pytest.mark.slow  # the command synthesizes the stack and reads every resource (~10 s)
def test_cli_fails_when_the_real_concurrency_quota_is_not_the_configured_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an account whose real quota (GetAccountSettings, which moto lacks: answered here) is 400,
    # where the local stack configures 1000, with 300 unreserved (nothing deployed: fast, the other
    # resources are MISSING and the account rows are what this test reads)
    settings = {"AccountLimit": {"ConcurrentExecutions": 400, "UnreservedConcurrentExecutions": 300}}
    monkeypatch.setattr(DeployedState, "account_settings", lambda _state: settings)
    configured = load_committed("local").platform.alarm_topic.account_concurrency_limit
    assert configured != 400

    # When the check runs
    with mock_aws():
        result = _run_cli("--stack", "local")

    # Then the quota row drifts, configured against real, the unreserved row passes, the check fails
    assert result.exit_code == 1, result.output
    unreserved = next(line for line in result.output.splitlines() if "unreserved >= 100" in line)
    assert "│ OK " in unreserved
    assert "300 left unreserved" in unreserved
    row = next(line for line in result.output.splitlines() if "accountConcurrencyLimit" in line)
    assert [cell.strip() for cell in row.split("│")[1:-1]] == [
        "DRIFT",
        "account",
        "lambda concurrency",
        "quota = platform.alarmTopic.accountConcurrencyLimit",
        str(configured),
        "400",
    ]
