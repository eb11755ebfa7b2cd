"""The worker catalog: the one place that lists the fleet and what each worker is wired to."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Any, Literal

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
    TABLE_WRITE = "table-write"  # create and replace items (PutItem, BatchWriteItem) and update them
    TABLE_UPDATE = "table-update"  # update existing items only (UpdateItem): workers that create nothing
    SHORT_URL_QUEUE_SEND = "short-url-queue-send"
    GENERATION_QUEUE_SEND = "generation-queue-send"
    # Park malformed demand items in the generation queue's DLQ (PARKING_QUEUE_URL, SendMessage).
    GENERATION_DLQ_PARK = "generation-dlq-park"
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


# No reminder leaves after its sale's start plus this grace (the generator creates none, the
# sender expires them); both workers must agree (cross_resource_rules.py).
LateGraceMinutes = Annotated[
    int, Field(ge=0, le=1440, description="no reminder is created or sent this long after its sale started")
]


# A notification waiting to be sent (CREATED/RETRY) is left to its stream record this long past its
# due time before the sweeper hands it back to the sender. The generator and the sender write the
# bound into each notification (sweepAt), the sweeper into those it releases: all three must agree
# (cross_resource_rules.py).
ReleaseAfterMinutes = Annotated[
    int,
    Field(
        ge=1,
        le=1440,
        description="a waiting notification is left to its trigger this long past its due time",
    ),
]


class GeneratorTunables(WorkerTunables):
    """How the generator pages demand and writes notifications, and how long it may wait for Bitly."""

    write_parallelism: int = Field(default=16, ge=1, le=64)
    demand_page_size: int = Field(default=1000, ge=10, le=10000)
    continuation_margin_seconds: int = Field(default=20, ge=5, le=300)
    short_url_timeout_seconds: int = Field(
        default=3, ge=1, le=10, description="one Bitly call for an event with no short URL, else the full URL"
    )
    late_grace_minutes: LateGraceMinutes = 5
    release_after_minutes: ReleaseAfterMinutes = 5


class SendTunables(WorkerTunables):
    """Attempts, backoff and the per-channel breaker of the sender."""

    max_send_attempts: int = Field(default=3, ge=1, le=10)
    retry_backoff_seconds: int = Field(default=30, ge=0, le=900)
    vendor_timeout_seconds: int = Field(default=10, ge=1, le=30)
    late_grace_minutes: LateGraceMinutes = 5
    release_after_minutes: ReleaseAfterMinutes = 5
    breaker_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="transient vendor failures in a row after which a channel's sends wait",
    )
    breaker_cooldown_seconds: int = Field(
        default=10,
        ge=1,
        le=60,
        description="first wait once a breaker opens; doubles per failed trial, up to 4x",
    )


class SweeperTunables(WorkerTunables):
    """When the sweeper takes a waiting notification back from a lost trigger, and how many per run."""

    release_after_minutes: ReleaseAfterMinutes = 5
    max_releases_per_run: int = Field(
        default=2000,
        ge=1,
        le=100_000,
        description="release writes per run at most (a stream backlog is not re-sent all at once)",
    )


class ShortenTunables(WorkerTunables):
    """Bitly call settings (the Bitly group is `vendors.bitlyGroupGuid`, shared with the generator)."""

    vendor_timeout_seconds: int = Field(default=10, ge=1, le=30)


class ResolverTunables(WorkerTunables):
    """Vendor call settings of a resolver."""

    vendor_timeout_seconds: int = Field(default=5, ge=1, le=30)


class StatusTunables(WorkerTunables):
    """How the status consumer treats a status of a message no notification names yet."""

    unknown_message_max_age_seconds: int = Field(
        default=900,
        ge=60,
        le=86_400,
        description="a status of a message no notification names yet is held while at most this old",
    )


@dataclass(frozen=True, kw_only=True)
class MetricAlarm:
    """An alarm on the worker's own (EMF) metrics: their sum in a period above a threshold."""

    # The CloudWatch name the worker emits: a constant of workers/shared/observability.py (infra
    # cannot import it; tests/infra/test_worker_alarms.py ties the two). The threshold is
    # `alarms.metricThresholds.<metric>` of the worker's stack config, 0 (any) by default.
    # With `sum_of`, the alarm watches the sum of those emitted metrics (metric math) and `metric`
    # only names that sum (the threshold key), e.g. SendFailures = SmsFailed + EmailFailed.
    metric: str
    suffix: str
    summary: str
    runbook: str
    period_seconds: int = 300
    sum_of: tuple[str, ...] = ()

    @property
    def watched_metrics(self) -> tuple[str, ...]:
        """The emitted metrics the alarm reads."""
        return self.sum_of or (self.metric,)


# Every stream and queue worker counts the records its batch reported back as failed, once per
# invocation that had any (workers/shared/records.py; the batch helper never raises, so Lambda's
# Errors stays 0 while records fail): the error-rate alarm of those workers reads it.
BATCH_RECORDS_FAILED_METRIC = "BatchRecordsFailed"


@dataclass(frozen=True, kw_only=True)
class WorkerSpec:
    """One worker of the fleet: identity, trigger source, access and settings model."""

    name: str
    inventory_code: str
    description: str
    source: Source
    access: frozenset[Access]
    tunables: type[WorkerTunables] = NoTunables
    metric_alarms: tuple[MetricAlarm, ...] = ()

    @property
    def handler(self) -> str:
        """The Lambda handler path of the worker's package."""
        return f"workers.{self.name}.handler.lambda_handler"


