"""The emulator's state across a restart: moto's backends dumped and loaded, the gate, the save endpoint."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from moto.core.base_backend import BackendDict

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from sandbox.emulator_server import MAPPING_HOOK, MAPPING_SOURCES, CallCounter, detach_event_source_mappings
from sandbox.emulator_state import (
    STATE_PATH,
    EmulatorStateError,
    RequestGate,
    StateControl,
    adopt_layer_state,
    dump_state,
    layer_state,
    load_state,
)
from sandbox.materialize import Kind, materialize

REGION = "us-east-1"


@pytest.fixture
def moto_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    """A fresh in-process moto (what the emulator's process holds), with clients reaching it."""
    # As the emulator's process does: moto invokes nothing itself. Restored after the test, so this
    # test process's moto stays stock for the tests that rely on it.
    for source in MAPPING_SOURCES:
        monkeypatch.setattr(source, MAPPING_HOOK, None, raising=False)
    detach_event_source_mappings()
    with mock_aws():
        yield AwsClients.for_emulator(None, region=REGION)


def _fill(clients: AwsClients, graph: ResourceGraph) -> dict[str, Any]:
    """The local stack materialized, plus what a run adds: an item, a record, an in-flight message…"""
    materialized = materialize(graph, clients)
    table = next(iter(materialized.of(Kind.TABLE)))
    clients.client("dynamodb").put_item(TableName=table, Item={"PK": {"S": "fan:1"}, "SK": {"S": "x"}})
    stream = next(iter(materialized.of(Kind.STREAM)))
    clients.client("kinesis").put_record(StreamName=stream, Data=b"{}", PartitionKey="p")
    queue_url = next(iter(materialized.of(Kind.QUEUE_URL).values()))
    sqs = clients.client("sqs")
    sqs.send_message(QueueUrl=queue_url, MessageBody="in flight")
    sqs.send_message(QueueUrl=queue_url, MessageBody="visible")
    [received] = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, VisibilityTimeout=600)[
        "Messages"
    ]
    # SSM keeps its parameters in a defaultdict subclass with a lambda factory (the maintenance records).
    clients.client("ssm").put_parameter(Name="/dmd/local/maintenance", Value="{}", Type="String")
    key_id = clients.client("kms").create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    return {
        "table": table,
        "stream": stream,
        "queue_url": queue_url,
        "receipt": received["ReceiptHandle"],
        "key_id": key_id["KeyId"],
        "mappings": len(materialized.event_source_mappings),
    }


