"""The one logger, metrics and tracer of the fleet, and the decorator every `lambda_handler` wears.

Besides `settings.py`, the only module of the workers that reads the environment: Powertools'
(`POWERTOOLS_*`), OpenTelemetry's (`OTEL_*`) and the stack's name (`DMD_ENVIRONMENT`), read when the
module is imported, before any worker's settings are loaded, and never allowed to fail a cold start.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, cast, overload

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

OTEL_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
ENVIRONMENT_ENV = "DMD_ENVIRONMENT"
LOG_LEVEL_ENV = "POWERTOOLS_LOG_LEVEL"
SERVICE_NAME_ENV = "POWERTOOLS_SERVICE_NAME"
NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
DEFAULT_NAMESPACE = "DmdWorkers"  # infra's default; a missing variable must not cost the metrics

# Runbook metrics (CloudWatch names). Dimensions other than service/environment must come from a
# small fixed vocabulary (e.g. a normalized vendor reason code), never from free text or ids.
SEND_ATTEMPTS = "SendAttempts"
SMS_ACCEPTED = "SmsAccepted"
SMS_FAILED = "SmsFailed"  # dimension: reason
EMAIL_ACCEPTED = "EmailAccepted"
EMAIL_FAILED = "EmailFailed"  # dimension: reason
URL_SHORTENED = "UrlShortened"
URL_SHORTENING_FAILED = "UrlShorteningFailed"
SALE_TO_SEND_LATENCY_SECONDS = "SaleToSendLatency"  # unit: seconds, from the sale's send window to the send
UNKNOWN_MESSAGE_ID = "UnknownMessageId"  # a status event of no known notification, too old to hold: dropped
STATUS_OUT_OF_ORDER = "StatusOutOfOrder"  # a status event older than the record's status
# The SMS contract (docs/contracts/sms.md).
MALFORMED_STATUS_EVENTS = "MalformedStatusEvents"  # JSON that is no status event (no messageId, bad status)
STATUS_HELD = "StatusHeld"  # a status that arrived before its send was recorded, held for the sender
HELD_STATUSES_APPLIED = "HeldStatusesApplied"  # held statuses the sender applied after recording its send
NOTIFICATIONS_CREATED = "NotificationsCreated"
NOTIFICATIONS_DUPLICATE = "NotificationsDuplicate"
BATCH_RECORDS_FAILED = "BatchRecordsFailed"  # records reported back as batch-item failures
BATCH_RECORDS_PARKED = "BatchRecordsParked"  # poison records sent to the dead-letter queue, reported handled
# Never late (docs/contracts/bitly.md, docs/notification-send.md).
REMINDER_URL = "ReminderUrl"  # per generation job; dimension: source (a ReminderUrlSource value)
SALES_EXPIRED = "SalesExpired"  # a generation job that ran after its sale's start + grace (alarmed)
NOTIFICATIONS_EXPIRED = "NotificationsExpired"  # never sent: the sale started (+ grace) first (alarmed)
SEND_BREAKER_OPENED = "SendBreakerOpened"  # a vendor kept failing: its sends wait; dimension: channel
# Claims are leases (docs/notification-send.md, "Leases and the sweeper").
NOTIFICATIONS_OVERDUE = "NotificationsOverdue"  # pending-index entries a sweep found past their sweepAt
NOTIFICATIONS_RELEASED = "NotificationsReleased"  # handed back to the sender: trigger lost (alarmed)
RELEASES_SKIPPED = "ReleasesSkipped"  # found but refused: a live claim, or moved on since the query
# The demand contract (docs/contracts/demand.md) and Discovery's (docs/contracts/discovery.md).
DEMAND_DEVIATIONS = "DemandDeviations"  # dimension: reason (a DemandDeviation value)
SALES_WITHOUT_DEMAND = "SalesWithoutDemand"  # a notifiable sale whose generation found no demand item
ORPHANED_DEMAND = "OrphanedDemand"  # opt-ins of a sale Discovery stopped listing (alarmed)
DISCOVERY_FALLBACK_TO_CACHE = "DiscoveryFallbackToCache"  # Discovery failed; the cached event was served

# JMESPath correlation ids for `instrumented`; batch workers correlate per record instead.
EVENTBRIDGE_CORRELATION_PATH = "id"
APPSYNC_CORRELATION_PATH = 'request.headers."x-amzn-trace-id"'

# Lambda freezes the process after it returns: spans are flushed synchronously, briefly.
EXPORT_TIMEOUT_SECONDS = 3.0
FLUSH_TIMEOUT_MILLIS = 3000

SpanKindName = Literal["internal", "server", "client", "consumer", "producer"]
AttributeValue = str | bool | int | float | Sequence[str]
HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


def _is_production() -> bool:
    return os.environ.get(ENVIRONMENT_ENV, "").startswith("prod")


def _configured_log_level() -> str:
    level = os.environ.get(LOG_LEVEL_ENV, "INFO").upper()
    return "INFO" if level == "DEBUG" and _is_production() else level


class _NoDebugInProduction(logging.Filter):
    """Drops DEBUG records on production stacks, even when Lambda's log controls say DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO or not _is_production()


