"""The production deploy gate: every placeholder named by its key, and what a production stack lacks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.config import StackConfig
from infra.config.production_gate import (
    PLACEHOLDER_RULE_NAMES,
    GateReport,
    placeholders,
    production_gate,
)
from infra.stack_files import PROJECT_ROOT, load_committed, stack_file_values
from tests.infra.config.filled_prod1 import PROD1_PLACEHOLDERS, filled_project


def _gate(project: Path, stack: str = "prod1") -> GateReport:
    return production_gate(load_committed(stack, project), stack_file_values(stack, project))


def test_committed_prod1_template_fails_naming_every_placeholder_key() -> None:
    # Given the committed prod1 file, a template until the team fills it
    # When the gate runs
    report = _gate(PROJECT_ROOT)

    # Then it fails on exactly the keys the team must set, each with its rule; the protections
    # production needs (KMS key, WAF, paging, PITR) are already declared by the template
    assert not report.passed
    assert [(problem.key, problem.rule) for problem in report.problems] == PROD1_PLACEHOLDERS
    assert all(problem.failing for problem in report.problems)
    pagerduty = report.problems[4]
    assert pagerduty.line("Pulumi.prod1.yaml") == (
        "Pulumi.prod1.yaml: dmd-workers:platform.alarmTopic.subscriptions[1].endpoint: "
        'placeholder "REPLACE_ME"'
    )
    assert pagerduty.value == "https://events.pagerduty.com/integration/REPLACE_ME/enqueue"


def test_prod1_filled_with_real_values_passes(tmp_path: Path) -> None:
    # Given prod1 with every placeholder replaced and its KMS key and WAF set
    # When the gate runs
    report = _gate(filled_project(tmp_path))

    # Then nothing is reported
    assert report.problems == ()
    assert report.passed


def _without_paging(config: StackConfig) -> dict[str, Any]:
    email_only = config.platform.alarm_topic.subscriptions[:1]
    return {"alarm_topic": config.platform.alarm_topic.model_copy(update={"subscriptions": email_only})}


def _without_kms(config: StackConfig) -> dict[str, Any]:
    return {"kms": None}


def _waf_disabled(config: StackConfig) -> dict[str, Any]:
    api = config.platform.api
    assert api.waf is not None
    return {"api": api.model_copy(update={"waf": api.waf.model_copy(update={"enabled": False})})}


def _without_waf(config: StackConfig) -> dict[str, Any]:
    return {"api": config.platform.api.model_copy(update={"waf": None})}


def _without_pitr(config: StackConfig) -> dict[str, Any]:
    return {"table": config.platform.table.model_copy(update={"point_in_time_recovery": False})}


@pytest.mark.parametrize(
    ("change", "key", "rule", "value"),
    [
        (_without_paging, "dmd-workers:platform.alarmTopic.subscriptions", "paging-subscription", "email"),
        (_without_kms, "dmd-workers:platform.kms", "kms-key", "none"),
        (_waf_disabled, "dmd-workers:platform.api.waf.enabled", "waf", "False"),
        (_without_waf, "dmd-workers:platform.api.waf.enabled", "waf", "none"),
        (_without_pitr, "dmd-workers:platform.table.pointInTimeRecovery", "point-in-time-recovery", "false"),
    ],
    ids=["paging", "kms", "waf-disabled", "waf-absent", "pitr"],
)
def test_each_missing_production_requirement_is_named(
    tmp_path: Path, change: Callable[[StackConfig], dict[str, Any]], key: str, rule: str, value: str
) -> None:
    # Given the filled prod1 lacking one thing production needs
    project = filled_project(tmp_path)
    config = load_committed("prod1", project)
    lacking = config.model_copy(update={"platform": config.platform.model_copy(update=change(config))})

    # When the gate runs
    report = production_gate(lacking, stack_file_values("prod1", project))

    # Then exactly that requirement fails the stack, at its key
    assert [(problem.key, problem.rule, problem.value) for problem in report.problems] == [(key, rule, value)]
    assert not report.passed


def test_deletion_protection_switched_off_in_the_file_is_named(tmp_path: Path) -> None:
    # Given the filled prod1 whose raw table settings turn deletion protection off (the program turns it
    # on from production: true; a key saying otherwise must not reach a deploy)
    project = filled_project(tmp_path)
    values = stack_file_values("prod1", project)
    values["platform"]["table"]["deletionProtection"] = False

    # When the gate runs
    report = production_gate(load_committed("prod1", project), values)

    # Then that key fails the stack
    assert [(problem.key, problem.rule) for problem in report.problems] == [
        ("dmd-workers:platform.table.deletionProtection", "deletion-protection")
    ]


def test_a_stack_that_is_not_production_reports_placeholders_without_failing() -> None:
    # Given qa1: reserved domains and fake vendor ids, no KMS key or WAF of its own
    # When the gate runs
    report = _gate(PROJECT_ROOT, "qa1")

    # Then its placeholders are listed but none fails it, and no production requirement applies
    assert report.passed
    assert report.problems
    assert {problem.rule for problem in report.problems} <= PLACEHOLDER_RULE_NAMES
    assert not any(problem.failing for problem in report.problems)
    assert ("dmd-workers:vendors.accountsRoleArn", "222222222222") in {
        (problem.key, problem.value.split(":")[4]) for problem in report.problems if "Arn" in problem.key
    }


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("https://x.example.invalid/hook", 'placeholder domain "x.example.invalid"'),
        ("ops@example.org", 'placeholder domain "example.org"'),
        ("arn:aws:iam::999999999999:role/r", 'placeholder account id "999999999999"'),
        ("arn:aws:sns:us-east-1:123456789012:t", 'placeholder account id "123456789012"'),
        ("sg-0a1b2c3d4e5f60009", 'placeholder resource id "sg-0a1b2c3d4e5f60009"'),
        ("replace-me", 'placeholder "replace-me"'),
    ],
)
def test_each_placeholder_kind_is_found_inside_a_value(value: str, found: str) -> None:
    problems = placeholders({"vendors": {"things": [{"url": value}]}}, failing=True)
    assert [(problem.key, problem.message) for problem in problems] == [
        ("dmd-workers:vendors.things[0].url", found)
    ]


@pytest.mark.parametrize(
    "value",
    [
        "https://notexample.com/x",
        "ops@example.company.io",
        "arn:aws:iam::482916305174:role/r",
        "subnet-0c8e1a7b3d5f92460",
        "http://otel.prod.use1.prod-tmaws.io:4318",
        {"secure": "v1:AAABBBCCC"},
        True,
        1000,
    ],
)
def test_real_looking_and_encrypted_values_are_not_placeholders(value: Any) -> None:
    assert placeholders({"platform": {"x": value}}, failing=True) == []


def test_region_is_reported_under_its_aws_key() -> None:
    problems = placeholders({"region": "REPLACE_ME"}, failing=False)
    assert [(problem.key, problem.failing) for problem in problems] == [("aws:region", False)]
