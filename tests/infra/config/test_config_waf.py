"""`platform.api.waf`: the web ACL's settings, their bounds (WAF's and AppSync's), and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import load_stack_config
from infra.config.api import WafSettings
from tests.infra.config.stack_file_edits import DELETED, VALUES, rejection, with_change

WAF = "platform.api.waf"

INVALID = [
    pytest.param(
        "prod1", f"{WAF}.rateLimitPerIp", 9, "rateLimitPerIp",
        ["greater than or equal to 10", "(got 9)"],
        id="rate-limit-below-wafs-minimum",
    ),
    pytest.param(
        "prod1", f"{WAF}.rateLimitPerIp", 2_000_000_001, "rateLimitPerIp",
        ["less than or equal to 2000000000", "(got 2000000001)"],
        id="rate-limit-above-wafs-maximum",
    ),
    pytest.param(
        "prod1", f"{WAF}.maxBodyBytes", 16_384, "maxBodyBytes",
        ["less than or equal to 8192", "(got 16384)"],
        id="body-limit-beyond-appsyncs-8-kb-inspection",
    ),
    pytest.param(
        "qa1", f"{WAF}.maxBodyBytes", 100, "maxBodyBytes",
        ["greater than or equal to 256", "(got 100)"],
        id="body-limit-below-an-ordinary-query",
    ),
    pytest.param(
        "qa1", f"{WAF}.logRetentionDays", 10, "logRetentionDays",
        ["not a CloudWatch Logs retention", "use one of 1, 3, 5, 7, 14,", "(got 10)"],
        id="log-retention-not-a-cloudwatch-value",
    ),
    pytest.param(
        "qa1", f"{WAF}.blockedRequestsAlarmThreshold", 0, "blockedRequestsAlarmThreshold",
        ["greater than or equal to 1", "(got 0)"],
        id="alarm-threshold-zero",
    ),
    pytest.param(
        "prod1", f"{WAF}.rateLimit", 100, "rateLimit",
        ["Extra inputs are not permitted", "(got 100)"],
        id="unknown-key",
    ),
    pytest.param(
        "prod1", f"{WAF}.countOnlyRules", {"AWSManagedRulesSQLiRuleSet": ["SQLi_BODY"]},
        "countOnlyRules.AWSManagedRulesSQLiRuleSet.[key]",
        ["'AWSManagedRulesCommonRuleSet' or 'AWSManagedRulesKnownBadInputsRuleSet'"],
        id="count-only-rule-of-a-group-the-acl-does-not-use",
    ),
    pytest.param(
        "prod1", f"{WAF}.countOnlyRules", {"AWSManagedRulesCommonRuleSet": ["Size Restrictions"]},
        "countOnlyRules.AWSManagedRulesCommonRuleSet.0",
        ["should match pattern", "(got 'Size Restrictions')"],
        id="count-only-rule-name-waf-would-refuse",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("stack", "path", "value", "key", "words"), INVALID)
def test_an_invalid_waf_value_is_refused_naming_the_key(
    stack: str, path: str, value: Any, key: str, words: list[str]
) -> None:
    # Given a committed stack file with one WAF value changed
    values = with_change(VALUES[stack], path, value)

    # When it is validated
    message = rejection(stack, values)

    # Then one line names the file, the exact key under platform.api.waf and the rule
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"Pulumi.{stack}.yaml: dmd-workers:{WAF}.{key}: "), message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_the_bounds_themselves_are_accepted() -> None:
    # Given WAF's smallest rate limit and AppSync's whole inspected body
    values = with_change(VALUES["qa1"], f"{WAF}.rateLimitPerIp", 10)
    values = with_change(values, f"{WAF}.maxBodyBytes", 8192)

    # When qa1 is validated
    waf = load_stack_config("qa1", values).platform.api.waf

    # Then both are kept
    assert waf is not None
    assert (waf.rate_limit_per_ip, waf.max_body_bytes) == (10, 8192)


def test_an_empty_waf_block_takes_the_production_defaults() -> None:
    # Given `waf: {}`
    values = with_change(VALUES["qa1"], WAF, {})

    # When qa1 is validated
    waf = load_stack_config("qa1", values).platform.api.waf

    # Then the web ACL is on with 2000 requests per IP per 5 minutes, 8 KB bodies, 30 days of logs
    assert waf == WafSettings(
        enabled=True,
        rate_limit_per_ip=2000,
        max_body_bytes=8192,
        log_retention_days=30,
        blocked_requests_alarm_threshold=1000,
        count_only_rules={},
    )


def test_count_only_rules_are_kept_by_group() -> None:
    # Given a false positive of the core rule set under review
    values = with_change(
        VALUES["prod1"],
        f"{WAF}.countOnlyRules",
        {"AWSManagedRulesCommonRuleSet": ["CrossSiteScripting_BODY"]},
    )

    # When prod1 is validated
    waf = load_stack_config("prod1", values).platform.api.waf

    # Then that rule of that group is the only one that counts instead of blocking
    assert waf is not None
    assert waf.count_only_rules == {"AWSManagedRulesCommonRuleSet": ("CrossSiteScripting_BODY",)}


@pytest.mark.parametrize("stack", ["qa1", "prod1", "local"])
def test_waf_is_on_in_prod1_and_qa1_and_absent_in_local(stack: str) -> None:
    # Given a committed stack file
    # When it is validated
    waf = load_stack_config(stack, VALUES[stack]).platform.api.waf

    # Then prod1 and qa1 put the web ACL in front of the API; local (the sandbox's emulator) has none
    if stack == "local":
        assert waf is None
    else:
        assert waf is not None and waf.enabled


def test_removing_the_waf_block_leaves_the_api_without_one() -> None:
    # Given prod1 without its waf block
    values = with_change(VALUES["prod1"], WAF, DELETED)

    # When it is validated
    config = load_stack_config("prod1", values)

    # Then there is no web ACL setting (the production gate, not the model, decides if that may deploy)
    assert config.platform.api.waf is None
