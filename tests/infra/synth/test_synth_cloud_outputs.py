"""The outputs the mocks compute look like AWS's and flow into downstream inputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi_aws as aws
import pytest

from infra.synth import OUTPUT_TEMPLATES, run_under_mocks, synthesize


def test_computed_outputs_are_realistic_and_flow_downstream(demo: Path) -> None:
    # Given resources whose ARNs and URLs AWS computes
    # When the program is synthesized in eu-west-1
    graph = synthesize("s1", project_root=demo)

    # Then downstream inputs receive realistic values, not None
    fn_arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders-fn"
    assert graph.named("fn").inputs["role"] == "arn:aws:iam::123456789012:role/orders-role"
    trigger = graph.named("inbox-trigger").inputs
    assert trigger["eventSourceArn"] == "arn:aws:sqs:eu-west-1:123456789012:orders-inbox"
    assert trigger["functionName"] == fn_arn
    assert trigger["batchSize"] == 25
    assert graph.outputs == {"inbox_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-inbox"}


def test_function_outputs_include_invoke_and_qualified_arns_of_the_published_version() -> None:
    # Given a published function and an alias on its version
    def build() -> None:
        function = aws.lambda_.Function(
            "fn", name="worker", role="arn:aws:iam::123456789012:role/r", publish=True
        )
        alias = aws.lambda_.Alias(
            "live", name="live", function_name=function.name, function_version=function.version
        )
        aws.sqs.Queue(
            "echo",
            tags={
                "invoke": function.invoke_arn,
                "qualified": function.qualified_arn,
                "version": function.version,
                "alias": alias.arn,
                "aliasInvoke": alias.invoke_arn,
            },
        )

    # When it is run under the recording mocks
    tags = run_under_mocks(build).named("echo").inputs["tags"]

    # Then the outputs look like the ones AWS returns
    arn = "arn:aws:lambda:us-east-1:123456789012:function:worker"
    invoke_prefix = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    assert tags == {
        "invoke": f"{invoke_prefix}{arn}/invocations",
        "qualified": f"{arn}:1",
        "version": "1",
        "alias": f"{arn}:live",
        "aliasInvoke": f"{invoke_prefix}{arn}:live/invocations",
    }


def test_a_table_has_a_stream_arn_only_when_streams_are_enabled() -> None:
    # Given one table with DynamoDB Streams and one without
    def build() -> None:
        streamed = aws.dynamodb.Table("streamed", name="a", hash_key="pk", stream_enabled=True)
        plain = aws.dynamodb.Table("plain", name="b", hash_key="pk")
        aws.sqs.Queue("echo", tags={"streamed": streamed.stream_arn, "plain": plain.stream_arn.apply(str)})

    # When it is run under the recording mocks
    tags = run_under_mocks(build).named("echo").inputs["tags"]

    # Then only the streamed table reports a stream ARN
    assert tags["streamed"].startswith("arn:aws:dynamodb:us-east-1:123456789012:table/a/stream/")
    assert tags["plain"] == "None"


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (
            lambda: aws.kinesis.Stream("s", name="clicks", shard_count=1),
            "arn:aws:kinesis:us-east-1:123456789012:stream/clicks",
        ),
        (
            lambda: aws.cloudwatch.LogGroup("g", name="/aws/lambda/worker"),
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/worker",
        ),
        (lambda: aws.sns.Topic("t", name="alarms"), "arn:aws:sns:us-east-1:123456789012:alarms"),
        (
            lambda: aws.cloudwatch.EventRule("r", name="tick", schedule_expression="rate(1 minute)"),
            "arn:aws:events:us-east-1:123456789012:rule/tick",
        ),
        (
            lambda: aws.lambda_.LayerVersion("l", layer_name="deps"),
            "arn:aws:lambda:us-east-1:123456789012:layer:deps:1",
        ),
        # No template: the generic ARN, because the SDK class has an `arn` property.
        (
            lambda: aws.sfn.StateMachine("m", name="flow", role_arn="r", definition="{}"),
            "arn:aws:sfn:us-east-1:123456789012:state-machine/flow",
        ),
    ],
)
def test_resources_with_an_arn_property_get_a_realistic_arn(build: Callable[[], Any], expected: str) -> None:
    # Given one resource of a type that has an `arn`
    def echo() -> None:
        aws.sqs.Queue("echo", tags={"arn": build().arn})

    # When it is run under the recording mocks
    # Then its ARN is the one AWS would report
    assert run_under_mocks(echo).named("echo").inputs["tags"]["arn"] == expected


def test_the_templates_cover_the_key_types_of_the_fleet() -> None:
    # Given the types the fleet's platform and workers declare
    key_types = {
        "aws:lambda/function:Function",
        "aws:lambda/alias:Alias",
        "aws:sqs/queue:Queue",
        "aws:kinesis/stream:Stream",
        "aws:dynamodb/table:Table",
        "aws:iam/role:Role",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:sns/topic:Topic",
        "aws:kms/key:Key",
        "aws:secretsmanager/secret:Secret",
        "aws:appsync/graphQLApi:GraphQLApi",
        "aws:lambda/layerVersion:LayerVersion",
        "aws:cloudwatch/eventRule:EventRule",
    }

    # When the template table is consulted
    # Then each has a realistic template rather than the generic fallback
    assert key_types <= set(OUTPUT_TEMPLATES)
