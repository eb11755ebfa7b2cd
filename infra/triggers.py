"""Triggers: how each kind of source invokes a worker's `live` alias, with every AWS option."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import assert_never

import pulumi
import pulumi_aws as aws

from infra.config import (
    QueueTrigger,
    ResolverTrigger,
    ScheduleTrigger,
    ScheduleTriggerSettings,
    StreamTrigger,
    Trigger,
)
from infra.iam import (
    DECRYPT,
    SQS_SEND,
    KeyUse,
    Statement,
    assume_role_policy,
    json_document,
    policy_document,
)
from infra.naming import Naming, on_failure_queue_name, schedule_dlq_name, schedule_rule_name
from infra.platform import PlatformRefs
from infra.queue import queue_encryption

ON_FAILURE_RETENTION_SECONDS = 1_209_600  # 14 days: the most SQS keeps, time to replay


@dataclass(frozen=True, kw_only=True)
class TriggerTarget:
    """The worker a trigger invokes: its `live` alias, names, tags and the component it belongs to."""

    resource_name: str
    worker: str
    inventory_code: str
    function_name: str
    alias: aws.lambda_.Alias
    naming: Naming
    account_id: str
    role_policy: pulumi.Resource
    parent: pulumi.Resource

    @property
    def tags(self) -> dict[str, str]:
        """The worker's tags."""
        return self.naming.tags(self.inventory_code)

    def child(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        """Options of a trigger resource: a child of the worker, after `depends_on`."""
        return pulumi.ResourceOptions(parent=self.parent, depends_on=list(depends_on) or None)


@dataclass(frozen=True, kw_only=True)
class TriggerResources:
    """What the worker's alarms watch of the trigger it declared."""

    event_source_mapping: aws.lambda_.EventSourceMapping | None = None
    rule_name: str | None = None
    dead_letter_queue_name: str | None = None


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


def source_statements(
    trigger: Trigger, refs: PlatformRefs, on_failure_queue_arn: pulumi.Input[str] | None
) -> list[Statement]:
    """What the execution role needs to read the worker's source (Lambda polls as the function)."""
    if isinstance(trigger, StreamTrigger):
        stream = refs.streams[trigger.stream]
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
                resources=(stream.arn,),
            )
        ]
        if stream.kms_key_arn is not None:
            # A customer key needs an explicit grant: Lambda reads the records as the function's role
            # (Kinesis consumers need kms:Decrypt; the AWS-managed key needs none).
            statements.append(
                Statement(
                    sid="DecryptSourceStream", actions=("kms:Decrypt",), resources=(stream.kms_key_arn,)
                )
            )
        if on_failure_queue_arn is not None:
            statements.append(
                Statement(
                    sid="SendToOnFailureQueue",
                    actions=("sqs:SendMessage",),
                    resources=(on_failure_queue_arn,),
                )
            )
        return statements
    if isinstance(trigger, QueueTrigger):
        return [
            Statement(
                sid="ConsumeSourceQueue",
                actions=(
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ),
                resources=(refs.queues[trigger.queue].arn,),
            )
        ]
    return []


def source_key_uses(trigger: Trigger, refs: PlatformRefs) -> list[KeyUse]:
    """What reading the worker's source needs of the stack's key (Lambda reads and sends as the role)."""
    if isinstance(trigger, StreamTrigger):
        # Kinesis consumers need kms:Decrypt; the on-failure queue (Lambda's destination, and where
        # the worker parks poison records) is written as the function's role.
        uses = [KeyUse(actions=SQS_SEND, service="sqs")]
        if refs.streams[trigger.stream].under_stack_key:
            uses.append(KeyUse(actions=DECRYPT, service="kinesis"))
        return uses
    if isinstance(trigger, QueueTrigger):
        return [KeyUse(actions=DECRYPT, service="sqs")]
    return []


