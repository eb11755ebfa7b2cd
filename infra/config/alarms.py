"""A worker's alarm thresholds, most of them ratios of its own settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from infra.config.base import StackModel


class AlarmSettings(StackModel):
    """Alarm thresholds; most are ratios of the worker's own settings."""

    enabled: bool = True
    """Declare this worker's alarms at all."""
    error_rate_percent: float = Field(default=5.0, gt=0, le=100)
    """Alarm when more than this % of invocations fail (stream/queue workers: or report failed records)."""
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
    metric_thresholds: dict[str, Annotated[float, Field(ge=0)]] = Field(default={})
    """Per alarmed metric (e.g. SalesWithoutDemand, SendFailures): alarm above this sum in 5 min (0)."""
