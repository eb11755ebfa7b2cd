"""`dmd scan`: the policy pack over a stack's synthesized graph, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.synth import RecordedResource, ResourceGraph
from ops import scan_commands
from tests.ops.cli_output import command_json, flat, run_dmd


def graph_of(*resources: RecordedResource) -> ResourceGraph:
    return ResourceGraph(project="dmd-workers", stack="qa1", preview=False, resources=resources)


def test_an_unexplained_failure_exits_1_and_names_the_rule_and_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a stack whose table is under DynamoDB's own key
    table = RecordedResource(
        type_="aws:dynamodb/table:Table",
        name="platform-demand-table",
        parent=None,
        custom=True,
        inputs={"serverSideEncryption": {"enabled": True}, "pointInTimeRecovery": {"enabled": True}},
    )
    monkeypatch.setattr(scan_commands, "synthesize_stack", lambda stack: graph_of(table))

    # When it is scanned
    result = run_dmd("scan", "--stack", "qa1", "--json")

    # Then the command fails, listing the finding
    assert result.exit_code == 1
    document = command_json(result.stdout)
    assert document["failures"] == 1
    assert document["findings"] == [
        {
            "rule": "dynamodb-cmk",
            "resource": "platform-demand-table",
            "message": "the table is not encrypted with a customer-managed KMS key"
            " (serverSideEncryption.kmsKeyArn)",
            "status": "FAIL",
            "reason": None,
        }
    ]
    assert "dmd: 1 policy failures on qa1" in flat(result.stderr)


def test_documented_exceptions_pass_and_are_shown_with_their_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a stack with one function in a VPC and nothing else to object to
    function = RecordedResource(
        type_="aws:lambda/function:Function",
        name="notification_send-function",
        parent=None,
        custom=True,
        inputs={"reservedConcurrentExecutions": 20, "vpcConfig": {"subnetIds": ["subnet-1"]}},
    )
    monkeypatch.setattr(scan_commands, "synthesize_stack", lambda stack: graph_of(function))

    # When it is scanned for people
    result = run_dmd("scan", "--stack", "qa1")

    # Then it passes and the table shows each exception's rule with its reason
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    assert "lambda-tracing" in text and "OpenTelemetry" in text
    assert "0 failures, 3 findings under documented exceptions" in text


def test_an_unknown_stack_is_bad_input() -> None:
    # When a stack file that does not exist is scanned
    result = run_dmd("scan", "--stack", "nope")

    # Then the command refuses with exit 2
    assert result.exit_code == 2
    assert not Path("Pulumi.nope.yaml").exists()
