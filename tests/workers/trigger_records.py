"""Builders of realistic trigger records (Kinesis, Kinesis-for-DynamoDB, SQS) for worker tests."""

from __future__ import annotations

import base64
import json
from typing import Any

from workers.shared.models import serialize_item

SHARD = "shardId-000000000000"


def sequence_number(index: int) -> str:
    """A Kinesis-looking sequence number, increasing with `index`."""
    return f"49648716598215543873812372847206581349879125512704{index:06d}"


def kinesis_record(
    sequence: str, data: bytes, *, partition_key: str = "pk", stream: str = "stream"
) -> dict[str, Any]:
    """One record of a Lambda Kinesis event carrying `data`."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": 1705311900.456,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{SHARD}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/prd3292-test-us-east-1-worker",
        "awsRegion": "us-east-1",
        "eventSourceARN": f"arn:aws:kinesis:us-east-1:123456789012:stream/{stream}",
    }


def change_data(
    item: dict[str, Any],
    *,
    event_name: str = "INSERT",
    old_item: dict[str, Any] | None = None,
    change_id: str = "c7a3b0f2-6e1d-4d3a-9f0e-2b8c1d5e7a90",
) -> bytes:
    """A Kinesis-for-DynamoDB change record of the demand table for `item` (plain python)."""
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": 1705311900123,
        "Keys": serialize_item({"PK": item["PK"], "SK": item["SK"]}),
        "SizeBytes": 512,
    }
    if event_name != "REMOVE":
        change["NewImage"] = serialize_item(item)
    if old_item is not None:
        change["OldImage"] = serialize_item(old_item)
    payload = {
        "awsRegion": "us-east-1",
        "eventID": change_id,
        "eventName": event_name,
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": "prd3292-test-us-east-1-demand-table",
        "dynamodb": change,
        "eventSource": "aws:dynamodb",
    }
    return json.dumps(payload).encode()


def kinesis_event(*records: dict[str, Any]) -> dict[str, Any]:
    """A Lambda Kinesis event."""
    return {"Records": list(records)}


def sqs_record(message_id: str, body: str, *, receive_count: int = 1, **attributes: str) -> dict[str, Any]:
    """One record of a Lambda SQS event."""
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1705311000000",
            "SenderId": "AROAEXAMPLEEXAMPLE01:prd3292-test-us-east-1-dmnd-stream-to-sqs",
            "ApproximateFirstReceiveTimestamp": "1705311000050",
        },
        "messageAttributes": {
            name: {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}
            for name, value in attributes.items()
        },
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:prd3292-test-us-east-1-event-short-url",
        "awsRegion": "us-east-1",
    }
