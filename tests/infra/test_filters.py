"""The deployed event-source filters, evaluated by a real EventBridge pattern matcher on realistic records.

The patterns are read from the synthesized graph (what is deployed), not from the catalog. Lambda
applies a Kinesis mapping's filter to `{"data": <the record's decoded JSON>}`; on the table's stream
that JSON is a Kinesis-for-DynamoDB change record with typed images.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from moto.events.models import EventPattern

from tests.infra.graphs import STACKS, stack_graph

TABLE = "prd3292-prod1-us-east-1-demand-table"
_serializer = TypeSerializer()


def _typed(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in item.items()}


def _kinesis_record(
    event_name: str, *, new: dict[str, Any] | None = None, old: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Lambda Kinesis event record carrying one change as Kinesis Data Streams for DynamoDB writes it."""
    image = new or old or {}
    change: dict[str, Any] = {
        "awsRegion": "us-east-1",
        "eventID": "6b2c1f0e-8d5a-4c1e-9a0b-3f7e2d1c0b9a",
        "eventName": event_name,
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": TABLE,
        "dynamodb": {
            "ApproximateCreationDateTime": 1_767_225_600_000,
            "ApproximateCreationDateTimePrecision": "MILLISECOND",
            "Keys": _typed({"PK": image["PK"], "SK": image["SK"]}),
            "SizeBytes": 412,
        },
        "eventSource": "aws:dynamodb",
    }
    if new is not None:
        change["dynamodb"]["NewImage"] = _typed(new)
    if old is not None:
        change["dynamodb"]["OldImage"] = _typed(old)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "A1B2C3D4E5F6",
            "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
            "data": base64.b64encode(json.dumps(change).encode()).decode(),
            "approximateArrivalTimestamp": 1_767_225_600.123,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": "shardId-000000000000:49590338271490256608559692538361571095921575989136588898",
        "eventName": "aws:kinesis:record",
        "awsRegion": "us-east-1",
    }


def _filter_input(record: dict[str, Any]) -> Any:
    """What Lambda matches a Kinesis record's filter against: its decoded data under `data`."""
    return {"data": json.loads(base64.b64decode(record["kinesis"]["data"]))}


def _deployed_patterns(stack: str, worker: str) -> list[str]:
    mapping = stack_graph(stack).named(f"{worker}-trigger")
    return [item["pattern"] for item in mapping.inputs["filterCriteria"]["filters"]]


def _delivered(stack: str, worker: str, record: dict[str, Any]) -> bool:
    """Whether Lambda would hand the record to the worker (its patterns are OR-ed)."""
    event = _filter_input(record)
    return any(
        EventPattern.load(pattern).matches_event(event) for pattern in _deployed_patterns(stack, worker)
    )


def notification(status: str, *, type_: str = "notification") -> dict[str, Any]:
    return {
        "PK": "SALE#vvG1zZ9KbP7Bqz",
        "SK": "NOTIFICATION#fan-4242#sms",
        "type": type_,
        "fanId": "fan-4242",
        "saleId": "vvG1zZ9KbP7Bqz",
        "contactMethod": "sms",
        "status": {"id": status, "updatedAt": "2026-01-15T09:30:00Z", "attempts": 0},
        "expiresAt": 1_768_867_200,
    }


def event(*, is_suppressed: bool | None = False, short_url: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": "EVENT#G5vYZ9KbP7Bqz",
        "SK": "EVENT#G5vYZ9KbP7Bqz",
        "type": "event",
        "name": "Example Artist World Tour",
        "url": "https://www.ticketmaster.com/event/G5vYZ9KbP7Bqz",
        "expiresAt": 1_768_867_200,
    }
    if is_suppressed is not None:
        item["isSuppressed"] = is_suppressed
    if short_url is not None:
        item["shortUrl"] = short_url
    return item


DEMAND = {
    "PK": "fan:fan-4242",
    "SK": "demand#vvG1zZ9KbP7Bqz-public",
    "type": "demand",
    "fanId": "fan-4242",
    "eventId": "vvG1zZ9KbP7Bqz",
    "saleId": "public",
    "contactMethod": "sms",
}
SALE = {
    "PK": "SALE#vvG1zZ9KbP7Bqz",
    "SK": "SALE#vvG1zZ9KbP7Bqz",
    "type": "sale",
    "saleStartDate": "2026-01-15",
    "saleStartDateTime": "2026-01-15T10:00:00Z",
    "eventId": "G5vYZ9KbP7Bqz",
}


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def test_the_deployed_patterns_are_read_from_the_graph(stack: str) -> None:
    # Given the synthesized stack
    # When the two filtered workers' patterns are read
    send, forward = (
        _deployed_patterns(stack, "notification_send"),
        _deployed_patterns(stack, "demand_stream_to_sqs"),
    )

    # Then there is one for the sender and two (OR-ed) for the forwarder, all valid EventBridge patterns
    assert (len(send), len(forward)) == (1, 2)
    assert all(EventPattern.load(pattern) is not None for pattern in (*send, *forward))


def test_a_created_notification_is_sent(stack: str) -> None:
    # Given a new notification in status CREATED
    record = _kinesis_record("INSERT", new=notification("CREATED"))

    # When the sender's filter is applied
    # Then the record is delivered
    assert _delivered(stack, "notification_send", record) is True


def test_a_notification_modified_to_retry_is_sent(stack: str) -> None:
    # Given a notification whose send attempt failed, set back to RETRY
    record = _kinesis_record("MODIFY", new=notification("RETRY"), old=notification("TRIGGERED"))

    # When the sender's filter is applied
    # Then the record is delivered
    assert _delivered(stack, "notification_send", record) is True


