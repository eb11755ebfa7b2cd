"""The Worker component: one Lambda worker with its role, logs, function, alias, trigger and alarms."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.access import worker_grants
from infra.alarms import AlarmTarget, declare_alarms
from infra.catalog import WorkerSpec
from infra.config import StackConfig, StreamTrigger, WorkerConfig
from infra.iam import Statement, assume_role_policy, policy_document, stack_key_statement
from infra.naming import (
    Naming,
    log_group_name,
    log_subscription_name,
    on_failure_queue_name,
    role_policy_name,
)
from infra.packaging import Archive
from infra.platform import PlatformRefs
from infra.triggers import (
    TriggerTarget,
    declare_on_failure_queue,
    declare_trigger,
    source_key_uses,
    source_statements,
)
from infra.worker_alarms import MetricScope, WatchedNames, worker_alarm_specs

COMPONENT_TYPE = "dmd:workers:Worker"
RUNTIME = "python3.12"
ALIAS = "live"
# The alias inputs the release step owns after creation (pulumi-aws Alias input names).
RELEASE_OWNED_ALIAS_INPUTS = ("functionVersion", "routingConfig")
OTEL_SERVICE_NAME = "vf.dmnd.workers"


@dataclass(frozen=True, kw_only=True)
class WorkerArgs:
    """The worker's catalog entry, its resolved settings, the stack and what the platform provides."""

    spec: WorkerSpec
    config: WorkerConfig
    stack: StackConfig
    refs: PlatformRefs
    code: Archive


