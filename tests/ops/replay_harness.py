"""What the replay tests share: the local stack's streams and on-failure queues in moto, records, an invoker.

Only the resources a replay reads are created (the table stream, the SMS status stream, the stream
workers' on-failure queues, by the program's names): materializing the whole stack takes seconds.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_clients import AwsClients
from infra.stack_files import load_committed
from infra.synth import ResourceGraph
from ops.target import Fleet, Target
from sandbox.pollers.batch import BatchResult

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/prd3292-local-us-east-1-ntfcn-snd"
SEND = "notification_send"
SEND_FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:prd3292-local-us-east-1-ntfcn-snd:live"


def local_target(clients: AwsClients, graph: ResourceGraph, *, endpoint_url: str | None = None) -> Target:
    """The local stack reached through `clients`, its graph given (not synthesized again)."""
    target = Target(stack="local", config=load_committed("local"), clients=clients, endpoint_url=endpoint_url)
    target.graph = graph  # type: ignore[misc]  # the cached property's value, set ahead
    return target


def create_stream_resources(clients: AwsClients, fleet: Fleet, *, table_shards: int = 1) -> None:
    """The fleet's Kinesis streams and its stream workers' on-failure queues, empty."""
    kinesis = clients.client("kinesis")
    for stream in fleet.streams:
        shards = table_shards if "table" in stream else 1
        kinesis.create_stream(StreamName=stream, ShardCount=shards)
    sqs = clients.client("sqs")
    for worker in fleet.workers.values():
        if worker.on_failure_queue:
            sqs.create_queue(QueueName=worker.on_failure_queue)


def table_stream(fleet: Fleet) -> str:
    """The demand table's stream (the send worker's source)."""
    return str(fleet.worker(SEND).event_source_arn).rsplit("/", 1)[-1]


def notification_change(
    status: str,
    *,
    fan: str = "fan-1",
    claimed: bool = False,
    event: str = "INSERT",
    kind: str = "notification",
) -> dict[str, Any]:
    """A notification's change as the table's Kinesis destination writes it (DynamoDB-typed JSON)."""
    image: dict[str, Any] = {
        "PK": {"S": f"fan:{fan}"},
        "SK": {"S": f"notification#{status}"},
        "type": {"S": kind},
        "status": {"M": {"id": {"S": status}}},
    }
    if claimed:
        image["claimId"] = {"S": "claim-1"}
    return {"eventName": event, "dynamodb": {"Keys": {"PK": image["PK"]}, "NewImage": image}}


def put_changes(clients: AwsClients, stream: str, changes: Sequence[dict[str, Any]]) -> list[str]:
    """Put each change on the stream (partition key: its PK); their sequence numbers, in order."""
    kinesis = clients.client("kinesis")
    return [
        str(
            kinesis.put_record(
                StreamName=stream,
                Data=json.dumps(change).encode(),
                PartitionKey=change["dynamodb"]["Keys"]["PK"]["S"],
            )["SequenceNumber"]
        )
        for change in changes
    ]


def shard_of(clients: AwsClients, stream: str) -> str:
    """The stream's first shard."""
    return str(clients.client("kinesis").list_shards(StreamName=stream)["Shards"][0]["ShardId"])


def on_failure_record(
    stream_arn: str, shard_id: str, first: str, last: str, *, batch_size: int = 1
) -> dict[str, Any]:
    """Lambda's on-failure record of a discarded Kinesis batch (the sandbox's own shape)."""
    return {
        "requestContext": {
            "requestId": "c3b1f7a2-5d3e-4a8b-9f0e-1d2c3b4a5f60",
            "functionArn": SEND_FUNCTION_ARN,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 4,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "3", "functionError": None},
        "version": "1.0",
        "timestamp": "2026-12-01T08:00:00.000Z",
        "KinesisBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first,
            "endSequenceNumber": last,
            "approximateArrivalOfFirstRecord": "2026-12-01T07:59:00.000Z",
            "approximateArrivalOfLastRecord": "2026-12-01T07:59:01.000Z",
            "batchSize": batch_size,
            "streamArn": stream_arn,
        },
    }


def send_to_queue(clients: AwsClients, queue: str, body: str | dict[str, Any]) -> None:
    """One message on a queue (a dict is sent as its JSON)."""
    sqs = clients.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=body if isinstance(body, str) else json.dumps(body))


def visible_messages(clients: AwsClients, queue: str) -> int:
    """Messages a consumer could receive now (not held invisible)."""
    sqs = clients.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def all_messages(clients: AwsClients, queue: str) -> int:
    """Messages on a queue, visible or not."""
    sqs = clients.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


@dataclass
class FakeInvoker:
    """Records each event; answers with `answer(identifiers)` (default: every record succeeded)."""

    answer: Callable[[Sequence[str]], BatchResult] = lambda identifiers: BatchResult((), whole_batch=False)
    events: list[dict[str, Any]] = field(default_factory=list)
    role_arn: str = ROLE_ARN

    def invoke(self, event: dict[str, Any], identifiers: Sequence[str]) -> BatchResult:
        """Record the event and answer."""
        self.events.append(event)
        return self.answer(identifiers)

    def decoded(self) -> list[list[dict[str, Any]]]:
        """Each invocation's records, their data decoded."""
        return [
            [json.loads(base64.b64decode(record["kinesis"]["data"])) for record in event["Records"]]
            for event in self.events
        ]


def failing_items(*sequence_numbers: str) -> Callable[[Sequence[str]], BatchResult]:
    """An answer reporting these records of the batch as failed (batchItemFailures)."""
    return lambda identifiers: BatchResult(
        tuple(item for item in identifiers if item in sequence_numbers), whole_batch=False
    )


def function_error(identifiers: Sequence[str]) -> BatchResult:
    """An answer as for an unhandled exception: the whole batch failed."""
    return BatchResult(tuple(identifiers), whole_batch=True, function_error="Unhandled")


def pause_between_arrivals() -> None:
    """Long enough that two records' arrival times differ (AT_TIMESTAMP positions fall between them)."""
    time.sleep(0.05)
