"""The AppSync API whose fields the resolver workers answer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_aws as aws

from infra.alarms import AlarmSpec, AlarmTarget, Metric, declare_alarms
from infra.iam import Statement, assume_role_policy, policy_document
from infra.naming import Naming

COMPONENT_TYPE = "dmd:platform:GraphqlApi"
SCHEMA_PATH = Path(__file__).with_name("schema.graphql")


@dataclass(frozen=True, kw_only=True)
class GraphqlApiArgs:
    """API identity, authentication and alarm routing."""

    naming: Naming
    account_id: str
    authentication: Literal["AWS_IAM", "API_KEY", "AMAZON_COGNITO_USER_POOLS"]
    alarms: AlarmTarget


class GraphqlApi(pulumi.ComponentResource):
    """AppSync GraphQL API with the schema, error logging and a 5xx alarm."""

    api: aws.appsync.GraphQLApi
    logging_role: aws.iam.Role
    alarms: list[aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: GraphqlApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        naming = args.naming
        api_name = naming.api_name
        self.logging_role = aws.iam.Role(
            f"{name}-logging-role",
            name=naming.api_logging_role_name,
            assume_role_policy=assume_role_policy("appsync.amazonaws.com", source_account=args.account_id),
            tags=naming.tags(),
            opts=child,
        )
        log_groups = f"arn:aws:logs:{naming.region}:{args.account_id}:log-group:/aws/appsync/apis/*"
        aws.iam.RolePolicy(
            f"{name}-logging-policy",
            role=self.logging_role.id,
            policy=policy_document(
                [
                    Statement(
                        sid="WriteApiLogs",
                        actions=("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"),
                        resources=(log_groups, f"{log_groups}:*"),
                    )
                ]
            ),
            opts=child,
        )
        self.api = aws.appsync.GraphQLApi(
            f"{name}-api",
            name=api_name,
            authentication_type=args.authentication,
            schema=SCHEMA_PATH.read_text(encoding="utf-8"),
            log_config=aws.appsync.GraphQLApiLogConfigArgs(
                cloudwatch_logs_role_arn=self.logging_role.arn,
                field_log_level="ERROR",
                exclude_verbose_content=True,
            ),
            xray_enabled=False,
            tags=naming.tags(),
            opts=child,
        )
        self.alarms = declare_alarms(
            name,
            api_name,
            [
                AlarmSpec(
                    suffix="5xx",
                    summary=f"{api_name}: AppSync answers with server errors",
                    runbook="appsync-5xx",
                    threshold=0,
                    evaluation_periods=3,
                    metric=Metric(
                        namespace="AWS/AppSync", name="5XXError", dimensions={"GraphQLAPIId": self.api.id}
                    ),
                )
            ],
            args.alarms,
            self,
        )
        self.register_outputs({"api_id": self.api.id, "api_url": self.api.uris})
