"""Settings of the public GraphQL API's edge: the WAF web ACL in front of AppSync."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from infra.config.base import StackModel, known_retention

# AWS WAF's RateBasedStatement.Limit range (requests per evaluation window per aggregation key).
MIN_RATE_LIMIT = 10
MAX_RATE_LIMIT = 2_000_000_000
# WAF inspects at most the first 8 KB of an AppSync request body; the limit is fixed for AppSync
# (association_config's request-body sizes apply to CloudFront, API Gateway, Cognito, App Runner
# and Verified Access only), so a larger body limit could never be enforced.
APPSYNC_BODY_INSPECTION_LIMIT = 8192
# Below this even the fan-facing eventDetails query with its variables would be refused.
MIN_BODY_BYTES = 256

ManagedRuleGroup = Literal["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"]
MANAGED_RULE_GROUPS: tuple[ManagedRuleGroup, ...] = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)
# WAF's EntityName pattern: a rule of a managed group, e.g. SizeRestrictions_BODY.
ManagedRuleName = Annotated[str, Field(pattern=r"^[\w-]{1,128}$")]


class WafSettings(StackModel):
    """The WAF web ACL in front of the AppSync API."""

    enabled: bool = True
    """Declare the web ACL and associate it with the API."""
    rate_limit_per_ip: int = Field(default=2000, ge=MIN_RATE_LIMIT, le=MAX_RATE_LIMIT)
    """Requests one client IP may make per 5 minutes before WAF blocks it (WAF allows 10–2,000,000,000)."""
    max_body_bytes: int = Field(
        default=APPSYNC_BODY_INSPECTION_LIMIT, ge=MIN_BODY_BYTES, le=APPSYNC_BODY_INSPECTION_LIMIT
    )
    """Largest request body allowed; larger is blocked (WAF inspects at most 8 KB of an AppSync body)."""
    log_retention_days: Annotated[int, AfterValidator(known_retention)] = 30
    """Retention of the WAF's log group `aws-waf-logs-…` (client IPs: keep it short)."""
    blocked_requests_alarm_threshold: int = Field(default=1000, ge=1)
    """Requests the per-IP rate rule may block in 5 minutes before the block-storm alarm fires."""
    count_only_rules: dict[ManagedRuleGroup, tuple[ManagedRuleName, ...]] = Field(default={})
    """Managed rules that only count, never block (a false positive under review), by rule group."""


class ApiSettings(StackModel):
    """The public GraphQL API's protections."""

    waf: WafSettings | None = None
    """The WAF web ACL in front of the API (absent: none)."""
