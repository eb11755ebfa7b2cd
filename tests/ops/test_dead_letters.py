"""Dead-letter queues: depth, the queues they serve, and moving their messages back (against moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from moto import mock_aws

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from ops.dead_letters import (
    HeldQueue,
    HeldQueueStatus,
    QueueDepth,
    RedriveError,
    depth,
    held_queue_statuses,
    held_queues,
    queue_depth,
    queue_url,
    redrive,
    source_queues,
)
from ops.target import fleet_of
from tests.infra.fleet import LOCAL_PREFIX, held_queues_of_added

REGION = "us-east-1"


@pytest.fixture
def clients() -> Iterator[AwsClients]:
    """Clients reaching a fresh in-process moto."""
    with mock_aws():
        yield AwsClients.for_emulator(None, region=REGION)


@pytest.fixture
def move_tasks(clients: AwsClients) -> list[dict[str, Any]]:
    """SQS's StartMessageMoveTask (which moto lacks) answered at the client: records each task asked for."""
    started: list[dict[str, Any]] = []

    def start(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, str]]:
        started.append(json.loads(params["body"]))
        return AWSResponse(params["url"], 200, HTTPHeaders(), None), {"TaskHandle": f"task-{len(started)}"}

    clients.client("sqs").meta.events.register("before-call.sqs.StartMessageMoveTask", start)
    return started


def _queue(clients: AwsClients, name: str, *, dead_letters_to: str | None = None) -> str:
    """Create a queue (redriving to `dead_letters_to` after one receive); return its URL."""
    sqs = clients.client("sqs")
    attributes = {}
    if dead_letters_to is not None:
        dlq = sqs.get_queue_url(QueueName=dead_letters_to)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})
    return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def _bodies(clients: AwsClients, url: str) -> list[tuple[str, dict[str, str]]]:
    """Every message of a queue as (body, string attributes), received once."""
    messages = clients.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return sorted(
        (
            message["Body"],
            {key: value["StringValue"] for key, value in message.get("MessageAttributes", {}).items()},
        )
        for message in messages.get("Messages", [])
    )


def test_queue_url_of_a_missing_queue_names_it_and_the_region(clients: AwsClients) -> None:
    # Given no queue called jobs-dlq
    # When its URL is asked for
    # Then the error names the queue and the region
    with pytest.raises(RedriveError, match=r"no queue named 'jobs-dlq' in us-east-1"):
        queue_url(clients, "jobs-dlq")


def test_depth_counts_visible_and_in_flight_messages(clients: AwsClients) -> None:
    # Given a queue with three messages, one of them received (in flight)
    url = _queue(clients, "jobs-dlq")
    sqs = clients.client("sqs")
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=300)

    # When its depth is read
    # Then every message counts, wherever it is
    assert depth(clients, "jobs-dlq") == 3


def test_source_queues_are_the_queues_that_dead_letter_into_it(clients: AwsClients) -> None:
    # Given a DLQ serving one queue, and an unrelated queue
    _queue(clients, "jobs-dlq")
    jobs = _queue(clients, "jobs", dead_letters_to="jobs-dlq")
    _queue(clients, "other")

    # When its sources are listed
    # Then only the queue whose redrive policy names it is there
    assert source_queues(clients, "jobs-dlq") == [jobs]


def test_a_manual_redrive_moves_every_message_with_its_attributes_back(clients: AwsClients) -> None:
    # Given a DLQ holding three messages (one with attributes) that came from one queue
    dlq = _queue(clients, "jobs-dlq")
    jobs = _queue(clients, "jobs", dead_letters_to="jobs-dlq")
    sqs = clients.client("sqs")
    sqs.send_message(
        QueueUrl=dlq,
        MessageBody="first",
        MessageAttributes={"attempt": {"DataType": "String", "StringValue": "3"}},
    )
    for body in ("second", "third"):
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    progress: list[int] = []

    # When it is redriven by hand (the emulator's way)
    result = redrive(clients, "jobs-dlq", native=False, on_moved=progress.append)

    # Then every message is back on its source queue as it was, the DLQ is empty, and progress was told
    assert (result.queue, result.sources, result.moved) == ("jobs-dlq", (jobs,), 3)
    assert result.method == "moved by hand (the endpoint lacks StartMessageMoveTask)"
    assert progress == [1, 2, 3]
    assert depth(clients, "jobs-dlq") == 0
    assert _bodies(clients, jobs) == [("first", {"attempt": "3"}), ("second", {}), ("third", {})]


