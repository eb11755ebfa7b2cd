"""The component contract: type tokens and child logical names are part of every resource's URN.

Renaming either replaces live resources (a stream mapping loses its checkpoint, a log group its
history, a table its data unless protected). These literals change only together with a
`pulumi.Alias` for the old name.
"""

from __future__ import annotations

import pytest

from infra import alarm_topic, dashboard, graphql_api, kms_key, platform, queue, table, waf, worker
from infra.catalog import CATALOG
from tests.infra.graphs import MODES, STACKS, stack_config, stack_graph

RENAME_HINT = (
    "a component type token or child logical name changed: live resources would be replaced — "
    "add a pulumi.Alias for the old name before changing this"
)

COMPONENT_TOKENS = {
    "dmd:workers:Worker": worker,
    "dmd:platform:Platform": platform,
    "dmd:platform:DemandTable": table,
    "dmd:platform:WorkQueue": queue,
    "dmd:platform:AlarmTopic": alarm_topic,
    "dmd:platform:GraphqlApi": graphql_api,
    "dmd:platform:FleetDashboard": dashboard,
    "dmd:platform:StackKey": kms_key,
    "dmd:platform:ApiFirewall": waf,
}

WORKER_NAMES = [
    "demand_stream_to_sqs",
    "event_details",
    "notification_generator",
    "notification_scheduler",
    "notification_send",
    "notification_sweeper",
    "proxy_tm_account_service",
    "shorten_event_url",
    "sms_status_consumer",
]