class Worker(pulumi.ComponentResource):
    """A Lambda worker: least-privilege role, log group, function + `live` alias, trigger, alarms."""

    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    function: aws.lambda_.Function
    alias: aws.lambda_.Alias
    subscription_filter: aws.cloudwatch.LogSubscriptionFilter | None
    alarms: list[aws.cloudwatch.MetricAlarm]
    function_name: str

    def __init__(self, name: str, args: WorkerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        spec, config, stack, refs = args.spec, args.config, args.stack, args.refs
        naming = Naming(environment=stack.environment, region=stack.region)
        tags = naming.tags(spec.inventory_code)
        child = pulumi.ResourceOptions(parent=self)
        self.function_name = naming.function_name(spec.inventory_code)
        log_group = log_group_name(self.function_name)
        trigger = config.resolved_trigger

        self.role = aws.iam.Role(
            f"{name}-role",
            name=self.function_name,
            description=f"Execution role of {spec.name}",
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        # Created before the function so Lambda never auto-creates it without retention.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group,
            retention_in_days=config.log_retention_days,
            kms_key_id=refs.kms_key_arn,
            tags=tags,
            opts=child,
        )
        on_failure_queue = (
            declare_on_failure_queue(name, self.function_name, tags, self, refs.kms_key_arn)
            if isinstance(trigger, StreamTrigger)
            else None
        )
        grants = worker_grants(spec, stack, refs)
        # One statement for the stack's key, derived from what the source and the grants reach.
        key_statement = stack_key_statement(
            refs.kms_key_arn,
            stack.region,
            [*source_key_uses(trigger, refs), *(use for grant in grants for use in grant.key_uses)],
        )
        statements = [
            Statement(
                sid="WriteOwnLogs",
                actions=("logs:CreateLogStream", "logs:PutLogEvents"),
                resources=(pulumi.Output.concat(self.log_group.arn, ":*"),),
            ),
            *source_statements(trigger, refs, on_failure_queue.arn if on_failure_queue else None),
            *(statement for grant in grants for statement in grant.statements),
            *([key_statement] if key_statement is not None else []),
            *self._vpc_statements(stack),
        ]
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            name=role_policy_name(self.function_name),
            role=self.role.id,
            policy=policy_document(statements),
            opts=child,
        )
        environment: dict[str, pulumi.Input[str]] = {
            **self._runtime_environment(spec, config, stack),
            **{key: value for grant in grants for key, value in grant.environment.items()},
            **config.tunables,
            # Poison records are parked in the on-failure queue; the role's SendToOnFailureQueue covers it.
            **({"PARKING_QUEUE_URL": on_failure_queue.url} if on_failure_queue is not None else {}),
        }
        vpc = stack.platform.vpc
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=self.function_name,
            description=spec.description,
            role=self.role.arn,
            runtime=RUNTIME,
            handler=spec.handler,
            code=pulumi.FileArchive(str(args.code.path)),
            source_code_hash=args.code.sha256_base64,
            layers=[refs.layer_arns[config.architecture]],
            architectures=[config.architecture],
            memory_size=config.memory_mb,
            timeout=config.timeout_seconds,
            reserved_concurrent_executions=config.reserved_concurrency,
            publish=True,
            snap_start=aws.lambda_.FunctionSnapStartArgs(apply_on="PublishedVersions")
            if config.snap_start
            else None,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON",
                log_group=log_group,
                application_log_level=config.log_level.replace("WARNING", "WARN"),
                # INFO: the platform's start and report records (duration, memory, init duration on a
                # cold start) reach the log group, which the `cold-starts` and `errors` queries read;
                # WARN would drop them (infra/log_queries.py).
                system_log_level="INFO",
            ),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=list(vpc.subnet_ids), security_group_ids=list(vpc.security_group_ids)
            )
            if vpc
            else None,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, policy]),
        )
        # `live` is created at the first published version; from then on the release step
        # (`dmd release`) owns its version and weighted routing: a `pulumi up` publishes the new
        # version (publish=True) and never moves `live`, so it neither fights a release in progress
        # nor undoes a rollback. Pulumi matches ignore_changes on the input names (camelCase).
        self.alias = aws.lambda_.Alias(
            f"{name}-alias",
            name=ALIAS,
            description="What triggers invoke; moved between published versions by `dmd release`",
            function_name=self.function.name,
            function_version=self.function.version,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=list(RELEASE_OWNED_ALIAS_INPUTS)),
        )
        self.subscription_filter = self._stream_logs(
            name, naming=naming, spec=spec, config=config, stack=stack
        )
        declared = declare_trigger(
            trigger,
            TriggerTarget(
                resource_name=name,
                worker=spec.name,
                inventory_code=spec.inventory_code,
                function_name=self.function_name,
                alias=self.alias,
                naming=naming,
                account_id=stack.account_id,
                role_policy=policy,
                parent=self,
            ),
            refs,
            on_failure_queue,
        )
        watched = WatchedNames(
            function_name=self.function_name,
            log_group_name=log_group,
            subscription_filter_name=log_subscription_name(self.function_name)
            if self.subscription_filter
            else None,
            on_failure_queue_name=None
            if on_failure_queue is None
            else on_failure_queue_name(self.function_name),
            schedule_rule_name=declared.rule_name,
            schedule_dlq_name=declared.dead_letter_queue_name,
            event_source_mapping_uuid=declared.event_source_mapping.uuid
            if declared.event_source_mapping
            else None,
        )
        self.alarms = declare_alarms(
            name,
            self.function_name,
            worker_alarm_specs(
                spec,
                config,
                watched,
                refs,
                stack.platform.alarm_topic.account_concurrency_limit,
                metrics=MetricScope(
                    namespace=stack.observability.metrics_namespace, environment=stack.environment
                ),
            ),
            AlarmTarget(
                topic_arn=refs.alarm_topic_arn,
                runbook_base_url=stack.observability.runbook_base_url,
                tags=tags,
            ),
            self,
        )
        self.register_outputs(
            {"function_name": self.function.name, "alias_arn": self.alias.arn, "role_arn": self.role.arn}
        )

    @staticmethod
    def _runtime_environment(spec: WorkerSpec, config: WorkerConfig, stack: StackConfig) -> dict[str, str]:
        observability = stack.observability
        environment = {
            "DMD_ENVIRONMENT": stack.environment,
            "POWERTOOLS_SERVICE_NAME": spec.name,
            "POWERTOOLS_LOG_LEVEL": config.log_level,
            "POWERTOOLS_METRICS_NAMESPACE": observability.metrics_namespace,
            "POWERTOOLS_LOGGER_LOG_EVENT": "false",
            "OTEL_SERVICE_NAME": OTEL_SERVICE_NAME,
            "OTEL_RESOURCE_ATTRIBUTES": (
                f"deployment.environment={stack.environment},faas.name={spec.name},"
                f"service.namespace=demand-capture"
            ),
        }
        if observability.otel_collector_endpoint:
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = observability.otel_collector_endpoint.rstrip("/")
            environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
        return environment

    @staticmethod
    def _vpc_statements(stack: StackConfig) -> list[Statement]:
        vpc = stack.platform.vpc
        if vpc is None:
            return []
        arn = f"arn:aws:ec2:{stack.region}:{stack.account_id}"
        interfaces = f"{arn}:network-interface/*"
        return [
            Statement(
                sid="CreateFunctionInterfaces",
                actions=("ec2:CreateNetworkInterface",),
                resources=(
                    interfaces,
                    *(f"{arn}:subnet/{subnet}" for subnet in vpc.subnet_ids),
                    *(f"{arn}:security-group/{group}" for group in vpc.security_group_ids),
                ),
            ),
            Statement(
                sid="ManageFunctionInterfaces",
                actions=(
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ),
                resources=(interfaces,),
            ),
            # The Describe calls support no resource-level scoping.
            Statement(
                sid="DescribeInterfaces",
                actions=("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"),
                resources=("*",),
            ),
        ]

    def _stream_logs(
        self, name: str, *, naming: Naming, spec: WorkerSpec, config: WorkerConfig, stack: StackConfig
    ) -> aws.cloudwatch.LogSubscriptionFilter | None:
        destination = stack.platform.central_log_stream_arn
        if not config.log_streaming or destination is None:
            return None
        child = pulumi.ResourceOptions(parent=self)
        # Its own role, trusted only for this log group: CloudWatch Logs cannot be tricked into
        # writing another group's events to the stream with it (confused deputy).
        role = aws.iam.Role(
            f"{name}-log-delivery-role",
            name=naming.log_delivery_role_name(spec.inventory_code),
            assume_role_policy=assume_role_policy(
                "logs.amazonaws.com", source_arn=pulumi.Output.concat(self.log_group.arn, ":*")
            ),
            tags=naming.tags(spec.inventory_code),
            opts=child,
        )
        statements = [
            Statement(
                sid="PutToCentralLogStream",
                actions=("kinesis:PutRecord", "kinesis:PutRecords"),
                resources=(destination,),
            )
        ]
        key = stack.platform.central_log_stream_kms_key_arn
        if key is not None:
            # Kinesis producers writing to a stream under a customer key need kms:GenerateDataKey.
            statements.append(
                Statement(
                    sid="EncryptForCentralLogStream", actions=("kms:GenerateDataKey",), resources=(key,)
                )
            )
        policy = aws.iam.RolePolicy(
            f"{name}-log-delivery-policy",
            role=role.id,
            policy=policy_document(statements),
            opts=child,
        )
        return aws.cloudwatch.LogSubscriptionFilter(
            f"{name}-log-subscription",
            name=log_subscription_name(self.function_name),
            log_group=self.log_group.name,
            filter_pattern="",
            destination_arn=destination,
            role_arn=role.arn,
            distribution="Random",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
