"""One invocation of a worker as its trigger would make it: `dmd workers invoke NAME PAYLOAD`.

The payload is what flows through the worker's source, and the event is built the way the sandbox's
pollers, schedules and resolvers build theirs:

- table stream: a demand-table item (plain JSON, PK/SK included). It is written to the table, and the
  event holds one Kinesis record of its INSERT in the Kinesis-for-DynamoDB format.
- SMS status stream: an SMS status event; one Kinesis record whose data is the payload.
- queue: the message body; one SQS record.
- schedule: the Scheduled Event's `detail` (e.g. an explicit window); a Scheduled Event of the rule, now.
- AppSync resolver: the field's arguments; AppSync's direct-resolver event.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from infra.catalog import (
    QueueSource,
    ResolverSource,
    ScheduleSource,
    StreamSource,
    WorkerSpec,
    catalog_by_name,
)
from infra.naming import schedule_rule_name
from sandbox.pollers import KinesisPoller, SqsPoller, StreamRecord
from sandbox.runtime import Sandbox
from workers.shared.models import serialize_item

TABLE_STREAM: Final = "table"
_SHARD: Final = "shardId-000000000000"


class InvocationError(ValueError):
    """The payload does not fit the worker's trigger; the message says what is expected."""


def worker_spec(worker: str) -> WorkerSpec:
    """The catalog entry of a worker; InvocationError lists the workers there are."""
    specs = catalog_by_name()
    if worker not in specs:
        raise InvocationError(f"no worker {worker!r} (have: {', '.join(specs)})")
    return specs[worker]


def trigger_event(sandbox: Sandbox, worker: str, payload: Any) -> dict[str, Any]:
    """The event the worker's trigger would deliver for `payload` (a table item is written first)."""
    spec = worker_spec(worker)
    match spec.source:
        case StreamSource(stream=stream):
            poller = sandbox.pollers.get(worker)
            if not isinstance(poller, KinesisPoller):
                raise InvocationError(f"{worker} has no stream poller in this sandbox")
            if stream == TABLE_STREAM:
                data, partition_key = _table_change(sandbox, poller, _object(worker, payload))
            else:
                data = json.dumps(payload, separators=(",", ":")).encode()
                partition_key = hashlib.md5(data, usedforsecurity=False).hexdigest().upper()
            record = StreamRecord(
                shard_id=_SHARD,
                sequence_number=str(time.time_ns()),
                partition_key=partition_key,
                data=data,
                arrival=time.time(),
            )
            return poller.event(_SHARD, [record])
        case QueueSource():
            queue_poller = sandbox.pollers.get(worker)
            if not isinstance(queue_poller, SqsPoller):
                raise InvocationError(f"{worker} has no queue poller in this sandbox")
            body = payload if isinstance(payload, str) else json.dumps(payload)
            message = {
                "MessageId": str(uuid.uuid4()),
                "ReceiptHandle": uuid.uuid4().hex,
                "Body": body,
                "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "Attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(int(time.time() * 1000)),
                    "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
                },
            }
            return {"Records": [queue_poller.record(message)]}
        case ScheduleSource():
            rule = schedule_rule_name(sandbox.function(worker).settings.function_name)
            schedule = next((item for item in sandbox.schedules if item.rule_name == rule), None)
            if schedule is None:
                raise InvocationError(f"{worker} has no schedule in this sandbox")
            event = schedule.event(sandbox.clock.now_datetime())
            event["detail"] = _object(worker, payload)
            return event
        case ResolverSource(type_name=type_name, field_name=field_name):
            resolver = sandbox.resolvers.get((type_name, field_name))
            if resolver is None:
                raise InvocationError(f"{worker} has no {type_name}.{field_name} resolver in this sandbox")
            return resolver.event(_object(worker, payload))
    raise InvocationError(f"{worker}: unknown trigger {spec.source!r}")


def _object(worker: str, payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise InvocationError(f"{worker} takes a JSON object as payload, got {type(payload).__name__}")
    return payload


def _table_change(sandbox: Sandbox, poller: KinesisPoller, item: Mapping[str, Any]) -> tuple[bytes, str]:
    """Write the item to the table whose changes feed the poller's stream; its INSERT record and key."""
    if not isinstance(item.get("PK"), str) or not isinstance(item.get("SK"), str):
        raise InvocationError("a table-stream payload is a demand-table item with string PK and SK")
    source = poller.mapping.event_source_arn
    tailer = next((tailer for tailer in sandbox.tailers if tailer.route.kinesis_stream_arn == source), None)
    if tailer is None:
        raise InvocationError(f"no table's changes feed {source} in this sandbox")
    image = serialize_item(item)
    sandbox.clients.client("dynamodb").put_item(TableName=tailer.route.table, Item=image)
    change = {
        "eventName": "INSERT",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime.now(UTC),
            "Keys": {"PK": image["PK"], "SK": image["SK"]},
            "NewImage": image,
            "SequenceNumber": str(time.time_ns()),
            "SizeBytes": len(json.dumps(item, default=str)),
        },
    }
    entry = tailer.kinesis_record(change)
    return bytes(entry["Data"]), str(entry["PartitionKey"])
