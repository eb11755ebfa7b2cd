"""Lambda's platform metrics for the sandbox's invocations, into the emulator's CloudWatch (`AWS/Lambda`).

Lambda publishes, per invocation, one `Invocations` sample (1) and one `Errors` sample (1 when the
invocation raised or timed out, else 0) under three dimension sets: {FunctionName},
{FunctionName, Resource=<function>:<alias>} and {FunctionName, Resource=<function>:<alias>,
ExecutedVersion=<version>} (the last two only for invocations through an alias). `PlatformMetrics`
counts invocations per function, alias, executed version and wall-clock second, and a background
thread sends them every `flush_seconds` as aggregated datums (StatisticValues: SampleCount = the
invocations, Sum = the count; so Sum, SampleCount and Average read as Lambda's would), one
PutMetricData call per flush (split only past 1,000 datums). `record` never blocks on the emulator:
counts it cannot send (the emulator down) are kept for the next flush, within a bound. The sandbox
models no throttling, so it publishes no `Throttles`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from aws_clients import AwsClients
from sandbox.periodic_flush import PeriodicFlush

LOGGER: Final = logging.getLogger("sandbox.metrics")
NAMESPACE: Final = "AWS/Lambda"
INVOCATIONS: Final = "Invocations"
ERRORS: Final = "Errors"
FLUSH_SECONDS: Final = 2.0
MAX_DATUMS_PER_CALL: Final = 1000  # PutMetricData's limit
MAX_PENDING_KEYS: Final = 50_000  # counts kept while the emulator does not answer (then dropped, counted)


class InvocationMetricsSink(Protocol):
    """Where a function reports each invocation's outcome (a `PlatformMetrics`)."""

    def record(self, *, function_name: str, alias: str | None, version: str, error: bool) -> None:
        """Count one invocation; must neither block nor raise."""


@dataclass(frozen=True, order=True)
class InvocationKey:
    """The invocations counted together: one function, alias, executed version and second."""

    function_name: str
    alias: str  # "" for an invocation of the function itself
    version: str
    second: int  # wall-clock epoch second


@dataclass(frozen=True)
class MetricsCounters:
    """What the publisher did so far."""

    invocations: int = 0
    datums: int = 0
    calls: int = 0
    dropped_invocations: int = 0


