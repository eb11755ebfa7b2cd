"""Trigger settings of each source kind (stream, queue, schedule, resolver), as a stack file writes them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from infra.config.base import KeyRuleError, StackModel

MAX_FILTER_PATTERNS = 5
SCHEDULE_EXPRESSION = re.compile(
    r"^(rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)|cron\((\S+ ){5}\S+\))$"
)
MIN_MAX_RECORD_AGE = 60
MAX_MAX_RECORD_AGE = 604_800
SQS_MAX_BATCH_WITHOUT_WINDOW = 10

FilterPattern = dict[str, Any]


def _check_filter_patterns(patterns: tuple[FilterPattern, ...] | None) -> None:
    if patterns is None:
        return
    if len(patterns) > MAX_FILTER_PATTERNS:
        raise KeyRuleError(
            "filterPatterns", f"at most {MAX_FILTER_PATTERNS} filter patterns are allowed", len(patterns)
        )
    for index, pattern in enumerate(patterns):
        if not pattern:
            raise KeyRuleError(
                "filterPatterns",
                f"filter pattern {index} is empty; omit filterPatterns to receive every record",
                None,
            )
        try:
            json.dumps(pattern)
        except (TypeError, ValueError) as error:
            raise KeyRuleError(
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


class StreamTriggerSettings(StackModel):
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
            raise KeyRuleError("maximumRetryAttempts", "must be bounded (0..10000), not -1 (infinite)", -1)
        if self.maximum_record_age_seconds == -1:
            raise KeyRuleError(
                "maximumRecordAgeSeconds", "must be bounded (60..604800), not -1 (infinite)", -1
            )
        if self.maximum_record_age_seconds < MIN_MAX_RECORD_AGE:
            raise KeyRuleError(
                "maximumRecordAgeSeconds",
                f"must be between {MIN_MAX_RECORD_AGE} and {MAX_MAX_RECORD_AGE}",
                self.maximum_record_age_seconds,
            )
        _check_filter_patterns(self.filter_patterns)
        return self


class QueueTriggerSettings(StackModel):
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
                    raise KeyRuleError(
                        key, f"{label} applies to stream triggers only, not SQS queues", value[key]
                    )
        return value

    @model_validator(mode="after")
    def _window_for_large_batches(self) -> Self:
        if self.batch_size > SQS_MAX_BATCH_WITHOUT_WINDOW and self.maximum_batching_window_seconds < 1:
            raise KeyRuleError(
                "batchSize",
                f"more than {SQS_MAX_BATCH_WITHOUT_WINDOW} on an SQS queue needs "
                "maximumBatchingWindowSeconds >= 1",
                self.batch_size,
            )
        _check_filter_patterns(self.filter_patterns)
        return self


class ScheduleTriggerSettings(StackModel):
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


class ResolverTriggerSettings(StackModel):
    """AppSync resolver options."""

    max_batch_size: int = Field(default=0, ge=0, le=2000)
    """AppSync batch invoke size (0 = no batching)."""


TriggerSettings = (
    StreamTriggerSettings | QueueTriggerSettings | ScheduleTriggerSettings | ResolverTriggerSettings
)
