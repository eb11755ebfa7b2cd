"""The emulator's DynamoDB throttling drill: a seeded share of the workers' writes refused, as AWS does."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from aws_clients import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY, AwsClients
from sandbox import emulator_server
from sandbox.emulator import Emulator
from sandbox.emulator_throttle import THROTTLE_ERROR_TYPE, THROTTLE_PATH, WriteThrottle
from tests.sandbox.conftest import REGION
from workers.shared.clients import DYNAMODB_ATTEMPTS, DYNAMODB_RETRY_MODE, client_config

TABLE = "prd3292-local-us-east-1-demand-table"


class _Moto:
    """Stands in for moto's application: answers 200 and records the operations it received."""

    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.operations.append(str(environ.get("HTTP_X_AMZ_TARGET", environ.get("PATH_INFO"))))
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0")])
        return [b"{}"]


def _request(
    app: WriteThrottle, operation: str, body: dict[str, Any], *, agent: str = "Boto3/1.40 exec-env/AWS_Lambda"
) -> tuple[str, dict[str, Any]]:
    raw = json.dumps(body).encode()
    environ = {
        "PATH_INFO": "/",
        "REQUEST_METHOD": "POST",
        "HTTP_X_AMZ_TARGET": f"DynamoDB_20120810.{operation}",
        "HTTP_USER_AGENT": agent,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    return _call(app, environ)


def _control(app: WriteThrottle, document: dict[str, Any] | None = None) -> dict[str, Any]:
    raw = json.dumps(document).encode() if document is not None else b""
    environ = {
        "PATH_INFO": THROTTLE_PATH,
        "REQUEST_METHOD": "POST" if document is not None else "GET",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    return _call(app, environ)[1]


def _call(app: WriteThrottle, environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    answered: list[str] = []
    body = b"".join(app(environ, lambda status, headers: answered.append(status)))
    return answered[0], json.loads(body or b"{}")


@pytest.fixture
def moto() -> _Moto:
    return _Moto()


@pytest.fixture
def throttle(moto: _Moto) -> WriteThrottle:
    return WriteThrottle(moto, read_body=emulator_server._body)


def _put(number: int) -> dict[str, Any]:
    return {"TableName": TABLE, "Item": {"PK": {"S": f"fan:{number}"}, "SK": {"S": "notification#x"}}}


def test_at_full_rate_every_worker_write_is_refused_with_dynamodbs_throttling_error(
    throttle: WriteThrottle, moto: _Moto
) -> None:
    # Given the drill at rate 1
    assert _control(throttle, {"rate": 1.0, "seed": 7})["rate"] == 1.0
    # When a worker puts, updates, deletes and batch-writes
    answers = [
        _request(throttle, "PutItem", _put(1)),
        _request(throttle, "UpdateItem", {"TableName": TABLE, "Key": {}}),
        _request(throttle, "DeleteItem", {"TableName": TABLE, "Key": {}}),
        _request(throttle, "BatchWriteItem", {"RequestItems": {TABLE: []}}),
    ]
    # Then each is answered HTTP 400 with the exact AWS JSON error, and moto never saw one
    assert {status for status, _ in answers} == {"400 Bad Request"}
    assert (
        {document["__type"] for _, document in answers}
        == {"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"}
        == {THROTTLE_ERROR_TYPE}
    )
    assert all(document["message"] for _, document in answers)
    assert moto.operations == []
    # And the control endpoint counts them by operation and table
    assert _control(throttle) == {
        "rate": 1.0,
        "throttled": 4,
        "byOperation": {"BatchWriteItem": 1, "DeleteItem": 1, "PutItem": 1, "UpdateItem": 1},
        "byTable": {TABLE: 4},
    }


def test_reads_other_calls_and_the_sandboxs_own_writes_are_never_throttled(
    throttle: WriteThrottle, moto: _Moto
) -> None:
    # Given the drill at rate 1
    _control(throttle, {"rate": 1.0, "seed": 7})
    # When a worker reads and queries, and the sandbox (app/dmd-sandbox) writes
    answers = [
        _request(throttle, "GetItem", {"TableName": TABLE, "Key": {}}),
        _request(throttle, "Query", {"TableName": TABLE}),
        _request(throttle, "PutItem", _put(1), agent="Boto3/1.40 md/x app/dmd-sandbox"),
    ]
    # Then all of them reach moto
    assert [status for status, _ in answers] == ["200 OK"] * 3
    assert moto.operations == [
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.Query",
        "DynamoDB_20120810.PutItem",
    ]
    assert _control(throttle)["throttled"] == 0


def test_which_writes_are_throttled_is_seeded_and_about_the_rate() -> None:
    # Given two throttles with the same seed and one with another, at 10 %
    def refused(seed: int) -> list[bool]:
        throttle = WriteThrottle(_Moto(), read_body=emulator_server._body)
        _control(throttle, {"rate": 0.1, "seed": seed})
        return [_request(throttle, "PutItem", _put(number))[0] != "200 OK" for number in range(1000)]

    # Then the same seed refuses the same writes, another seed others, about a tenth of them
    first, again, other = refused(3), refused(3), refused(4)
    assert first == again != other
    assert 60 < sum(first) < 140


def test_setting_rate_zero_stops_throttling_and_a_bad_rate_is_refused(throttle: WriteThrottle) -> None:
    _control(throttle, {"rate": 1.0})
    _control(throttle, {"rate": 0})
    assert _request(throttle, "PutItem", _put(1))[0] == "200 OK"
    assert "error" in _control(throttle, {"rate": "lots"})


@pytest.fixture
def throttled_emulator(emulator: Emulator) -> Iterator[Emulator]:
    """The shared emulator, its throttle switched off again after the test."""
    emulator.reset()
    try:
        yield emulator
    finally:
        emulator.throttle_writes(0.0)


@pytest.mark.slow  # an emulator of its own, and DynamoDB's backoff between the six attempts (1.55 s)
def test_a_workers_client_retries_a_throttled_write_and_then_gets_the_throttling_error(
    throttled_emulator: Emulator,
) -> None:
    # Given a table in the emulator (created by the sandbox's own client) and every worker write throttled
    sandbox = AwsClients.for_emulator(
        throttled_emulator.endpoint_url, region=REGION, user_agent_appid="dmd-sandbox"
    )
    sandbox.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    throttled_emulator.throttle_writes(1.0, seed=5)
    # And a client configured as the workers' are (DynamoDB's retry policy: 6 attempts, 50 ms doubling)
    worker = boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=throttled_emulator.endpoint_url,
        aws_access_key_id=EMULATOR_ACCESS_KEY,
        aws_secret_access_key=EMULATOR_SECRET_KEY,
        config=client_config(max_attempts=DYNAMODB_ATTEMPTS, retry_mode=DYNAMODB_RETRY_MODE),
    )
    # When it writes
    with pytest.raises(ClientError) as refused:
        worker.put_item(TableName=TABLE, Item={"PK": {"S": "fan:1"}})
    # Then botocore retried the throttling error five times before giving it to the worker
    error = refused.value.response
    assert error["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["RetryAttempts"] == DYNAMODB_ATTEMPTS - 1 == 5
    counted = throttled_emulator.throttled_writes()
    assert (counted.rate, counted.throttled, counted.by_operation) == (1.0, 6, {"PutItem": 6})
    # And once the drill is off, the same write lands
    throttled_emulator.throttle_writes(0.0)
    worker.put_item(TableName=TABLE, Item={"PK": {"S": "fan:1"}})
    assert sandbox.client("dynamodb").get_item(TableName=TABLE, Key={"PK": {"S": "fan:1"}})["Item"]
