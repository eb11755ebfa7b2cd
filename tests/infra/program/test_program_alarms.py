"""The alarms: thresholds derived from config, periods, runbook links and where they notify."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.catalog import CATALOG, QueueSource, WorkerSpec
from infra.config import ScheduleTriggerSettings, StreamTriggerSettings
from infra.offline import synthesize_stack
from infra.stack_files import PROJECT_ROOT
from tests.infra.graphs import runbook_anchors
from tests.infra.program.resource_types import ALARM
from tests.infra.program.stack_under_test import (
    QUEUE_WORKERS,
    RESOLVER_WORKERS,
    SCHEDULE_WORKERS,
    SPECS,
    STREAM_WORKERS,
    Stack,
    fleet,
    ids_of,
    up_stack,
)


def _pick(inputs: dict[str, Any], like: dict[str, Any]) -> dict[str, Any]:
    """The inputs with the keys of `like` (absent ones as None)."""
    return {key: inputs.get(key) for key in like}


def test_duration_alarm_threshold_is_a_ratio_of_the_timeout(stack: Stack) -> None:
    # Given each worker's timeout and duration ratio
    def expected(spec: WorkerSpec) -> dict[str, Any]:
        config = stack.worker(spec)
        return {
            "threshold": round(config.timeout_seconds * 1000 * config.alarms.duration_ratio),
            "metricName": "Duration",
            "extendedStatistic": "p90",
            "dimensions": {"FunctionName": stack.function_name(spec)},
            "comparisonOperator": "GreaterThanThreshold",
        }

    # When the duration alarms are declared
    declared = fleet(lambda spec: _pick(stack.alarm(spec, "duration"), expected(spec)))

    # Then each watches p90 duration against timeout × 1000 × ratio
    assert declared == fleet(expected)


def test_concurrency_alarm_threshold_is_a_ratio_of_the_reservation_or_the_account_quota(stack: Stack) -> None:
    # Given each worker's reserved concurrency (or none) and the account's concurrency quota
    quota = stack.config.platform.alarm_topic.account_concurrency_limit

    def expected(spec: WorkerSpec) -> dict[str, Any]:
        config = stack.worker(spec)
        ceiling = config.reserved_concurrency if config.reserved_concurrency > 0 else quota
        return {
            "threshold": max(1, round(ceiling * config.alarms.concurrency_ratio)),
            "metricName": "ConcurrentExecutions",
            "statistic": "Maximum",
        }

    # When the concurrency alarms are declared
    declared = fleet(lambda spec: _pick(stack.alarm(spec, "concurrency"), expected(spec)))

    # Then each fires above ratio × that ceiling (at least 1)
    assert declared == fleet(expected)


BATCH_WORKERS = {spec.name for spec in (*STREAM_WORKERS, *QUEUE_WORKERS)}


def test_error_rate_alarm_divides_failed_invocations_by_invocations(stack: Stack) -> None:
    # Given each worker's error-rate objective; stream and queue workers report failed records
    # themselves (BatchRecordsFailed, once per invocation that had any) since their batch never raises
    def expected(spec: WorkerSpec) -> dict[str, Any]:
        dimensions = {"FunctionName": stack.function_name(spec)}
        own = {"service": spec.name, "environment": stack.environment}
        queries = [("errors", "Errors", dimensions, "Sum", False)]
        if spec.name in BATCH_WORKERS:
            queries.append(("failedbatches", "BatchRecordsFailed", own, "SampleCount", False))
        return {
            "threshold": stack.worker(spec).alarms.error_rate_percent,
            "single metric": None,
            "queries": [
                *queries,
                ("invocations", "Invocations", dimensions, "Sum", False),
                ("result", None, None, None, True),
            ],
            "expression": "IF(invocations > 0, 100 * (errors + FILL(failedbatches, 0)) / invocations, 0)"
            if spec.name in BATCH_WORKERS
            else "IF(invocations > 0, 100 * errors / invocations, 0)",
        }

    # When the error-rate alarms are declared
    def declared(spec: WorkerSpec) -> dict[str, Any]:
        alarm = stack.alarm(spec, "error-rate")
        queries = alarm["metricQueries"]
        return {
            "threshold": alarm["threshold"],
            "single metric": alarm.get("metricName"),
            "queries": [
                (
                    query["id"],
                    query.get("metric", {}).get("metricName"),
                    query.get("metric", {}).get("dimensions"),
                    query.get("metric", {}).get("stat"),
                    query["returnData"],
                )
                for query in queries
            ],
            "expression": queries[-1].get("expression"),
        }

    # Then metric math compares 100 × failed invocations / invocations with the configured percentage
    assert fleet(declared) == fleet(expected)
    # And those are the workers with an event-source mapping
    assert {
        "notification_generator",
        "notification_send",
        "demand_stream_to_sqs",
        "shorten_event_url",
        "sms_status_consumer",
    } == BATCH_WORKERS


def test_throttle_alarm_threshold_is_from_config(stack: Stack) -> None:
    # Given each worker's tolerated throttles
    # When the throttle alarms are declared
    declared = fleet(
        lambda spec: (
            stack.alarm(spec, "throttles")["metricName"],
            stack.alarm(spec, "throttles")["threshold"],
        )
    )

    # Then each fires above that count
    assert declared == fleet(lambda spec: ("Throttles", stack.worker(spec).alarms.throttles))


@pytest.mark.parametrize("spec", STREAM_WORKERS, ids=ids_of(STREAM_WORKERS))
def test_iterator_age_alarm_fires_at_a_ratio_of_the_maximum_record_age(
    stack: Stack, spec: WorkerSpec
) -> None:
    # Given records older than maximumRecordAgeSeconds are discarded
    config = stack.worker(spec)
    assert isinstance(config.trigger, StreamTriggerSettings)

    # When the iterator-age alarm is declared
    alarm = stack.alarm(spec, "iterator-age")

    # Then it fires at ratio × that age, in milliseconds, well before records are lost
    assert alarm["threshold"] == round(
        config.trigger.maximum_record_age_seconds * 1000 * config.alarms.iterator_age_ratio
    )
    assert (alarm["metricName"], alarm["statistic"], alarm["treatMissingData"]) == (
        "IteratorAge",
        "Maximum",
        "missing",
    )


@pytest.mark.parametrize("spec", QUEUE_WORKERS, ids=ids_of(QUEUE_WORKERS))
def test_queue_alarms_derive_from_the_source_queue_settings(stack: Stack, spec: WorkerSpec) -> None:
    # Given the source queue's retention and the worker's backlog settings
    assert isinstance(spec.source, QueueSource)
    config = stack.worker(spec)
    queue_name = stack.work_queue_name(spec.source.queue)
    retention = stack.config.platform.queue(spec.source.queue).message_retention_seconds

    # When the queue alarms are declared
    age, depth, dlq = (stack.alarm(spec, suffix) for suffix in ("queue-age", "queue-depth", "dlq-not-empty"))

    # Then age is a ratio of retention, depth is the configured backlog, and the DLQ alarms on any message
    assert (age["threshold"], age["dimensions"]) == (
        int(retention * config.alarms.queue_age_ratio),
        {"QueueName": queue_name},
    )
    assert (depth["threshold"], depth["dimensions"]) == (config.alarms.queue_depth, {"QueueName": queue_name})
    assert (dlq["metricName"], dlq["threshold"], dlq["dimensions"]) == (
        "ApproximateNumberOfMessagesVisible",
        0,
        {"QueueName": f"{queue_name}-dlq"},
    )


def test_dropped_events_are_watched_on_stream_mappings_only(stack: Stack) -> None:
    # Given Lambda emits DroppedEventCount for stream mappings only (an SQS mapping never drops: the
    # queue redrives to its DLQ), and FailedInvokeEventCount for both
    def mapping_metrics(spec: WorkerSpec) -> set[str]:
        if not stack.worker(spec).alarms.enabled:
            return set()
        return {
            child.inputs["metricName"]
            for child in stack.children(spec)
            if child.type_ == ALARM and "EventSourceMappingUUID" in (child.inputs.get("dimensions") or {})
        }

    # When each worker's alarms on its event source mapping are read
    watched = fleet(mapping_metrics)

    # Then stream workers watch both, queue workers only failed invocations, the others neither
    def expected(spec: WorkerSpec) -> set[str]:
        if not stack.worker(spec).alarms.enabled:
            return set()
        if spec in STREAM_WORKERS:
            return {"FailedInvokeEventCount", "DroppedEventCount"}
        return {"FailedInvokeEventCount"} if spec in QUEUE_WORKERS else set()

    assert watched == fleet(expected)


@pytest.mark.parametrize("spec", SCHEDULE_WORKERS, ids=ids_of(SCHEDULE_WORKERS))
def test_scheduled_worker_alarms_when_it_did_not_run(stack: Stack, spec: WorkerSpec) -> None:
    # Given Lambda publishes no datapoint when nothing runs
    trigger = stack.worker(spec).trigger
    assert isinstance(trigger, ScheduleTriggerSettings)

    # When the did-not-run alarm is declared
    alarm = stack.alarm(spec, "did-not-run")

    # Then fewer than one invocation in two schedule intervals, or no data at all, is an alarm
    assert (alarm["metricName"], alarm["comparisonOperator"], alarm["threshold"]) == (
        "Invocations",
        "LessThanThreshold",
        1,
    )
    assert alarm["treatMissingData"] == "breaching"
    assert alarm["period"] == max(60, 2 * trigger.interval_seconds())


@pytest.mark.parametrize("spec", RESOLVER_WORKERS, ids=ids_of(RESOLVER_WORKERS))
def test_resolver_latency_alarm_uses_the_configured_objective(stack: Stack, spec: WorkerSpec) -> None:
    # Given the resolver's latency objective
    # When its latency alarm is declared
    alarm = stack.alarm(spec, "latency")

    # Then p95 duration is compared with it
    assert (alarm["extendedStatistic"], alarm["threshold"]) == (
        "p95",
        stack.worker(spec).alarms.latency_slo_ms,
    )


ALARM_SPOT_CHECKS = [
    ("prod1", "notification_send", "duration", 48_000),
    ("prod1", "notification_send", "concurrency", 80),
    ("prod1", "notification_send", "iterator-age", 1_800_000),
    ("prod1", "notification_generator", "duration", 720_000),
    ("prod1", "notification_generator", "concurrency", 16),
    ("prod1", "notification_scheduler", "duration", 240_000),
    ("prod1", "demand_stream_to_sqs", "concurrency", 800),
    ("prod1", "event_details", "latency", 500),
    ("qa1", "notification_send", "concurrency", 16),
    ("local", "notification_send", "iterator-age", 1_800_000),  # half the 3600 s record age
]


@pytest.mark.parametrize(
    ("stack_name", "worker", "suffix", "threshold"),
    ALARM_SPOT_CHECKS,
    ids=[f"{s}-{w}-{a}" for s, w, a, _ in ALARM_SPOT_CHECKS],
)
def test_alarm_threshold_spot_checks_against_the_stack_file(
    stack_name: str, worker: str, suffix: str, threshold: int
) -> None:
    # Given timeouts, reservations and record ages written in the stack file
    # When the stack is synthesized
    alarm = up_stack(stack_name).alarm(SPECS[worker], suffix)

    # Then the derived threshold is the number worked out by hand
    assert alarm["threshold"] == threshold


def test_scheduler_did_not_run_spot_check() -> None:
    # Given prod1's half-hourly schedule
    # When the stack is synthesized
    alarm = up_stack("prod1").alarm(SPECS["notification_scheduler"], "did-not-run")

    # Then the alarm looks at one-hour periods (two intervals)
    assert alarm["period"] == 3600


@pytest.mark.parametrize("stack_name", ["prod1", "qa1", "local"])
def test_any_released_notification_alarms_and_links_its_runbook(stack_name: str) -> None:
    # Given the sweeper's NotificationsReleased metric (a lost trigger or a dead send invocation)
    stack = up_stack(stack_name)

    # When its alarm is declared
    alarm = stack.alarm(SPECS["notification_sweeper"], "notifications-released")

    # Then any release in five minutes alarms, on the metric as the sweeper emits it
    assert {key: alarm[key] for key in ("metricName", "namespace", "statistic", "period", "threshold")} == {
        "metricName": "NotificationsReleased",
        "namespace": stack.config.observability.metrics_namespace,
        "statistic": "Sum",
        "period": 300,
        "threshold": 0,
    }
    assert alarm["dimensions"] == {"service": "notification_sweeper", "environment": stack.environment}
    assert alarm["treatMissingData"] == "notBreaching"
    assert alarm["alarmDescription"].endswith("docs/runbooks.md#notifications-released")


def _alarm_periods(alarm: dict[str, Any]) -> list[int]:
    if "metricQueries" in alarm:
        return [query["metric"]["period"] for query in alarm["metricQueries"] if "metric" in query]
    return [alarm["period"]]


def test_function_metric_alarms_use_the_configured_period(tmp_path: Path) -> None:
    # Given qa1 with alarms.periodSeconds 300 for a stream worker and a resolver
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    document_ = yaml.safe_load((PROJECT_ROOT / "Pulumi.qa1.yaml").read_text(encoding="utf-8"))
    workers = document_["config"]["dmd-workers:workers"]
    for name in ("notification_send", "event_details"):
        workers[name]["alarms"] = {**workers[name].get("alarms", {}), "periodSeconds": 300}
    (tmp_path / "Pulumi.qa1.yaml").write_text(yaml.safe_dump(document_), encoding="utf-8")

    # When the program runs with that stack file
    graph = synthesize_stack("qa1", project_root=tmp_path, program=PROJECT_ROOT / "__main__.py")

    # Then every alarm on the worker's own Lambda metrics aggregates over 300 s
    periods = {
        name: _alarm_periods(graph.named(name).inputs)
        for name in (
            *(f"notification_send-alarm-{s}" for s in ("error-rate", "throttles", "duration", "concurrency")),
            "notification_send-alarm-iterator-age",
            "event_details-alarm-latency",
        )
    }
    assert {name: found for name, found in periods.items() if set(found) != {300}} == {}


def test_every_alarm_links_an_existing_runbook_section(stack: Stack) -> None:
    # Given the runbook's section headings
    anchors = runbook_anchors()
    base = stack.config.observability.runbook_base_url
    assert base.endswith("docs/runbooks.md")
    assert len(anchors) >= 10

    # When every alarm's description is read
    alarms = stack.graph.of_type(ALARM)
    links = {alarm.name: alarm.inputs["alarmDescription"].rsplit(" Runbook: ", 1) for alarm in alarms}

    # Then each ends with a link to a section that exists
    assert len(alarms) > len(CATALOG)
    broken = {
        name: parts
        for name, parts in links.items()
        if len(parts) != 2 or not parts[1].startswith(f"{base}#") or parts[1].split("#", 1)[1] not in anchors
    }
    assert broken == {}


def test_every_alarm_notifies_the_stack_alarm_topic(stack: Stack) -> None:
    # Given the stack's alarm topic
    topic_arn = stack.arn("sns", f"{stack.prefix}-alarms")
    assert stack.graph.outputs["alarm_topic_arn"] == topic_arn

    # When every alarm is read
    alarms = stack.graph.of_type(ALARM)

    # Then each sends its alarm and its recovery to that topic, and nowhere else
    assert {alarm.name for alarm in alarms if alarm.inputs["alarmActions"] != [topic_arn]} == set()
    assert {alarm.name for alarm in alarms if alarm.inputs["okActions"] != [topic_arn]} == set()


def _watched_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Namespace, name, dimensions, statistic and period of each metric an alarm reads."""
    if "metricQueries" not in alarm:
        return [
            {key: alarm.get(key) for key in ("namespace", "metricName", "dimensions", "statistic", "period")}
        ]
    return [
        {
            "namespace": query["metric"]["namespace"],
            "metricName": query["metric"]["metricName"],
            "dimensions": query["metric"]["dimensions"],
            "statistic": query["metric"]["stat"],
            "period": query["metric"]["period"],
        }
        for query in alarm["metricQueries"]
        if "metric" in query
    ]


