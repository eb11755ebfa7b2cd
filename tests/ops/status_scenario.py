"""An incident on the local stack materialized into moto, as `dmd status` tests read it.

notification_send failed records and fell behind, its error-rate alarm fired and its on-failure
queue holds two batches; shorten_event_url has a backlog; a maintenance window paused the sweeper.
Everything else is idle (no datapoints).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from moto import mock_aws

from aws_clients import AwsClients
from infra.stack_files import load_committed
from ops.operations_records import MAINTENANCE, MaintenanceRecord, create_record
from ops.target import Target
from sandbox.materialize import materialize
from tests.infra.graphs import stack_graph

REGION = "us-east-1"
PREFIX = "prd3292-local-us-east-1-"
SEND_FUNCTION = f"{PREFIX}ntfcn-snd"
SEND_ALARM = f"{SEND_FUNCTION}-error-rate"
SHORT_URL_QUEUE = f"{PREFIX}event-short-url"
SEND_ON_FAILURE = f"{PREFIX}ntfcn-snd-on-failure"
MAINTENANCE_STARTED = datetime(2026, 12, 1, 8, 15, tzinfo=UTC)
ALARM_REASON = (
    "Threshold Crossed: 1 datapoint [12.5 (01/12/26 08:20:00)] was greater than the threshold (5.0)."
)


@dataclass(frozen=True)
class Incident:
    """The stack in trouble, and when the numbers were put."""

    target: Target
    now: datetime


def _put(
    clients: AwsClients, namespace: str, metric: str, dimensions: dict[str, str], *points: float
) -> None:
    now = datetime.now(UTC)
    clients.client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions.items()],
                "Value": value,
                "Timestamp": now - timedelta(minutes=5 + 10 * index),
            }
            for index, value in enumerate(points)
        ],
    )


def _send(clients: AwsClients, queue: str, count: int) -> None:
    sqs = clients.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    for index in range(count):
        sqs.send_message(QueueUrl=url, MessageBody=f'{{"message": {index}}}')


def stage_incident(target: Target) -> None:
    """The scenario's numbers, messages, alarm state and maintenance record, into the target's account."""
    clients = target.clients
    function = {"FunctionName": SEND_FUNCTION}
    _put(clients, "AWS/Lambda", "Invocations", function, 30, 10)
    _put(clients, "AWS/Lambda", "Errors", function, 2)
    _put(clients, "AWS/Lambda", "Throttles", function, 1)
    _put(clients, "AWS/Lambda", "IteratorAge", function, 5_000, 125_000)
    _put(
        clients,
        "DmdWorkers",
        "BatchRecordsFailed",
        {"service": "notification_send", "environment": "local"},
        3,
    )
    _put(clients, "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": SHORT_URL_QUEUE}, 90)
    _put(clients, "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": SEND_ON_FAILURE}, 600)
    _send(clients, SHORT_URL_QUEUE, 3)
    _send(clients, SEND_ON_FAILURE, 2)
    clients.client("cloudwatch").set_alarm_state(
        AlarmName=SEND_ALARM, StateValue="ALARM", StateReason=ALARM_REASON
    )
    create_record(
        target,
        MAINTENANCE,
        MaintenanceRecord(
            stack="local",
            reason="sweeper paused for a data fix",
            started_by="arn:aws:sts::123456789012:assumed-role/oncall/jane",
            started_at=MAINTENANCE_STARTED,
            workers=("notification_sweeper",),
        ),
    )


@contextmanager
def incident() -> Iterator[Incident]:
    """The local stack materialized into a fresh in-process moto, in the scenario's trouble."""
    with mock_aws():
        clients = AwsClients.for_emulator(None, region=REGION)
        graph = stack_graph("local")
        # Unregistered: moto would run the mappings itself (through Docker) on every queued message.
        materialize(graph, clients, register_event_source_mappings=False)
        target = Target(stack="local", config=load_committed("local"), clients=clients)
        target.__dict__["graph"] = graph  # the cached_property, filled: no second synth
        stage_incident(target)
        yield Incident(target=target, now=datetime.now(UTC))
