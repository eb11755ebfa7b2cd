"""The rules as the Pulumi engine runs them: the pack's validate functions over the SDK's argument shapes.

The SDK itself lives in the pack's own virtualenv (policy/requirements.txt), so these tests hand the
validate functions plain objects with the attributes the SDK documents for its arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from infra.stack_files import PROJECT_ROOT
from policy.pack import plain, resource_validation, stack_validation
from policy.rules import FUNCTION, GRAPHQL_API, RESOURCE_RULES, STACK_RULES, TABLE


@dataclass
class Args:
    """The shape of `ResourceValidationArgs` / `PolicyResource`."""

    resource_type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""


@dataclass
class StackArgs:
    """The shape of `StackValidationArgs`."""

    resources: Sequence[Args]


@dataclass
class Reported:
    violations: list[tuple[str, str, str | None]] = field(default_factory=list)

    def by(self, policy: str) -> Any:
        def report(message: str, urn: str | None = None, /) -> None:
            self.violations.append((policy, message, urn))

        return report


def resource_violations(type_: str, name: str, props: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    reported = Reported()
    for rule in RESOURCE_RULES:
        resource_validation(rule)(Args(type_, name, props), reported.by(rule.id))
    return reported.violations


def test_a_table_under_the_aws_key_is_reported_with_the_scanner_check() -> None:
    # Given a table as the engine hands it over
    props = {"serverSideEncryption": {"enabled": True}, "pointInTimeRecovery": {"enabled": True}}

    # When the pack's resource validations run
    violations = resource_violations(TABLE, "platform-demand-table", props)

    # Then the customer-key policy reports it, naming the scanner check
    assert violations == [
        (
            "dynamodb-cmk",
            "the table is not encrypted with a customer-managed KMS key"
            " (serverSideEncryption.kmsKeyArn) [CKV_AWS_119]",
            None,
        )
    ]


def test_excepted_findings_are_not_reported_to_the_engine() -> None:
    # Given a function in a VPC, without tracing or a reservation (documented exceptions)
    props = {"reservedConcurrentExecutions": -1, "vpcConfig": {"subnetIds": ["subnet-1"]}}

    # When validated, then the engine sees no violation
    assert resource_violations(FUNCTION, "notification_send-function", props) == []


def test_a_resource_of_another_type_is_left_alone() -> None:
    # Given an empty table-shaped input on a type no rule covers
    # Then nothing is reported
    assert resource_violations("aws:s3/bucket:Bucket", "b", {}) == []


def test_the_stack_validation_reports_an_api_without_a_waf_on_its_urn() -> None:
    # Given a stack holding an API and no web ACL association
    api = Args(GRAPHQL_API, "api", {"name": "api"}, urn="urn:pulumi:prod1::dmd-workers::api")
    reported = Reported()

    # When every stack validation runs
    for rule in STACK_RULES:
        stack_validation(rule)(StackArgs([api]), reported.by(rule.id))

    # Then the WAF policy reports the API by its URN
    assert reported.violations == [
        ("appsync-waf", "the GraphQL API has no WAF web ACL associated [CKV2_AWS_33]", api.urn)
    ]


class ReadOnlyMapping(Mapping[str, Any]):
    """Like the SDK's proxies: a Mapping, not a dict."""

    def __init__(self, target: dict[str, Any]) -> None:
        self._target = target

    def __getitem__(self, key: str) -> Any:
        return self._target[key]

    def __iter__(self) -> Any:
        return iter(self._target)

    def __len__(self) -> int:
        return len(self._target)


def test_plain_reads_mapping_proxies_back_as_plain_values() -> None:
    # Given inputs wrapped as read-only mappings, nested in lists
    proxied = ReadOnlyMapping({"a": [1, ReadOnlyMapping({"b": "x"})], "c": "y"})

    # Then they read back as plain data
    assert plain(proxied) == {"a": [1, {"b": "x"}], "c": "y"}


def test_the_pack_runs_in_its_own_virtualenv_with_the_pinned_sdk() -> None:
    # Given the pack's project file and requirements
    project = yaml.safe_load((PROJECT_ROOT / "policy" / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    requirements = (PROJECT_ROOT / "policy" / "requirements.txt").read_text(encoding="utf-8")
    main = (PROJECT_ROOT / "policy" / "__main__.py").read_text(encoding="utf-8")

    # Then Pulumi builds the pack's virtualenv from them, and the entry point registers every rule
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    assert "pulumi-policy==" in requirements
    assert "for rule in RESOURCE_RULES" in main and "for rule in STACK_RULES" in main
