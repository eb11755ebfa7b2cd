"""Stack configuration: typed, validated before any resource is declared."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, Protocol, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from infra.catalog import (
    CATALOG,
    QueueName,
    QueueSource,
    ScheduleSource,
    StreamName,
    StreamSource,
    WorkerSpec,
)

PROJECT = "dmd-workers"

# The values CloudWatch Logs accepts for retentionInDays.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
MAX_FILTER_PATTERNS = 5
SCHEDULE_EXPRESSION = re.compile(
    r"^(rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)|cron\((\S+ ){5}\S+\))$"
)
KINESIS_STREAM_ARN = re.compile(r"^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/.+$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
ENVIRONMENT = re.compile(r"^[a-z][a-z0-9]{1,9}$")

MIN_MAX_RECORD_AGE = 60
MAX_MAX_RECORD_AGE = 604_800
SQS_MAX_BATCH_WITHOUT_WINDOW = 10
VISIBILITY_TIMEOUT_FACTOR = 6


class ConfigError(ValueError):
    """A stack file holds a value the program refuses; the message names file, key and rule."""


class _KeyRuleError(ValueError):
    """A model-level rule broken by one key; the error is reported at that key with its value."""

    def __init__(self, key: str, message: str, given: Any) -> None:
        super().__init__(message)
        self.key = key
        self.given = given


class _Model(BaseModel):
    """Stack-config models: camelCase keys as in the YAML, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


# ---------------------------------------------------------------------------------------------
# Triggers
# ---------------------------------------------------------------------------------------------

FilterPattern = dict[str, Any]


def _check_filter_patterns(patterns: tuple[FilterPattern, ...] | None) -> None:
    if patterns is None:
        return
    if len(patterns) > MAX_FILTER_PATTERNS:
        raise _KeyRuleError(
            "filterPatterns", f"at most {MAX_FILTER_PATTERNS} filter patterns are allowed", len(patterns)
        )
    for index, pattern in enumerate(patterns):
        if not pattern:
            raise _KeyRuleError(
                "filterPatterns",
                f"filter pattern {index} is empty; omit filterPatterns to receive every record",
                None,
            )
        try:
            json.dumps(pattern)
        except (TypeError, ValueError) as error:
            raise _KeyRuleError(
                "filterPatterns", f"filter pattern {index} is not valid JSON: {error}", None
            ) from error


def _parse_filter_patterns(value: Any) -> Any:
    """Accept patterns as objects or as JSON strings (the form AWS shows them in)."""
    if not isinstance(value, list | tuple):
        return value
    parsed: list[Any] = []
    for index, given in enumerate(value):
        item = given
        if isinstance(given, str):
            try:
                item = json.loads(given)
            except json.JSONDecodeError as error:
                raise ValueError(f"filter pattern {index} is not valid JSON: {error.msg}") from error
        if not isinstance(item, dict):
            raise ValueError(f"filter pattern {index} must be a JSON object")
        parsed.append(item)
    return tuple(parsed)


STREAM_ONLY_KEYS = {
    "parallelizationFactor": "parallelization factor",
    "bisectBatchOnFunctionError": "bisect on error",
    "startingPosition": "starting position",
    "maximumRetryAttempts": "retry attempts",
    "maximumRecordAgeSeconds": "maximum record age",
    "tumblingWindowSeconds": "tumbling window",
}


