"""Alarm thresholds follow each worker's own settings, including the edge cases."""

import importlib
import pkgutil

import pytest

from infra.alarms import AlarmSpec, Metric
from infra.catalog import CATALOG, catalog_by_name
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
    return {alarm.suffix: alarm for alarm in worker_alarm_specs(spec, config, SCHEDULER_NAMES, REFS, 1000)}


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

QA1_METRICS = MetricScope(namespace="DmdWorkers", environment="qa1")


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
            alarm.metric
            for alarm in spec.metric_alarms
            if alarm.metric not in _declared_metric_names(spec.name)
        )
        for spec in CATALOG
    }

    # Then each alarm watches a declared metric (a typo would watch nothing, forever)
    assert {name: metrics for name, metrics in undeclared.items() if metrics} == {}
    alarmed = {alarm.metric for spec in CATALOG for alarm in spec.metric_alarms}
    assert {"SalesWithoutDemand", "OrphanedDemand"} <= alarmed
