"""Alarm thresholds follow each worker's own settings, including the edge cases."""

import importlib
import pkgutil
from collections.abc import Mapping, Sequence

import pytest

from infra.alarms import AlarmSpec, Metric
from infra.catalog import BATCH_RECORDS_FAILED_METRIC, CATALOG, catalog_by_name
from infra.platform import PlatformRefs
from infra.stack_files import load_committed
from infra.worker_alarms import MetricScope, WatchedNames, worker_alarm_specs
from workers.shared import observability

REFS = PlatformRefs(
    table_name="table",
    table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/table",
    index_names={"sales": "sales", "demand": "demand-by-sale"},
    streams={},
    queues={},
    secret_arns={},
    alarm_topic_arn="arn:aws:sns:us-east-1:123456789012:alarms",
    layer_arns={},
    graphql_api_id="api",
    email_template_names={},
    email_template_prefix="templates",
    email_identity_arn="arn:aws:ses:us-east-1:123456789012:identity/example.com",
)
QA1_METRICS = MetricScope(namespace="DmdWorkers", environment="qa1")
SCHEDULER_NAMES = WatchedNames(
    function_name="scheduler",
    log_group_name="/aws/lambda/scheduler",
    subscription_filter_name=None,
    on_failure_queue_name=None,
    schedule_rule_name="scheduler-schedule",
    schedule_dlq_name="scheduler-schedule-dlq",
    event_source_mapping_uuid=None,
)


def scheduler_alarms(**changes: object) -> dict[str, AlarmSpec]:
    config = load_committed("qa1").workers["notification_scheduler"]
    trigger_changes = changes.pop("trigger", {})
    assert isinstance(trigger_changes, dict)
    trigger = config.resolved_trigger
    settings = trigger.settings.model_copy(update=trigger_changes)
    config = config.model_copy(
        update={**changes, "resolved_trigger": trigger.model_copy(update={"settings": settings})}
    )
    spec = catalog_by_name()["notification_scheduler"]
    return {
        alarm.suffix: alarm
        for alarm in worker_alarm_specs(spec, config, SCHEDULER_NAMES, REFS, 1000, metrics=QA1_METRICS)
    }


@pytest.mark.parametrize(("reserved", "threshold"), [(1, 1), (2, 2), (5, 4), (20, 16), (-1, 800)])
def test_concurrency_alarm_fires_at_the_ceiling_share_even_for_tiny_reservations(
    reserved: int, threshold: int
) -> None:
    # Given a worker reserving `reserved` executions (-1: unreserved, account quota 1000)
    alarms = scheduler_alarms(reserved_concurrency=reserved)

    # When its concurrency alarm is derived
    alarm = alarms["concurrency"]

    # Then it fires at or above 80% of the ceiling, rounded up, so a reservation of 1 can fire
    assert alarm.threshold == threshold
    assert alarm.comparison == "GreaterThanOrEqualToThreshold"


def test_did_not_run_alarm_watches_two_schedule_intervals_with_missing_data_breaching() -> None:
    # Given the scheduler on its half-hourly schedule
    alarm = scheduler_alarms()["did-not-run"]

    # Then no invocation in an hour is an alarm, and no data at all counts as not running
    assert alarm.metric is not None
    assert alarm.metric.period == 3600
    assert alarm.treat_missing_data == "breaching"
    assert alarm.comparison == "LessThanThreshold"


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"trigger": {"enabled": False}}, id="rule-disabled"),
        pytest.param({"reserved_concurrency": 0}, id="concurrency-zero"),
        pytest.param({"trigger": {"schedule_expression": "cron(15 10 ? * MON *)"}}, id="weekly"),
    ],
)
def test_did_not_run_alarm_is_left_out_when_it_could_only_cry_wolf(changes: dict[str, object]) -> None:
    # Given a paused scheduler, or one slower than the one-day limit of a CloudWatch alarm
    alarms = scheduler_alarms(**changes)

    # Then there is no did-not-run alarm, while EventBridge failures and the DLQ are still watched
    assert "did-not-run" not in alarms
    assert {"schedule-failed-invocations", "schedule-dlq-not-empty"} <= set(alarms)


def test_daily_schedule_is_watched_over_one_day() -> None:
    # Given a daily schedule
    alarm = scheduler_alarms(trigger={"schedule_expression": "cron(0 12 * * ? *)"})["did-not-run"]

    # Then the window is the longest CloudWatch allows: one day
    assert alarm.metric is not None
    assert alarm.metric.period == 86_400


# ------------------------------------------------------------------ alarms on the workers' metrics


def scheduler_metric_alarms(**alarm_changes: object) -> dict[str, AlarmSpec]:
    config = load_committed("qa1").workers["notification_scheduler"]
    config = config.model_copy(update={"alarms": config.alarms.model_copy(update=alarm_changes)})
    spec = catalog_by_name()["notification_scheduler"]
    return {
        alarm.suffix: alarm
        for alarm in worker_alarm_specs(spec, config, SCHEDULER_NAMES, REFS, 1000, metrics=QA1_METRICS)
    }


