"""A look into a dead-letter or on-failure queue: each message's kind and what it holds, nothing consumed.

Three kinds of message wait in the fleet's queues of given-up work:

- `parked`: a poison record a stream worker set aside itself (`workers/shared/parking.py`: message
  attribute `dmdParked=1`, body `{"parked": {...}}` with the record, the reason and its position);
  `dmd replay --from-failures` re-drives it from its payload. The generator parks a malformed demand
  item the same way in the generation jobs' DLQ (position: table and key; the body carries the job
  that re-drives it): `dmd dlq redrive` sends it back to the generation queue with the failed jobs;
- `on-failure`: Lambda's own record of a Kinesis batch it gave up on (shard and sequence range only);
- `message`: anything else, e.g. a queue worker's message SQS moved to its DLQ (the body itself).

Peeking is a real ReceiveMessage with VisibilityTimeout 0: the messages stay where they are, visible
to everyone at once, but SQS counts the receive (ApproximateReceiveCount + 1). These queues have no
redrive policy of their own, so the count changes nothing; SQS returns a sample of a large queue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import ValidationError

from aws_clients import AwsClients
from ops.operator_io import JsonModel
from ops.replay_sources import OnFailureRecord
from workers.shared.parking import PARKED_ATTRIBUTE, parked_record

_RECEIVE_LIMIT: Final = 10
_EMPTY_ROUNDS: Final = 2  # receives that bring nothing new before the sample is taken as complete
BODY_PREVIEW: Final = 120

MessageKind = Literal["parked", "on-failure", "message"]


class HeldMessage(JsonModel):
    """One message of a queue of given-up work, as `dmd dlq show` reports it."""

    message_id: str
    kind: MessageKind
    sent_at: datetime | None
    receive_count: int | None
    worker: str | None  # parked: the worker that parked it
    reason: str | None  # parked: error type and message; on-failure: Lambda's condition
    position: str | None  # parked: stream, shard, sequence number or queue, message id; on-failure: range
    body: str  # the message body as SQS holds it (a parked record's payload included)


def held_message(message: dict[str, Any]) -> HeldMessage:
    """A received SQS message (with its attributes) told apart by kind."""
    body = str(message.get("Body") or "")
    attributes = message.get("Attributes") or {}
    sent = attributes.get("SentTimestamp")
    common: dict[str, Any] = {
        "message_id": str(message["MessageId"]),
        "sent_at": datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        "receive_count": int(attributes["ApproximateReceiveCount"])
        if "ApproximateReceiveCount" in attributes
        else None,
        "body": body,
    }
    marked = (message.get("MessageAttributes") or {}).get(PARKED_ATTRIBUTE, {}).get("StringValue") == "1"
    parked = parked_record(body)
    if parked is not None or marked:
        if parked is None:
            return HeldMessage(**common, kind="parked", worker=None, reason="body unreadable", position=None)
        source = parked.source
        if source.kind == "kinesis":
            position = f"{_name(source.event_source_arn)} {source.shard_id} {source.sequence_number}"
        elif source.kind == "dynamodb":
            position = f"{source.table_name or '?'} {' '.join((source.key or {}).values()) or '?'}"
        else:
            position = f"{_name(source.event_source_arn)} message {source.message_id}"
        return HeldMessage(
            **common,
            kind="parked",
            worker=parked.worker,
            reason=f"{parked.reason.error_type}: {parked.reason.message}",
            position=position,
        )
    try:
        record = OnFailureRecord.model_validate_json(body)
    except ValidationError:
        return HeldMessage(**common, kind="message", worker=None, reason=None, position=None)
    batch = record.batch
    return HeldMessage(
        **common,
        kind="on-failure",
        worker=None,
        reason=record.request_context.condition,
        position=f"{_name(batch.stream_arn)} {batch.shard_id} "
        f"{batch.start_sequence_number}..{batch.end_sequence_number}",
    )


def _name(arn: str | None) -> str:
    # A stream's or queue's name (the last part of its ARN): the position stays readable in a table.
    return (arn or "?").rpartition(":")[2].rpartition("/")[2]


def peek(clients: AwsClients, queue_url: str, *, limit: int) -> list[HeldMessage]:
    """Up to `limit` messages of the queue, received with VisibilityTimeout 0 (left in place, visible)."""
    sqs = clients.client("sqs")
    seen: dict[str, HeldMessage] = {}
    empty_rounds = 0
    while len(seen) < limit and empty_rounds < _EMPTY_ROUNDS:
        received = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(_RECEIVE_LIMIT, limit - len(seen)),
            VisibilityTimeout=0,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        new = [message for message in received if message["MessageId"] not in seen]
        empty_rounds = 0 if new else empty_rounds + 1
        for message in new:
            seen[message["MessageId"]] = held_message(message)
    return sorted(seen.values(), key=lambda held: held.sent_at or datetime.min.replace(tzinfo=UTC))[:limit]
