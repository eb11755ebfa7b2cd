"""The status of a stack: each worker's row, the queues of given-up work, alarms and maintenance (moto)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ops.dead_letters import HeldQueueStatus
from ops.status import (
    FAILED_RECORDS_METRIC,
    AlarmInAlarm,
    MaintenanceState,
    StackStatus,
    WorkerStatus,
    collect_status,
)
from tests.infra.fleet import LOCAL_PREFIX, added_names, held_queues_of_added
from tests.ops.status_scenario import (
    ALARM_REASON,
    MAINTENANCE_STARTED,
    SEND_ALARM,
    SEND_FUNCTION,
    SEND_ON_FAILURE,
    SHORT_URL_QUEUE,
    Incident,
)
from workers.shared.observability import BATCH_RECORDS_FAILED


@pytest.fixture(scope="module")
def status(trouble: Incident) -> StackStatus:
    """The stack's status over the last hour."""
    return collect_status(trouble.target, start=trouble.now - timedelta(hours=1), end=trouble.now)


def _worker(status: StackStatus, name: str) -> WorkerStatus:
    return next(worker for worker in status.workers if worker.worker == name)


def test_the_failed_records_metric_is_the_one_the_workers_emit() -> None:
    assert FAILED_RECORDS_METRIC == BATCH_RECORDS_FAILED


def test_a_stream_worker_in_trouble_shows_its_counters_failed_records_and_iterator_age(
    status: StackStatus,
) -> None:
    # Given notification_send invoked 40 times with 2 errors, 1 throttle, 3 failed records, 125 s behind
    # When the status is read
    # Then its row has every number, and names its problems
    assert _worker(status, "notification_send") == WorkerStatus(
        worker="notification_send",
        function_name=SEND_FUNCTION,
        trigger="stream",
        invocations=40,
        errors=2,
        throttles=1,
        failed_records=3,
        iterator_age_max_seconds=125.0,
        source_queue=None,
        source_queue_depth=None,
        source_queue_oldest_age_seconds=None,
        alarms_in_alarm=1,
    )
    assert _worker(status, "notification_send").problems == [
        "2 errors",
        "1 throttles",
        "3 failed records",
        "1 alarms",
    ]


def test_a_queue_worker_shows_its_source_queue_depth_and_oldest_message(status: StackStatus) -> None:
    # Given three messages waiting for shorten_event_url, the oldest 90 s old
    row = _worker(status, "shorten_event_url")
    # Then its row shows the backlog, and no Lambda activity
    assert (row.source_queue, row.source_queue_depth, row.source_queue_oldest_age_seconds) == (
        SHORT_URL_QUEUE,
        3,
        90.0,
    )
    assert (row.invocations, row.errors, row.failed_records, row.iterator_age_max_seconds) == (0, 0, 0, None)
    assert row.problems == []


def test_workers_without_datapoints_count_zero_and_only_batch_workers_count_failed_records(
    status: StackStatus,
) -> None:
    # Given workers nobody invoked (moto records no Lambda metrics by itself)
    idle = {worker.worker: worker for worker in status.workers if worker.worker != "notification_send"}
    # Then their counters are 0, failed records exist only for stream and queue workers, ages are unknown
    assert {
        name: (row.invocations, row.errors, row.throttles) for name, row in idle.items()
    } == dict.fromkeys(idle, (0, 0, 0))
    failed_records = {name: row.failed_records for name, row in idle.items()}
    shipped = {
        "notification_scheduler": None,
        "notification_generator": 0,
        "demand_stream_to_sqs": 0,
        "shorten_event_url": 0,
        "sms_status_consumer": 0,
        "event_details": None,
        "proxy_tm_account_service": None,
        "notification_sweeper": None,
    }
    assert {name: failed_records[name] for name in shipped} == shipped
    assert failed_records == {
        **shipped,
        **dict.fromkeys(added_names("stream", "queue"), 0),
        **dict.fromkeys(added_names("schedule", "resolver")),
    }
    assert idle["sms_status_consumer"].iterator_age_max_seconds is None


