"""`dmd dlq show` (ops/held_messages.py): parked records told from Lambda's on-failure records, unconsumed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ops.held_messages import held_message
from ops.target import Target
from tests.ops.cli_output import flat, local_stack_is, run_dmd, table_rows
from tests.ops.replay_harness import on_failure_record
from tests.ops.status_scenario import SEND_ON_FAILURE, Incident, incident
from workers.shared.errors import RecordError
from workers.shared.parking import RecordParking
from workers.shared.queue_sender import QueueSender

STREAM = "prd3292-local-us-east-1-demand-table-stream"
STREAM_ARN = f"arn:aws:kinesis:us-east-1:123456789012:stream/{STREAM}"
POISON = {
    "kinesis": {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": "fan:poison",
        "sequenceNumber": "49650000000000000000000000000000000000000000000000000007",
        "data": "eyJub3QiOiAiYSBjaGFuZ2UifQ==",
        "approximateArrivalTimestamp": 1764579600.0,
    },
    "eventSource": "aws:kinesis",
    "eventID": "shardId-000000000000:49650000000000000000000000000000000000000000000000000007",
    "eventSourceARN": STREAM_ARN,
}
COLUMNS = ("message", "kind", "sent", "receives", "worker", "reason", "position / body")


@pytest.fixture(scope="module")
def held() -> Iterator[Incident]:
    """The status scenario's stack; its send on-failure queue also holds a Lambda record and a parked one."""
    with incident() as staged:
        sqs = staged.target.clients.client("sqs")
        url = sqs.get_queue_url(QueueName=SEND_ON_FAILURE)["QueueUrl"]
        given_up = on_failure_record(STREAM_ARN, "shardId-000000000000", "100", "104", batch_size=5)
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(given_up))
        parking = RecordParking(worker="notification_send", queue=QueueSender(url=url, client=sqs))
        assert parking.park(POISON, "kinesis", RecordError("not a DynamoDB change record: missing 'eventID'"))
        yield staged


@pytest.fixture
def on_local(held: Incident, monkeypatch: pytest.MonkeyPatch) -> Incident:
    """`--stack local` reaches the staged stack."""
    local_stack_is(held.target, monkeypatch)
    return held


def visible_and_hidden(target: Target, queue: str) -> tuple[int, int]:
    sqs = target.clients.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


def test_show_tells_a_parked_record_from_lambdas_on_failure_record_and_leaves_them_visible(
    on_local: Incident,
) -> None:
    # Given the send worker's on-failure queue: two plain messages, a Lambda record, a parked record
    # When on-call peeks at it
    result = run_dmd("dlq", "show", "--stack", "local", "--queue", SEND_ON_FAILURE)

    # Then each message is shown with its kind; the parked one with its worker, reason and position
    assert result.exit_code == 0, result.output
    rows = [row for key, row in table_rows(result.stdout, COLUMNS).items() if key != "message"]
    kinds = sorted(row["kind"] for row in rows)
    assert kinds == ["message", "message", "on-failure", "parked"]
    (parked,) = [row for row in rows if row["kind"] == "parked"]
    assert (parked["worker"], parked["reason"]) == (
        "notification_send",
        "RecordError: not a DynamoDB change record: missing 'eventID'",
    )
    assert parked["position / body"] == f"{STREAM} shardId-000000000000 {POISON['kinesis']['sequenceNumber']}"
    (lambdas,) = [row for row in rows if row["kind"] == "on-failure"]
    assert lambdas["position / body"] == f"{STREAM} shardId-000000000000 100..104"
    assert "1 parked, 1 on-failure, 2 message" in flat(result.stdout)

    # And nothing was consumed or hidden: all four are still visible
    assert visible_and_hidden(on_local.target, SEND_ON_FAILURE) == (4, 0)


def test_show_json_has_the_documented_keys_and_the_parked_payload(on_local: Incident) -> None:
    # When a script peeks as JSON
    result = run_dmd("dlq", "show", "--stack", "local", "--queue", SEND_ON_FAILURE, "--json", "--limit", "10")

    # Then each entry has exactly the documented keys, and the parked body holds the record
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {key for entry in document for key in entry} == {
        *("messageId", "kind", "sentAt", "receiveCount", "worker", "reason", "position", "body"),
    }
    (parked,) = [entry for entry in document if entry["kind"] == "parked"]
    assert json.loads(parked["body"])["parked"]["record"] == POISON


def test_show_refuses_a_queue_that_is_not_a_dead_letter_or_on_failure_queue(on_local: Incident) -> None:
    # Given a work queue (a receive there would count towards its DLQ)
    work_queue = "prd3292-local-us-east-1-event-short-url"

    # When on-call asks to peek at it, then the command refuses with exit 2 and receives nothing
    result = run_dmd("dlq", "show", "--stack", "local", "--queue", work_queue)
    assert result.exit_code == 2
    assert flat(result.output).startswith(
        f"dmd: {work_queue} is not a dead-letter or on-failure queue of local"
    )
    assert visible_and_hidden(on_local.target, work_queue) == (3, 0)


def test_a_marked_message_whose_body_is_unreadable_is_still_parked() -> None:
    # Given a message with the parked attribute whose body was cut
    message = {
        "MessageId": "m-1",
        "Body": '{"parked": {"wor',
        "Attributes": {"SentTimestamp": "1764579600000", "ApproximateReceiveCount": "2"},
        "MessageAttributes": {"dmdParked": {"StringValue": "1", "DataType": "String"}},
    }

    # When it is read, then it is a parked message whose reason says the body is unreadable
    held = held_message(message)
    assert (held.kind, held.reason, held.receive_count) == ("parked", "body unreadable", 2)
    assert held.sent_at is not None and held.sent_at.year == 2025


def test_a_demand_item_the_generator_parked_shows_its_table_key_and_reason() -> None:
    # Given the generator's parked message: a malformed demand item with its table, key and job
    body = json.dumps(
        {
            "parked": {
                "worker": "notification_generator",
                "parkedAt": "2026-12-01T12:00:00Z",
                "reason": {
                    "errorType": "DemandDeviation:no-supported-contact-method",
                    "message": "contactMethod: missing",
                },
                "source": {
                    "kind": "dynamodb",
                    "tableName": "prd3292-prod1-us-east-1-demand-table",
                    "key": {"PK": "fan:fan-3", "SK": "demand#G5vYZ9-G5vYZ9-presale"},
                },
                "record": {"PK": {"S": "fan:fan-3"}, "SK": {"S": "demand#G5vYZ9-G5vYZ9-presale"}},
                "job": {"eventId": "G5vYZ9", "saleId": "G5vYZ9-presale"},
            }
        }
    )
    message = {
        "MessageId": "m-7",
        "Body": body,
        "Attributes": {"SentTimestamp": "1796126400000", "ApproximateReceiveCount": "1"},
        "MessageAttributes": {"dmdParked": {"StringValue": "1", "DataType": "String"}},
    }

    # When it is read
    held = held_message(message)

    # Then it is parked by the generator, at the item's table and key, for its deviation, payload kept
    assert (held.kind, held.worker) == ("parked", "notification_generator")
    assert held.position == "prd3292-prod1-us-east-1-demand-table fan:fan-3 demand#G5vYZ9-G5vYZ9-presale"
    assert held.reason == "DemandDeviation:no-supported-contact-method: contactMethod: missing"
    assert held.body == body
