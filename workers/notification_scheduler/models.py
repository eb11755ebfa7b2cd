"""The scheduler's trigger (a schedule tick or an explicit window), its window and its run summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from workers.shared.errors import RecordError, validation_reason
from workers.shared.models import UtcInstant, format_sale_time
from workers.shared.records import parse_scheduled_event

MAX_WINDOW = timedelta(hours=24)
_WINDOW_KEYS = ("startDateTime", "endDateTime")
# Windows are UTC so job deduplication ids and logs read the same whatever offset an override used.
UtcDateTime = UtcInstant


class ScheduleWindow(BaseModel):
    """Sales starting in [start, end) are notified by one run."""

    model_config = ConfigDict(frozen=True, defer_build=True, validate_by_name=True, validate_by_alias=True)

    start: UtcDateTime = Field(alias="startDateTime")
    end: UtcDateTime = Field(alias="endDateTime")

    @model_validator(mode="after")
    def _ordered_and_bounded(self) -> Self:
        if self.end <= self.start:
            raise ValueError("endDateTime must be after startDateTime")
        # A typo in an operator's override must not enqueue a month of sales at once.
        if self.end - self.start > MAX_WINDOW:
            raise ValueError(f"a window may span at most {MAX_WINDOW.total_seconds() / 3600:g} hours")
        return self

    def contains(self, instant: datetime) -> bool:
        """Whether `instant` is in [start, end)."""
        return self.start <= instant < self.end

    def describe(self) -> dict[str, str]:
        """The window as sale-time strings (logs and the run summary)."""
        return {"start": format_sale_time(self.start), "end": format_sale_time(self.end)}


@dataclass(frozen=True)
class RunRequest:
    """What a run was asked to do: its reference time and, optionally, an explicit window."""

    run_time: datetime
    window: ScheduleWindow | None = None


def _window(payload: Mapping[str, Any], where: str) -> ScheduleWindow | None:
    if not any(key in payload for key in _WINDOW_KEYS):
        return None
    try:
        return ScheduleWindow.model_validate({key: payload.get(key) for key in _WINDOW_KEYS})
    except ValidationError as error:
        raise RecordError(f"window override {where} is invalid: {validation_reason(error)}") from None


def parse_run_request(event: Any, *, received_at: datetime) -> RunRequest:
    """A schedule tick (its `time` is the reference) or a manual run; either may carry a window."""
    # The override is {"startDateTime", "endDateTime"} at the top level or under `detail`. An
    # EventBridge event keeps its scheduled `time` across Lambda's retries, so a retried run
    # computes the same window; a manual run without a window uses the time it was received.
    if not isinstance(event, Mapping):
        raise RecordError(f"the scheduler expects a JSON object, got {type(event).__name__}")
    top_level = _window(event, "at the top level")
    if "detail-type" not in event:
        return RunRequest(run_time=received_at.astimezone(UTC), window=top_level)
    scheduled = parse_scheduled_event(event)
    return RunRequest(
        run_time=scheduled.time.astimezone(UTC),
        window=top_level or _window(scheduled.detail, "under detail"),
    )


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """What one run found, dropped and enqueued."""

    window: ScheduleWindow
    sales_found: int
    events: int
    events_from_cache: int
    events_failed: tuple[str, ...]
    events_suppressed: int
    sales_suppressed: int
    sales_withdrawn: int
    jobs_enqueued: int

    def as_dict(self) -> dict[str, Any]:
        """The handler's return value (also logged)."""
        return {
            "window": self.window.describe(),
            "salesFound": self.sales_found,
            "eventsFetched": self.events - len(self.events_failed),
            "eventsFromCache": self.events_from_cache,
            "eventsFailed": list(self.events_failed),
            "eventsSuppressed": self.events_suppressed,
            "salesSuppressed": self.sales_suppressed,
            "salesWithdrawn": self.sales_withdrawn,
            "jobsEnqueued": self.jobs_enqueued,
        }
