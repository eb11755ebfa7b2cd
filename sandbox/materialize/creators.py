"""The one table of what the sandbox materializes: each Pulumi resource type → the function creating it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sandbox.materialize import (
    appsync,
    cloudwatch,
    dynamodb,
    events,
    iam,
    kinesis,
    kms,
    lambda_,
    logs,
    secrets,
    ses,
    sns,
    sqs,
)
from sandbox.materialize.step import Creator

# A type missing here is reported skipped ("not materialized"), never dropped silently.
CREATORS: Final[Mapping[str, Creator]] = {
    "aws:kms/key:Key": kms.create_key,
    "aws:kms/alias:Alias": kms.create_alias,
    "aws:dynamodb/table:Table": dynamodb.create_table,
    dynamodb.KINESIS_DESTINATION_TYPE: dynamodb.create_kinesis_destination,
    "aws:kinesis/stream:Stream": kinesis.create_stream,
    "aws:sqs/queue:Queue": sqs.create_queue,
    "aws:sqs/queuePolicy:QueuePolicy": sqs.create_queue_policy,
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": sqs.create_redrive_allow_policy,
    "aws:sns/topic:Topic": sns.create_topic,
    "aws:sns/topicSubscription:TopicSubscription": sns.create_subscription,
    "aws:secretsmanager/secret:Secret": secrets.create_secret,
    "aws:cloudwatch/logGroup:LogGroup": logs.create_log_group,
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": logs.create_subscription_filter,
    "aws:cloudwatch/queryDefinition:QueryDefinition": logs.create_query_definition,
    "aws:iam/role:Role": iam.create_role,
    "aws:iam/rolePolicy:RolePolicy": iam.create_role_policy,
    "aws:lambda/layerVersion:LayerVersion": lambda_.create_layer,
    "aws:lambda/function:Function": lambda_.create_function,
    "aws:lambda/alias:Alias": lambda_.create_alias,
    "aws:lambda/eventSourceMapping:EventSourceMapping": lambda_.create_event_source_mapping,
    "aws:lambda/permission:Permission": lambda_.create_permission,
    "aws:cloudwatch/eventRule:EventRule": events.create_rule,
    "aws:cloudwatch/eventTarget:EventTarget": events.create_target,
    "aws:cloudwatch/metricAlarm:MetricAlarm": cloudwatch.create_alarm,
    "aws:cloudwatch/dashboard:Dashboard": cloudwatch.create_dashboard,
    "aws:ses/template:Template": ses.create_email_template,
    "aws:appsync/graphQLApi:GraphQLApi": appsync.create_graphql_api,
    "aws:appsync/dataSource:DataSource": appsync.create_data_source,
    "aws:appsync/resolver:Resolver": appsync.create_resolver,
}
