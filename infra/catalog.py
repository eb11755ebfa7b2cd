"""The worker catalog: the one place that lists the fleet and what each worker is wired to."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

StreamName = Literal["table", "sms_status"]
QueueName = Literal["short_url", "generation"]

# Lambda applies a Kinesis filter to `{"data": <the record's decoded JSON>}`; for the table's CDC
# stream that JSON is a Kinesis-for-DynamoDB change record whose images carry DynamoDB type tags.
NOTIFICATION_SEND_FILTERS: tuple[dict[str, Any], ...] = (
    {
        "data": {
            "eventName": ["INSERT", "MODIFY"],
            "dynamodb": {
                "NewImage": {
                    "type": {"S": ["notification", "notification:asu"]},
                    "status": {"M": {"id": {"S": ["CREATED", "RETRY"]}}},
                    # The sender's own claim write (still CREATED/RETRY) must not re-trigger it.
                    "claimId": {"S": [{"exists": False}]},
                }
            },
        }
    },
)

# `isSuppressed.BOOL: [false]` does not match a record without the attribute, so the absent case is
# a second pattern (patterns are OR-ed); `exists` applies to the typed leaf (`shortUrl.S`).
DEMAND_STREAM_TO_SQS_FILTERS: tuple[dict[str, Any], ...] = tuple(
    {
        "data": {
            "eventName": ["INSERT", "MODIFY"],
            "dynamodb": {
                "NewImage": {
                    "type": {"S": ["event"]},
                    "isSuppressed": {"BOOL": suppressed},
                    "shortUrl": {"S": [{"exists": False}]},
                }
            },
        }
    }
    for suppressed in ([False], [{"exists": False}])
)


@dataclass(frozen=True, kw_only=True)
class StreamSource:
    """A Kinesis stream the worker consumes (the table's CDC stream or the SMS status stream)."""

    stream: StreamName
    filter_patterns: tuple[dict[str, Any], ...] = ()
    kind: Literal["stream"] = "stream"


@dataclass(frozen=True, kw_only=True)
class QueueSource:
    """An SQS queue (with its DLQ) the worker consumes."""

    queue: QueueName
    kind: Literal["queue"] = "queue"


@dataclass(frozen=True, kw_only=True)
class ScheduleSource:
    """An EventBridge schedule that invokes the worker."""

    kind: Literal["schedule"] = "schedule"


@dataclass(frozen=True, kw_only=True)
class ResolverSource:
    """An AppSync field resolved by the worker."""

    type_name: Literal["Query", "Mutation"]
    field_name: str
    kind: Literal["resolver"] = "resolver"


Source = StreamSource | QueueSource | ScheduleSource | ResolverSource


class Access(enum.Enum):
    """What a worker may touch; each member becomes IAM statements and environment variables."""

    TABLE_READ = "table-read"
    TABLE_WRITE = "table-write"
    SHORT_URL_QUEUE_SEND = "short-url-queue-send"
    GENERATION_QUEUE_SEND = "generation-queue-send"
    SMS_SERVICE = "sms-service"
    EMAIL = "email"
    BITLY = "bitly"
    DISCOVERY = "discovery"
    ACCOUNTS = "accounts"


class WorkerTunables(BaseModel):
    """Worker-specific settings from stack config, rendered as UPPER_SNAKE environment variables."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    def environment(self) -> dict[str, str]:
        """The settings as environment variables: UPPER_SNAKE keys, lists comma-joined, booleans lowercase."""
        rendered: dict[str, str] = {}
        for key, value in self.model_dump().items():
            if isinstance(value, list | tuple):
                rendered[key.upper()] = ",".join(str(item) for item in value)
            elif isinstance(value, bool):
                rendered[key.upper()] = "true" if value else "false"
            else:
                rendered[key.upper()] = str(value)
        return rendered


class NoTunables(WorkerTunables):
    """A worker with no settings of its own."""


class SchedulerTunables(WorkerTunables):
    """When the scheduler looks and how hard it fetches."""

    lead_minutes: int = Field(default=30, ge=0, le=1440, description="notify this long before a sale")
    window_minutes: int = Field(default=30, ge=5, le=1440, description="width of the window searched")
    event_fetch_parallelism: int = Field(default=8, ge=1, le=25)


class GeneratorTunables(WorkerTunables):
    """How the generator pages demand and writes notifications."""

    write_parallelism: int = Field(default=16, ge=1, le=64)
    demand_page_size: int = Field(default=1000, ge=10, le=10000)
    continuation_margin_seconds: int = Field(default=20, ge=5, le=300)


class SendTunables(WorkerTunables):
    """Attempts and backoff of the sender."""

    max_send_attempts: int = Field(default=3, ge=1, le=10)
    retry_backoff_seconds: int = Field(default=30, ge=0, le=900)
    vendor_timeout_seconds: int = Field(default=10, ge=1, le=30)


class ShortenTunables(WorkerTunables):
    """Bitly call settings."""

    vendor_timeout_seconds: int = Field(default=10, ge=1, le=30)
    bitly_group_guid: str = ""


class ResolverTunables(WorkerTunables):
    """Vendor call settings of a resolver."""

    vendor_timeout_seconds: int = Field(default=5, ge=1, le=30)


@dataclass(frozen=True, kw_only=True)
class WorkerSpec:
    """One worker of the fleet: identity, trigger source, access and settings model."""

    name: str
    inventory_code: str
    description: str
    source: Source
    access: frozenset[Access]
    tunables: type[WorkerTunables] = NoTunables

    @property
    def handler(self) -> str:
        """The Lambda handler path of the worker's package."""
        return f"workers.{self.name}.handler.lambda_handler"


CATALOG: tuple[WorkerSpec, ...] = (
    WorkerSpec(
        name="notification_scheduler",
        inventory_code="ntfcn-schdlr",
        description="Finds sales opening in the next window and enqueues one generation job per sale",
        source=ScheduleSource(),
        access=frozenset(
            {Access.TABLE_READ, Access.TABLE_WRITE, Access.DISCOVERY, Access.GENERATION_QUEUE_SEND}
        ),
        tunables=SchedulerTunables,
    ),
    WorkerSpec(
        name="notification_generator",
        inventory_code="ntfcn-gnrtr",
        description="Creates one notification per fan, sale and contact method",
        source=QueueSource(queue="generation"),
        access=frozenset({Access.TABLE_READ, Access.TABLE_WRITE, Access.GENERATION_QUEUE_SEND}),
        tunables=GeneratorTunables,
    ),
    WorkerSpec(
        name="notification_send",
        inventory_code="ntfcn-snd",
        description="Sends CREATED/RETRY notifications by SMS or SES email",
        source=StreamSource(stream="table", filter_patterns=NOTIFICATION_SEND_FILTERS),
        access=frozenset({Access.TABLE_READ, Access.TABLE_WRITE, Access.SMS_SERVICE, Access.EMAIL}),
        tunables=SendTunables,
    ),
    WorkerSpec(
        name="demand_stream_to_sqs",
        inventory_code="dmnd-stream-to-sqs",
        description="Forwards events without a short URL to the short-url queue",
        source=StreamSource(stream="table", filter_patterns=DEMAND_STREAM_TO_SQS_FILTERS),
        access=frozenset({Access.SHORT_URL_QUEUE_SEND}),
    ),
    WorkerSpec(
        name="shorten_event_url",
        inventory_code="shortn-evnt-url",
        description="Shortens an event URL with Bitly and stores it on the cached event",
        source=QueueSource(queue="short_url"),
        access=frozenset({Access.TABLE_READ, Access.TABLE_WRITE, Access.BITLY}),
        tunables=ShortenTunables,
    ),
    WorkerSpec(
        name="sms_status_consumer",
        inventory_code="sms-status",
        description="Applies SMS delivery status events to notifications",
        source=StreamSource(stream="sms_status"),
        access=frozenset({Access.TABLE_READ, Access.TABLE_WRITE}),
    ),
    WorkerSpec(
        name="event_details",
        inventory_code="evnt-dtls",
        description="Cache-first event details for AppSync",
        source=ResolverSource(type_name="Query", field_name="eventDetails"),
        access=frozenset(
            {Access.TABLE_READ, Access.TABLE_WRITE, Access.DISCOVERY, Access.SHORT_URL_QUEUE_SEND}
        ),
        tunables=ResolverTunables,
    ),
    WorkerSpec(
        name="proxy_tm_account_service",
        inventory_code="prxy-acct",
        description="Signed, normalized proxy to the TM Accounts API for AppSync",
        source=ResolverSource(type_name="Query", field_name="tmAccount"),
        access=frozenset({Access.ACCOUNTS}),
        tunables=ResolverTunables,
    ),
)


def catalog_by_name(catalog: tuple[WorkerSpec, ...] = CATALOG) -> dict[str, WorkerSpec]:
    """The catalog keyed by worker name."""
    return {spec.name: spec for spec in catalog}