def test_alarms_on_worker_metrics_watch_the_stack_namespace_with_the_workers_dimensions(stack: Stack) -> None:
    # Given the catalog's alarms on the workers' own (EMF) metrics, e.g. SalesWithoutDemand
    namespace = stack.config.observability.metrics_namespace

    def expected(spec: WorkerSpec) -> dict[str, Any]:
        thresholds = stack.worker(spec).alarms.metric_thresholds
        return {
            alarm.suffix: {
                "threshold": thresholds.get(alarm.metric, 0),
                "metrics": [
                    {
                        "namespace": namespace,
                        "metricName": metric,
                        "dimensions": {"service": spec.name, "environment": stack.config.environment},
                        "statistic": "Sum",
                        "period": alarm.period_seconds,
                    }
                    for metric in alarm.watched_metrics
                ],
            }
            for alarm in spec.metric_alarms
        }

    # When they are declared
    declared = fleet(
        lambda spec: {
            alarm.suffix: {
                "threshold": stack.alarm(spec, alarm.suffix)["threshold"],
                "metrics": _watched_metrics(stack.alarm(spec, alarm.suffix)),
            }
            for alarm in spec.metric_alarms
        }
    )

    # Then each watches the metric as Powertools emits it: the stack's namespace, service and environment
    assert declared == fleet(expected)
    assert {"SalesWithoutDemand", "OrphanedDemand", "SmsFailed", "EmailFailed"} <= {
        metric["metricName"]
        for alarms in declared.values()
        for alarm in alarms.values()
        for metric in alarm["metrics"]
    }