def test_an_alarm_on_a_worker_metric_watches_it_with_the_dimensions_it_is_emitted_with() -> None:
    # Given the scheduler, which counts the opt-ins of sales Discovery stopped listing
    # When its alarms are derived for qa1
    alarm = scheduler_metric_alarms()["orphaned-demand"]

    # Then any orphaned opt-in in 5 minutes fires it, on the EMF metric's namespace and dimensions
    assert alarm.metric == Metric(
        namespace="DmdWorkers",
        name="OrphanedDemand",
        dimensions={"service": "notification_scheduler", "environment": "qa1"},
        period=300,
    )
    assert (alarm.threshold, alarm.comparison, alarm.evaluation_periods) == (0, "GreaterThanThreshold", 1)
    # And no data (nothing orphaned) is healthy, and the runbook says what to do
    assert (alarm.treat_missing_data, alarm.runbook) == ("notBreaching", "orphaned-demand")
    assert alarm.summary.startswith("notification_scheduler: opt-ins name a sale Discovery no longer lists")


def test_a_worker_metric_alarm_takes_its_threshold_from_the_stack_config() -> None:
    # Given a stack that tolerates a few orphaned opt-ins
    alarm = scheduler_metric_alarms(metric_thresholds={"OrphanedDemand": 25})["orphaned-demand"]

    # Then the alarm fires above that, and says so
    assert alarm.threshold == 25
    assert "(OrphanedDemand above 25 in 5 minutes)" in alarm.summary


def test_worker_metric_alarms_follow_the_workers_alarm_switch() -> None:
    # Given a worker whose alarms are disabled / Then none of its metric alarms is declared either
    assert scheduler_metric_alarms(enabled=False) == {}


def _declared_metric_names(package: str) -> set[str]:
    """The UPPER_CASE string constants of the fleet's observability module and of a worker's package."""
    modules = [observability]
    worker = importlib.import_module(f"workers.{package}")
    modules += [
        importlib.import_module(f"workers.{package}.{info.name}")
        for info in pkgutil.iter_modules(worker.__path__)
    ]
    return {
        value
        for module in modules
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str)
    }


def test_every_alarmed_worker_metric_is_one_the_workers_emit() -> None:
    # Given each worker's alarms on its own metrics
    # When the metric names the fleet's observability module and the worker's package declare are read
    undeclared = {
        spec.name: sorted(
            metric
            for alarm in spec.metric_alarms
            for metric in alarm.watched_metrics
            if metric not in _declared_metric_names(spec.name)
        )
        for spec in CATALOG
    }

    # Then each alarm watches a declared metric (a typo would watch nothing, forever)
    assert {name: metrics for name, metrics in undeclared.items() if metrics} == {}
    alarmed = {metric for spec in CATALOG for alarm in spec.metric_alarms for metric in alarm.watched_metrics}
    assert {"SalesWithoutDemand", "OrphanedDemand", "SmsFailed", "EmailFailed"} <= alarmed
    # And the error-rate alarm's record-failure metric is the one the batch helper emits
    assert BATCH_RECORDS_FAILED_METRIC == observability.BATCH_RECORDS_FAILED


# ------------------------------------------------------------------ reading an alarm's metric math

# Per emitted sample: Lambda's Errors and Invocations are one sample per invocation (1 or 0 for
# Errors), an EMF count is one sample per invocation that emitted it.
Samples = Mapping[str, Sequence[float]]


def reading(alarm: AlarmSpec, samples: Samples) -> float | None:
    """The value an alarm compares with its threshold for one period with these samples (None: no data)."""

    def statistic(metric: Metric) -> float | None:
        values = samples.get(metric.name, ())
        if not values:
            return None  # CloudWatch has no datapoint for the period
        return float(len(values)) if metric.statistic == "SampleCount" else float(sum(values))

    if alarm.metric is not None:
        return statistic(alarm.metric)
    assert alarm.expression is not None
    # The subset of metric math the fleet's alarms use, evaluated for one period.
    functions = {
        "IF": lambda condition, then, otherwise: then if condition else otherwise,
        "FILL": lambda value, default: default if value is None else value,
    }
    values = {query: statistic(metric) for query, metric in alarm.math_metrics.items()}
    if values.get("invocations") == 0:
        return 0.0  # IF's guard (Python's IF evaluates both branches; metric math does not divide)
    result = eval(alarm.expression, {"__builtins__": {}}, {**functions, **values})
    return None if result is None else float(result)


SEND_NAMES = WatchedNames(
    function_name="send",
    log_group_name="/aws/lambda/send",
    subscription_filter_name=None,
    on_failure_queue_name="send-on-failure",
    schedule_rule_name=None,
    schedule_dlq_name=None,
    event_source_mapping_uuid="mapping-uuid",
)
RESOLVER_NAMES = WatchedNames(
    function_name="details",
    log_group_name="/aws/lambda/details",
    subscription_filter_name=None,
    on_failure_queue_name=None,
    schedule_rule_name=None,
    schedule_dlq_name=None,
    event_source_mapping_uuid=None,
)