@pytest.mark.parametrize("status", ["TRIGGERED", "SENT", "FAILED", "EXPIRED"])
def test_a_notification_in_another_status_is_not_sent(stack: str, status: str) -> None:
    # Given a notification that reached a status the sender does not act on
    record = _kinesis_record("MODIFY", new=notification(status), old=notification("CREATED"))

    # When the sender's filter is applied
    # Then the record is filtered out
    assert _delivered(stack, "notification_send", record) is False


@pytest.mark.parametrize("status", ["CREATED", "RETRY"])
def test_the_senders_own_claim_write_does_not_trigger_it_again(stack: str, status: str) -> None:
    # Given the sender claimed a notification before calling the vendor (status unchanged)
    record = _kinesis_record(
        "MODIFY", new={**notification(status), "claimId": "claim-1"}, old=notification(status)
    )

    # When the sender's filter is applied
    # Then the claim write is filtered out: only unclaimed CREATED/RETRY records trigger a send
    assert _delivered(stack, "notification_send", record) is False


def test_a_removed_notification_is_not_sent(stack: str) -> None:
    # Given a notification deleted (TTL or cleanup), whose change carries only the old image
    record = _kinesis_record("REMOVE", old=notification("CREATED"))

    # When the sender's filter is applied
    # Then the record is filtered out
    assert _delivered(stack, "notification_send", record) is False


def test_an_asu_notification_is_sent(stack: str) -> None:
    # Given a created notification of the `notification:asu` type
    record = _kinesis_record("INSERT", new=notification("CREATED", type_="notification:asu"))

    # When the sender's filter is applied
    # Then the record is delivered
    assert _delivered(stack, "notification_send", record) is True


def test_another_item_type_with_a_created_status_is_not_sent(stack: str) -> None:
    # Given an item of another type that happens to carry status CREATED
    record = _kinesis_record("INSERT", new=notification("CREATED", type_="notification-audit"))

    # When the sender's filter is applied
    # Then the record is filtered out
    assert _delivered(stack, "notification_send", record) is False


def test_an_unsuppressed_event_without_a_short_url_is_forwarded(stack: str) -> None:
    # Given a cached event, not suppressed, without a short URL yet
    record = _kinesis_record("INSERT", new=event(is_suppressed=False))

    # When the forwarder's filter is applied
    # Then the record is delivered
    assert _delivered(stack, "demand_stream_to_sqs", record) is True


def test_an_event_without_the_suppressed_flag_is_forwarded(stack: str) -> None:
    # Given a cached event that has no isSuppressed attribute at all
    record = _kinesis_record("MODIFY", new=event(is_suppressed=None))

    # When the forwarder's filter is applied
    # Then the record is delivered (the second, OR-ed pattern)
    assert _delivered(stack, "demand_stream_to_sqs", record) is True


def test_a_suppressed_event_is_not_forwarded(stack: str) -> None:
    # Given a cached event suppressed by the business rules
    record = _kinesis_record("INSERT", new=event(is_suppressed=True))

    # When the forwarder's filter is applied
    # Then the record is filtered out
    assert _delivered(stack, "demand_stream_to_sqs", record) is False


def test_an_event_that_already_has_a_short_url_is_not_forwarded(stack: str) -> None:
    # Given a cached event the shortener already completed (the write that would loop back)
    record = _kinesis_record("MODIFY", new=event(short_url="https://tmtix.co/abc123"), old=event())

    # When the forwarder's filter is applied
    # Then the record is filtered out
    assert _delivered(stack, "demand_stream_to_sqs", record) is False


def test_a_removed_event_is_not_forwarded(stack: str) -> None:
    # Given an expired event removed from the cache
    record = _kinesis_record("REMOVE", old=event())

    # When the forwarder's filter is applied
    # Then the record is filtered out
    assert _delivered(stack, "demand_stream_to_sqs", record) is False


@pytest.mark.parametrize("item", [DEMAND, SALE], ids=["demand", "sale"])
@pytest.mark.parametrize("worker", ["notification_send", "demand_stream_to_sqs"])
def test_demand_and_sale_records_reach_neither_worker(stack: str, worker: str, item: dict[str, Any]) -> None:
    # Given a demand or sale record written to the table
    record = _kinesis_record("INSERT", new=item)

    # When either filtered worker's filter is applied
    # Then the record is filtered out
    assert _delivered(stack, worker, record) is False


def test_the_workers_do_not_receive_each_others_records(stack: str) -> None:
    # Given a created notification and a forwardable event
    created = _kinesis_record("INSERT", new=notification("CREATED"))
    forwardable = _kinesis_record("INSERT", new=event())

    # When each worker's filter is applied to the other's record
    # Then neither is delivered
    assert _delivered(stack, "demand_stream_to_sqs", created) is False
    assert _delivered(stack, "notification_send", forwardable) is False


def test_the_filter_applies_to_the_decoded_data_not_the_raw_kinesis_record(stack: str) -> None:
    # Given a created notification as Lambda receives it (base64 data inside the Kinesis envelope)
    record = _kinesis_record("INSERT", new=notification("CREATED"))
    patterns = _deployed_patterns(stack, "notification_send")

    # When the pattern is applied to the raw envelope instead of `{"data": <decoded JSON>}`
    envelope: Any = record
    raw = any(EventPattern.load(pattern).matches_event(envelope) for pattern in patterns)

    # Then nothing matches: the patterns are written for the decoded form, as Lambda evaluates them
    assert raw is False
    assert _delivered(stack, "notification_send", record) is True