LOGGER = Logger(level=_configured_log_level(), utc=True)
LOGGER.addFilter(_NoDebugInProduction())
METRICS = Metrics(namespace=os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE)


def bind_identity_from_environment() -> str:
    """Name the logger's and metrics' worker (service, namespace, environment) from the environment now."""
    # Lambda sets a function's environment before its code is imported, so binding once at import
    # (below) is enough there; a host that switches environments after import calls it again.
    service = os.environ.get(SERVICE_NAME_ENV) or "service_undefined"
    METRICS.service = service
    METRICS.namespace = os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE
    environment = os.environ.get(ENVIRONMENT_ENV, "unknown")
    if METRICS.default_dimensions.get("environment") != environment:  # Powertools warns on a re-add
        METRICS.set_default_dimensions(environment=environment)
    LOGGER.service = service
    return service


bind_identity_from_environment()


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Add to a count metric; extra dimensions emit it as its own EMF blob."""
    _emit(name, MetricUnit.Count, value, dimensions)


def observe_seconds(name: str, seconds: float, **dimensions: str) -> None:
    """Record a duration metric in seconds."""
    _emit(name, MetricUnit.Seconds, seconds, dimensions)


def _emit(name: str, unit: MetricUnit, value: float, dimensions: Mapping[str, str]) -> None:
    if not dimensions:
        METRICS.add_metric(name=name, unit=unit, value=value)
        return
    # Dimensions apply to a whole EMF blob, so a per-reason metric cannot share the invocation's.
    defaults = dict(METRICS.default_dimensions)
    if METRICS.provider.service:
        defaults["service"] = str(METRICS.provider.service)
    with single_metric(
        name=name, unit=unit, value=value, namespace=METRICS.provider.namespace, default_dimensions=defaults
    ) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)


@contextmanager
def correlated(correlation_id: str | None, **keys: object) -> Iterator[None]:
    """Log with this correlation id (and extra keys) inside the block, then restore the previous ones."""
    previous = LOGGER.get_correlation_id()
    LOGGER.set_correlation_id(correlation_id)
    LOGGER.append_keys(**keys)
    try:
        yield
    finally:
        LOGGER.remove_keys(list(keys))
        LOGGER.set_correlation_id(previous)


# --------------------------------------------------------------------------------------------
# Tracing: OpenTelemetry only when a collector is configured; otherwise nothing is imported.
# --------------------------------------------------------------------------------------------


class SpanHandle(Protocol):
    """What callers may do with a span (an OpenTelemetry span or the no-op one)."""

    def set_attribute(self, key: str, value: AttributeValue) -> None: ...

    def record_exception(self, exception: BaseException) -> None: ...

    def end(self) -> None: ...


class _NoopSpan:
    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Nothing to record without a collector."""

    def record_exception(self, exception: BaseException) -> None:
        """Nothing to record without a collector."""

    def end(self) -> None:
        """Nothing to end without a collector."""


NOOP_SPAN: SpanHandle = _NoopSpan()


@dataclass(frozen=True)
class _Tracing:
    provider: TracerProvider
    tracer: Tracer
    propagator: TraceContextTextMapPropagator


@functools.cache
def _tracing() -> _Tracing | None:
    endpoint = os.environ.get(OTEL_ENDPOINT_ENV, "").strip().rstrip("/")
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    # Resource.create() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES set by infra/worker.py.
    provider = TracerProvider(resource=Resource.create())
    exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=EXPORT_TIMEOUT_SECONDS)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return _Tracing(
        provider=provider,
        tracer=provider.get_tracer("workers.shared"),
        propagator=TraceContextTextMapPropagator(),
    )


_quiet: contextvars.ContextVar[bool] = contextvars.ContextVar("dmd_quiet_spans", default=False)