# The notification_send Worker of a stack that streams its logs (prod1, qa1).
NOTIFICATION_SEND_CHILDREN = [
    ("notification_send-alarm-concurrency", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("notification_send-alarm-dropped-events", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("notification_send-alarm-duration", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("notification_send-alarm-error-rate", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("notification_send-alarm-failed-invoke-events", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("notification_send-alarm-iterator-age", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("notification_send-alarm-log-delivery-errors", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("notification_send-alarm-log-delivery-throttling", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("notification_send-alarm-notifications-expired", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("notification_send-alarm-on-failure-not-empty", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("notification_send-alarm-send-failures", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("notification_send-alarm-throttles", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("notification_send-alias", "aws:lambda/alias:Alias"),
    ("notification_send-function", "aws:lambda/function:Function"),
    ("notification_send-log-delivery-policy", "aws:iam/rolePolicy:RolePolicy"),
    ("notification_send-log-delivery-role", "aws:iam/role:Role"),
    ("notification_send-log-subscription", "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"),
    ("notification_send-logs", "aws:cloudwatch/logGroup:LogGroup"),
    ("notification_send-on-failure", "aws:sqs/queue:Queue"),
    ("notification_send-policy", "aws:iam/rolePolicy:RolePolicy"),
    ("notification_send-role", "aws:iam/role:Role"),
    ("notification_send-trigger", "aws:lambda/eventSourceMapping:EventSourceMapping"),
]

# Everything under the Platform component in prod1 (existing SMS status stream, two alarm subscribers).
PROD1_PLATFORM_DESCENDANTS = [
    ("platform-alarm-topic", "dmd:platform:AlarmTopic"),
    ("platform-alarm-topic-subscription-email-95b5deeea7", "aws:sns/topicSubscription:TopicSubscription"),
    ("platform-alarm-topic-subscription-https-d2f29a1286", "aws:sns/topicSubscription:TopicSubscription"),
    ("platform-alarm-topic-topic", "aws:sns/topic:Topic"),
    # The WAF web ACL in front of the API (platform.api.waf), its logs, saved query and alarm.
    ("platform-api-waf", "dmd:platform:ApiFirewall"),
    ("platform-api-waf-acl", "aws:wafv2/webAcl:WebAcl"),
    ("platform-api-waf-alarm-rate-blocks", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("platform-api-waf-association", "aws:wafv2/webAclAssociation:WebAclAssociation"),
    ("platform-api-waf-log-policy", "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"),
    ("platform-api-waf-logging", "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"),
    ("platform-api-waf-logs", "aws:cloudwatch/logGroup:LogGroup"),
    ("platform-api-waf-query-waf-blocks", "aws:cloudwatch/queryDefinition:QueryDefinition"),
    ("platform-demand", "dmd:platform:DemandTable"),
    ("platform-demand-alarm-read-throttles", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("platform-demand-alarm-stream-write-throttles", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("platform-demand-alarm-system-errors", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("platform-demand-alarm-write-throttles", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("platform-demand-cdc", "aws:dynamodb/kinesisStreamingDestination:KinesisStreamingDestination"),
    ("platform-demand-stream", "aws:kinesis/stream:Stream"),
    ("platform-demand-table", "aws:dynamodb/table:Table"),
    ("platform-deps-layer-arm64", "aws:lambda/layerVersion:LayerVersion"),
    ("platform-email-en-ca", "aws:ses/template:Template"),
    ("platform-email-en-us", "aws:ses/template:Template"),
    ("platform-email-fr-ca", "aws:ses/template:Template"),
    ("platform-event-short-url", "dmd:platform:WorkQueue"),
    ("platform-event-short-url-dlq", "aws:sqs/queue:Queue"),
    ("platform-event-short-url-dlq-allow", "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"),
    ("platform-event-short-url-queue", "aws:sqs/queue:Queue"),
    ("platform-generation-jobs", "dmd:platform:WorkQueue"),
    ("platform-generation-jobs-dlq", "aws:sqs/queue:Queue"),
    ("platform-generation-jobs-dlq-allow", "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"),
    ("platform-generation-jobs-queue", "aws:sqs/queue:Queue"),
    ("platform-graphql", "dmd:platform:GraphqlApi"),
    ("platform-graphql-alarm-5xx", "aws:cloudwatch/metricAlarm:MetricAlarm"),
    ("platform-graphql-api", "aws:appsync/graphQLApi:GraphQLApi"),
    ("platform-graphql-logging-policy", "aws:iam/rolePolicy:RolePolicy"),
    ("platform-graphql-logging-role", "aws:iam/role:Role"),
    ("platform-graphql-logs", "aws:cloudwatch/logGroup:LogGroup"),
    # The stack's customer-managed key (platform.kms: {create: true}); the alarm topic uses it.
    ("platform-kms", "dmd:platform:StackKey"),
    ("platform-kms-alias", "aws:kms/alias:Alias"),
    ("platform-kms-key", "aws:kms/key:Key"),
    ("platform-secret-accounts", "aws:secretsmanager/secret:Secret"),
    ("platform-secret-bitly", "aws:secretsmanager/secret:Secret"),
    ("platform-secret-discovery", "aws:secretsmanager/secret:Secret"),
    ("platform-secret-publish", "aws:secretsmanager/secret:Secret"),
    ("platform-secret-sms-service", "aws:secretsmanager/secret:Secret"),
]

CASES = [(stack, mode) for stack in STACKS for mode in MODES]


def _descendants(stack: str, name: str, *, preview: bool = False) -> list[tuple[str, str]]:
    graph = stack_graph(stack, preview=preview)
    found: list[tuple[str, str]] = []
    for child in graph.children_of(name):
        found.append((child.name, child.type_))
        found += _descendants(stack, child.name, preview=preview)
    return sorted(found)


@pytest.mark.parametrize("token", sorted(COMPONENT_TOKENS))
def test_component_type_tokens_are_stable(token: str) -> None:
    # Given the canonical token of a component
    module = COMPONENT_TOKENS[token]

    # When its module's declared type token is read
    # Then it is unchanged
    assert token == module.COMPONENT_TYPE, RENAME_HINT


@pytest.mark.parametrize(("stack", "mode"), CASES)
def test_every_component_in_the_graph_is_in_the_canonical_table(stack: str, mode: str) -> None:
    # Given a synthesized stack
    graph = stack_graph(stack, preview=MODES[mode])

    # When its component resources are listed
    tokens = {resource.type_ for resource in graph.resources if not resource.custom}

    # Then they are exactly the canonical ones (a new component must be added to the table); the
    # API's firewall exists only where the stack file has platform.api.waf
    without_waf = stack_config(stack).platform.api.waf is None
    assert tokens == set(COMPONENT_TOKENS) - ({"dmd:platform:ApiFirewall"} if without_waf else set()), (
        RENAME_HINT
    )


@pytest.mark.parametrize(("stack", "mode"), CASES)
def test_top_level_resources_are_the_platform_the_workers_and_the_dashboard(stack: str, mode: str) -> None:
    # Given a synthesized stack
    graph = stack_graph(stack, preview=MODES[mode])

    # When the resources without a parent are listed
    roots = sorted((resource.name, resource.type_) for resource in graph.resources if resource.parent is None)

    # Then they are the composition root's components, workers named after the catalog
    assert roots == sorted(
        [
            ("platform", "dmd:platform:Platform"),
            ("fleet", "dmd:platform:FleetDashboard"),
            *((name, "dmd:workers:Worker") for name in WORKER_NAMES),
        ]
    ), RENAME_HINT
    assert sorted(spec.name for spec in CATALOG) == WORKER_NAMES, RENAME_HINT


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("stack", ["prod1", "qa1"])
def test_notification_send_children_keep_their_names_and_types(stack: str, mode: str) -> None:
    # Given a stack whose workers stream logs
    # When the notification_send Worker's children are listed
    children = sorted(
        (child.name, child.type_)
        for child in stack_graph(stack, preview=MODES[mode]).children_of("notification_send")
    )

    # Then they are exactly the canonical list
    assert children == NOTIFICATION_SEND_CHILDREN, RENAME_HINT


@pytest.mark.parametrize("mode", list(MODES))
def test_platform_descendants_keep_their_names_and_types(mode: str) -> None:
    # Given prod1
    # When everything under the Platform component is listed
    descendants = _descendants("prod1", "platform", preview=MODES[mode])

    # Then it is exactly the canonical list
    assert descendants == PROD1_PLATFORM_DESCENDANTS, RENAME_HINT


def test_platform_creates_the_sms_status_stream_only_where_none_exists() -> None:
    # Given qa1 creates its SMS status stream and has one alarm subscriber, where prod1 references one
    # and has two
    expected = sorted(
        [
            *(entry for entry in PROD1_PLATFORM_DESCENDANTS if "-subscription-" not in entry[0]),
            (
                "platform-alarm-topic-subscription-email-b60d4072de",
                "aws:sns/topicSubscription:TopicSubscription",
            ),
            ("platform-sms-status", "aws:kinesis/stream:Stream"),
        ]
    )

    # When qa1's platform is listed
    # Then it differs from prod1 by exactly those children
    assert _descendants("qa1", "platform") == expected, RENAME_HINT


@pytest.mark.parametrize(("stack", "mode"), CASES)
def test_every_custom_resource_is_the_child_of_a_component(stack: str, mode: str) -> None:
    # Given a synthesized stack
    graph = stack_graph(stack, preview=MODES[mode])
    components = {resource.name for resource in graph.resources if not resource.custom}

    # When each custom resource's parent is looked up
    orphans = [resource.name for resource in graph.resources if resource.custom and resource.parent is None]
    foreign = [
        resource.name
        for resource in graph.resources
        if resource.parent is not None and resource.parent not in components
    ]

    # Then every one belongs to a component of this program (no orphans, no custom parents)
    assert orphans == []
    assert foreign == []


@pytest.mark.parametrize(("stack", "mode"), CASES)
def test_children_are_named_after_their_parent(stack: str, mode: str) -> None:
    # Given the house rule that children are named f"{parent}-<suffix>"
    graph = stack_graph(stack, preview=MODES[mode])

    # When every child's name is compared with its parent's
    misnamed = [
        (resource.parent, resource.name)
        for resource in graph.resources
        if resource.parent is not None and not resource.name.startswith(f"{resource.parent}-")
    ]

    # Then each starts with its parent's name
    assert misnamed == []