class StreamTriggerSettings(_Model):
    """Kinesis event-source mapping options."""

    enabled: bool = True
    """False stops polling (maintenance); the checkpoint is kept."""
    batch_size: int = Field(default=100, ge=1, le=10_000)
    """Records per invocation."""
    maximum_batching_window_seconds: int = Field(default=1, ge=0, le=300)
    """Wait up to this long to fill a batch."""
    parallelization_factor: int = Field(default=1, ge=1, le=10)
    """Concurrent batches per shard."""
    starting_position: Literal["LATEST", "TRIM_HORIZON"] = "LATEST"
    """Where a new mapping starts reading."""
    maximum_retry_attempts: int = Field(default=5, ge=-1, le=10_000)
    """Retries of a failing batch before it goes to the on-failure queue (bounded)."""
    maximum_record_age_seconds: int = Field(default=3600, ge=-1, le=MAX_MAX_RECORD_AGE)
    """Records older than this go to the on-failure queue (bounded, ≤ stream retention)."""
    bisect_batch_on_function_error: bool = True
    """Split a failing batch to isolate the bad record."""
    tumbling_window_seconds: int = Field(default=0, ge=0, le=900)
    """Aggregation window (0 = off)."""
    filter_patterns: tuple[FilterPattern, ...] | None = None
    """Lambda filter criteria on the record's decoded data, OR-ed (default: the catalog's)."""
    metrics: bool = True
    """Publish event-source-mapping EventCount metrics (alarmed on)."""

    _parse_patterns = field_validator("filter_patterns", mode="before")(_parse_filter_patterns)

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        # Unbounded retries or record age let one poison record block a shard until it expires.
        if self.maximum_retry_attempts == -1:
            raise _KeyRuleError("maximumRetryAttempts", "must be bounded (0..10000), not -1 (infinite)", -1)
        if self.maximum_record_age_seconds == -1:
            raise _KeyRuleError(
                "maximumRecordAgeSeconds", "must be bounded (60..604800), not -1 (infinite)", -1
            )
        if self.maximum_record_age_seconds < MIN_MAX_RECORD_AGE:
            raise _KeyRuleError(
                "maximumRecordAgeSeconds",
                f"must be between {MIN_MAX_RECORD_AGE} and {MAX_MAX_RECORD_AGE}",
                self.maximum_record_age_seconds,
            )
        _check_filter_patterns(self.filter_patterns)
        return self