@pytest.mark.parametrize("stack_name", ["prod1", "qa1", "local"])
def test_send_failures_alarm_sums_both_channels_and_links_notification_not_sent(stack_name: str) -> None:
    # Given the sender's SmsFailed and EmailFailed totals (notifications that ended FAILED)
    stack = up_stack(stack_name)

    # When the send-failures alarm is declared
    alarm = stack.alarm(SPECS["notification_send"], "send-failures")

    # Then it is named after the sender, sums both channels and links the runbook section
    assert alarm["name"] == f"{stack.prefix}-ntfcn-snd-send-failures"
    assert alarm["metricQueries"][-1]["expression"] == "FILL(smsfailed, 0) + FILL(emailfailed, 0)"
    assert alarm["treatMissingData"] == "notBreaching"
    assert alarm["alarmDescription"].endswith("docs/runbooks.md#notification-not-sent")


CLOUDWATCH_QUERY_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")


def test_metric_math_alarms_return_only_their_expression_under_valid_ids(stack: Stack) -> None:
    # Given every metric-math alarm of the stack
    alarms = [alarm for alarm in stack.graph.of_type(ALARM) if alarm.inputs.get("metricQueries")]
    assert alarms

    # When their queries are read
    def problems(queries: list[dict[str, Any]]) -> list[str]:
        found = [f"bad id {query['id']!r}" for query in queries if not CLOUDWATCH_QUERY_ID.match(query["id"])]
        returned = [query for query in queries if query.get("returnData")]
        if len(returned) != 1 or "expression" not in returned[0]:
            found.append(f"returns {[query['id'] for query in returned]}")
        ids = [query["id"] for query in queries]
        if len(set(ids)) != len(ids):
            found.append("duplicate ids")
        return found

    # Then CloudWatch would accept each: ids start lowercase, only the expression returns data
    assert {alarm.name: problems(alarm.inputs["metricQueries"]) for alarm in alarms} == {
        alarm.name: [] for alarm in alarms
    }
