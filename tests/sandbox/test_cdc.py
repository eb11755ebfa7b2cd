"""The table's CDC into Kinesis: every change arrives in AWS's Kinesis-for-DynamoDB format, in order."""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from aws_clients import AwsClients
from sandbox.cdc import CdcTailer
from sandbox.ledger import NotificationLedger, Progress
from sandbox.materialize import CdcRoute
from workers.shared.records import parse_change_record

pytestmark = pytest.mark.slow

TABLE = "prd3292-local-us-east-1-demand-table"
STREAM = "prd3292-local-dmnd-table-stream"


def _route(aws: AwsClients) -> CdcRoute:
    ddb, kinesis = aws.client("dynamodb"), aws.client("kinesis")
    table = ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]
    return CdcRoute(TABLE, table["LatestStreamArn"], stream_arn)


def _kinesis_records(aws: AwsClients) -> list[dict[str, Any]]:
    """The stream's records as Lambda would hand them to a worker."""
    kinesis = aws.client("kinesis")
    shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    answer = kinesis.get_records(ShardIterator=iterator["ShardIterator"])
    return [
        {
            "kinesis": {
                "sequenceNumber": item["SequenceNumber"],
                "partitionKey": item["PartitionKey"],
                "data": base64.b64encode(item["Data"]).decode(),
            }
        }
        for item in answer["Records"]
    ]


def _change_item(ddb: Any) -> None:
    key = {"PK": {"S": "fan:a1b2c3d4e5"}, "SK": {"S": "notification#vvG1-presale#sms"}}
    ddb.put_item(TableName=TABLE, Item={**key, "type": {"S": "notification"}, "status": {"S": "CREATED"}})
    ddb.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET #status = :sent",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":sent": {"S": "SENT"}},
    )
    ddb.delete_item(TableName=TABLE, Key=key)


def test_insert_modify_and_remove_arrive_in_order_and_parse_as_change_records(aws: AwsClients) -> None:
    # Given the table's CDC route and a tailer
    tailer = CdcTailer(_route(aws), aws)
    before = datetime.now(UTC)
    # When an item is created, modified and deleted, and the tailer runs
    _change_item(aws.client("dynamodb"))
    assert tailer.poll_once() == 3
    # Then the Kinesis stream holds three change records the workers' parser accepts, in order
    records = _kinesis_records(aws)
    changes = [parse_change_record(record) for record in records]
    assert [change.event_name for change in changes] == ["INSERT", "MODIFY", "REMOVE"]
    assert changes[0].new_image == {
        "PK": "fan:a1b2c3d4e5",
        "SK": "notification#vvG1-presale#sms",
        "type": "notification",
        "status": "CREATED",
    }
    assert (changes[1].old_image or {})["status"] == "CREATED"
    assert (changes[1].new_image or {})["status"] == "SENT"
    assert changes[2].new_image is None and (changes[2].old_image or {})["status"] == "SENT"
    assert all(change.table_name == TABLE and change.aws_region == "us-east-1" for change in changes)
    assert all(change.key.pk == "fan:a1b2c3d4e5" and not change.removed_by_ttl for change in changes)
    # And creation times are epoch milliseconds (the destination's MILLISECOND precision), close to now
    payload = json.loads(base64.b64decode(records[0]["kinesis"]["data"]))
    created = payload["dynamodb"]["ApproximateCreationDateTime"]
    assert isinstance(created, int) and 1e12 < created < 1e13
    assert changes[0].approximate_creation_time is not None
    assert abs((changes[0].approximate_creation_time - before).total_seconds()) < 30
    # And the envelope is AWS's: JSON record format, DynamoDB source, one event id per change
    assert payload["recordFormat"] == "application/json"
    assert payload["eventSource"] == "aws:dynamodb"
    assert payload["userIdentity"] is None
    assert len({change.change_id for change in changes}) == 3
    # And one item's changes share one partition key (one shard, in order)
    assert len({record["kinesis"]["partitionKey"] for record in records}) == 1


