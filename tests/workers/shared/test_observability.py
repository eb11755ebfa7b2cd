"""Observability: JSON logs with correlation, EMF metrics, OTel spans exported and flushed per invocation."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.logging import logger as powertools_logger
from aws_lambda_powertools.metrics.provider import cold_start
from runtime_fakes import OtlpReceiver

from workers.shared import observability
from workers.shared.observability import (
    EVENTBRIDGE_CORRELATION_PATH,
    LOGGER,
    METRICS,
    NOOP_SPAN,
    SEND_ATTEMPTS,
    SMS_FAILED,
    bind_identity_from_environment,
    correlated,
    count,
    extract_context,
    inject_context,
    instrumented,
    observe_seconds,
    quiet_spans,
    span,
    tracing_enabled,
)

SCHEDULE_EVENT = {
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "detail": {},
}
ERROR_STATUS = 2  # OTLP Status.STATUS_CODE_ERROR
# What each invocation reports: the worker's POWERTOOLS_SERVICE_NAME (tests/workers/conftest.py sets it).
SERVICE = os.environ["POWERTOOLS_SERVICE_NAME"]


@pytest.fixture(autouse=True)
def worker_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each invocation reports the service of its environment: pin it, whatever ran before."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", SERVICE)


pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next invocation is this process's first (cold start) for us and for Powertools."""
    monkeypatch.setattr(observability, "_cold_start", True)
    monkeypatch.setattr(powertools_logger, "is_cold_start", True)
    cold_start.reset_cold_start_flag()


