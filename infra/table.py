"""The demand table with its change stream into Kinesis."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.alarms import AlarmSpec, AlarmTarget, Metric, declare_alarms
from infra.config import StreamSettings, TableSettings
from infra.naming import Naming
from infra.streams import kinesis_stream

COMPONENT_TYPE = "dmd:platform:DemandTable"

SALES_INDEX = "sales"
DEMAND_INDEX = "demand-by-sale"
MESSAGE_INDEX = "notification-by-message-id"
PENDING_INDEX = "pending-notifications"
TTL_ATTRIBUTE = "expiresAt"
# The attributes of a demand record the generator reads (docs/contracts.md, "Demand records"). The
# index projects only these, so a notification's status writes (which share eventId and SK with
# nothing else) never rewrite the index: only its creation adds an entry.
DEMAND_PROJECTION = ("type", "fanId", "saleId", "contactMethod", "phoneNumber", "email", "marketId", "locale")


@dataclass(frozen=True, kw_only=True)
class DemandTableArgs:
    """Table and CDC stream settings; `production` protects the data."""

    naming: Naming
    table: TableSettings
    stream: StreamSettings
    production: bool
    alarms: AlarmTarget
    kms_key_arn: pulumi.Input[str] | None = None
    """The stack's customer-managed key for the table and its stream; None: AWS-managed keys."""


class DemandTable(pulumi.ComponentResource):
    """Single-table store of events, sales, demand and notifications, streamed to Kinesis."""

    table: aws.dynamodb.Table
    stream: aws.kinesis.Stream
    streaming: aws.dynamodb.KinesisStreamingDestination
    alarms: list[aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: DemandTableArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        naming = args.naming
        table_name = naming.table_name
        stream_name = naming.table_stream_name
        protected = pulumi.ResourceOptions(parent=self, protect=args.production)
        settings = args.table
        provisioned = settings.billing_mode == "PROVISIONED"
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=table_name,
            billing_mode=settings.billing_mode,
            read_capacity=settings.read_capacity if provisioned else None,
            write_capacity=settings.write_capacity if provisioned else None,
            hash_key="PK",
            range_key="SK",
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=attribute, type="S")
                for attribute in (
                    *("PK", "SK", "saleStartDate", "saleStartDateTime"),
                    *("eventId", "messageId", "sweepShard", "sweepAt"),
                )
            ],
            global_secondary_indexes=[
                # Sales by window: one date partition, ISO start times sorted within it.
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=SALES_INDEX,
                    key_schemas=_keys("saleStartDate", "saleStartDateTime"),
                    projection_type="ALL",
                    read_capacity=settings.read_capacity if provisioned else None,
                    write_capacity=settings.write_capacity if provisioned else None,
                ),
                # A sale's demand by Query on attributes the fan-facing writer writes: every demand
                # item of a sale has eventId and SK = demand#{eventId}-{saleId} (sale ids repeat
                # across events, "public" in every one, so the event is the partition).
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=DEMAND_INDEX,
                    key_schemas=_keys("eventId", "SK"),
                    projection_type="INCLUDE",
                    non_key_attributes=list(DEMAND_PROJECTION),
                    read_capacity=settings.read_capacity if provisioned else None,
                    write_capacity=settings.write_capacity if provisioned else None,
                ),
                # An SMS status event's notification by the vendor's message id (sparse: only sent
                # notifications carry messageId); keys only, the update that follows reads nothing.
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=MESSAGE_INDEX,
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                            attribute_name="messageId", key_type="HASH"
                        )
                    ],
                    projection_type="KEYS_ONLY",
                    read_capacity=settings.read_capacity if provisioned else None,
                    write_capacity=settings.write_capacity if provisioned else None,
                ),
                # Notifications still waiting to be sent, by when they should have left that state
                # (sparse: only CREATED/RETRY notifications carry sweepShard/sweepAt; sharded so a
                # sale's 50,000 creations do not all write one index partition). The sweeper reads it.
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=PENDING_INDEX,
                    key_schemas=_keys("sweepShard", "sweepAt"),
                    projection_type="KEYS_ONLY",
                    read_capacity=settings.read_capacity if provisioned else None,
                    write_capacity=settings.write_capacity if provisioned else None,
                ),
            ],
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=TTL_ATTRIBUTE, enabled=True),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(
                enabled=settings.point_in_time_recovery
            ),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.kms_key_arn
            ),
            deletion_protection_enabled=args.production,
            tags=naming.tags(),
            opts=protected,
        )
        self.stream = kinesis_stream(
            f"{name}-stream",
            stream_name=stream_name,
            settings=args.stream,
            tags=naming.tags(),
            opts=protected,
            kms_key_arn=args.kms_key_arn,
        )
        self.streaming = aws.dynamodb.KinesisStreamingDestination(
            f"{name}-cdc",
            table_name=self.table.name,
            stream_arn=self.stream.arn,
            approximate_creation_date_time_precision="MILLISECOND",
            # DynamoDB streams a table into one Kinesis stream at a time: a replacement created
            # before the old destination is deleted fails. Delete first (its changes are not streamed
            # until the new one is active: docs/runbooks.md#stream-write-throttling).
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.alarms = declare_alarms(
            name, table_name, table_alarm_specs(table_name, stream_name), args.alarms, self
        )
        self.register_outputs({"table_name": self.table.name, "stream_arn": self.stream.arn})


def _keys(partition: str, sort: str) -> list[aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs]:
    return [
        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=partition, key_type="HASH"),
        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=sort, key_type="RANGE"),
    ]


def table_alarm_specs(table_name: str, stream_name: str) -> list[AlarmSpec]:
    """Throttles and system errors of the table, write throttling of its CDC stream."""

    def table_metric(metric: str) -> Metric:
        return Metric(namespace="AWS/DynamoDB", name=metric, dimensions={"TableName": table_name})

    return [
        AlarmSpec(
            suffix="read-throttles",
            summary=f"{table_name}: read requests are throttled",
            runbook="table-throttling",
            threshold=0,
            evaluation_periods=5,
            metric=table_metric("ReadThrottleEvents"),
        ),
        AlarmSpec(
            suffix="write-throttles",
            summary=f"{table_name}: write requests are throttled",
            runbook="table-throttling",
            threshold=0,
            evaluation_periods=5,
            metric=table_metric("WriteThrottleEvents"),
        ),
        AlarmSpec(
            suffix="system-errors",
            summary=f"{table_name}: DynamoDB returns system errors",
            runbook="table-system-errors",
            threshold=0,
            evaluation_periods=15,
            datapoints_to_alarm=5,
            metric=table_metric("SystemErrors"),
        ),
        AlarmSpec(
            suffix="stream-write-throttles",
            summary=f"{stream_name}: change records are throttled on the way into Kinesis",
            runbook="stream-write-throttling",
            threshold=0,
            evaluation_periods=5,
            metric=Metric(
                namespace="AWS/Kinesis",
                name="WriteProvisionedThroughputExceeded",
                dimensions={"StreamName": stream_name},
                statistic="Sum",
            ),
        ),
    ]