def test_the_tailer_copies_each_change_once_and_continues_where_it_stopped(aws: AwsClients) -> None:
    # Given a tailer that already copied the first changes
    tailer = CdcTailer(_route(aws), aws, precision="MICROSECOND")
    ddb = aws.client("dynamodb")
    ddb.put_item(TableName=TABLE, Item={"PK": {"S": "event:1"}, "SK": {"S": "event#details"}})
    tailer.poll_once()
    # When more changes happen and it polls twice
    ddb.put_item(TableName=TABLE, Item={"PK": {"S": "event:2"}, "SK": {"S": "event#details"}})
    copied = tailer.poll_once() + tailer.poll_once()
    # Then only the new change was copied, with its timestamp in microseconds
    assert copied == 1
    records = _kinesis_records(aws)
    assert [parse_change_record(record).key.pk for record in records] == ["event:1", "event:2"]
    created = json.loads(base64.b64decode(records[1]["kinesis"]["data"]))["dynamodb"][
        "ApproximateCreationDateTime"
    ]
    assert 1e15 < created < 1e16
    # And different items get different partition keys
    assert records[0]["kinesis"]["partitionKey"] != records[1]["kinesis"]["partitionKey"]


def test_in_background_the_tailer_keeps_up_with_writes(aws: AwsClients) -> None:
    # Given a tailer running on its thread
    tailer = CdcTailer(_route(aws), aws)
    tailer.start()
    try:
        # When items are written
        ddb = aws.client("dynamodb")
        for index in range(20):
            ddb.put_item(TableName=TABLE, Item={"PK": {"S": f"fan:{index}"}, "SK": {"S": "demand"}})
        deadline = time.monotonic() + 10
        while tailer.copied < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        tailer.stop()
    # Then every change reached the stream, in write order
    assert [parse_change_record(record).key.pk for record in _kinesis_records(aws)] == [
        f"fan:{index}" for index in range(20)
    ]
    assert tailer.errors == 0


def test_the_notification_ledger_follows_each_notification_from_the_changes_the_tailer_copies(
    aws: AwsClients,
) -> None:
    # Given a tailer with the pipeline's notification ledger observing it
    ledger = NotificationLedger()
    tailer = CdcTailer(_route(aws), aws, observers=[ledger.observe])
    ddb = aws.client("dynamodb")
    sms = {"PK": {"S": "fan:f1"}, "SK": {"S": "notification#e1-public#sms"}}
    email = {"PK": {"S": "fan:f1"}, "SK": {"S": "notification#e1-public#email"}}
    # When two notifications are created, one moves on and the other is deleted, next to a demand record
    for key, method in ((sms, "sms"), (email, "email")):
        ddb.put_item(
            TableName=TABLE,
            Item={**key, "contactMethod": {"S": method}, "status": {"M": {"id": {"S": "CREATED"}}}},
        )
    ddb.put_item(TableName=TABLE, Item={"PK": {"S": "fan:f1"}, "SK": {"S": "demand#e1-public"}})
    ddb.update_item(
        TableName=TABLE,
        Key=sms,
        UpdateExpression="SET #status.#id = :delivered",
        ExpressionAttributeNames={"#status": "status", "#id": "id"},
        ExpressionAttributeValues={":delivered": {"S": "DELIVERED"}},
    )
    ddb.delete_item(TableName=TABLE, Key=email)
    assert tailer.poll_once() == 5
    # Then the ledger holds the remaining notification in its latest state, and only notifications
    assert ledger.items() == [
        {
            "PK": "fan:f1",
            "SK": "notification#e1-public#sms",
            "status": {"id": "DELIVERED"},
            "contactMethod": "sms",
        }
    ]
    assert ledger.progress() == Progress(Counter({"DELIVERED": 1}), terminal=1, seen=1)
    assert (len(ledger), ledger.changes_seen) == (1, 4)


def test_a_failing_observer_neither_stops_the_copy_nor_makes_it_copy_twice(aws: AwsClients) -> None:
    # Given a tailer whose only observer always fails
    def broken(records: Any) -> None:
        raise RuntimeError("observer bug")

    tailer = CdcTailer(_route(aws), aws, observers=[broken])
    # When three changes are made and the tailer runs twice
    _change_item(aws.client("dynamodb"))
    assert tailer.poll_once() == 3
    assert tailer.poll_once() == 0
    # Then the Kinesis stream holds each change once
    assert len(_kinesis_records(aws)) == 3
