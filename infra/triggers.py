"""Triggers: how each kind of source invokes a worker's `live` alias, with every AWS option."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.catalog import QueueSource, ResolverSource, ScheduleSource, StreamSource, WorkerSpec
from infra.config import (
    QueueTriggerSettings,
    ResolverTriggerSettings,
    ScheduleTriggerSettings,
    StreamTriggerSettings,
    WorkerConfig,
)
from infra.iam import Statement, assume_role_policy, policy_document
from infra.naming import Naming
from infra.platform import PlatformRefs

ON_FAILURE_RETENTION_SECONDS = 1_209_600  # 14 days: the most SQS keeps, time to replay


@dataclass(kw_only=True)
class TriggerResources:
    """What a trigger declared, and the names its alarms watch."""

    event_source_mapping: aws.lambda_.EventSourceMapping | None = None
    rule: aws.cloudwatch.EventRule | None = None
    rule_name: str | None = None
    resolver: aws.appsync.Resolver | None = None
    dead_letter_queue_name: str | None = None
    resources: list[pulumi.Resource] = field(default_factory=list)


def filter_criteria(
    patterns: tuple[dict[str, object], ...] | None,
) -> aws.lambda_.EventSourceMappingFilterCriteriaArgs | None:
    """Lambda filter criteria: each pattern as compact JSON, OR-ed by Lambda."""
    if not patterns:
        return None
    return aws.lambda_.EventSourceMappingFilterCriteriaArgs(
        filters=[
            aws.lambda_.EventSourceMappingFilterCriteriaFilterArgs(
                pattern=json.dumps(pattern, separators=(",", ":"), sort_keys=True)
            )
            for pattern in patterns
        ]
    )


def on_failure_queue_name(function_name: str) -> str:
    return f"{function_name}-on-failure"


def schedule_rule_name(function_name: str) -> str:
    return f"{function_name}-schedule"


def schedule_dlq_name(function_name: str) -> str:
    return f"{function_name}-schedule-dlq"


def source_statements(
    spec: WorkerSpec, refs: PlatformRefs, on_failure_queue_arn: pulumi.Input[str] | None
) -> list[Statement]:
    """What the execution role needs to read the worker's source (Lambda polls as the function)."""
    source = spec.source
    if isinstance(source, StreamSource):
        statements = [
            Statement(
                sid="ReadSourceStream",
                actions=(
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                ),
                resources=(refs.streams[source.stream].arn,),
            )
        ]
        if on_failure_queue_arn is not None:
            statements.append(
                Statement(
                    sid="SendToOnFailureQueue",
                    actions=("sqs:SendMessage",),
                    resources=(on_failure_queue_arn,),
                )
            )
        return statements
    if isinstance(source, QueueSource):
        return [
            Statement(
                sid="ConsumeSourceQueue",
                actions=(
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ),
                resources=(refs.queues[source.queue].arn,),
            )
        ]
    return []


def declare_on_failure_queue(
    name: str, function_name: str, naming: Naming, spec: WorkerSpec, parent: pulumi.Resource
) -> aws.sqs.Queue:
    """The queue that receives metadata of stream batches the worker gave up on."""
    return aws.sqs.Queue(
        f"{name}-on-failure",
        name=on_failure_queue_name(function_name),
        message_retention_seconds=ON_FAILURE_RETENTION_SECONDS,
        sqs_managed_sse_enabled=True,
        tags=naming.tags(spec.inventory_code),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def declare_trigger(
    name: str,
    *,
    spec: WorkerSpec,
    config: WorkerConfig,
    naming: Naming,
    function_name: str,
    alias: aws.lambda_.Alias,
    refs: PlatformRefs,
    on_failure_queue: aws.sqs.Queue | None,
    account_id: str,
    depends_on: list[pulumi.Resource],
    parent: pulumi.Resource,
) -> TriggerResources:
    """Declare the trigger of `spec` pointing at `alias`."""
    trigger = config.trigger
    tags = naming.tags(spec.inventory_code)
    # A replaced mapping must be deleted first: AWS refuses two mappings of one source and function.
    mapping_opts = pulumi.ResourceOptions(parent=parent, depends_on=depends_on, delete_before_replace=True)
    source = spec.source
    if isinstance(source, StreamSource) and isinstance(trigger, StreamTriggerSettings):
        assert on_failure_queue is not None
        mapping = aws.lambda_.EventSourceMapping(
            f"{name}-trigger",
            event_source_arn=refs.streams[source.stream].arn,
            function_name=alias.arn,
            enabled=trigger.enabled,
            starting_position=trigger.starting_position,
            batch_size=trigger.batch_size,
            maximum_batching_window_in_seconds=trigger.maximum_batching_window_seconds,
            parallelization_factor=trigger.parallelization_factor,
            maximum_retry_attempts=trigger.maximum_retry_attempts,
            maximum_record_age_in_seconds=trigger.maximum_record_age_seconds,
            bisect_batch_on_function_error=trigger.bisect_batch_on_function_error,
            tumbling_window_in_seconds=trigger.tumbling_window_seconds or None,
            function_response_types=["ReportBatchItemFailures"],
            destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
                on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                    destination_arn=on_failure_queue.arn
                )
            ),
            filter_criteria=filter_criteria(trigger.filter_patterns),
            metrics_config=aws.lambda_.EventSourceMappingMetricsConfigArgs(metrics=["EventCount"])
            if trigger.metrics
            else None,
            tags=tags,
            opts=mapping_opts,
        )
        return TriggerResources(event_source_mapping=mapping, resources=[mapping])
    if isinstance(source, QueueSource) and isinstance(trigger, QueueTriggerSettings):
        mapping = aws.lambda_.EventSourceMapping(
            f"{name}-trigger",
            event_source_arn=refs.queues[source.queue].arn,
            function_name=alias.arn,
            enabled=trigger.enabled,
            batch_size=trigger.batch_size,
            maximum_batching_window_in_seconds=trigger.maximum_batching_window_seconds,
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=trigger.maximum_concurrency
            )
            if trigger.maximum_concurrency
            else None,
            function_response_types=["ReportBatchItemFailures"],
            filter_criteria=filter_criteria(trigger.filter_patterns),
            metrics_config=aws.lambda_.EventSourceMappingMetricsConfigArgs(metrics=["EventCount"])
            if trigger.metrics
            else None,
            tags=tags,
            opts=mapping_opts,
        )
        return TriggerResources(event_source_mapping=mapping, resources=[mapping])
    if isinstance(source, ScheduleSource) and isinstance(trigger, ScheduleTriggerSettings):
        return _schedule(
            name,
            trigger=trigger,
            naming=naming,
            spec=spec,
            function_name=function_name,
            alias=alias,
            parent=parent,
        )
    if isinstance(source, ResolverSource) and isinstance(trigger, ResolverTriggerSettings):
        return _resolver(
            name,
            source=source,
            trigger=trigger,
            naming=naming,
            spec=spec,
            alias=alias,
            refs=refs,
            account_id=account_id,
            parent=parent,
        )
    raise TypeError(f"{spec.name}: trigger settings {type(trigger).__name__} do not fit source {source.kind}")


