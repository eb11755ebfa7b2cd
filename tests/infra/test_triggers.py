"""Declaring a trigger dispatches on the resolved trigger's kind: each kind declares its own resources."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from infra.config import Trigger
from infra.naming import Naming
from infra.platform import PlatformRefs, QueueRef, StreamRef
from infra.stack_files import load_committed
from infra.synth import ResourceGraph, run_under_mocks
from infra.triggers import TriggerTarget, declare_on_failure_queue, declare_trigger

REFS = PlatformRefs(
    table_name="table",
    table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/table",
    index_names={},
    streams={
        name: StreamRef(
            name=name, arn=f"arn:aws:kinesis:us-east-1:123456789012:stream/{name}", retention_hours=24
        )
        for name in ("table", "sms_status")
    },
    queues={
        name: QueueRef(
            name=name,
            arn=f"arn:aws:sqs:us-east-1:123456789012:{name}",
            url=f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}",
            dead_letter_queue_name=f"{name}-dlq",
            retention_seconds=345_600,
            dead_letter_queue_arn=f"arn:aws:sqs:us-east-1:123456789012:{name}-dlq",
            dead_letter_queue_url=f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}-dlq",
        )
        for name in ("short_url", "generation")
    },
    secret_arns={},
    alarm_topic_arn="arn:aws:sns:us-east-1:123456789012:alarms",
    layer_arns={},
    graphql_api_id="api",
    email_template_names={},
    email_template_prefix="templates",
    email_identity_arn="arn:aws:ses:us-east-1:123456789012:identity/example.com",
)
TRIGGER_RESOURCES = {
    "notification_send": {"aws:lambda/eventSourceMapping:EventSourceMapping"},
    "shorten_event_url": {"aws:lambda/eventSourceMapping:EventSourceMapping"},
    "notification_scheduler": {
        "aws:cloudwatch/eventRule:EventRule",
        "aws:sqs/queue:Queue",
        "aws:sqs/queuePolicy:QueuePolicy",
        "aws:lambda/permission:Permission",
        "aws:cloudwatch/eventTarget:EventTarget",
    },
    "event_details": {
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:appsync/dataSource:DataSource",
        "aws:appsync/resolver:Resolver",
    },
}


class _Worker(pulumi.ComponentResource):
    def __init__(self, name: str, trigger: Trigger, *, with_on_failure_queue: bool) -> None:
        super().__init__("test:index:Worker", name, None, None)
        child = pulumi.ResourceOptions(parent=self)
        alias = aws.lambda_.Alias(
            f"{name}-alias", name="live", function_name="fn", function_version="1", opts=child
        )
        policy = aws.iam.RolePolicy(f"{name}-policy", role="fn", policy="{}", opts=child)
        on_failure = declare_on_failure_queue(name, "fn", {}, self) if with_on_failure_queue else None
        target = TriggerTarget(
            resource_name=name,
            worker=name,
            inventory_code="code",
            function_name="fn",
            alias=alias,
            naming=Naming(environment="test", region="us-east-1"),
            account_id="123456789012",
            role_policy=policy,
            parent=self,
        )
        declare_trigger(trigger, target, REFS, on_failure)
        self.register_outputs({})


def _declared(worker: str, *, with_on_failure_queue: bool) -> ResourceGraph:
    trigger = load_committed("qa1").worker(worker).resolved_trigger
    return run_under_mocks(lambda: _Worker(worker, trigger, with_on_failure_queue=with_on_failure_queue))


@pytest.mark.parametrize("worker", sorted(TRIGGER_RESOURCES))
def test_each_trigger_kind_declares_its_own_resources_under_the_worker(worker: str) -> None:
    # Given a worker of each source kind, resolved from qa1
    # When its trigger is declared
    graph = _declared(worker, with_on_failure_queue=worker == "notification_send")

    # Then exactly the resources of its kind are declared, children of the worker
    declared = {
        resource.type_
        for resource in graph.children_of(worker)
        if resource.name not in {f"{worker}-alias", f"{worker}-policy", f"{worker}-on-failure"}
    }
    assert declared == TRIGGER_RESOURCES[worker]


def test_a_stream_trigger_without_its_on_failure_queue_is_refused_naming_the_worker() -> None:
    # Given a stream worker whose on-failure queue was not declared
    # When its trigger is declared
    # Then it is refused before any mapping is declared that would drop failed batches
    with pytest.raises(ValueError, match="notification_send: a stream trigger needs the on-failure queue"):
        _declared("notification_send", with_on_failure_queue=False)
