"""The public GraphQL API's edge: a WAF web ACL with managed rules, a per-IP rate limit and a body limit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.alarms import AlarmSpec, AlarmTarget, Metric, declare_alarms
from infra.config.api import MANAGED_RULE_GROUPS, ManagedRuleGroup, WafSettings
from infra.iam import json_document
from infra.log_queries import WAF_QUERIES
from infra.naming import Naming

COMPONENT_TYPE = "dmd:platform:ApiFirewall"
# Rule names in the web ACL (`terminatingRuleId` in the logs; the suffix of each rule's metric name).
MANAGED_RULE_NAMES: dict[ManagedRuleGroup, str] = {
    "AWSManagedRulesCommonRuleSet": "aws-common-rule-set",
    "AWSManagedRulesKnownBadInputsRuleSet": "aws-known-bad-inputs",
}
RATE_RULE = "rate-limit-per-ip"
BODY_RULE = "body-size-limit"
RATE_WINDOW_SECONDS = 300
# Never written to the logs: callers' SigV4 signatures, API keys or Cognito tokens.
REDACTED_HEADERS = ("authorization", "x-api-key")


@dataclass(frozen=True, kw_only=True)
class ApiFirewallArgs:
    """What the web ACL protects, its settings, where it logs and alarms."""

    naming: Naming
    account_id: str
    region: str
    settings: WafSettings
    api_arn: pulumi.Input[str]
    alarms: AlarmTarget
    log_kms_key_arn: pulumi.Input[str] | None = None
    """The stack's customer KMS key for the log group (None: CloudWatch Logs' own encryption)."""


class ApiFirewall(pulumi.ComponentResource):
    """A REGIONAL WAF web ACL on the AppSync API, logged to `aws-waf-logs-…`, with a block-storm alarm."""

    web_acl: aws.wafv2.WebAcl
    association: aws.wafv2.WebAclAssociation
    log_group: aws.cloudwatch.LogGroup
    log_policy: aws.cloudwatch.LogResourcePolicy
    logging: aws.wafv2.WebAclLoggingConfiguration
    queries: list[aws.cloudwatch.QueryDefinition]
    alarms: list[aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: ApiFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        naming = args.naming
        acl_name = naming.api_waf_name
        self.web_acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            name=acl_name,
            description=f"Edge of {naming.api_name}: managed rules, per-IP rate limit, body size limit",
            scope="REGIONAL",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=web_acl_rules(naming, args.settings),
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=acl_name, sampled_requests_enabled=True
            ),
            tags=naming.tags(),
            opts=child,
        )
        self.association = aws.wafv2.WebAclAssociation(
            f"{name}-association",
            resource_arn=args.api_arn,
            web_acl_arn=self.web_acl.arn,
            opts=child,
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=naming.api_waf_log_group_name,
            retention_in_days=args.settings.log_retention_days,
            kms_key_id=args.log_kms_key_arn,
            tags=naming.tags(),
            opts=child,
        )
        # Without a policy of our own, WAF appends this group to the account-wide AWSWAF-LOGS policy,
        # which outgrows its size limit as web ACLs come and go (pulumi-aws WebAclLoggingConfiguration).
        self.log_policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-log-policy",
            policy_name=acl_name,
            policy_document=_log_delivery_policy(self.log_group.arn, args.account_id, args.region),
            opts=child,
        )
        self.logging = aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=self.web_acl.arn,
            log_destination_configs=[self.log_group.arn],
            redacted_fields=[
                aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(
                        name=header
                    )
                )
                for header in REDACTED_HEADERS
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_policy]),
        )
        # The console's copy of `dmd logs query --preset waf-blocks`, on this log group.
        self.queries = [
            aws.cloudwatch.QueryDefinition(
                f"{name}-query-{query.preset}",
                name=query.saved_name(naming.environment),
                query_string=query.console_text,
                log_group_names=[self.log_group.name],
                opts=child,
            )
            for query in WAF_QUERIES
        ]
        self.alarms = declare_alarms(name, acl_name, [rate_block_alarm(naming, args)], args.alarms, self)
        self.register_outputs({"web_acl_arn": self.web_acl.arn, "log_group_name": self.log_group.name})


def web_acl_rules(naming: Naming, settings: WafSettings) -> list[aws.wafv2.WebAclRuleArgs]:
    """The rules in priority order: the two managed groups, the per-IP rate limit, the body limit."""
    managed = [
        _managed_rule(naming, group, settings.count_only_rules.get(group, ()))
        for group in MANAGED_RULE_GROUPS
    ]
    builders = [*managed, _rate_rule(naming, settings), _body_rule(naming, settings)]
    # Priorities follow the list's order, so it reads as WAF evaluates it.
    return [build(priority) for priority, build in enumerate(builders)]


RuleBuilder = Callable[[int], aws.wafv2.WebAclRuleArgs]
# pulumi-aws declares this argument-less class without annotations.
_NO_OVERRIDE = aws.wafv2.WebAclRuleOverrideActionNoneArgs()  # type: ignore[no-untyped-call]


def _managed_rule(naming: Naming, group: ManagedRuleGroup, count_only: tuple[str, ...]) -> RuleBuilder:
    rule_name = MANAGED_RULE_NAMES[group]
    overrides = [
        aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
            name=rule,
            action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
            ),
        )
        for rule in count_only
    ]
    return lambda priority: aws.wafv2.WebAclRuleArgs(
        name=rule_name,
        priority=priority,
        # `none`: each rule of the group keeps its own action (block), except the count-only ones.
        override_action=aws.wafv2.WebAclRuleOverrideActionArgs(none=_NO_OVERRIDE),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                vendor_name="AWS", name=group, rule_action_overrides=overrides or None
            )
        ),
        visibility_config=_rule_visibility(naming, rule_name),
    )


def _rate_rule(naming: Naming, settings: WafSettings) -> RuleBuilder:
    return lambda priority: aws.wafv2.WebAclRuleArgs(
        name=RATE_RULE,
        priority=priority,
        action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                aggregate_key_type="IP",
                limit=settings.rate_limit_per_ip,
                evaluation_window_sec=RATE_WINDOW_SECONDS,
            )
        ),
        visibility_config=_rule_visibility(naming, RATE_RULE),
    )


def _body_rule(naming: Naming, settings: WafSettings) -> RuleBuilder:
    body = aws.wafv2.WebAclRuleStatementSizeConstraintStatementFieldToMatchArgs(
        # A body past WAF's 8 KB AppSync inspection limit matches: it is larger than any allowed size.
        body=aws.wafv2.WebAclRuleStatementSizeConstraintStatementFieldToMatchBodyArgs(
            oversize_handling="MATCH"
        )
    )
    return lambda priority: aws.wafv2.WebAclRuleArgs(
        name=BODY_RULE,
        priority=priority,
        action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            size_constraint_statement=aws.wafv2.WebAclRuleStatementSizeConstraintStatementArgs(
                comparison_operator="GT",
                size=settings.max_body_bytes,
                field_to_match=body,
                text_transformations=[
                    aws.wafv2.WebAclRuleStatementSizeConstraintStatementTextTransformationArgs(
                        priority=0, type="NONE"
                    )
                ],
            )
        ),
        visibility_config=_rule_visibility(naming, BODY_RULE),
    )


def _rule_visibility(naming: Naming, rule: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True,
        metric_name=naming.api_waf_rule_metric_name(rule),
        sampled_requests_enabled=True,
    )


def rate_block_alarm(naming: Naming, args: ApiFirewallArgs) -> AlarmSpec:
    """Requests the per-IP rate rule blocked in 5 minutes: a block storm (an attack, or fans behind a NAT)."""
    threshold = args.settings.blocked_requests_alarm_threshold
    return AlarmSpec(
        suffix="rate-blocks",
        summary=f"{naming.api_waf_name}: the per-IP rate limit blocked more than {threshold} requests "
        f"in 5 minutes (limit {args.settings.rate_limit_per_ip} per IP per 5 minutes)",
        runbook="waf-blocks",
        threshold=threshold,
        evaluation_periods=1,
        metric=Metric(
            namespace="AWS/WAFV2",
            name="BlockedRequests",
            # A regional web ACL's rule metrics carry exactly these three dimensions.
            dimensions={
                "WebACL": naming.api_waf_name,
                "Rule": naming.api_waf_rule_metric_name(RATE_RULE),
                "Region": args.region,
            },
            period=RATE_WINDOW_SECONDS,
        ),
    )


def _log_delivery_policy(
    log_group_arn: pulumi.Output[str], account_id: str, region: str
) -> pulumi.Output[str]:
    """Lets WAF's log delivery write to this one group, on behalf of this account only."""
    return json_document(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WafLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "delivery.logs.amazonaws.com"},
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": pulumi.Output.concat(log_group_arn, ":log-stream:*"),
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{region}:{account_id}:*"},
                    },
                }
            ],
        }
    )
