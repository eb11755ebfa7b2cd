"""Dead-letter queues: how deep they are, and moving their messages back to the queues they came from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from aws_clients import AwsClients

_RECEIVE_LIMIT: Final = 10
_MOVE_VISIBILITY_SECONDS: Final = 60


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
        QueueUrl=queue_url(clients, name),
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


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
