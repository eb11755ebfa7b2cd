"""Dead-letter queues: which worker each serves, how deep and old they are, and moving their messages back.

The fleet's queues of given-up work are of three kinds: a queue worker's source-queue DLQ (`dlq`),
a stream worker's on-failure destination (`on-failure`: batch descriptions, not the records), and
the DLQ of a schedule rule's target (`schedule-dlq`: scheduled events Lambda could not be invoked with).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from aws_clients import AwsClients
from ops.metric_data import MetricQuery, MetricSeries, read_metrics
from ops.operator_io import JsonModel
from ops.target import Fleet

_RECEIVE_LIMIT: Final = 10
_MOVE_VISIBILITY_SECONDS: Final = 60
_DEPTH_ATTRIBUTES: Final = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
# SQS publishes its queue metrics every minute (every five for a queue idle for a while): the most
# recent oldest-age datapoint of the last quarter hour is the current one.
AGE_LOOKBACK: Final = timedelta(minutes=15)

HeldKind = Literal["dlq", "on-failure", "schedule-dlq"]


class RedriveError(Exception):
    """The queue cannot be redriven as asked; the message says why."""


@dataclass(frozen=True)
class Redrive:
    """What a redrive did: the DLQ, where its messages went, how many, and how."""

    queue: str
    sources: tuple[str, ...]
    moved: int
    method: str  # "StartMessageMoveTask <task handle>" or "moved by hand"


def queue_url(clients: AwsClients, name: str) -> str:
    """A queue's URL by name; RedriveError when it does not exist."""
    sqs = clients.client("sqs")
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        raise RedriveError(f"no queue named {name!r} in {clients.region}") from None


def depth(clients: AwsClients, name: str) -> int:
    """Messages in a queue: visible, in flight and delayed."""
    attributes = clients.client("sqs").get_queue_attributes(
        QueueUrl=queue_url(clients, name), AttributeNames=list(_DEPTH_ATTRIBUTES)
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


class QueueDepth(JsonModel):
    """A queue's approximate message counts (GetQueueAttributes)."""

    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        """Visible + in flight + delayed: every message the queue holds."""
        return self.visible + self.in_flight + self.delayed


def queue_depth(clients: AwsClients, name: str) -> QueueDepth | None:
    """The queue's message counts; None when there is no queue of that name."""
    sqs = clients.client("sqs")
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return None
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(_DEPTH_ATTRIBUTES))["Attributes"]
    visible, in_flight, delayed = (int(attributes.get(key, 0)) for key in _DEPTH_ATTRIBUTES)
    return QueueDepth(visible=visible, in_flight=in_flight, delayed=delayed)


def oldest_age_query(query_id: str, queue: str) -> MetricQuery:
    """CloudWatch's age of the queue's oldest message (AWS/SQS ApproximateAgeOfOldestMessage, seconds)."""
    return MetricQuery(
        id=query_id,
        namespace="AWS/SQS",
        metric="ApproximateAgeOfOldestMessage",
        dimensions={"QueueName": queue},
        statistic="Maximum",
    )


@dataclass(frozen=True)
class HeldQueue:
    """A queue of given-up work, the worker it belongs to and its kind."""

    name: str
    worker: str | None
    kind: HeldKind


def held_queues(fleet: Fleet) -> list[HeldQueue]:
    """Every DLQ and on-failure queue of the fleet (`Fleet.dead_letter_queues`), with its worker and kind."""
    return [HeldQueue(name, *_owner(fleet, name)) for name in fleet.dead_letter_queues]


def _owner(fleet: Fleet, queue: str) -> tuple[str | None, HeldKind]:
    for worker in fleet.workers.values():
        if worker.on_failure_queue == queue:
            return worker.name, "on-failure"
        if worker.dead_letter_queue == queue:
            return worker.name, "schedule-dlq" if worker.trigger == "schedule" else "dlq"
    return None, "dlq" if queue.endswith("-dlq") else "on-failure"