def declare_on_failure_queue(
    resource_name: str,
    function_name: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    kms_key_arn: pulumi.Input[str] | None = None,
) -> aws.sqs.Queue:
    """The queue that receives metadata of stream batches the worker gave up on (and parked records)."""
    return aws.sqs.Queue(
        f"{resource_name}-on-failure",
        name=on_failure_queue_name(function_name),
        message_retention_seconds=ON_FAILURE_RETENTION_SECONDS,
        **queue_encryption(kms_key_arn),
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def declare_trigger(
    trigger: Trigger, target: TriggerTarget, refs: PlatformRefs, on_failure_queue: aws.sqs.Queue | None
) -> TriggerResources:
    """Declare the trigger that invokes the worker's `live` alias, by the kind of its source."""
    match trigger:
        case StreamTrigger():
            if on_failure_queue is None:
                raise ValueError(
                    f"{target.worker}: a stream trigger needs the on-failure queue of its batches"
                )
            return _stream_mapping(trigger, target, refs.streams[trigger.stream].arn, on_failure_queue)
        case QueueTrigger():
            return _queue_mapping(trigger, target, refs.queues[trigger.queue].arn)
        case ScheduleTrigger():
            return _schedule(trigger.settings, target, refs.kms_key_arn)
        case ResolverTrigger():
            return _resolver(trigger, target, refs.graphql_api_id)
        case _:
            assert_never(trigger)


def _mapping_options(target: TriggerTarget) -> pulumi.ResourceOptions:
    # A replaced mapping must be deleted first: AWS refuses two mappings of one source and function.
    # Lambda polls as the function, so the mapping waits for the role's policy.
    return pulumi.ResourceOptions(
        parent=target.parent, depends_on=[target.role_policy], delete_before_replace=True
    )


def _mapping_metrics(enabled: bool) -> aws.lambda_.EventSourceMappingMetricsConfigArgs | None:
    return aws.lambda_.EventSourceMappingMetricsConfigArgs(metrics=["EventCount"]) if enabled else None


def _stream_mapping(
    trigger: StreamTrigger,
    target: TriggerTarget,
    stream_arn: pulumi.Input[str],
    on_failure_queue: aws.sqs.Queue,
) -> TriggerResources:
    settings = trigger.settings
    mapping = aws.lambda_.EventSourceMapping(
        f"{target.resource_name}-trigger",
        event_source_arn=stream_arn,
        function_name=target.alias.arn,
        enabled=settings.enabled,
        starting_position=settings.starting_position,
        batch_size=settings.batch_size,
        maximum_batching_window_in_seconds=settings.maximum_batching_window_seconds,
        parallelization_factor=settings.parallelization_factor,
        maximum_retry_attempts=settings.maximum_retry_attempts,
        maximum_record_age_in_seconds=settings.maximum_record_age_seconds,
        bisect_batch_on_function_error=settings.bisect_batch_on_function_error,
        tumbling_window_in_seconds=settings.tumbling_window_seconds or None,
        function_response_types=["ReportBatchItemFailures"],
        destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
            on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                destination_arn=on_failure_queue.arn
            )
        ),
        filter_criteria=filter_criteria(settings.filter_patterns),
        metrics_config=_mapping_metrics(settings.metrics),
        tags=target.tags,
        opts=_mapping_options(target),
    )
    return TriggerResources(event_source_mapping=mapping)


def _queue_mapping(
    trigger: QueueTrigger, target: TriggerTarget, queue_arn: pulumi.Input[str]
) -> TriggerResources:
    settings = trigger.settings
    mapping = aws.lambda_.EventSourceMapping(
        f"{target.resource_name}-trigger",
        event_source_arn=queue_arn,
        function_name=target.alias.arn,
        enabled=settings.enabled,
        batch_size=settings.batch_size,
        maximum_batching_window_in_seconds=settings.maximum_batching_window_seconds,
        scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
            maximum_concurrency=settings.maximum_concurrency
        )
        if settings.maximum_concurrency
        else None,
        function_response_types=["ReportBatchItemFailures"],
        filter_criteria=filter_criteria(settings.filter_patterns),
        metrics_config=_mapping_metrics(settings.metrics),
        tags=target.tags,
        opts=_mapping_options(target),
    )
    return TriggerResources(event_source_mapping=mapping)