def test_logs_carry_the_correlation_id_and_the_cold_start_flag(
    fresh_process: None, lambda_context: Any, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given a scheduled worker correlating on the EventBridge event id
    @instrumented(correlation_id_path=EVENTBRIDGE_CORRELATION_PATH)
    def lambda_handler(event: dict[str, Any], context: Any) -> str:
        LOGGER.info("Scheduling sales")
        return "done"

    # When it is invoked twice
    assert lambda_handler(SCHEDULE_EVENT, lambda_context) == "done"
    lambda_handler(SCHEDULE_EVENT, lambda_context)

    # Then each line is JSON with service, correlation id, request id and the cold start flag
    first, second = [line for line in log_lines() if line["message"] == "Scheduling sales"]
    assert first["correlation_id"] == SCHEDULE_EVENT["id"]
    assert first["service"] == SERVICE
    assert first["function_request_id"] == lambda_context.aws_request_id
    assert first["level"] == "INFO"
    assert (first["cold_start"], second["cold_start"]) == (True, False)


def test_correlated_block_restores_the_previous_correlation_id(
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given an invocation-level correlation id
    LOGGER.set_correlation_id("invocation")

    # When one record is handled under its own id and keys
    with correlated("fan:1|notification#e-s#sms", record_id="seq-1"):
        LOGGER.info("inside")
    LOGGER.info("outside")

    # Then the record's id and keys apply only inside the block
    inside, outside = log_lines()
    assert (inside["correlation_id"], inside["record_id"]) == ("fan:1|notification#e-s#sms", "seq-1")
    assert outside["correlation_id"] == "invocation"
    assert "record_id" not in outside


def test_debug_logs_are_dropped_in_production(
    monkeypatch: pytest.MonkeyPatch, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given a logger set to DEBUG (e.g. by Lambda log controls)
    previous = LOGGER.log_level
    LOGGER.setLevel("DEBUG")
    try:
        # When the same debug line is logged in qa1 and in prod1
        monkeypatch.setenv("DMD_ENVIRONMENT", "qa1")
        LOGGER.debug("visible in qa")
        monkeypatch.setenv("DMD_ENVIRONMENT", "prod1")
        LOGGER.debug("hidden in prod")
        LOGGER.info("info in prod")
    finally:
        LOGGER.setLevel(previous)

    # Then production never emits DEBUG
    assert [line["message"] for line in log_lines()] == ["visible in qa", "info in prod"]


def test_runbook_metrics_are_emitted_as_emf_with_stack_dimensions(
    fresh_process: None, lambda_context: Any, emf_blobs: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given a send worker counting attempts, a failure by reason and the sale-to-send latency
    @instrumented
    def lambda_handler(event: dict[str, Any], context: Any) -> None:
        count(SEND_ATTEMPTS)
        count(SEND_ATTEMPTS)
        count(SMS_FAILED, reason="INVALID_PHONE_NUMBER")
        observe_seconds(observability.SALE_TO_SEND_LATENCY_SECONDS, 12.5)

    # When it is invoked
    lambda_handler({}, lambda_context)

    # Then EMF documents carry the namespace, service and environment, and the reason separately
    documents = emf_blobs()
    by_metric = {
        definition["Name"]: document
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for definition in directive["Metrics"]
    }
    sends = by_metric["SendAttempts"]
    environment = METRICS.default_dimensions["environment"]
    assert sends["_aws"]["CloudWatchMetrics"][0]["Namespace"] == METRICS.provider.namespace
    assert (sends["SendAttempts"], sends["service"], sends["environment"]) == (
        [1.0, 1.0],
        SERVICE,
        environment,
    )
    assert by_metric["SaleToSendLatency"]["SaleToSendLatency"] == [12.5]
    failed = by_metric["SmsFailed"]
    assert (failed["reason"], failed["service"], failed["environment"]) == (
        "INVALID_PHONE_NUMBER",
        SERVICE,
        environment,
    )
    assert sorted(failed["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == [
        "environment",
        "reason",
        "service",
    ]
    assert by_metric["ColdStart"]["ColdStart"] == [1.0]


# --------------------------------------------------------------------------------- tracing


def test_tracing_is_a_no_op_without_a_collector() -> None:
    # Given no OTEL_EXPORTER_OTLP_ENDPOINT
    # When spans are opened and context is propagated
    with span("anything", **{"dmd.key": "value"}) as current:
        carrier = inject_context({})

    # Then nothing is traced, injected or extracted
    assert tracing_enabled() is False
    assert current is NOOP_SPAN
    assert carrier == {}
    assert extract_context({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) is None


def test_without_a_collector_opentelemetry_is_never_imported(lambda_context: Any) -> None:
    # Given a fresh interpreter without a collector endpoint
    code = (
        "import sys\n"
        "from workers.shared.observability import instrumented, span\n"
        "class Context:\n"
        "    function_name='f'; memory_limit_in_mb=128; aws_request_id='r'\n"
        "    invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:f'\n"
        "@instrumented\n"
        "def handler(event, context):\n"
        "    with span('work'):\n"
        "        return 1\n"
        "assert handler({}, Context()) == 1\n"
        "print(sorted(name for name in sys.modules if name.startswith('opentelemetry')))\n"
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_EXPORTER")}

    # When a handler runs with spans
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )

    # Then no OpenTelemetry module was loaded
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_spans_are_exported_to_the_collector_before_the_handler_returns(
    otlp_receiver: OtlpReceiver, lambda_context: Any
) -> None:
    # Given a worker with a collector configured
    @instrumented
    def lambda_handler(event: dict[str, Any], context: Any) -> str:
        with span("generate notifications", **{"dmd.sale_id": "sale-1"}) as current:
            current.set_attribute("dmd.created", 3)
        return "ok"

    # When it is invoked (and nothing waits afterwards)
    assert lambda_handler({}, lambda_context) == "ok"

    # Then the root and the child span already reached the collector, under the fleet's service name
    spans = {exported.name: exported for exported in otlp_receiver.spans()}
    root, child = spans[SERVICE], spans["generate notifications"]
    assert root.service_name == "vf.dmnd.workers"
    assert root.attributes["faas.invocation_id"] == lambda_context.aws_request_id
    assert child.trace_id == root.trace_id
    assert child.parent_span_id == root.span_id
    assert child.attributes == {"dmd.sale_id": "sale-1", "dmd.created": 3}
    assert tracing_enabled() is True


def test_spans_are_flushed_when_the_handler_fails(otlp_receiver: OtlpReceiver, lambda_context: Any) -> None:
    # Given a worker that raises
    @instrumented
    def lambda_handler(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("boom")

    # When it is invoked
    with pytest.raises(RuntimeError, match="boom"):
        lambda_handler({}, lambda_context)

    # Then the failed root span was still exported, marked as an error
    (root,) = [exported for exported in otlp_receiver.spans() if exported.name == SERVICE]
    assert root.status_code == ERROR_STATUS


def test_trace_context_round_trips_through_a_message_carrier(otlp_receiver: OtlpReceiver) -> None:
    # Given a producer span that injects its context into message attributes
    with span("enqueue generation job", kind="producer"):
        carrier = inject_context({})

    # When a consumer extracts it and opens its span as a child
    with span("handle generation job", kind="consumer", parent=extract_context(carrier)):
        pass
    observability.force_flush()

    # Then the consumer continues the producer's trace (W3C traceparent)
    spans = {exported.name: exported for exported in otlp_receiver.spans()}
    producer, consumer = spans["enqueue generation job"], spans["handle generation job"]
    assert carrier["traceparent"].startswith(f"00-{producer.trace_id}-{producer.span_id}-")
    assert consumer.trace_id == producer.trace_id
    assert consumer.parent_span_id == producer.span_id


def test_quiet_spans_suppress_per_item_spans(otlp_receiver: OtlpReceiver) -> None:
    # When spans are opened inside a quiet block
    with span("batch write"), quiet_spans(), span("one of fifty thousand writes") as current:
        assert current is NOOP_SPAN
    observability.force_flush()

    # Then only the enclosing span is exported
    assert [exported.name for exported in otlp_receiver.spans()] == ["batch write"]


def test_the_worker_identity_is_bound_from_the_environment_at_import() -> None:
    # Given a fresh interpreter whose environment names the worker, as Lambda's does before import
    code = (
        "import json\n"
        "from workers.shared.observability import LOGGER, METRICS\n"
        "print(json.dumps([LOGGER.service, METRICS.service, METRICS.namespace,"
        " METRICS.default_dimensions['environment']]))\n"
    )
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith("OTEL_EXPORTER")},
        "POWERTOOLS_SERVICE_NAME": "notification_send",
        "POWERTOOLS_METRICS_NAMESPACE": "DmdWorkers",
        "DMD_ENVIRONMENT": "qa1",
    }

    # When the observability module is imported
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )

    # Then logs and metrics already name that worker, its namespace and its stack
    assert result.stdout.strip().splitlines()[-1] == (
        '["notification_send", "notification_send", "DmdWorkers", "qa1"]'
    )


def test_each_invocation_reports_the_worker_whose_environment_it_runs_in(
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: Any,
    log_lines: Callable[[], list[dict[str, Any]]],
    emf_blobs: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given one process hosting two workers one after the other (the sandbox does this)
    @instrumented
    def lambda_handler(event: dict[str, Any], context: Any) -> None:
        LOGGER.info("Working")
        count(SEND_ATTEMPTS)

    # When each is invoked with its own environment, switched in by the host (which binds it)
    for service in ("notification_send", "sms_status_consumer"):
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", service)
        assert bind_identity_from_environment() == service
        lambda_handler({}, lambda_context)

    # Then logs and metrics name the worker of each invocation, not the one imported first
    assert [line["service"] for line in log_lines() if line["message"] == "Working"] == [
        "notification_send",
        "sms_status_consumer",
    ]
    assert [blob["service"] for blob in emf_blobs() if "SendAttempts" in blob] == [
        "notification_send",
        "sms_status_consumer",
    ]
