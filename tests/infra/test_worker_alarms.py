"""Alarm thresholds follow each worker's own settings, including the edge cases."""

import pytest

from infra.alarms import AlarmSpec
from infra.catalog import catalog_by_name
from infra.platform import PlatformRefs
from infra.stack_files import load_committed
from infra.worker_alarms import WatchedNames, worker_alarm_specs

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