def _schedule(
    name: str,
    *,
    trigger: ScheduleTriggerSettings,
    naming: Naming,
    spec: WorkerSpec,
    function_name: str,
    alias: aws.lambda_.Alias,
    parent: pulumi.Resource,
) -> TriggerResources:
    child = pulumi.ResourceOptions(parent=parent)
    tags = naming.tags(spec.inventory_code)
    rule = aws.cloudwatch.EventRule(
        f"{name}-schedule",
        name=schedule_rule_name(function_name),
        description=f"Runs {spec.name} on {trigger.schedule_expression}",
        schedule_expression=trigger.schedule_expression,
        state="ENABLED" if trigger.enabled else "DISABLED",
        tags=tags,
        opts=child,
    )
    dlq_name = schedule_dlq_name(function_name)
    dead_letters = aws.sqs.Queue(
        f"{name}-schedule-dlq",
        name=dlq_name,
        message_retention_seconds=ON_FAILURE_RETENTION_SECONDS,
        sqs_managed_sse_enabled=True,
        tags=tags,
        opts=child,
    )
    dlq_policy = aws.sqs.QueuePolicy(
        f"{name}-schedule-dlq-policy",
        queue_url=dead_letters.url,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "EventBridgeDeadLetters",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": dead_letters.arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": rule.arn}},
                    }
                ],
            }
        ),
        opts=child,
    )
    permission = aws.lambda_.Permission(
        f"{name}-schedule-permission",
        action="lambda:InvokeFunction",
        function=alias.function_name,
        qualifier=alias.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=child,
    )
    target = aws.cloudwatch.EventTarget(
        f"{name}-schedule-target",
        rule=rule.name,
        arn=alias.arn,
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_retry_attempts=trigger.retry_attempts,
            maximum_event_age_in_seconds=trigger.maximum_event_age_seconds,
        ),
        dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dead_letters.arn),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[permission, dlq_policy]),
    )
    return TriggerResources(
        rule=rule,
        rule_name=schedule_rule_name(function_name),
        dead_letter_queue_name=dlq_name,
        resources=[rule, dead_letters, dlq_policy, permission, target],
    )


def _resolver(
    name: str,
    *,
    source: ResolverSource,
    trigger: ResolverTriggerSettings,
    naming: Naming,
    spec: WorkerSpec,
    alias: aws.lambda_.Alias,
    refs: PlatformRefs,
    account_id: str,
    parent: pulumi.Resource,
) -> TriggerResources:
    child = pulumi.ResourceOptions(parent=parent)
    api_arn = pulumi.Output.concat(
        "arn:aws:appsync:", naming.region, ":", account_id, ":apis/", refs.graphql_api_id
    )
    role = aws.iam.Role(
        f"{name}-resolver-role",
        name=naming.name(f"{spec.inventory_code}-appsync"),
        assume_role_policy=assume_role_policy("appsync.amazonaws.com", source_arn=api_arn),
        tags=naming.tags(spec.inventory_code),
        opts=child,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-resolver-policy",
        role=role.id,
        policy=policy_document(
            [Statement(sid="InvokeLiveAlias", actions=("lambda:InvokeFunction",), resources=(alias.arn,))]
        ),
        opts=child,
    )
    data_source = aws.appsync.DataSource(
        f"{name}-data-source",
        api_id=refs.graphql_api_id,
        name=spec.name,  # AppSync names allow [_A-Za-z0-9] only: the worker's snake_case name fits
        type="AWS_LAMBDA",
        service_role_arn=role.arn,
        lambda_config=aws.appsync.DataSourceLambdaConfigArgs(function_arn=alias.arn),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy]),
    )
    # No mapping templates: a direct Lambda resolver hands the worker the whole AppSync context.
    resolver = aws.appsync.Resolver(
        f"{name}-resolver",
        api_id=refs.graphql_api_id,
        type=source.type_name,
        field=source.field_name,
        data_source=data_source.name,
        kind="UNIT",
        max_batch_size=trigger.max_batch_size or None,
        opts=child,
    )
    return TriggerResources(resolver=resolver, resources=[role, policy, data_source, resolver])
