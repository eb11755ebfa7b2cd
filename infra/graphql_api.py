"""The AppSync API whose fields the resolver workers answer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_aws as aws

from infra.alarms import AlarmSpec, AlarmTarget, Metric, declare_alarms
from infra.iam import Statement, assume_role_policy, policy_document
from infra.naming import Naming, api_log_group_name

COMPONENT_TYPE = "dmd:platform:GraphqlApi"
SCHEMA_PATH = Path(__file__).with_name("schema.graphql")


@dataclass(frozen=True, kw_only=True)
class GraphqlApiArgs:
    """API identity, authentication and alarm routing."""

    naming: Naming
    account_id: str
    authentication: Literal["AWS_IAM", "API_KEY", "AMAZON_COGNITO_USER_POOLS"]
    log_retention_days: int
    alarms: AlarmTarget
    kms_key_arn: pulumi.Input[str] | None = None
    """The stack's customer-managed key for the API's log group; None: CloudWatch Logs' own encryption."""


class GraphqlApi(pulumi.ComponentResource):
    """AppSync GraphQL API with the schema, error logging and a 5xx alarm."""

    api: aws.appsync.GraphQLApi
    logging_role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
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
        # AppSync names the group after the API id, so it can only be declared after the API. The
        # role may write to this one group only, with no logs:CreateLogGroup, and gets that right
        # after the group exists: AppSync can never create it itself, without retention.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=self.api.id.apply(api_log_group_name),
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=naming.tags(),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-logging-policy",
            role=self.logging_role.id,
            policy=policy_document(
                [
                    Statement(
                        sid="WriteApiLogs",
                        actions=("logs:CreateLogStream", "logs:PutLogEvents"),
                        resources=(self.log_group.arn, pulumi.Output.concat(self.log_group.arn, ":*")),
                    )
                ]
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group]),
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
