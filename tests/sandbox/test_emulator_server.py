"""The emulator's process: moto's server with its per-request overheads removed, same answers."""

from __future__ import annotations

import contextlib
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.kinesis.models import Shard

from aws_clients import AwsClients
from sandbox import emulator_index, emulator_server
from sandbox.emulator import answers


def _shard(sequence_numbers: list[int]) -> Shard:
    shard = Shard(0, 0, 2**128)
    for number in sequence_numbers:
        shard.put_record(f"pk-{number}", "ZGF0YQ==", "")
        record = shard.records.pop(next(reversed(shard.records)))
        record.sequence_number = number
        record.created_at = 1_000.0 + number
        shard.records[number] = record
    return shard


@pytest.mark.parametrize(
    "sequence_numbers",
    [
        [],
        list(range(1, 40)),  # what moto writes: consecutive from 1
        list(range(1, 10)) + list(range(15, 30)),  # a gap: moto's own walk answers
        list(range(7, 20)),  # starting later than 1
    ],
    ids=["empty", "consecutive", "gap", "late-start"],
)
def test_get_records_answers_what_moto_answers_for_every_position_and_limit(
    sequence_numbers: list[int],
) -> None:
    # Given a shard holding these sequence numbers, read with moto's walk and with the tuned read
    shard = _shard(sequence_numbers)
    positions = [0, *sequence_numbers, (sequence_numbers or [0])[-1] + 5]
    for last in positions:
        for limit in (None, 1, 3, 1000):
            # When both read after `last` with `limit`
            tuned = emulator_server._get_records(shard, str(last), limit)
            original = emulator_server._MOTO_SHARD_GET_RECORDS(shard, str(last), limit)
            # Then they return the same records, position and lag
            assert ([record.sequence_number for record in tuned[0]], *tuned[1:]) == (
                [record.sequence_number for record in original[0]],
                *original[1:],
            ), (last, limit)


def test_the_first_and_last_sequence_numbers_are_the_shards_ends_without_copying_it() -> None:
    # Given shards written by moto's own put_record, one empty
    shard = Shard(0, 0, 2**128)
    assert (emulator_server._first_sequence_number(shard), emulator_server._last_sequence_number(shard)) == (
        0,
        0,
    )
    for _ in range(random.Random(3).randint(5, 50)):
        shard.put_record("pk", "ZGF0YQ==", "")
    # Then the tuned ends are the first and last keys
    assert emulator_server._first_sequence_number(shard) == min(shard.records)
    assert emulator_server._last_sequence_number(shard) == max(shard.records)


def test_tune_replaces_the_costly_paths_and_keeps_the_service_list(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given moto's modules as imported (restored after the test: this process is not the server)
    from moto import backends
    from moto.moto_server import werkzeug_app

    for name in ("get_records", "get_min_sequence_number", "get_max_sequence_number"):
        monkeypatch.setattr(Shard, name, getattr(Shard, name))
    monkeypatch.setattr(Table, "query", Table.query)
    for name in (*emulator_index.ITEM_WRITES, *emulator_index.TABLE_WRITES):
        monkeypatch.setattr(DynamoDBBackend, name, getattr(DynamoDBBackend, name))
    monkeypatch.setattr(backends, "list_of_moto_modules", backends.list_of_moto_modules)
    monkeypatch.setattr(
        werkzeug_app.MotoRequestHandler, "log_request", werkzeug_app.MotoRequestHandler.log_request
    )
    for source in emulator_server.MAPPING_SOURCES:  # absent on the classes: removed again on undo
        monkeypatch.setattr(source, emulator_server.MAPPING_HOOK, None, raising=False)
    before = list(backends.list_of_moto_modules())
    # When the server's process tunes them (twice: idempotent)
    emulator_server.tune()
    emulator_server.tune()
    # Then the service list is the same, read once, and the shard methods are the tuned ones
    assert list(backends.list_of_moto_modules()) == before
    assert "dynamodb" in before and "kinesis" in before
    assert Shard.get_records is emulator_server._get_records
    assert Shard.get_max_sequence_number is emulator_server._last_sequence_number
    # And index queries are answered page by page, every write counted for the pages after it
    assert Table.query is emulator_index.query
    assert all(getattr(DynamoDBBackend, name).__dmd_follows_writes__ for name in emulator_index.ITEM_WRITES)
    # And every event source reads no mapping to invoke from, whatever is attached to it
    for source in emulator_server.MAPPING_SOURCES:
        instance = source.__new__(source)
        setattr(instance, emulator_server.MAPPING_HOOK, {"arn": "mapping"})
        assert getattr(instance, emulator_server.MAPPING_HOOK) == {}


@pytest.mark.slow
def test_stream_records_read_through_the_tuned_server_are_what_moto_answers() -> None:
    # Given moto's own server and the tuned one, each with a streamed table changed the same way
    answers = []
    for module in ("moto.server", "sandbox.emulator_server"):
        with _server(module) as endpoint:
            answers.append(_changes_read_back(endpoint))
    # Then boto3 reads the same records from both (ids, times, sizes and iterators aside)
    moto_answer, tuned_answer = answers
    assert len(moto_answer) == 3
    assert tuned_answer == moto_answer


@contextlib.contextmanager
def _server(module: str) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", module, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not answers(endpoint):
            assert time.monotonic() < deadline, f"{module} did not start"
            time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)