def worker_alarms(worker: str, names: WatchedNames, **alarm_changes: object) -> dict[str, AlarmSpec]:
    config = load_committed("qa1").workers[worker]
    config = config.model_copy(update={"alarms": config.alarms.model_copy(update=alarm_changes)})
    specs = worker_alarm_specs(catalog_by_name()[worker], config, names, REFS, 1000, metrics=QA1_METRICS)
    return {alarm.suffix: alarm for alarm in specs}


def test_a_stream_workers_error_rate_counts_invocations_whose_batch_had_failed_records() -> None:
    # Given the sender (a stream worker), whose batch helper never raises when records fail
    alarm = worker_alarms("notification_send", SEND_NAMES)["error-rate"]

    # When a period has 10 invocations: one timed out (Errors) and one reported 37 of its 100
    # records failed (BatchRecordsFailed, emitted once by that invocation)
    value = reading(
        alarm,
        {"Invocations": [1] * 10, "Errors": [1] + [0] * 9, "BatchRecordsFailed": [37]},
    )

    # Then the alarm reads 2 failed invocations of 10, a share of invocations (not 38 records / 10)
    assert value == pytest.approx(20.0)
    assert alarm.threshold == load_committed("qa1").workers["notification_send"].alarms.error_rate_percent
    failed = alarm.math_metrics["failedbatches"]
    assert (failed.namespace, failed.name, failed.statistic) == (
        "DmdWorkers",
        "BatchRecordsFailed",
        "SampleCount",
    )
    assert failed.dimensions == {"service": "notification_send", "environment": "qa1"}
    assert "failed records" in alarm.summary


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        pytest.param({"Invocations": [1] * 4, "Errors": [0] * 4}, 0.0, id="no-failed-records-no-datapoint"),
        pytest.param(
            {"Invocations": [1] * 4, "Errors": [0] * 4, "BatchRecordsFailed": [100] * 4},
            100.0,
            id="every-record-of-every-batch-failed",
        ),
        pytest.param({"Invocations": [0], "Errors": [0]}, 0.0, id="no-invocations"),
    ],
)
def test_a_stream_workers_error_rate_stays_a_percentage(samples: Samples, expected: float) -> None:
    # Given the sender's error-rate alarm
    alarm = worker_alarms("notification_send", SEND_NAMES)["error-rate"]

    # When a period without failed records, with every record failed, or without invocations is read
    # Then the value is 0 to 100: no record-failure datapoint is healthy, not missing data
    assert reading(alarm, samples) == expected


def test_a_resolvers_error_rate_is_lambda_errors_over_invocations() -> None:
    # Given a resolver (no batch, its failures are Lambda errors or counted apart: ResolverFailures)
    alarm = worker_alarms("event_details", RESOLVER_NAMES)["error-rate"]

    # Then its error rate reads Errors and Invocations only
    assert set(alarm.math_metrics) == {"errors", "invocations"}
    assert reading(alarm, {"Invocations": [1] * 4, "Errors": [1, 0, 0, 0]}) == pytest.approx(25.0)


def test_send_failures_alarm_sums_both_channels_as_emitted_without_their_reason() -> None:
    # Given the sender's alarms in qa1
    alarm = worker_alarms("notification_send", SEND_NAMES)["send-failures"]

    # Then it reads SmsFailed and EmailFailed with exactly the service/environment dimensions
    assert {
        query: (metric.name, dict(metric.dimensions), metric.statistic, metric.period)
        for query, metric in alarm.math_metrics.items()
    } == {
        query: (name, {"service": "notification_send", "environment": "qa1"}, "Sum", 300)
        for query, name in (("smsfailed", "SmsFailed"), ("emailfailed", "EmailFailed"))
    }
    # And any failed notification in 5 minutes fires it, on either channel; none is healthy
    assert reading(alarm, {"SmsFailed": [1]}) == 1
    assert reading(alarm, {"EmailFailed": [1, 1]}) == 2
    assert not reading(alarm, {})  # 0 or no data at all: not breaching
    assert (alarm.threshold, alarm.treat_missing_data, alarm.runbook) == (
        0,
        "notBreaching",
        "notification-not-sent",
    )
    assert "(SmsFailed + EmailFailed above 0 in 5 minutes)" in alarm.summary


def test_send_failures_threshold_is_the_stack_configs_send_failures_key() -> None:
    # Given a stack that tolerates a few failed notifications per 5 minutes
    alarm = worker_alarms("notification_send", SEND_NAMES, metric_thresholds={"SendFailures": 20})[
        "send-failures"
    ]

    # Then the alarm fires above that, and says so
    assert alarm.threshold == 20
    assert "above 20 in 5 minutes" in alarm.summary