def test_a_native_redrive_starts_the_sqs_move_task_from_the_dlq(
    clients: AwsClients, move_tasks: list[dict[str, Any]]
) -> None:
    # Given a DLQ holding two messages that came from one queue
    dlq = _queue(clients, "jobs-dlq")
    jobs = _queue(clients, "jobs", dead_letters_to="jobs-dlq")
    for body in ("first", "second"):
        clients.client("sqs").send_message(QueueUrl=dlq, MessageBody=body)
    dlq_arn = clients.client("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]

    # When it is redriven the AWS way
    result = redrive(clients, "jobs-dlq")

    # Then SQS is asked to move the DLQ's messages back to their source, and the report counts what
    # waited when the (asynchronous) task started
    assert move_tasks == [{"SourceArn": dlq_arn}]
    assert (result.sources, result.moved, result.method) == ((jobs,), 2, "StartMessageMoveTask task-1")
    assert depth(clients, "jobs-dlq") == 2


def test_an_empty_dlq_redrives_nothing(clients: AwsClients) -> None:
    # Given an empty DLQ with its source queue
    _queue(clients, "jobs-dlq")
    _queue(clients, "jobs", dead_letters_to="jobs-dlq")

    # When it is redriven
    # Then nothing moved
    assert redrive(clients, "jobs-dlq", native=False).moved == 0


def test_a_queue_that_is_no_dlq_is_refused(clients: AwsClients) -> None:
    # Given a queue no other queue dead-letters into
    _queue(clients, "jobs")

    # When it is redriven
    # Then the refusal says there is nowhere to move its messages
    with pytest.raises(RedriveError, match="jobs is not the dead-letter queue of any queue"):
        redrive(clients, "jobs", native=False)


def test_a_manual_redrive_of_a_dlq_shared_by_two_queues_is_refused(clients: AwsClients) -> None:
    # Given one DLQ behind two queues, holding a message
    dlq = _queue(clients, "shared-dlq")
    _queue(clients, "jobs", dead_letters_to="shared-dlq")
    _queue(clients, "more-jobs", dead_letters_to="shared-dlq")
    clients.client("sqs").send_message(QueueUrl=dlq, MessageBody="whose?")

    # When it is redriven by hand
    # Then it is refused (a message does not say which queue it came from) and the message stays
    with pytest.raises(RedriveError, match="shared-dlq is the DLQ of 2 queues"):
        redrive(clients, "shared-dlq", native=False)
    assert depth(clients, "shared-dlq") == 1


def test_held_queues_name_each_dlq_and_on_failure_queue_with_its_worker_and_kind(
    local_graph: ResourceGraph,
) -> None:
    # Given the local stack's fleet
    # When its queues of given-up work are listed
    held = held_queues(fleet_of(local_graph))

    # Then each has the worker it belongs to and its kind
    shipped = [
        ("dmnd-stream-to-sqs-on-failure", "demand_stream_to_sqs", "on-failure"),
        ("event-short-url-dlq", "shorten_event_url", "dlq"),
        ("generation-jobs-dlq", "notification_generator", "dlq"),
        ("ntfcn-schdlr-schedule-dlq", "notification_scheduler", "schedule-dlq"),
        ("ntfcn-snd-on-failure", "notification_send", "on-failure"),
        ("ntfcn-swpr-schedule-dlq", "notification_sweeper", "schedule-dlq"),
        ("sms-status-on-failure", "sms_status_consumer", "on-failure"),
    ]
    # (and a worker added after the shipped ones: its on-failure queue or schedule DLQ, in name order)
    assert [(queue.name.removeprefix(LOCAL_PREFIX), queue.worker, queue.kind) for queue in held] == sorted(
        shipped + held_queues_of_added()
    )


def test_queue_depth_counts_visible_in_flight_and_delayed(clients: AwsClients) -> None:
    # Given a queue with one message received (in flight), one visible and one delayed
    url = _queue(clients, "jobs-dlq")
    sqs = clients.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody="taken")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=300)
    sqs.send_message(QueueUrl=url, MessageBody="waiting")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)

    # When its depth is read
    counts = queue_depth(clients, "jobs-dlq")

    # Then each count is there and the total is all three; a queue that does not exist reads as None
    assert counts == QueueDepth(visible=1, in_flight=1, delayed=1)
    assert counts.total == 3
    assert queue_depth(clients, "nope-dlq") is None


def test_held_queue_statuses_read_every_age_in_one_request(clients: AwsClients) -> None:
    # Given two DLQs, one holding two messages whose oldest CloudWatch reports 600 s old, one empty
    # that CloudWatch still remembers as old, and a third that does not exist
    full = _queue(clients, "jobs-dlq")
    _queue(clients, "empty-dlq")
    for body in ("first", "second"):
        clients.client("sqs").send_message(QueueUrl=full, MessageBody=body)
    now = datetime.now(UTC)
    clients.client("cloudwatch").put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": name}],
                "Value": age,
                "Timestamp": now - timedelta(minutes=2),
            }
            for name, age in (("jobs-dlq", 600.0), ("empty-dlq", 900.0))
        ],
    )
    requests: list[str] = []
    clients.client("cloudwatch").meta.events.register(
        "before-call.cloudwatch.GetMetricData", lambda **_: requests.append("GetMetricData")
    )
    queues = [
        HeldQueue("jobs-dlq", "shorten_event_url", "dlq"),
        HeldQueue("empty-dlq", "notification_generator", "dlq"),
        HeldQueue("gone-on-failure", "notification_send", "on-failure"),
    ]

    # When their statuses are read
    statuses = held_queue_statuses(clients, queues, now=now)

    # Then the full one has its depth and age, the empty one no age, the missing one no numbers
    assert statuses == [
        HeldQueueStatus(
            queue="jobs-dlq",
            worker="shorten_event_url",
            kind="dlq",
            exists=True,
            depth=2,
            visible=2,
            in_flight=0,
            delayed=0,
            oldest_age_seconds=600.0,
        ),
        HeldQueueStatus(
            queue="empty-dlq",
            worker="notification_generator",
            kind="dlq",
            exists=True,
            depth=0,
            visible=0,
            in_flight=0,
            delayed=0,
            oldest_age_seconds=None,
        ),
        HeldQueueStatus(
            queue="gone-on-failure",
            worker="notification_send",
            kind="on-failure",
            exists=False,
            depth=None,
            visible=None,
            in_flight=None,
            delayed=None,
            oldest_age_seconds=None,
        ),
    ]
    # And all three ages came from one CloudWatch request
    assert requests == ["GetMetricData"]
