"""The aws check's walk over the `local` stack, against the stack materialized into moto."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.stack_files import load_committed
from infra.synth import ResourceGraph
from ops.aws_check import (
    DeployedState,
    Finding,
    Status,
    check_account_concurrency,
    check_stack,
    checked_resources,
    unchecked_types,
)
from ops.operations_records import MaintenanceRecord, RuleState
from tests.infra.fleet import SHIPPED_WORKERS, added_workers, owner, shipped_graph

SWEEPER_RULE = "prd3292-local-us-east-1-ntfcn-swpr-schedule"
TABLE = "prd3292-local-us-east-1-demand-table"


def test_a_fresh_materialization_passes_every_check(local_graph: ResourceGraph, deployed: AwsClients) -> None:
    # Given the local stack materialized into moto 5.2.5
    # When the check runs
    findings = check_stack(local_graph, DeployedState(deployed))
    # Then every checked resource exists and every check is OK
    assert [finding for finding in findings if finding.status is not Status.OK] == []
    exists = [finding for finding in findings if finding.check == "exists"]
    added = [
        resource
        for resource in checked_resources(local_graph)
        if owner(local_graph, resource) not in (None, *SHIPPED_WORKERS)
    ]
    assert len(exists) == len(checked_resources(local_graph)) == 126 + len(added)
    # (the platform and the shipped fleet: 126; each worker added after them checks its own resources)
    assert len(checked_resources(shipped_graph(local_graph))) == 126
    for spec in added_workers():
        assert {resource.type_ for resource in added if owner(local_graph, resource) == spec.name} >= {
            "aws:lambda/function:Function",
            "aws:lambda/alias:Alias",
            "aws:cloudwatch/logGroup:LogGroup",
            "aws:cloudwatch/metricAlarm:MetricAlarm",
        }
    # And none is SKIPPED: moto stores every field this check reads. What moto drops (Lambda
    # LoggingConfig, the mapping's alias ARN — it reads back the version —, RedriveAllowPolicy; see
    # tests/sandbox) is not read here: mappings are found by listing the alias, not by FunctionArn.
    assert Counter(finding.status for finding in findings) == {Status.OK: len(findings)}
    # And the table's point-in-time recovery and both schedule rules' state were among them
    checked = {(finding.resource, finding.check) for finding in findings}
    assert (TABLE, "point-in-time recovery") in checked
    assert (SWEEPER_RULE, "state") in checked


def test_rules_and_subscription_filters_are_covered_types(local_graph: ResourceGraph) -> None:
    # Given the local stack's graph
    # When the types the check does not cover are listed
    uncovered = unchecked_types(local_graph)
    # Then schedule rules and log subscription filters are not among them
    assert "aws:cloudwatch/eventRule:EventRule" not in uncovered
    assert "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter" not in uncovered


@pytest.mark.slow  # one materialization, three checks
def test_a_disabled_rule_drifts_unless_a_maintenance_window_paused_it(
    local_graph: ResourceGraph, deployed: AwsClients
) -> None:
    # Given the sweeper's rule disabled and point-in-time recovery turned off by hand
    deployed.client("events").disable_rule(Name=SWEEPER_RULE)
    deployed.client("dynamodb").update_continuous_backups(
        TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )

    # When the check runs without a maintenance window
    findings = check_stack(local_graph, DeployedState(deployed))

    # Then both fail the check, with expected vs actual
    assert [finding for finding in findings if finding.failed] == [
        Finding("table", TABLE, "point-in-time recovery", Status.DRIFT, "ENABLED", "DISABLED"),
        Finding("rule", SWEEPER_RULE, "state", Status.DRIFT, "ENABLED", "DISABLED"),
    ]

    # When it runs while a maintenance window that paused the sweeper is active
    window = MaintenanceRecord(
        stack="local",
        reason="sweeper paused for a data fix",
        started_by="arn:aws:sts::123456789012:assumed-role/oncall/jane",
        started_at=datetime(2026, 12, 1, 8, 15, tzinfo=UTC),
        workers=("notification_sweeper",),
        rules=(RuleState(worker="notification_sweeper", name=SWEEPER_RULE, enabled=True),),
    )
    findings = check_stack(local_graph, DeployedState(deployed), maintenance=window)

    # Then the rule is SKIPPED with since when, and only point-in-time recovery still fails
    (rule_state,) = [f for f in findings if f.resource == SWEEPER_RULE and f.check == "state"]
    assert rule_state == Finding(
        "rule",
        SWEEPER_RULE,
        "state",
        Status.SKIPPED,
        "ENABLED",
        "DISABLED: paused by maintenance since 2026-12-01 08:15 UTC",
    )
    assert [f.check for f in findings if f.failed] == ["point-in-time recovery"]


class _AccountAnswering(DeployedState):
    """The deployed state of moto, plus the GetAccountSettings answer moto 5.2.5 does not implement."""

    def __init__(self, clients: AwsClients, quota: int, unreserved: int) -> None:
        super().__init__(clients)
        self._settings = {
            "AccountLimit": {"ConcurrentExecutions": quota, "UnreservedConcurrentExecutions": unreserved}
        }

    def account_settings(self) -> dict[str, object]:
        return self._settings


def test_account_check_counts_what_the_stack_reserves_now_as_its_own(
    local_graph: ResourceGraph, deployed: AwsClients
) -> None:
    # Given the local stack (no reservations declared) whose sender reserves 60 after a change by hand,
    # in an account of the configured 1000 with 90 unreserved
    deployed.client("lambda").put_function_concurrency(
        FunctionName="prd3292-local-us-east-1-ntfcn-snd", ReservedConcurrentExecutions=60
    )
    quota = load_committed("local").platform.alarm_topic.account_concurrency_limit

    # When the account's concurrency is checked
    findings = check_account_concurrency(local_graph, _AccountAnswering(deployed, quota, 90), quota)

    # Then the sender's 60 go back to the pool the program leaves: 150 unreserved, both checks OK
    assert [finding.status for finding in findings] == [Status.OK, Status.OK]
    assert findings[1].actual.startswith("150 left unreserved")


def test_account_check_of_an_emulator_without_account_settings_is_skipped(local_graph: ResourceGraph) -> None:
    # Given moto answering GetAccountSettings with "Not yet implemented"
    # When the account's concurrency is checked; Then both checks are SKIPPED
    with mock_aws():
        findings = check_account_concurrency(
            local_graph, DeployedState(AwsClients.for_emulator(None, region="us-east-1")), 1000
        )
    assert [finding.status for finding in findings] == [Status.SKIPPED, Status.SKIPPED]
