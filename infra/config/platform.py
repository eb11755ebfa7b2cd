"""Settings of the stack's shared resources: table, streams, queues, alarm topic and VPC."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Discriminator, Field, Tag, field_validator, model_validator

from infra.catalog import QueueName, StreamName
from infra.config.api import ApiSettings
from infra.config.base import KeyRuleError, StackModel, known_retention

KINESIS_STREAM_ARN = re.compile(r"^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/.+$")
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$")
# AWS: "set the maxReceiveCount on the source queue's redrive policy to at least 5" for a queue a
# Lambda function consumes, so a receive lost to throttling does not move a message to the DLQ.
MIN_MAX_RECEIVE_COUNT = 5


def _kms_key_arn(value: str | None) -> str | None:
    # A key ARN, never an alias: IAM policies grant kms:* actions on key ARNs only.
    if value is not None and not KMS_KEY_ARN.match(value):
        raise ValueError(f"{value!r} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID)")
    return value


class TableSettings(StackModel):
    """The demand table."""

    billing_mode: Literal["PAY_PER_REQUEST", "PROVISIONED"] = "PAY_PER_REQUEST"
    """On-demand or provisioned capacity."""
    read_capacity: int | None = Field(default=None, ge=1)
    """Read units (PROVISIONED only)."""
    write_capacity: int | None = Field(default=None, ge=1)
    """Write units (PROVISIONED only)."""
    point_in_time_recovery: bool = True
    """Continuous backups (restore to any second of the last 35 days)."""
    event_cache_ttl_hours: int = Field(default=24, ge=1, le=24 * 30)
    """How long cached Discovery event details live."""

    @model_validator(mode="after")
    def _capacity(self) -> Self:
        provisioned = self.billing_mode == "PROVISIONED"
        has_capacity = self.read_capacity is not None and self.write_capacity is not None
        if provisioned and not has_capacity:
            raise KeyRuleError(
                "billingMode", "PROVISIONED needs readCapacity and writeCapacity", self.billing_mode
            )
        for key, capacity in (("readCapacity", self.read_capacity), ("writeCapacity", self.write_capacity)):
            if not provisioned and capacity is not None:
                raise KeyRuleError(key, "applies to billingMode PROVISIONED only", capacity)
        return self


class StreamSettings(StackModel):
    """A Kinesis data stream the program creates."""

    mode: Literal["ON_DEMAND", "PROVISIONED"] = "ON_DEMAND"
    """ON_DEMAND or PROVISIONED capacity."""
    shard_count: int | None = Field(default=None, ge=1, le=500)
    """Shards (PROVISIONED only)."""
    retention_hours: int = Field(default=24, ge=24, le=8760)
    """How long records stay readable (replay window)."""

    @model_validator(mode="after")
    def _shards(self) -> Self:
        if self.mode == "PROVISIONED" and self.shard_count is None:
            raise KeyRuleError("mode", "PROVISIONED needs shardCount", self.mode)
        if self.mode == "ON_DEMAND" and self.shard_count is not None:
            raise KeyRuleError("shardCount", "applies to mode PROVISIONED only", self.shard_count)
        return self


class ExternalStreamSettings(StackModel):
    """A Kinesis stream owned by another team, referenced by ARN."""

    existing_arn: str
    """ARN of the stream another team owns."""
    retention_hours: int = Field(default=24, ge=24, le=8760)
    """That stream's retention (bounds the consumer's record age)."""
    kms_key_arn: Annotated[str | None, AfterValidator(_kms_key_arn)] = None
    """Customer KMS key of that stream, if not AWS-managed (its consumer gets kms:Decrypt on it)."""

    @field_validator("existing_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not KINESIS_STREAM_ARN.match(value):
            raise ValueError(
                f"{value!r} is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)"
            )
        return value


class QueueSettings(StackModel):
    """An SQS queue with its dead-letter queue."""

    visibility_timeout_seconds: int = Field(default=360, ge=0, le=43_200)
    """≥ 6 × the consumer's timeout + batching window."""
    message_retention_seconds: int = Field(default=345_600, ge=60, le=1_209_600)
    """How long a message waits before it expires."""
    # The minimum is checked by _receives (a message that says why); the schema shows it for the docs.
    max_receive_count: int = Field(
        default=MIN_MAX_RECEIVE_COUNT, le=1000, json_schema_extra={"minimum": MIN_MAX_RECEIVE_COUNT}
    )
    """Receives before a message moves to the DLQ (AWS recommends >= 5 for Lambda consumers)."""
    dlq_retention_seconds: int = Field(default=1_209_600, ge=60, le=1_209_600)
    """How long dead letters are kept."""

    @field_validator("max_receive_count")
    @classmethod
    def _receives(cls, value: int) -> int:
        if value < MIN_MAX_RECEIVE_COUNT:
            raise ValueError(
                f"must be >= {MIN_MAX_RECEIVE_COUNT} for a queue a Lambda function consumes (AWS "
                "recommendation): with fewer receives, throttled deliveries send messages to the DLQ early"
            )
        return value


