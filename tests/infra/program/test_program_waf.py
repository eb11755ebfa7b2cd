"""The API's edge: the WAF web ACL, its association with AppSync, its logs, saved query and alarm."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra.config.api import WafSettings
from tests.infra.graphs import MODES, of_type, only, stack_config, stack_graph, synthesize_with_changes
from tests.infra.program.resource_types import (
    ALARM,
    GRAPHQL_API,
    LOG_GROUP,
    QUERY_DEFINITION,
    WAF_ACL,
    WAF_ASSOCIATION,
    WAF_LOG_POLICY,
    WAF_LOGGING,
)
from tests.infra.program.stack_under_test import CASES, Stack, up_stack

FIREWALL = "platform-api-waf"
WAF_TYPES = (WAF_ACL, WAF_ASSOCIATION, WAF_LOGGING)
WAF_CASES = [(name, mode) for name, mode in CASES if stack_config(name).platform.api.waf is not None]
NO_WAF_CASES = [(name, mode) for name, mode in CASES if stack_config(name).platform.api.waf is None]


def _stack(name: str, mode: str) -> Stack:
    return Stack(
        name=name, mode=mode, graph=stack_graph(name, preview=MODES[mode]), config=stack_config(name)
    )


@pytest.fixture(params=WAF_CASES, ids=[f"{name}-{mode}" for name, mode in WAF_CASES])
def waf_stack(request: pytest.FixtureRequest) -> Stack:
    """A committed stack with `platform.api.waf`, in one mode."""
    return _stack(*request.param)


def _waf(stack: Stack) -> WafSettings:
    waf = stack.config.platform.api.waf
    assert waf is not None
    return waf


def _acl_name(stack: Stack) -> str:
    return f"{stack.prefix}-api-waf"


def _visibility(metric_name: str) -> dict[str, object]:
    return {"cloudwatchMetricsEnabled": True, "sampledRequestsEnabled": True, "metricName": metric_name}


def test_waf_is_declared_where_the_stack_file_has_it() -> None:
    # Given the committed stack files
    # Then prod1 (production) and qa1 carry the web ACL, and local (the sandbox's emulator) does not
    assert {name for name, _ in WAF_CASES} == {"prod1", "qa1"}
    assert {name for name, _ in NO_WAF_CASES} == {"local"}


def test_the_web_acl_allows_by_default_and_runs_its_rules_in_order_with_limits_from_config(
    waf_stack: Stack,
) -> None:
    # Given the stack's WAF settings
    waf = _waf(waf_stack)
    acl_name = _acl_name(waf_stack)

    # When the web ACL is declared
    acl = only(waf_stack.graph.children_of(FIREWALL), WAF_ACL).inputs
    rules = {rule["name"]: rule for rule in acl["rules"]}

    # Then it is regional, allows what no rule blocks, and evaluates the four rules in this order
    assert (acl["name"], acl["scope"], acl["defaultAction"]) == (acl_name, "REGIONAL", {"allow": {}})
    assert acl["visibilityConfig"] == _visibility(acl_name)
    assert [(rule["name"], rule["priority"]) for rule in acl["rules"]] == [
        ("aws-common-rule-set", 0),
        ("aws-known-bad-inputs", 1),
        ("rate-limit-per-ip", 2),
        ("body-size-limit", 3),
    ]
    # the two AWS managed groups, each rule with its own action (no count-only rule committed)
    for rule_name, group in (
        ("aws-common-rule-set", "AWSManagedRulesCommonRuleSet"),
        ("aws-known-bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet"),
    ):
        assert rules[rule_name]["statement"] == {
            "managedRuleGroupStatement": {"vendorName": "AWS", "name": group}
        }
        assert rules[rule_name]["overrideAction"] == {"none": {}}
        assert "action" not in rules[rule_name]
    # the per-IP rate limit over WAF's 5-minute window
    assert rules["rate-limit-per-ip"]["statement"] == {
        "rateBasedStatement": {
            "limit": waf.rate_limit_per_ip,
            "aggregateKeyType": "IP",
            "evaluationWindowSec": 300,
        }
    }
    assert rules["rate-limit-per-ip"]["action"] == {"block": {}}
    # the body limit; a body past WAF's inspection limit counts as too large
    assert rules["body-size-limit"]["statement"] == {
        "sizeConstraintStatement": {
            "comparisonOperator": "GT",
            "size": waf.max_body_bytes,
            "fieldToMatch": {"body": {"oversizeHandling": "MATCH"}},
            "textTransformations": [{"priority": 0, "type": "NONE"}],
        }
    }
    assert rules["body-size-limit"]["action"] == {"block": {}}
    # every rule has metrics and samples under its own name
    assert {name: rule["visibilityConfig"] for name, rule in rules.items()} == {
        name: _visibility(f"{acl_name}-{name}") for name in rules
    }


def _api_arn(stack: Stack) -> str:
    url = stack.graph.outputs["graphql_api_url"]["GRAPHQL"]
    match = re.fullmatch(r"https://(?P<id>[a-z0-9]+)\.appsync-api\.us-east-1\.amazonaws\.com/graphql", url)
    assert match is not None, url
    return stack.arn("appsync", f"apis/{match['id']}")


def _acl_arn(stack: Stack) -> str:
    """The web ACL's ARN as its association reads it, checked to be this stack's regional web ACL."""
    arn: str = only(stack.graph.children_of(FIREWALL), WAF_ASSOCIATION).inputs["webAclArn"]
    prefix = f"arn:aws:wafv2:us-east-1:{stack.config.account_id}:regional/webacl/{_acl_name(stack)}/"
    assert arn.startswith(prefix), arn
    return arn


def test_the_web_acl_is_associated_with_the_appsync_api(waf_stack: Stack) -> None:
    # Given the stack's AppSync API (its URL export carries its id)
    api_arn = _api_arn(waf_stack)

    # When the association is declared
    association = only(waf_stack.graph.children_of(FIREWALL), WAF_ASSOCIATION).inputs

    # Then it puts this stack's regional web ACL in front of that API
    assert association == {"resourceArn": api_arn, "webAclArn": _acl_arn(waf_stack)}


def test_waf_logs_to_its_own_aws_waf_logs_group_without_authorization_headers(waf_stack: Stack) -> None:
    # Given the stack's WAF settings and the key of the API's own log group
    waf = _waf(waf_stack)
    api_log_key = waf_stack.graph.named("platform-graphql-logs").inputs.get("kmsKeyId")
    children = waf_stack.graph.children_of(FIREWALL)

    # When the log group, its delivery policy and the logging configuration are declared
    group = only(children, LOG_GROUP)
    policy = only(children, WAF_LOG_POLICY)
    logging = only(children, WAF_LOGGING)
    group_name = f"aws-waf-logs-{waf_stack.prefix}-api-waf"
    group_arn = waf_stack.arn("logs", f"log-group:{group_name}")

    # Then the group has the name WAF requires, the configured retention and the API logs' key
    assert group.inputs["name"] == group_name
    assert group.inputs["name"].startswith("aws-waf-logs-")
    assert group.inputs["retentionInDays"] == waf.log_retention_days
    assert group.inputs.get("kmsKeyId") == api_log_key
    # WAF logs every request there, with the callers' credentials redacted
    assert logging.inputs == {
        "resourceArn": _acl_arn(waf_stack),
        "logDestinationConfigs": [group_arn],
        "redactedFields": [
            {"singleHeader": {"name": "authorization"}},
            {"singleHeader": {"name": "x-api-key"}},
        ],
    }
    # and log delivery may write to this group only, for this account, once the policy exists
    assert policy.inputs["policyName"] == _acl_name(waf_stack)
    assert json.loads(policy.inputs["policyDocument"])["Statement"] == [
        {
            "Sid": "WafLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{group_arn}:log-stream:*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": waf_stack.config.account_id},
                "ArnLike": {"aws:SourceArn": f"arn:aws:logs:us-east-1:{waf_stack.config.account_id}:*"},
            },
        }
    ]
    assert policy.name in logging.options["depends_on"]


def test_the_waf_blocks_query_is_saved_on_the_waf_log_group(waf_stack: Stack) -> None:
    # Given the WAF's log group
    group = only(waf_stack.graph.children_of(FIREWALL), LOG_GROUP).inputs["name"]

    # When the saved queries are declared
    query = only(waf_stack.graph.children_of(FIREWALL), QUERY_DEFINITION).inputs

    # Then the console has `dmd logs query --preset waf-blocks` under the stack's folder, on that group only
    assert query["name"] == f"dmd-workers/{waf_stack.environment}/waf-blocks"
    assert query["logGroupNames"] == [group]
    assert 'filter action = "BLOCK"' in query["queryString"]
    saved_elsewhere = [
        resource.name
        for resource in waf_stack.graph.of_type(QUERY_DEFINITION)
        if resource.inputs["name"].endswith("/waf-blocks") and resource.parent != FIREWALL
    ]
    assert saved_elsewhere == []


def test_a_block_storm_of_the_rate_rule_raises_an_alarm(waf_stack: Stack) -> None:
    # Given the stack's WAF settings
    waf = _waf(waf_stack)
    acl_name = _acl_name(waf_stack)

    # When the firewall's alarms are declared
    alarm = only(waf_stack.graph.children_of(FIREWALL), ALARM).inputs

    # Then one watches the rate rule's blocked requests per 5 minutes against the configured threshold
    assert alarm["name"] == f"{acl_name}-rate-blocks"
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"], alarm["period"]) == (
        "AWS/WAFV2",
        "BlockedRequests",
        "Sum",
        300,
    )
    assert alarm["dimensions"] == {
        "WebACL": acl_name,
        "Rule": f"{acl_name}-rate-limit-per-ip",
        "Region": "us-east-1",
    }
    assert (alarm["threshold"], alarm["comparisonOperator"]) == (
        waf.blocked_requests_alarm_threshold,
        "GreaterThanThreshold",
    )
    assert alarm["alarmDescription"].endswith("docs/runbooks.md#waf-blocks")
    assert alarm["alarmActions"] == [waf_stack.arn("sns", f"{waf_stack.prefix}-alarms")]


@pytest.mark.parametrize(("name", "mode"), NO_WAF_CASES, ids=[f"{n}-{m}" for n, m in NO_WAF_CASES])
def test_a_stack_without_waf_declares_no_wafv2_resource(name: str, mode: str) -> None:
    # Given a stack file without platform.api.waf (the sandbox's local)
    stack = _stack(name, mode)

    # When its graph is read
    # Then it has no web ACL, association, logging, WAF log group or firewall component
    assert [
        resource.name for resource in stack.graph.resources if resource.type_.startswith("aws:wafv2/")
    ] == []
    assert [resource.name for resource in stack.graph.resources if FIREWALL in resource.name] == []
    assert [
        resource.name
        for resource in of_type(stack.graph.resources, LOG_GROUP)
        if resource.inputs["name"].startswith("aws-waf-logs-")
    ] == []


def test_literal_spot_checks_of_the_committed_waf_settings() -> None:
    # Given prod1 and qa1 in up mode
    prod1, qa1 = up_stack("prod1"), up_stack("qa1")

    # Then prod1 limits 2000 requests per IP per 5 minutes and 8 KB bodies, keeping logs 30 days;
    # qa1 keeps them 14
    prod_rules = {rule["name"]: rule for rule in prod1.graph.named(f"{FIREWALL}-acl").inputs["rules"]}
    assert prod_rules["rate-limit-per-ip"]["statement"]["rateBasedStatement"]["limit"] == 2000
    assert prod_rules["body-size-limit"]["statement"]["sizeConstraintStatement"]["size"] == 8192
    assert prod1.graph.named(f"{FIREWALL}-logs").inputs["retentionInDays"] == 30
    assert qa1.graph.named(f"{FIREWALL}-logs").inputs["retentionInDays"] == 14


def test_count_only_rules_and_limits_follow_the_stack_file(tmp_path: Path) -> None:
    # Given qa1 with a lower rate limit, a 4 KB body limit and two core rules only counting
    graph = synthesize_with_changes(
        tmp_path,
        "qa1",
        {
            "platform.api.waf.rateLimitPerIp": 500,
            "platform.api.waf.maxBodyBytes": 4096,
            "platform.api.waf.blockedRequestsAlarmThreshold": 50,
            "platform.api.waf.countOnlyRules": {
                "AWSManagedRulesCommonRuleSet": ["SizeRestrictions_BODY", "CrossSiteScripting_BODY"]
            },
        },
    )

    # When the web ACL and its alarm are declared
    rules = {rule["name"]: rule for rule in graph.named(f"{FIREWALL}-acl").inputs["rules"]}
    alarm = graph.named(f"{FIREWALL}-alarm-rate-blocks").inputs

    # Then the two rules count in the core set, the other group is untouched, and the limits are the file's
    assert rules["aws-common-rule-set"]["statement"]["managedRuleGroupStatement"]["ruleActionOverrides"] == [
        {"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}},
        {"name": "CrossSiteScripting_BODY", "actionToUse": {"count": {}}},
    ]
    assert (
        "ruleActionOverrides" not in rules["aws-known-bad-inputs"]["statement"]["managedRuleGroupStatement"]
    )
    assert rules["rate-limit-per-ip"]["statement"]["rateBasedStatement"]["limit"] == 500
    assert rules["body-size-limit"]["statement"]["sizeConstraintStatement"]["size"] == 4096
    assert alarm["threshold"] == 50


def test_a_disabled_waf_declares_nothing(tmp_path: Path) -> None:
    # Given qa1 with its WAF switched off
    graph = synthesize_with_changes(tmp_path, "qa1", {"platform.api.waf.enabled": False})

    # When the program runs
    # Then no WAF resource remains, and the API itself is still declared
    assert [
        resource.name for resource in graph.resources if resource.type_ in (*WAF_TYPES, WAF_LOG_POLICY)
    ] == []
    assert [resource.name for resource in graph.resources if resource.name.startswith(FIREWALL)] == []
    assert len(graph.of_type(GRAPHQL_API)) == 1