class QueueTriggerSettings(_Model):
    """SQS event-source mapping options."""

    enabled: bool = True
    """False stops polling (maintenance) without deleting the mapping."""
    batch_size: int = Field(default=10, ge=1, le=10_000)
    """Messages per invocation (> 10 needs a batching window)."""
    maximum_batching_window_seconds: int = Field(default=0, ge=0, le=300)
    """Wait up to this long to fill a batch."""
    maximum_concurrency: int | None = Field(default=None, ge=2, le=1000)
    """Cap on concurrent invocations from this queue (2–1000)."""
    filter_patterns: tuple[FilterPattern, ...] | None = None
    """Lambda filter criteria (EventBridge patterns), OR-ed."""
    metrics: bool = True
    """Publish event-source-mapping EventCount metrics (alarmed on)."""

    _parse_patterns = field_validator("filter_patterns", mode="before")(_parse_filter_patterns)

    @model_validator(mode="before")
    @classmethod
    def _no_stream_options(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            for key, label in STREAM_ONLY_KEYS.items():
                if key in value:
                    raise _KeyRuleError(
                        key, f"{label} applies to stream triggers only, not SQS queues", value[key]
                    )
        return value

    @model_validator(mode="after")
    def _window_for_large_batches(self) -> Self:
        if self.batch_size > SQS_MAX_BATCH_WITHOUT_WINDOW and self.maximum_batching_window_seconds < 1:
            raise _KeyRuleError(
                "batchSize",
                f"more than {SQS_MAX_BATCH_WITHOUT_WINDOW} on an SQS queue needs "
                "maximumBatchingWindowSeconds >= 1",
                self.batch_size,
            )
        _check_filter_patterns(self.filter_patterns)
        return self


class ScheduleTriggerSettings(_Model):
    """EventBridge schedule options."""

    enabled: bool = True
    """False disables the rule."""
    schedule_expression: str = "cron(0/30 * * * ? *)"
    """EventBridge rate() or cron() expression."""
    retry_attempts: int = Field(default=2, ge=0, le=185)
    """EventBridge retries of a failed invocation."""
    maximum_event_age_seconds: int = Field(default=900, ge=60, le=86_400)
    """Give up (to the schedule DLQ) after this long."""

    @field_validator("schedule_expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        if not SCHEDULE_EXPRESSION.match(value):
            raise ValueError(
                f"{value!r} is not an EventBridge schedule: use rate(N minutes|hours|days) or "
                "cron(min hour day-of-month month day-of-week year)"
            )
        return value

    def interval_seconds(self) -> int:
        """The longest gap between two runs of the schedule (what "did not run" must tolerate)."""
        rate = re.match(r"rate\((\d+) (minute|hour|day)s?\)", self.schedule_expression)
        if rate:
            amount, unit = int(rate.group(1)), rate.group(2)
            return amount * {"minute": 60, "hour": 3600, "day": 86_400}[unit]
        minute, hour, day_of_month, _month, day_of_week, _year = self.schedule_expression[5:-1].split()
        if day_of_month not in ("*", "?") or day_of_week not in ("*", "?"):
            return 31 * 86_400 if day_of_month not in ("*", "?") else 7 * 86_400
        times = sorted(h * 60 + m for h in _cron_values(hour, 24) for m in _cron_values(minute, 60))
        gaps = [later - earlier for earlier, later in zip(times, [*times[1:], times[0] + 1440], strict=True)]
        return max(gaps) * 60


def _cron_values(field: str, size: int) -> list[int]:
    """The values a cron minute/hour field selects: `*`, `a`, `a-b`, `a,b`, `*/n`, `a/n`."""
    values: set[int] = set()
    for part in field.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            start, stop = 0, size - 1
        elif "-" in base:
            low, high = base.split("-")
            start, stop = int(low), int(high)
        else:
            start = int(base)
            stop = size - 1 if step else start
        values.update(range(start, stop + 1, int(step) if step else 1))
    return sorted(values)


class ResolverTriggerSettings(_Model):
    """AppSync resolver options."""

    max_batch_size: int = Field(default=0, ge=0, le=2000)
    """AppSync batch invoke size (0 = no batching)."""


TriggerSettings = (
    StreamTriggerSettings | QueueTriggerSettings | ScheduleTriggerSettings | ResolverTriggerSettings
)

# ---------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------


class AlarmSettings(_Model):
    """Alarm thresholds; most are ratios of the worker's own settings."""

    enabled: bool = True
    """Declare this worker's alarms at all."""
    error_rate_percent: float = Field(default=5.0, gt=0, le=100)
    """Alarm when more than this % of invocations fail."""
    throttles: int = Field(default=0, ge=0)
    """Alarm when throttled invocations exceed this per period."""
    duration_ratio: float = Field(default=0.8, gt=0, le=1, description="p90 duration vs timeout")
    concurrency_ratio: float = Field(default=0.8, gt=0, le=1, description="vs reservation or quota")
    iterator_age_ratio: float = Field(default=0.5, gt=0, le=1, description="vs maximum record age")
    queue_age_ratio: float = Field(default=0.5, gt=0, le=1, description="vs message retention")
    queue_depth: int = Field(default=1000, ge=1)
    """Alarm when more messages than this wait in the source queue."""
    latency_slo_ms: int = Field(default=500, ge=10, description="resolver p95 latency objective")
    evaluation_periods: int = Field(default=3, ge=1, le=60)
    """Periods (of periodSeconds) that must breach before an alarm fires."""
    period_seconds: Literal[10, 30, 60, 300, 900, 3600] = 60
    """Metric period of the Lambda alarms."""


# ---------------------------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------------------------

Architecture = Literal["arm64", "x86_64"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(days) for days in LOG_RETENTION_DAYS)
        raise ValueError(f"{value} is not a CloudWatch Logs retention; use one of {allowed}")
    return value


def _reserved(value: int) -> int:
    if value < -1:
        raise ValueError("must be -1 (unreserved) or >= 0 (0 pauses the worker)")
    return value


class WorkerDefaults(_Model):
    """Function settings every worker gets unless it overrides them."""

    memory_mb: int = Field(default=1024, ge=128, le=10_240)
    """Function memory (CPU scales with it)."""
    timeout_seconds: int = Field(default=60, ge=1, le=900)
    """Function timeout."""
    architecture: Architecture = "arm64"
    """Instruction set (the layer is built for it)."""
    reserved_concurrency: int = -1
    """-1 unreserved, 0 paused, N reserved."""
    log_retention_days: int = 14
    """CloudWatch Logs retention (a value CloudWatch accepts)."""
    log_streaming: bool = True
    """Subscribe the log group to the central log stream."""
    log_level: LogLevel = "INFO"
    """Powertools and Lambda application log level."""
    snap_start: bool = False
    """Lambda SnapStart on published versions: cold starts restore a snapshot taken after init."""

    _retention = field_validator("log_retention_days")(_retention)
    _reserved = field_validator("reserved_concurrency")(_reserved)


class WorkerOverrides(_Model):
    """Per-worker overrides: every function setting plus trigger, alarms and tunables."""

    memory_mb: int | None = Field(default=None, ge=128, le=10_240)
    timeout_seconds: int | None = Field(default=None, ge=1, le=900)
    architecture: Architecture | None = None
    reserved_concurrency: int | None = None
    log_retention_days: int | None = None
    log_streaming: bool | None = None
    log_level: LogLevel | None = None
    snap_start: bool | None = None
    trigger: dict[str, Any] = Field(default_factory=dict)
    alarms: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("log_retention_days")
    @classmethod
    def _retention_override(cls, value: int | None) -> int | None:
        return None if value is None else _retention(value)

    @field_validator("reserved_concurrency")
    @classmethod
    def _reserved_override(cls, value: int | None) -> int | None:
        return None if value is None else _reserved(value)


class WorkerConfig(_Model):
    """A worker's fully resolved settings (defaults merged with its overrides)."""

    memory_mb: int
    timeout_seconds: int
    architecture: Architecture
    reserved_concurrency: int
    log_retention_days: int
    log_streaming: bool
    log_level: LogLevel
    snap_start: bool
    trigger: TriggerSettings
    alarms: AlarmSettings
    tunables: dict[str, str]


# ---------------------------------------------------------------------------------------------
# Platform
# ---------------------------------------------------------------------------------------------


class TableSettings(_Model):
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
            raise _KeyRuleError(
                "billingMode", "PROVISIONED needs readCapacity and writeCapacity", self.billing_mode
            )
        for key, capacity in (("readCapacity", self.read_capacity), ("writeCapacity", self.write_capacity)):
            if not provisioned and capacity is not None:
                raise _KeyRuleError(key, "applies to billingMode PROVISIONED only", capacity)
        return self


class StreamSettings(_Model):
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
            raise _KeyRuleError("mode", "PROVISIONED needs shardCount", self.mode)
        if self.mode == "ON_DEMAND" and self.shard_count is not None:
            raise _KeyRuleError("shardCount", "applies to mode PROVISIONED only", self.shard_count)
        return self


class ExternalStreamSettings(_Model):
    """A Kinesis stream owned by another team, referenced by ARN."""

    existing_arn: str
    """ARN of the stream another team owns."""
    retention_hours: int = Field(default=24, ge=24, le=8760)
    """That stream's retention (bounds the consumer's record age)."""

    @field_validator("existing_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not KINESIS_STREAM_ARN.match(value):
            raise ValueError(
                f"{value!r} is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)"
            )
        return value


class QueueSettings(_Model):
    """An SQS queue with its dead-letter queue."""

    visibility_timeout_seconds: int = Field(default=360, ge=0, le=43_200)
    """≥ 6 × the consumer's timeout + batching window."""
    message_retention_seconds: int = Field(default=345_600, ge=60, le=1_209_600)
    """How long a message waits before it expires."""
    max_receive_count: int = Field(default=3, ge=1, le=1000)
    """Receives before a message moves to the DLQ."""
    dlq_retention_seconds: int = Field(default=1_209_600, ge=60, le=1_209_600)
    """How long dead letters are kept."""


class Subscription(_Model):
    """Who hears the alarms."""

    protocol: Literal["email", "https", "sqs", "lambda", "sms"]
    """SNS protocol."""
    endpoint: str = Field(min_length=3)
    """Address for that protocol."""


class AlarmTopicSettings(_Model):
    """The alarm SNS topic."""

    subscriptions: tuple[Subscription, ...] = ()
    """Who is notified of alarms."""
    account_concurrency_limit: int = Field(default=1000, ge=10)
    """The account's Lambda concurrency quota (ceiling for unreserved workers' concurrency alarm)."""


class VpcSettings(_Model):
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


class VendorSettings(_Model):
    """Where the vendor APIs live and which roles sign calls to them."""

    sms_service_url: str = "https://sms.example.invalid"
    """Base URL of the internal SMS service."""
    sms_service_role_arn: str | None = None
    """Role assumed to SigV4-sign SMS service calls."""
    bitly_url: str = "https://api-ssl.bitly.com/v4"
    """Bitly v4 API base URL."""
    discovery_url: str = "https://app.ticketmaster.com/discovery/v2"
    """Ticketmaster Discovery API v2 base URL."""
    accounts_url: str = "https://accounts.example.invalid"
    """TM Accounts API base URL."""
    accounts_role_arn: str | None = None
    """Role assumed to SigV4-sign Accounts API calls."""

    @field_validator("sms_service_role_arn", "accounts_role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$", value):
            raise ValueError(f"{value!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
        return value

    @field_validator("sms_service_url", "bitly_url", "discovery_url", "accounts_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")


class EmailSettings(_Model):
    """SES sender identity and templates."""

    from_address: str = Field(default="reminders@example.com", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    """SES sender address (a verified identity)."""
    identity_domain: str = Field(default="example.com", pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")
    """SES identity the sender belongs to (IAM is scoped to it)."""
    locales: tuple[Literal["en-us", "en-ca", "fr-ca"], ...] = ("en-us", "en-ca", "fr-ca")
    """Locales with an SES template."""


class BusinessRules(_Model):
    """Suppression rules shared by the workers that normalize events."""

    suppressed_artist_ids: tuple[str, ...] = ()
    """Discovery attraction ids whose events never notify."""
    allowed_countries: tuple[str, ...] = ("US", "CA")
    """Venue countries that notify (others are suppressed)."""
    allowed_classifications: tuple[str, ...] = ("music", "theatre")
    """Event segments that notify (others are suppressed)."""


class ObservabilitySettings(_Model):
    """Tracing, metrics and runbook links."""

    otel_collector_endpoint: str | None = None
    """OTLP/HTTP collector for traces; unset = tracing is a no-op."""
    metrics_namespace: str = Field(default="DmdWorkers", pattern=r"^[A-Za-z0-9/_.#:-]{1,255}$")
    """CloudWatch namespace of the custom (EMF) metrics."""
    runbook_base_url: str = "https://git.tmaws.io/demand-capture/workers/-/blob/main/docs/runbooks.md"
    """Where alarm descriptions link to (docs/runbooks.md)."""

    @field_validator("otel_collector_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+(:\d+)?/?$", value):
            raise ValueError(f"{value!r} is not an OTLP/HTTP collector endpoint like http://host:4318")
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


class PlatformSettings(_Model):
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
    alarm_topic: AlarmTopicSettings = AlarmTopicSettings()
    """The alarm SNS topic."""
    vpc: VpcSettings | None = None
    """Run every function in these subnets/security groups (optional)."""
    appsync_authentication: Literal["AWS_IAM", "API_KEY", "AMAZON_COGNITO_USER_POOLS"] = "AWS_IAM"
    """How AppSync callers authenticate."""

    def queue(self, name: QueueName) -> QueueSettings:
        return self.short_url_queue if name == "short_url" else self.generation_queue

    def stream(self, name: StreamName) -> StreamSettings | ExternalStreamSettings:
        return self.table_stream if name == "table" else self.sms_status_stream

    @field_validator("central_log_stream_arn")
    @classmethod
    def _log_stream(cls, value: str | None) -> str | None:
        if value is not None and not KINESIS_STREAM_ARN.match(value):
            raise ValueError(
                f"{value!r} is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)"
            )
        return value


# ---------------------------------------------------------------------------------------------
# The stack
# ---------------------------------------------------------------------------------------------


class RawStackConfig(_Model):
    """The `dmd-workers:*` keys of a stack file, as written."""

    environment: str
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    account_id: str
    production: bool = False
    defaults: WorkerDefaults = WorkerDefaults()
    workers: dict[str, WorkerOverrides] = Field(default_factory=dict)
    platform: PlatformSettings = PlatformSettings()
    vendors: VendorSettings = VendorSettings()
    email: EmailSettings = EmailSettings()
    business: BusinessRules = BusinessRules()
    observability: ObservabilitySettings = ObservabilitySettings()

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        if not ENVIRONMENT.match(value):
            raise ValueError(f"{value!r} must be a short lowercase name like qa1 or prod1")
        return value

    @field_validator("account_id")
    @classmethod
    def _account(cls, value: str) -> str:
        if not ACCOUNT_ID.match(value):
            raise ValueError(f"{value!r} is not a 12-digit AWS account id")
        return value


class StackConfig(_Model):
    """Validated configuration of one stack with every worker resolved."""

    stack: str
    environment: str
    region: str
    account_id: str
    production: bool
    workers: dict[str, WorkerConfig]
    platform: PlatformSettings
    vendors: VendorSettings
    email: EmailSettings
    business: BusinessRules
    observability: ObservabilitySettings

    def worker(self, name: str) -> WorkerConfig:
        return self.workers[name]


def _trigger_model(spec: WorkerSpec) -> type[TriggerSettings]:
    match spec.source:
        case StreamSource():
            return StreamTriggerSettings
        case QueueSource():
            return QueueTriggerSettings
        case ScheduleSource():
            return ScheduleTriggerSettings
        case _:
            return ResolverTriggerSettings


def _trigger_defaults(spec: WorkerSpec) -> dict[str, Any]:
    if isinstance(spec.source, StreamSource) and spec.source.filter_patterns:
        return {"filterPatterns": list(spec.source.filter_patterns)}
    return {}


def _format_location(location: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in location if part not in UNION_TAGS)


def _format_errors(stack_file: str, error: ValidationError, prefix: tuple[str | int, ...]) -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        where, given = (*prefix, *item["loc"]), item.get("input")
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, _KeyRuleError):
            where, given = (*where, cause.key), cause.given
        location = _format_location(where)
        key = "aws:region" if location == "region" else f"{PROJECT}:{location}"
        message = item["msg"].removeprefix("Value error, ")
        shown = "" if isinstance(given, dict | list) or given is None else f" (got {given!r})"
        lines.append(f"{stack_file}: {key}: {message}{shown}")
    return lines


def load_stack_config(
    stack: str, values: Mapping[str, Any], catalog: tuple[WorkerSpec, ...] = CATALOG
) -> StackConfig:
    """Validate the `dmd-workers:*` values of `Pulumi.<stack>.yaml` and resolve every worker."""
    stack_file = f"Pulumi.{stack}.yaml"
    problems: list[str] = []
    try:
        raw = RawStackConfig.model_validate(values)
    except ValidationError as error:
        raise ConfigError("\n".join(_format_errors(stack_file, error, ()))) from None

    known = {spec.name for spec in catalog}
    for name in raw.workers:
        if name not in known:
            problems.append(
                f"{stack_file}: {PROJECT}:workers.{name}: no such worker; the catalog has "
                + ", ".join(sorted(known))
            )

    resolved: dict[str, WorkerConfig] = {}
    defaults = raw.defaults.model_dump()
    for spec in catalog:
        overrides = raw.workers.get(spec.name, WorkerOverrides())
        prefix: tuple[str | int, ...] = ("workers", spec.name)
        try:
            trigger = _trigger_model(spec).model_validate({**_trigger_defaults(spec), **overrides.trigger})
        except ValidationError as error:
            problems += _format_errors(stack_file, error, (*prefix, "trigger"))
            continue
        try:
            alarms = AlarmSettings.model_validate(overrides.alarms)
        except ValidationError as error:
            problems += _format_errors(stack_file, error, (*prefix, "alarms"))
            continue
        try:
            tunables = spec.tunables.model_validate(overrides.settings).environment()
        except ValidationError as error:
            problems += _format_errors(stack_file, error, (*prefix, "settings"))
            continue
        chosen = overrides.model_dump(exclude={"trigger", "alarms", "settings"}, exclude_none=True)
        resolved[spec.name] = WorkerConfig.model_validate(
            {**defaults, **chosen, "trigger": trigger, "alarms": alarms, "tunables": tunables}
        )

    problems += _cross_resource_rules(stack_file, raw, resolved, catalog)
    if problems:
        raise ConfigError("\n".join(problems))
    return StackConfig(
        stack=stack,
        environment=raw.environment,
        region=raw.region,
        account_id=raw.account_id,
        production=raw.production,
        workers=resolved,
        platform=raw.platform,
        vendors=raw.vendors,
        email=raw.email,
        business=raw.business,
        observability=raw.observability,
    )


QUEUE_SETTING_KEYS = {"short_url": "shortUrlQueue", "generation": "generationQueue"}  # YAML keys
STREAM_SETTING_KEYS = {"table": "tableStream", "sms_status": "smsStatusStream"}


def _cross_resource_rules(
    stack_file: str, raw: RawStackConfig, workers: Mapping[str, WorkerConfig], catalog: tuple[WorkerSpec, ...]
) -> list[str]:
    """Rules that tie a worker's settings to the resource it consumes."""
    problems = []
    for spec in catalog:
        worker = workers.get(spec.name)
        if worker is None:
            continue
        source = spec.source
        if isinstance(source, QueueSource) and isinstance(worker.trigger, QueueTriggerSettings):
            key = QUEUE_SETTING_KEYS[source.queue]
            queue = raw.platform.queue(source.queue)
            needed = (
                VISIBILITY_TIMEOUT_FACTOR * worker.timeout_seconds
                + worker.trigger.maximum_batching_window_seconds
            )
            if queue.visibility_timeout_seconds < needed:
                problems.append(
                    f"{stack_file}: {PROJECT}:platform.{key}.visibilityTimeoutSeconds: must be >= "
                    f"{VISIBILITY_TIMEOUT_FACTOR} x timeout of {spec.name} ({worker.timeout_seconds} s) "
                    f"+ its batching window = {needed} s (got {queue.visibility_timeout_seconds})"
                )
        if isinstance(source, StreamSource) and isinstance(worker.trigger, StreamTriggerSettings):
            key = STREAM_SETTING_KEYS[source.stream]
            stream = raw.platform.stream(source.stream)
            retention = stream.retention_hours * 3600
            if worker.trigger.maximum_record_age_seconds > retention:
                problems.append(
                    f"{stack_file}: {PROJECT}:workers.{spec.name}.trigger.maximumRecordAgeSeconds: must "
                    f"not exceed the retention of platform.{key} ({retention} s) "
                    f"(got {worker.trigger.maximum_record_age_seconds})"
                )
        if worker.log_streaming and raw.platform.central_log_stream_arn is None:
            # Name the key the file set: the worker's override, else defaults (reported once).
            overridden = spec.name in raw.workers and raw.workers[spec.name].log_streaming is not None
            key = f"workers.{spec.name}.logStreaming" if overridden else "defaults.logStreaming"
            line = (
                f"{stack_file}: {PROJECT}:{key}: needs platform.centralLogStreamArn "
                "(or set logStreaming: false) (got True)"
            )
            if line not in problems:
                problems.append(line)
        if (
            isinstance(worker.trigger, QueueTriggerSettings)
            and worker.trigger.maximum_concurrency is not None
            and worker.reserved_concurrency > 0
            and worker.trigger.maximum_concurrency > worker.reserved_concurrency
        ):
            problems.append(
                f"{stack_file}: {PROJECT}:workers.{spec.name}.trigger.maximumConcurrency: "
                f"{worker.trigger.maximum_concurrency} exceeds the worker's reservedConcurrency "
                f"{worker.reserved_concurrency}; the surplus pollers would only be throttled"
            )
    return problems


class _ConfigReader(Protocol):
    def get(self, key: str) -> str | None: ...


def stack_values(
    project_config: _ConfigReader, aws_config: _ConfigReader, *, present_keys: Iterable[str] = ()
) -> dict[str, Any]:
    """The `dmd-workers:*` keys (objects decoded from the CLI's JSON) plus `aws:region`.

    `present_keys` (every configured key, when the caller can list them) lets a misspelt
    top-level key fail instead of being ignored.
    """
    known = {to_camel(key) for key in RawStackConfig.model_fields if key != "region"}
    unknown = sorted(
        key.split(":", 1)[1]
        for key in present_keys
        if key.startswith(f"{PROJECT}:") and key.split(":", 1)[1] not in known
    )
    if unknown:
        raise ConfigError(
            "\n".join(
                f"{PROJECT}:{key}: unknown key; the keys are {', '.join(sorted(known))}"
                + (" (the region is aws:region)" if key == "region" else "")
                for key in unknown
            )
        )
    values: dict[str, Any] = {}
    for alias in sorted(known):
        raw = project_config.get(alias)
        if raw is None:
            continue
        if raw.startswith(("{", "[")):
            try:
                values[alias] = json.loads(raw)
            except json.JSONDecodeError as error:
                raise ConfigError(f"{PROJECT}:{alias}: not valid JSON: {error.msg}") from None
        else:
            values[alias] = raw
    region = aws_config.get("region")
    if region is not None:
        values["region"] = region
    return values


def stack_from_pulumi() -> StackConfig:
    """Read and validate the running Pulumi program's stack configuration."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    # The SDK has no public way to list configured keys; these are where it keeps them.
    present = {*runtime_config.get_config_env(), *runtime_config.CONFIG.get()}
    values = stack_values(pulumi.Config(), pulumi.Config("aws"), present_keys=present)
    return load_stack_config(pulumi.get_stack(), values)
