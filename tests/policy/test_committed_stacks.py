"""The deployed stacks pass the policy pack: every finding is fixed or a documented exception."""

from __future__ import annotations

import re

import pytest

from infra.stack_files import PROJECT_ROOT
from ops.scan_commands import scan_graph
from policy.rules import EXCEPTIONS
from tests.infra.graphs import stack_graph

DEPLOYED = ("qa1", "prod1")  # local is the sandbox's stack: never deployed with Pulumi


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("stack", DEPLOYED)
def test_a_deployed_stack_has_no_policy_failure(stack: str, preview: bool) -> None:
    # Given the graph the program declares for the stack (in preview: new resources' ARNs unknown)
    # When the policy pack's rules run over it
    result = scan_graph(stack_graph(stack, preview=preview))

    # Then nothing fails outside the documented exceptions
    assert [(f.rule, f.resource, f.message) for f in result.failures] == []


def test_prod1_s_data_is_under_the_stack_key_and_its_api_behind_the_waf() -> None:
    # Given prod1's scan
    result = scan_graph(stack_graph("prod1"))

    # Then the checks the old graph failed (table, log groups, secrets under AWS keys; no WAF) are
    # not among the excepted findings either: they pass outright
    excepted = {finding.rule for finding, _ in result.excepted}
    assert excepted.isdisjoint(
        {"dynamodb-cmk", "log-group-cmk", "secret-cmk", "sqs-cmk", "kinesis-cmk", "appsync-waf"}
    )


def test_docs_security_lists_every_exception_with_its_rule() -> None:
    # Given docs/security.md's exceptions table
    text = (PROJECT_ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    text = text.split("### Deliberate exceptions", 1)[1]
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", text, flags=re.MULTILINE))

    # Then it names exactly the exceptions the pack declares
    assert listed == {known.rule for known in EXCEPTIONS}