def tracing_enabled() -> bool:
    """Whether spans are exported (a collector endpoint is configured)."""
    return _tracing() is not None


def _kind(kind: SpanKindName) -> Any:
    from opentelemetry.trace import SpanKind

    return SpanKind[kind.upper()]


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKindName = "internal",
    parent: Context | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    **extra: AttributeValue,
) -> Iterator[SpanHandle]:
    """A current span around the block; with `parent` (from a message) the current span becomes a link."""
    tracing = _tracing()
    if tracing is None or _quiet.get():
        yield NOOP_SPAN
        return
    from opentelemetry import trace

    links = []
    if parent is not None:
        current = trace.get_current_span().get_span_context()
        if current.is_valid:
            links.append(trace.Link(current))
    with tracing.tracer.start_as_current_span(
        name, context=parent, kind=_kind(kind), attributes={**(attributes or {}), **extra}, links=links
    ) as current_span:
        yield current_span


def start_span(
    name: str, *, kind: SpanKindName = "internal", attributes: Mapping[str, AttributeValue] | None = None
) -> SpanHandle:
    """A span that is not made current; the caller ends it (used by the AWS client hooks)."""
    tracing = _tracing()
    if tracing is None or _quiet.get():
        return NOOP_SPAN
    return tracing.tracer.start_span(name, kind=_kind(kind), attributes=dict(attributes or {}))


def mark_error(current: SpanHandle, description: str) -> None:
    """Set a span's status to ERROR (no-op spans ignore it)."""
    if current is NOOP_SPAN:
        return
    from opentelemetry.trace import Status, StatusCode

    set_status = getattr(current, "set_status", None)
    if set_status is not None:
        set_status(Status(StatusCode.ERROR, description))


@contextmanager
def quiet_spans() -> Iterator[None]:
    """No spans inside the block (e.g. 50,000 conditional writes are one span, not 50,000)."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def inject_context(carrier: dict[str, str]) -> dict[str, str]:
    """Write the current trace context (W3C traceparent/tracestate) into `carrier` and return it."""
    tracing = _tracing()
    if tracing is not None:
        tracing.propagator.inject(carrier)
    return carrier


def extract_context(carrier: Mapping[str, str]) -> Context | None:
    """The trace context a producer injected into `carrier`, or None when there is none."""
    tracing = _tracing()
    if tracing is None or "traceparent" not in carrier:
        return None
    return tracing.propagator.extract(carrier)


def force_flush() -> None:
    """Export finished spans now: Lambda may freeze the process as soon as the handler returns."""
    tracing = _tracing()
    if tracing is not None:
        tracing.provider.force_flush(timeout_millis=FLUSH_TIMEOUT_MILLIS)


def reset_tracing() -> None:
    """Shut the tracer provider down and re-read the endpoint on next use (tests)."""
    if _tracing.cache_info().currsize:
        tracing = _tracing()
        if tracing is not None:
            tracing.provider.shutdown()
    _tracing.cache_clear()


# --------------------------------------------------------------------------------------------
# The handler decorator
# --------------------------------------------------------------------------------------------

_cold_start = True


@overload
def instrumented(handler: HandlerT, *, correlation_id_path: str | None = None) -> HandlerT: ...


@overload
def instrumented(
    handler: None = None, *, correlation_id_path: str | None = None
) -> Callable[[HandlerT], HandlerT]: ...


def instrumented(
    handler: HandlerT | None = None, *, correlation_id_path: str | None = None
) -> HandlerT | Callable[[HandlerT], HandlerT]:
    """Logger context (+ correlation id), EMF metrics with cold start, a root span flushed on return."""

    def decorate(function: HandlerT) -> HandlerT:
        @functools.wraps(function)
        def traced(event: Any, context: Any) -> Any:
            global _cold_start  # one flag per process, like Lambda's own cold start
            cold, _cold_start = _cold_start, False
            LOGGER.append_keys(service=LOGGER.service)
            try:
                with span(
                    LOGGER.service,
                    kind="server",
                    attributes={
                        "faas.invocation_id": str(getattr(context, "aws_request_id", "")),
                        "faas.coldstart": cold,
                    },
                ):
                    return function(event, context)
            finally:
                force_flush()

        with_metrics = METRICS.log_metrics(traced, capture_cold_start_metric=True)
        with_logs = LOGGER.inject_lambda_context(
            with_metrics, correlation_id_path=correlation_id_path, clear_state=True
        )
        return cast("HandlerT", with_logs)

    if handler is not None:
        return decorate(handler)
    return decorate