class HeldQueueStatus(JsonModel):
    """A DLQ or on-failure queue now: its worker and kind, its messages and the age of the oldest."""

    queue: str
    worker: str | None
    kind: HeldKind
    exists: bool
    depth: int | None  # visible + in flight + delayed; None when the queue does not exist
    visible: int | None
    in_flight: int | None
    delayed: int | None
    oldest_age_seconds: float | None  # None: empty, or CloudWatch has no datapoint (an emulator)

    @property
    def holds_messages(self) -> bool:
        """Something was given up and waits here."""
        return bool(self.depth)


def held_queue_status(queue: HeldQueue, depth: QueueDepth | None, age: MetricSeries) -> HeldQueueStatus:
    """A held queue's status from its counts and its oldest-age datapoints (ignored when it is empty)."""
    held = depth.total if depth is not None else None
    return HeldQueueStatus(
        queue=queue.name,
        worker=queue.worker,
        kind=queue.kind,
        exists=depth is not None,
        depth=held,
        visible=None if depth is None else depth.visible,
        in_flight=None if depth is None else depth.in_flight,
        delayed=None if depth is None else depth.delayed,
        oldest_age_seconds=age.latest if held else None,
    )


def held_queue_statuses(
    clients: AwsClients,
    queues: Sequence[HeldQueue],
    *,
    now: datetime | None = None,
    on_queue: Callable[[HeldQueue], None] | None = None,
) -> list[HeldQueueStatus]:
    """Every held queue's counts (SQS) and oldest age (one CloudWatch GetMetricData request for all)."""
    end = now or datetime.now(UTC)
    depths = {}
    for queue in queues:
        depths[queue.name] = queue_depth(clients, queue.name)
        if on_queue is not None:
            on_queue(queue)
    ages = read_metrics(
        clients,
        [oldest_age_query(f"q{index}", queue.name) for index, queue in enumerate(queues)],
        start=end - AGE_LOOKBACK,
        end=end,
    )
    return [
        held_queue_status(queue, depths[queue.name], ages[f"q{index}"]) for index, queue in enumerate(queues)
    ]


def source_queues(clients: AwsClients, name: str) -> list[str]:
    """The queues whose redrive policy names this queue as their DLQ (their URLs)."""
    answer = clients.client("sqs").list_dead_letter_source_queues(QueueUrl=queue_url(clients, name))
    return [str(url) for url in answer.get("queueUrls", [])]


def redrive(
    clients: AwsClients,
    name: str,
    *,
    native: bool = True,
    on_moved: Callable[[int], None] | None = None,
) -> Redrive:
    """Move a DLQ's messages back to its source queue.

    `native`: SQS's own StartMessageMoveTask (AWS; runs asynchronously, `moved` is the depth when it
    started). Otherwise, for emulators that lack it (moto), each message is received, sent to the
    source queue with its body and attributes, then deleted: at-least-once, like the native task.
    """
    sources = source_queues(clients, name)
    if not sources:
        raise RedriveError(f"{name} is not the dead-letter queue of any queue: nothing to redrive to")
    sqs = clients.client("sqs")
    url = queue_url(clients, name)
    waiting = depth(clients, name)
    if native:
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        task = sqs.start_message_move_task(SourceArn=arn)
        return Redrive(name, tuple(sources), waiting, f"StartMessageMoveTask {task['TaskHandle']}")
    if len(sources) > 1:
        raise RedriveError(
            f"{name} is the DLQ of {len(sources)} queues: a manual move cannot tell them apart"
        )
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=_RECEIVE_LIMIT,
            VisibilityTimeout=_MOVE_VISIBILITY_SECONDS,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return Redrive(
                name, tuple(sources), moved, "moved by hand (the endpoint lacks StartMessageMoveTask)"
            )
        for message in messages:
            request: dict[str, Any] = {"QueueUrl": sources[0], "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                request["MessageAttributes"] = message["MessageAttributes"]
            sqs.send_message(**request)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
            if on_moved is not None:
                on_moved(moved)