class KmsSettings(StackModel):
    """The stack's customer-managed KMS key: created by the program, or an existing one the team manages."""

    create: bool = False
    """Create the key (rotation on, alias `alias/prd3292-{env}-{region}`, key policy from the program)."""
    key_arn: Annotated[str | None, AfterValidator(_kms_key_arn)] = None
    """Use this existing key instead (its key policy must hold the statements listed below)."""
    deletion_window_days: int = Field(default=30, ge=7, le=30)
    """Days a created key stays recoverable after it is scheduled for deletion."""

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if self.create and self.key_arn is not None:
            raise KeyRuleError("keyArn", "set either create: true or keyArn, not both", self.key_arn)
        if not self.create and self.key_arn is None:
            raise KeyRuleError(
                "create", "set create: true (the program creates the key) or keyArn (an existing key)", False
            )
        if self.key_arn is not None and "deletion_window_days" in self.model_fields_set:
            raise KeyRuleError(
                "deletionWindowDays", "applies only with create: true", self.deletion_window_days
            )
        return self


class Subscription(StackModel):
    """Who hears the alarms."""

    protocol: Literal["email", "https", "sqs", "lambda", "sms"]
    """SNS protocol."""
    endpoint: str = Field(min_length=3)
    """Address for that protocol."""


class AlarmTopicSettings(StackModel):
    """The alarm SNS topic."""

    subscriptions: tuple[Subscription, ...] = ()
    """Who is notified of alarms."""
    account_concurrency_limit: int = Field(default=1000, ge=10)
    """The account's Lambda concurrency quota (unreserved workers' alarm ceiling; bounds reservations)."""


class VpcSettings(StackModel):
    """Optional VPC placement of every function."""

    subnet_ids: tuple[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$")], ...]
    """Subnets the functions' ENIs go in."""
    security_group_ids: tuple[Annotated[str, Field(pattern=r"^sg-[0-9a-f]+$")], ...]
    """Security groups of those ENIs."""

    # Not Field(min_length=1): pydantic would also report one malformed id as "not 0 items".
    @field_validator("subnet_ids", "security_group_ids")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one id")
        return value


def _stream_kind(value: Any) -> str:
    # Pick the model from the key that tells them apart, so errors come from the one the file meant.
    external = isinstance(value, ExternalStreamSettings) or (
        isinstance(value, Mapping) and ("existingArn" in value or "existing_arn" in value)
    )
    return "existing-stream" if external else "created-stream"


UNION_TAGS = ("existing-stream", "created-stream")  # pydantic puts these in error locations
SmsStatusStream = Annotated[
    Annotated[StreamSettings, Tag("created-stream")]
    | Annotated[ExternalStreamSettings, Tag("existing-stream")],
    Discriminator(_stream_kind),
]


class PlatformSettings(StackModel):
    """Shared resources of the stack."""

    table: TableSettings = TableSettings()
    """The demand table."""
    table_stream: StreamSettings = StreamSettings()
    """The table's CDC Kinesis stream."""
    sms_status_stream: SmsStatusStream = StreamSettings()
    """The SMS status stream: created (mode/shardCount) or referenced (existingArn)."""
    short_url_queue: QueueSettings = QueueSettings()
    """Queue of events awaiting a short URL."""
    generation_queue: QueueSettings = QueueSettings(visibility_timeout_seconds=5400)
    """Queue of notification-generation jobs."""
    central_log_stream_arn: str | None = None
    """The platform's central log Kinesis stream (needed when logStreaming)."""
    central_log_stream_kms_key_arn: Annotated[str | None, AfterValidator(_kms_key_arn)] = None
    """The customer KMS key of that stream, if not AWS-managed (log delivery gets kms:GenerateDataKey)."""
    alarm_topic: AlarmTopicSettings = AlarmTopicSettings()
    """The alarm SNS topic."""
    kms: KmsSettings | None = None
    """The stack's customer-managed KMS key (`create: true` or `keyArn`); absent: AWS-managed keys."""
    vpc: VpcSettings | None = None
    """Run every function in these subnets/security groups (optional)."""
    appsync_authentication: Literal["AWS_IAM", "API_KEY", "AMAZON_COGNITO_USER_POOLS"] = "AWS_IAM"
    """How AppSync callers authenticate."""
    appsync_log_retention_days: Annotated[int, AfterValidator(known_retention)] = 30
    """Retention of the AppSync API's own log group (a value CloudWatch accepts)."""
    api: ApiSettings = ApiSettings()
    """The public GraphQL API's edge protections (the WAF web ACL)."""

    def queue(self, name: QueueName) -> QueueSettings:
        """The settings of one of the platform's queues."""
        return self.short_url_queue if name == "short_url" else self.generation_queue

    def stream(self, name: StreamName) -> StreamSettings | ExternalStreamSettings:
        """The settings of one of the platform's streams (created or referenced)."""
        return self.table_stream if name == "table" else self.sms_status_stream

    @field_validator("central_log_stream_arn")
    @classmethod
    def _log_stream(cls, value: str | None) -> str | None:
        if value is not None and not KINESIS_STREAM_ARN.match(value):
            raise ValueError(
                f"{value!r} is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)"
            )
        return value

    @model_validator(mode="after")
    def _log_stream_key(self) -> Self:
        if self.central_log_stream_kms_key_arn is not None and self.central_log_stream_arn is None:
            raise KeyRuleError(
                "centralLogStreamKmsKeyArn",
                "applies only with centralLogStreamArn",
                self.central_log_stream_kms_key_arn,
            )
        return self