# Demand the fleet cannot reach (docs/contracts/demand.md): silent zero-reminder sales and opt-ins
# whose sale Discovery stopped listing (a renamed presale changes its sale id).
SALES_WITHOUT_DEMAND_ALARM = MetricAlarm(
    metric="SalesWithoutDemand",
    suffix="sales-without-demand",
    summary="a notifiable sale found no demand records at all (0 reminders)",
    runbook="sales-without-demand",
)
ORPHANED_DEMAND_ALARM = MetricAlarm(
    metric="OrphanedDemand",
    suffix="orphaned-demand",
    summary="opt-ins name a sale Discovery no longer lists (they get no reminder)",
    runbook="orphaned-demand",
)
# Never late (docs/notification-send.md): reminders that did not leave before their sale's start.
SALES_EXPIRED_ALARM = MetricAlarm(
    metric="SalesExpired",
    suffix="sales-expired",
    summary="a sale's generation job ran after the sale started (its remaining reminders were not created)",
    runbook="late-reminders",
)
# Notification not sent (docs/runbooks.md): a reminder ended FAILED, by vendor rejection (invalid
# number, blocked, SES MessageRejected) or out of attempts. Each channel counts its failures once
# without dimensions besides service/environment (and again per `reason`, for diagnosis).
SEND_FAILURES_ALARM = MetricAlarm(
    metric="SendFailures",
    sum_of=("SmsFailed", "EmailFailed"),
    suffix="send-failures",
    summary="notifications ended FAILED unsent (rejected by the SMS service or SES, or out of attempts)",
    runbook="notification-not-sent",
)
NOTIFICATIONS_EXPIRED_ALARM = MetricAlarm(
    metric="NotificationsExpired",
    suffix="notifications-expired",
    summary="reminders expired unsent because their sale had already started",
    runbook="late-reminders",
)

# The SMS contract (docs/contracts/sms.md): status events dropped because they cannot be applied.
UNKNOWN_MESSAGE_ID_ALARM = MetricAlarm(
    metric="UnknownMessageId",
    suffix="unknown-message-ids",
    summary="status events name SMS messages no notification sent (dropped)",
    runbook="unknown-sms-message-ids",
)
MALFORMED_STATUS_EVENTS_ALARM = MetricAlarm(
    metric="MalformedStatusEvents",
    suffix="malformed-status-events",
    summary="status events are not in the SMS contract's shape (dropped)",
    runbook="malformed-sms-status-events",
)

# The AppSync contract (docs/contracts.md): failures answered as `error` objects never reach
# Lambda's Errors metric, so the resolver counts them itself.
RESOLVER_FAILURES_ALARM = MetricAlarm(
    metric="ResolverFailures",
    suffix="resolver-failures",
    summary="eventDetails answered failures of ours (Discovery or table down, or a defect) as error objects",
    runbook="event-details-failures",
)

# Claims are leases (docs/notification-send.md): notifications whose trigger was lost, handed back.
NOTIFICATIONS_RELEASED_ALARM = MetricAlarm(
    metric="NotificationsReleased",
    suffix="notifications-released",
    summary="notifications were handed back to the sender: stream record lost or claim expired",
    runbook="notifications-released",
)

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
        metric_alarms=(ORPHANED_DEMAND_ALARM,),
    ),
    WorkerSpec(
        name="notification_generator",
        inventory_code="ntfcn-gnrtr",
        description="Creates one notification per fan, sale and contact method",
        source=QueueSource(queue="generation"),
        # BITLY: one bounded call when a sale's event has no short URL yet (never waits for one).
        access=frozenset(
            {
                Access.TABLE_READ,
                Access.TABLE_WRITE,
                Access.GENERATION_QUEUE_SEND,
                Access.GENERATION_DLQ_PARK,
                Access.BITLY,
            }
        ),
        tunables=GeneratorTunables,
        metric_alarms=(SALES_WITHOUT_DEMAND_ALARM, SALES_EXPIRED_ALARM),
    ),
    WorkerSpec(
        name="notification_send",
        inventory_code="ntfcn-snd",
        description="Sends CREATED/RETRY notifications by SMS or SES email",
        source=StreamSource(stream="table", filter_patterns=NOTIFICATION_SEND_FILTERS),
        access=frozenset({Access.TABLE_READ, Access.TABLE_UPDATE, Access.SMS_SERVICE, Access.EMAIL}),
        tunables=SendTunables,
        metric_alarms=(NOTIFICATIONS_EXPIRED_ALARM, SEND_FAILURES_ALARM),
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
        access=frozenset({Access.TABLE_READ, Access.TABLE_UPDATE}),
        tunables=StatusTunables,
        metric_alarms=(UNKNOWN_MESSAGE_ID_ALARM, MALFORMED_STATUS_EVENTS_ALARM),
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
        metric_alarms=(ORPHANED_DEMAND_ALARM, RESOLVER_FAILURES_ALARM),
    ),
    WorkerSpec(
        name="proxy_tm_account_service",
        inventory_code="prxy-acct",
        description="Signed, normalized proxy to the TM Accounts API for AppSync",
        source=ResolverSource(type_name="Query", field_name="tmAccount"),
        access=frozenset({Access.ACCOUNTS}),
        tunables=ResolverTunables,
    ),
    WorkerSpec(
        name="notification_sweeper",
        inventory_code="ntfcn-swpr",
        description="Hands waiting notifications whose trigger was lost back to the sender",
        source=ScheduleSource(),
        # READ: the pending index; WRITE: the conditional release (nothing else).
        access=frozenset({Access.TABLE_READ, Access.TABLE_UPDATE}),
        tunables=SweeperTunables,
        metric_alarms=(NOTIFICATIONS_RELEASED_ALARM,),
    ),
)


def catalog_by_name(catalog: tuple[WorkerSpec, ...] = CATALOG) -> dict[str, WorkerSpec]:
    """The catalog keyed by worker name."""
    return {spec.name: spec for spec in catalog}