def _schedule(
    settings: ScheduleTriggerSettings, target: TriggerTarget, kms_key_arn: pulumi.Input[str] | None
) -> TriggerResources:
    name, tags = target.resource_name, target.tags
    rule_name, dlq_name = schedule_rule_name(target.function_name), schedule_dlq_name(target.function_name)
    rule = aws.cloudwatch.EventRule(
        f"{name}-schedule",
        name=rule_name,
        description=f"Runs {target.worker} on {settings.schedule_expression}",
        schedule_expression=settings.schedule_expression,
        state="ENABLED" if settings.enabled else "DISABLED",
        tags=tags,
        opts=target.child(),
    )
    dead_letters = aws.sqs.Queue(
        f"{name}-schedule-dlq",
        name=dlq_name,
        message_retention_seconds=ON_FAILURE_RETENTION_SECONDS,
        # Under the stack's key, EventBridge may send to it by the key policy (infra/key_policy.py).
        **queue_encryption(kms_key_arn),
        tags=tags,
        opts=target.child(),
    )
    dlq_policy = aws.sqs.QueuePolicy(
        f"{name}-schedule-dlq-policy",
        queue_url=dead_letters.url,
        policy=json_document(
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
        opts=target.child(),
    )
    permission = aws.lambda_.Permission(
        f"{name}-schedule-permission",
        action="lambda:InvokeFunction",
        function=target.alias.function_name,
        qualifier=target.alias.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=target.child(),
    )
    aws.cloudwatch.EventTarget(
        f"{name}-schedule-target",
        rule=rule.name,
        arn=target.alias.arn,
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_retry_attempts=settings.retry_attempts,
            maximum_event_age_in_seconds=settings.maximum_event_age_seconds,
        ),
        dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dead_letters.arn),
        opts=target.child(depends_on=[permission, dlq_policy]),
    )
    return TriggerResources(rule_name=rule_name, dead_letter_queue_name=dlq_name)


def _resolver(trigger: ResolverTrigger, target: TriggerTarget, api_id: pulumi.Input[str]) -> TriggerResources:
    name = target.resource_name
    api_arn = pulumi.Output.concat(
        "arn:aws:appsync:", target.naming.region, ":", target.account_id, ":apis/", api_id
    )
    role = aws.iam.Role(
        f"{name}-resolver-role",
        name=target.naming.resolver_role_name(target.inventory_code),
        assume_role_policy=assume_role_policy("appsync.amazonaws.com", source_arn=api_arn),
        tags=target.tags,
        opts=target.child(),
    )
    policy = aws.iam.RolePolicy(
        f"{name}-resolver-policy",
        role=role.id,
        policy=policy_document(
            [
                Statement(
                    sid="InvokeLiveAlias", actions=("lambda:InvokeFunction",), resources=(target.alias.arn,)
                )
            ]
        ),
        opts=target.child(),
    )
    data_source = aws.appsync.DataSource(
        f"{name}-data-source",
        api_id=api_id,
        name=target.worker,  # AppSync names allow [_A-Za-z0-9] only: the worker's snake_case name fits
        type="AWS_LAMBDA",
        service_role_arn=role.arn,
        lambda_config=aws.appsync.DataSourceLambdaConfigArgs(function_arn=target.alias.arn),
        opts=target.child(depends_on=[policy]),
    )
    # No mapping templates: a direct Lambda resolver hands the worker the whole AppSync context.
    aws.appsync.Resolver(
        f"{name}-resolver",
        api_id=api_id,
        type=trigger.type_name,
        field=trigger.field_name,
        data_source=data_source.name,
        kind="UNIT",
        max_batch_size=trigger.settings.max_batch_size or None,
        opts=target.child(),
    )
    return TriggerResources()