def test_every_dlq_and_on_failure_queue_is_listed_with_depth_and_the_full_one_with_its_age(
    status: StackStatus,
) -> None:
    # Given two batches in notification_send's on-failure queue, the oldest 600 s old
    queues = {queue.queue: queue for queue in status.dead_letter_queues}
    # Then it shows them, and the six other queues (and those of any added worker) are there and empty
    assert queues[SEND_ON_FAILURE] == HeldQueueStatus(
        queue=SEND_ON_FAILURE,
        worker="notification_send",
        kind="on-failure",
        exists=True,
        depth=2,
        visible=2,
        in_flight=0,
        delayed=0,
        oldest_age_seconds=600.0,
    )
    assert len(queues) == 7 + len(held_queues_of_added())
    assert {name.removeprefix(LOCAL_PREFIX) for name in queues} >= {
        queue for queue, _, _ in held_queues_of_added()
    }
    assert {name: queue.depth for name, queue in queues.items() if name != SEND_ON_FAILURE} == {
        name: 0 for name in queues if name != SEND_ON_FAILURE
    }


def test_only_alarms_in_alarm_are_listed_with_their_worker_and_runbook_section(status: StackStatus) -> None:
    # Given the stack's 80-odd alarms, one of them in ALARM
    (alarm,) = status.alarms
    # Then that one is listed with the worker it watches and the runbook section to read
    assert alarm.model_dump(exclude={"since"}) == AlarmInAlarm(
        name=SEND_ALARM,
        worker="notification_send",
        since=None,
        reason=ALARM_REASON,
        runbook="high-error-rate",
    ).model_dump(exclude={"since"})
    assert alarm.since is not None


def test_the_active_maintenance_window_is_shown_with_who_why_and_since_when(status: StackStatus) -> None:
    assert status.maintenance == MaintenanceState(
        active=True,
        reason="sweeper paused for a data fix",
        started_by="arn:aws:sts::123456789012:assumed-role/oncall/jane",
        started_at=MAINTENANCE_STARTED,
        workers=("notification_sweeper",),
    )


def test_a_stack_with_problems_is_not_healthy(status: StackStatus) -> None:
    assert status.healthy is False


def test_a_screen_reads_cloudwatch_metrics_with_exactly_one_request(trouble: Incident) -> None:
    # Given a count of the GetMetricData requests the target's clients send
    calls: list[str] = []
    trouble.target.clients.client("cloudwatch").meta.events.register(
        "before-call.cloudwatch.GetMetricData", lambda **_: calls.append("GetMetricData")
    )
    # When the status is read twice
    for _ in range(2):
        collect_status(trouble.target, start=trouble.now - timedelta(hours=1), end=trouble.now)
    # Then each read made one request, for every worker's and queue's metrics at once
    assert calls == ["GetMetricData", "GetMetricData"]


def test_healthy_means_no_worker_problem_no_waiting_message_and_no_alarm(status: StackStatus) -> None:
    # Given the scenario's status with its problems taken away one by one
    calm_workers = tuple(
        worker.model_copy(update={"errors": 0, "throttles": 0, "failed_records": 0, "alarms_in_alarm": 0})
        for worker in status.workers
    )
    empty_queues = tuple(queue.model_copy(update={"depth": 0}) for queue in status.dead_letter_queues)
    calm = status.model_copy(
        update={"workers": calm_workers, "dead_letter_queues": empty_queues, "alarms": ()}
    )
    # Then only the status without any of them is healthy (a backlog or maintenance is not a problem)
    assert calm.healthy is True
    assert status.model_copy(update={"workers": calm_workers, "alarms": ()}).healthy is False
    assert status.model_copy(update={"dead_letter_queues": empty_queues, "alarms": ()}).healthy is False
    assert calm.model_copy(update={"alarms": status.alarms}).healthy is False