def _changes_read_back(endpoint: str) -> list[dict[str, Any]]:
    clients = AwsClients.for_emulator(endpoint, region="us-east-1")
    ddb, streams = clients.client("dynamodb"), clients.client("dynamodbstreams")
    table = ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    item = {
        "PK": {"S": "fan:1"},
        "status": {"M": {"id": {"S": "CREATED"}, "n": {"N": "1.50"}}},
        "blob": {"B": b"\x00\x01\xff"},
        "list": {"L": [{"S": "é"}, {"BOOL": True}, {"NULL": True}, {"NS": ["1", "2"]}]},
        "tags": {"SS": ["a", "b"]},
    }
    ddb.put_item(TableName="t", Item=item)
    ddb.update_item(
        TableName="t",
        Key={"PK": {"S": "fan:1"}},
        UpdateExpression="SET #s.#id = :sent",
        ExpressionAttributeNames={"#s": "status", "#id": "id"},
        ExpressionAttributeValues={":sent": {"S": "SENT"}},
    )
    ddb.delete_item(TableName="t", Key={"PK": {"S": "fan:1"}})
    arn = table["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    answer = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=10)
    records = []
    for record in answer["Records"]:
        change = dict(record["dynamodb"])
        assert isinstance(change.pop("ApproximateCreationDateTime"), datetime)
        assert change.pop("SizeBytes") > 0  # moto sizes the change with its time in it: varies by a digit
        records.append(
            {**{k: v for k, v in record.items() if k not in ("eventID", "dynamodb")}, "dynamodb": change}
        )
    assert answer["NextShardIterator"]
    return records


@pytest.mark.slow
def test_item_operations_through_the_tuned_server_answer_what_moto_answers() -> None:
    # Given moto's own server and the tuned one, each taken through the same item operations
    answers = []
    for module in ("moto.server", "sandbox.emulator_server"):
        with _server(module) as endpoint:
            answers.append(_item_operations(endpoint))
    # Then boto3 reads the same answers from both, operation by operation
    moto_answers, tuned_answers = answers
    assert [name for name, _ in tuned_answers] == [name for name, _ in moto_answers]
    for (name, tuned), (_, moto) in zip(tuned_answers, moto_answers, strict=True):
        assert tuned == moto, name


def _item_operations(endpoint: str) -> list[tuple[str, Any]]:
    ddb = AwsClients.for_emulator(endpoint, region="us-east-1").client("dynamodb")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
            {"AttributeName": "group", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-group",
                "KeySchema": [
                    {"AttributeName": "group", "KeyType": "HASH"},
                    {"AttributeName": "SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    answers: list[tuple[str, Any]] = []

    def call(name: str, **request: Any) -> None:
        try:
            answer = getattr(ddb, name)(**request)
        except ddb.exceptions.ClientError as error:
            answer = {"error": error.response["Error"], "item": error.response.get("Item")}
        answer.pop("ResponseMetadata", None)
        answers.append((name, answer))

    def key(n: int) -> dict[str, Any]:
        return {"PK": {"S": "fan:1"}, "SK": {"S": f"notification#{n:03d}"}}

    for n in range(12):
        item = {
            **key(n),
            "status": {"M": {"id": {"S": "CREATED"}, "n": {"N": "1.50"}}},
            "blob": {"B": b"\x00\x01\xff"},
            "list": {"L": [{"S": "é"}, {"BOOL": True}, {"NULL": True}, {"NS": ["1", "2"]}]},
            "tags": {"SS": ["a", "b"]},
        }
        call("put_item", TableName="t", Item=item, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL")
    call("put_item", TableName="t", Item=key(0), ReturnValues="ALL_OLD")
    call("put_item", TableName="t", Item=key(1), ConditionExpression="attribute_not_exists(PK)")
    call("get_item", TableName="t", Key=key(2), ConsistentRead=True)
    call("get_item", TableName="t", Key=key(99))
    for values in ("ALL_NEW", "ALL_OLD", "UPDATED_NEW", "NONE"):
        call(
            "update_item",
            TableName="t",
            Key=key(3),
            UpdateExpression="SET #s.#id = :sent, attempts = if_not_exists(attempts, :zero) + :one",
            ExpressionAttributeNames={"#s": "status", "#id": "id"},
            ExpressionAttributeValues={":sent": {"S": "SENT"}, ":zero": {"N": "0"}, ":one": {"N": "1"}},
            ReturnValues=values,
        )
    call(
        "update_item",
        TableName="t",
        Key=key(4),
        UpdateExpression="SET claimId = :c",
        ConditionExpression="#s.#id = :sent",
        ExpressionAttributeNames={"#s": "status", "#id": "id"},
        ExpressionAttributeValues={":c": {"S": "x"}, ":sent": {"S": "SENT"}},
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    call("delete_item", TableName="t", Key=key(5), ReturnValues="ALL_OLD")
    call(
        "query",
        TableName="t",
        KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues={":pk": {"S": "fan:1"}, ":prefix": {"S": "notification#"}},
        Limit=4,
    )
    call(
        "query",
        TableName="t",
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "fan:1"}},
        ProjectionExpression="PK, SK, #s.#id",
        ExpressionAttributeNames={"#s": "status", "#id": "id"},
        Select="SPECIFIC_ATTRIBUTES",
    )
    call(
        "query",
        TableName="t",
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "x"}},
    )
    call("scan", TableName="t", Limit=3, ReturnConsumedCapacity="INDEXES")
    call(
        "scan",
        TableName="t",
        FilterExpression="#s.#id = :sent",
        ExpressionAttributeNames={"#s": "status", "#id": "id"},
        ExpressionAttributeValues={":sent": {"S": "SENT"}},
    )
    call("batch_get_item", RequestItems={"t": {"Keys": [key(6), key(7), key(99)]}})
    call(
        "batch_write_item",
        RequestItems={"t": [{"PutRequest": {"Item": key(50)}}, {"DeleteRequest": {"Key": key(8)}}]},
    )
    call(
        "transact_write_items",
        TransactItems=[
            {"Put": {"TableName": "t", "Item": key(60)}},
            {
                "Update": {
                    "TableName": "t",
                    "Key": key(9),
                    "UpdateExpression": "SET z = :z",
                    "ExpressionAttributeValues": {":z": {"N": "1"}},
                }
            },
        ],
    )
    call("transact_get_items", TransactItems=[{"Get": {"TableName": "t", "Key": key(9)}}])
    _index_pages(ddb, call, key)
    return answers


def _index_pages(ddb: Any, call: Callable[..., None], key: Callable[[int], dict[str, Any]]) -> None:
    """Pages of an index read in both directions, with writes of every kind between the pages."""
    for n in range(20):
        ddb.put_item(TableName="t", Item={**key(100 + n), "group": {"S": "g1" if n % 4 else "g2"}})

    def page(forward: bool, start: dict[str, Any] | None = None, **condition: Any) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": "t",
            "IndexName": "by-group",
            "KeyConditionExpression": "#g = :g AND SK > :after",
            "ExpressionAttributeNames": {"#g": "group"},
            "ExpressionAttributeValues": {":g": {"S": "g1"}, ":after": {"S": "notification#105"}},
            "Limit": 4,
            "ScanIndexForward": forward,
            **condition,
        }
        if start:
            request["ExclusiveStartKey"] = start
        call("query", **request)
        answer: dict[str, Any] = ddb.query(**request)
        return answer

    for forward in (True, False):
        answer = page(forward)
        ddb.put_item(TableName="t", Item={**key(130), "group": {"S": "g1"}})
        answer = page(forward, answer.get("LastEvaluatedKey"))
        ddb.update_item(
            TableName="t",
            Key=key(111),
            UpdateExpression="SET #g = :other",
            ExpressionAttributeNames={"#g": "group"},
            ExpressionAttributeValues={":other": {"S": "g2"}},
        )
        answer = page(forward, answer.get("LastEvaluatedKey"), Select="COUNT")
        ddb.delete_item(TableName="t", Key=key(113 if forward else 118))
        ddb.batch_write_item(
            RequestItems={"t": [{"PutRequest": {"Item": {**key(140), "group": {"S": "g1"}}}}]}
        )
        ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": "t", "Item": {**key(141), "group": {"S": "g1"}}}}]
        )
        while answer.get("LastEvaluatedKey"):
            answer = page(forward, answer["LastEvaluatedKey"])