@pytest.mark.slow  # the whole local stack into moto and back (~6 s)
def test_every_service_the_sandbox_uses_comes_back_from_a_dump_once_moto_forgot_it(
    moto_process: AwsClients, local_stack_graph: ResourceGraph
) -> None:
    # Given moto holding the local stack and a run's data (locks, weak dictionaries, lambda
    # factories and private keys among moto's objects)
    filled = _fill(moto_process, local_stack_graph)
    payload = dump_state(extra={"counts": [1, 2]})

    # When moto forgets everything (as a new process would) and the dump is loaded
    BackendDict.reset()
    clients = moto_process
    assert not clients.client("dynamodb").list_tables()["TableNames"]
    extra = load_state(payload)

    # Then the table's item, the stream's record, the mappings, the secrets are all there
    dynamodb = clients.client("dynamodb")
    item = dynamodb.get_item(TableName=filled["table"], Key={"PK": {"S": "fan:1"}, "SK": {"S": "x"}})
    assert item["Item"]["PK"] == {"S": "fan:1"}
    kinesis = clients.client("kinesis")
    shard = kinesis.list_shards(StreamName=filled["stream"])["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName=filled["stream"], ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert [record["Data"] for record in kinesis.get_records(ShardIterator=iterator)["Records"]] == [b"{}"]
    assert (
        len(clients.client("lambda").list_event_source_mappings()["EventSourceMappings"])
        == (filled["mappings"])
    )
    assert clients.client("secretsmanager").list_secrets()["SecretList"]
    # And the queue keeps its in-flight message invisible, deletable by its receipt handle
    sqs = clients.client("sqs")
    [visible] = sqs.receive_message(QueueUrl=filled["queue_url"], MaxNumberOfMessages=10)["Messages"]
    assert visible["Body"] == "visible"
    sqs.delete_message(QueueUrl=filled["queue_url"], ReceiptHandle=filled["receipt"])
    # And the parameter store and the key (and its private half) still work
    ssm = clients.client("ssm")
    assert ssm.get_parameter(Name="/dmd/local/maintenance")["Parameter"]["Value"] == "{}"
    ssm.put_parameter(Name="/dmd/local/other/one", Value="1", Type="String")
    signed = clients.client("kms").sign(
        KeyId=filled["key_id"], Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256"
    )
    assert signed["Signature"]
    assert extra == {"counts": [1, 2]}


def test_an_object_pickle_cannot_rebuild_fails_the_dump_naming_it(moto_process: AwsClients) -> None:
    with pytest.raises(EmulatorStateError, match="cannot be saved"):
        dump_state(extra={"worker": threading.Thread(target=print)})


def test_a_dump_of_another_kind_is_refused() -> None:
    import pickle

    with pytest.raises(EmulatorStateError, match="not an emulator state file"):
        load_state(pickle.dumps({"format": 99}))


# --------------------------------------------------------------------------------------------------
# The gate and the save endpoint
# --------------------------------------------------------------------------------------------------


def test_a_frozen_gate_waits_for_the_requests_inside_and_holds_new_ones_at_the_door() -> None:
    # Given a gate with one request inside
    gate = RequestGate()
    gate.enter()
    later_entered = threading.Event()

    def later_request() -> None:
        gate.enter()
        later_entered.set()

    # When it freezes while that request is still answering
    froze: list[bool] = []
    freezer = threading.Thread(target=lambda: froze.append(gate.freeze(5)))
    freezer.start()
    time.sleep(0.05)
    assert freezer.is_alive()  # waiting for the request inside
    gate.leave()
    freezer.join(5)
    # Then the freeze completes once it answered, and a new request waits at the door
    assert froze == [True] and gate.frozen
    waiting = threading.Thread(target=later_request, daemon=True)
    waiting.start()
    assert not later_entered.wait(0.1)
    # And a thaw (a save that failed) lets it in
    gate.thaw()
    assert later_entered.wait(5)


def test_a_freeze_that_times_out_says_so() -> None:
    gate = RequestGate()
    gate.enter()
    assert gate.freeze(0.05) is False


def _wsgi(app: Any, path: str, method: str = "GET", body: dict[str, Any] | None = None) -> tuple[str, bytes]:
    data = json.dumps(body).encode() if body is not None else b""
    environ = {
        "PATH_INFO": path,
        "REQUEST_METHOD": method,
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
    }
    status: list[str] = []
    answer: Iterable[bytes] = app(environ, lambda code, headers: status.append(code))
    chunks = b"".join(answer)
    close = getattr(answer, "close", None)
    if close is not None:
        close()
    return status[0], chunks


def _hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b"hello"]


def test_the_save_endpoint_writes_the_state_and_leaves_the_door_closed(
    moto_process: AwsClients, tmp_path: Path
) -> None:
    # Given the state control in front of an application, with a queue in moto
    moto_process.client("sqs").create_queue(QueueName="kept")
    control = StateControl(_hello, extra=lambda: {"calls": {"counting": True}})
    assert _wsgi(control, "/anything") == ("200 OK", b"hello")

    # When a save is asked for
    status, answer = _wsgi(control, STATE_PATH, "POST", {"path": str(tmp_path / "state.pickle")})

    # Then the state is written, the answer says what, and no request gets in any more
    assert status == "200 OK"
    summary = json.loads(answer)
    assert "sqs" in summary["services"] and summary["sizeBytes"] == (tmp_path / "state.pickle").stat().st_size
    assert control.gate.frozen
    assert load_state((tmp_path / "state.pickle").read_bytes()) == {"calls": {"counting": True}}


def test_a_save_that_fails_answers_why_and_opens_the_door_again(moto_process: AwsClients) -> None:
    control = StateControl(_hello, extra=dict)
    status, answer = _wsgi(control, STATE_PATH, "POST", {"path": "/nonexistent/dir/state.pickle"})
    assert status.startswith("500") and "nonexistent" in json.loads(answer)["error"]
    assert not control.gate.frozen
    assert _wsgi(control, "/anything") == ("200 OK", b"hello")


def test_a_middlewares_counts_carry_over_to_its_successor() -> None:
    # Given a call counter that counted calls
    first = CallCounter(_hello)
    _wsgi(first, "/_dmd/calls", "POST", {"keep": []})
    _wsgi(first, "/")
    # When a new counter (the restarted process's) adopts its state
    second = CallCounter(_hello)
    adopt_layer_state(second, layer_state(first))
    # Then it goes on counting from there, and the wrapped application is its own
    _wsgi(second, "/")
    counts = json.loads(_wsgi(second, "/_dmd/calls")[1])["counts"]
    assert [entry["count"] for entry in counts] == [2]
    assert second.app is _hello and "app" not in layer_state(first)