class PlatformMetrics:
    """Counts invocations and publishes Lambda's `Invocations` and `Errors` to the emulator's CloudWatch."""

    def __init__(
        self,
        clients: AwsClients,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        wall_time: Callable[[], float] = time.time,
        max_pending_keys: int = MAX_PENDING_KEYS,
    ) -> None:
        self._clients = clients
        self._wall_time = wall_time
        self._max_pending_keys = max_pending_keys
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._invocations: Counter[InvocationKey] = Counter()
        self._errors: Counter[InvocationKey] = Counter()
        self._counters = MetricsCounters()
        self._flushes = PeriodicFlush(self.flush, seconds=flush_seconds, name="dmd-platform-metrics")
        self._warned = False

    def start(self) -> PlatformMetrics:
        """Start the background flushes; returns self."""
        self._flushes.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background flushes, then send what is counted (idempotent)."""
        self._flushes.stop(timeout)

    def record(self, *, function_name: str, alias: str | None, version: str, error: bool) -> None:
        """Count one invocation now (never blocks on the emulator, never raises)."""
        key = InvocationKey(function_name, alias or "", version, int(self._wall_time()))
        with self._lock:
            if key not in self._invocations and len(self._invocations) >= self._max_pending_keys:
                self._count(dropped_invocations=1)
                return
            self._invocations[key] += 1
            if error:
                self._errors[key] += 1
            self._count(invocations=1)

    def flush(self) -> int:
        """Send everything counted now, in this thread; the datums sent (kept for later if refused)."""
        with self._drain_lock:
            with self._lock:
                invocations, errors = self._invocations, self._errors
                self._invocations, self._errors = Counter(), Counter()
            if not invocations:
                return 0
            datums = metric_data(invocations, errors)
            sent = 0
            for start in range(0, len(datums), MAX_DATUMS_PER_CALL):
                batch = datums[start : start + MAX_DATUMS_PER_CALL]
                try:
                    self._clients.client("cloudwatch").put_metric_data(Namespace=NAMESPACE, MetricData=batch)
                except (BotoCoreError, ClientError, OSError) as error:
                    with self._lock:
                        self._count(calls=1)
                    self._warn(f"platform metrics not published, kept for the next flush: {error}")
                    self._keep(invocations, errors)  # whole: datums of a key are not split over calls
                    return sent
                sent += len(batch)
                with self._lock:
                    self._count(calls=1, datums=len(batch))
            return sent

    @property
    def counters(self) -> MetricsCounters:
        """Invocations counted, datums published, PutMetricData calls and invocations dropped so far."""
        with self._lock:
            return self._counters

    def _keep(self, invocations: Counter[InvocationKey], errors: Counter[InvocationKey]) -> None:
        # Unsent counts go back, merged with what was counted meanwhile. A retried batch may repeat
        # datums a partial success already sent: only past 1,000 datums in one flush, and rare.
        with self._lock:
            for key, count in invocations.items():
                if key not in self._invocations and len(self._invocations) >= self._max_pending_keys:
                    self._count(dropped_invocations=count)
                    continue
                self._invocations[key] += count
                if errors[key]:
                    self._errors[key] += errors[key]

    def _count(
        self, *, invocations: int = 0, datums: int = 0, calls: int = 0, dropped_invocations: int = 0
    ) -> None:
        # Called with the lock held.
        now = self._counters
        self._counters = MetricsCounters(
            invocations=now.invocations + invocations,
            datums=now.datums + datums,
            calls=now.calls + calls,
            dropped_invocations=now.dropped_invocations + dropped_invocations,
        )

    def _warn(self, message: str) -> None:
        if not self._warned:  # once: a stopped emulator would otherwise repeat it every flush
            self._warned = True
            LOGGER.warning("%s (further failures are not logged)", message)


def metric_data(invocations: Counter[InvocationKey], errors: Counter[InvocationKey]) -> list[dict[str, Any]]:
    """The datums of counted invocations: per second, for each of Lambda's three dimension sets."""
    per_function: Counter[tuple[str, str, str, int]] = Counter()
    errors_per: Counter[tuple[str, str, str, int]] = Counter()
    for key, count in invocations.items():
        # The same invocations under each dimension set: the function, its alias, the executed version.
        rows = [(key.function_name, "", "", key.second)]
        if key.alias:
            rows.append((key.function_name, key.alias, "", key.second))
            rows.append((key.function_name, key.alias, key.version, key.second))
        for row in rows:
            per_function[row] += count
            errors_per[row] += errors[key]
    datums: list[dict[str, Any]] = []
    for (function_name, alias, version, second), count in sorted(per_function.items()):
        dimensions = _dimensions(function_name, alias, version)
        timestamp = datetime.fromtimestamp(second, UTC)
        failed = errors_per[(function_name, alias, version, second)]
        datums.append(_datum(INVOCATIONS, dimensions, timestamp, samples=count, total=count, values=(1,)))
        datums.append(
            _datum(
                ERRORS,
                dimensions,
                timestamp,
                samples=count,
                total=failed,
                values=_error_values(count, failed),
            )
        )
    return datums


def _dimensions(function_name: str, alias: str, version: str) -> list[dict[str, str]]:
    dimensions = [{"Name": "FunctionName", "Value": function_name}]
    if alias:
        dimensions.append({"Name": "Resource", "Value": f"{function_name}:{alias}"})
    if version:
        dimensions.append({"Name": "ExecutedVersion", "Value": version})
    return dimensions


def _error_values(invocations: int, errors: int) -> tuple[int, ...]:
    """The distinct per-invocation samples (0 for a success, 1 for an error): their minimum and maximum."""
    return tuple(sorted({1} if errors == invocations else {0} if errors == 0 else {0, 1}))


def _datum(
    name: str,
    dimensions: list[dict[str, str]],
    timestamp: datetime,
    *,
    samples: int,
    total: int,
    values: Iterable[int],
) -> dict[str, Any]:
    seen = list(values)
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": timestamp,
        "Unit": "Count",
        "StatisticValues": {
            "SampleCount": float(samples),
            "Sum": float(total),
            "Minimum": float(min(seen)),
            "Maximum": float(max(seen)),
        },
    }
