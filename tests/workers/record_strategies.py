"""Hypothesis strategies for the workers' inputs: any JSON, and near-valid mutations of a valid record.

The parser properties (tests/workers/**/test_*_properties.py) throw these at every record parser:
arbitrary JSON values, and a valid record with one to three faults — a field dropped, a value of the
wrong type, an extra field, a huge or unusual string, null, nested garbage — anywhere in its tree;
Kinesis `data` that is not base64, base64 that is not JSON, JSON that is not an object.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st
from trigger_records import change_data, kinesis_record, sequence_number, sqs_record

from workers.shared.statuses import NotificationStatus

# --------------------------------------------------------------------------------------------- values

# Any text JSON can carry: every plane, combining marks, RTL, NUL (never lone surrogates: not UTF-8).
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
huge_text = st.builds(
    lambda unit, times: unit * times,
    st.sampled_from(["x", "é", "😀", "\x00", "#|"]),
    st.integers(300, 5_000),
)

# Plain values DynamoDB stores and gives back as they were (no floats: those come back as Decimal).
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: JSON numbers beyond any float or time_t are valid JSON
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
    | st.sampled_from(
        ["", " ", "null", "0", "-1", "1e400", "NaN", "2024-01-15T14:30:00Z", "\u202e", "fan:|#"]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=5),
    max_leaves=15,
)
json_objects = st.dictionaries(text, json_values, max_size=6)

# Instants at and beyond the edges a parser meets: the epoch, year 1 and 9999, odd offsets, naive.
offsets = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12, minutes=59))])
edge_datetimes = st.datetimes(timezones=st.none() | offsets) | st.sampled_from(
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(-timedelta(hours=5))),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(999, 12, 31, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
    ]
)
edge_instants = st.one_of(
    edge_datetimes.map(lambda moment: moment.isoformat()),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.sampled_from(
        ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2024-13-01T00:00:00Z", "now"]
    ),
)

# ------------------------------------------------------------------------------ near-valid mutations


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a member of a nested JSON document (object keys and array indexes)."""
    found: list[tuple[Any, ...]] = []
    members: list[tuple[Any, Any]] = []
    if isinstance(document, dict):
        members = list(document.items())
    elif isinstance(document, list):
        members = list(enumerate(document))
    for name, value in members:
        found.append((*prefix, name))
        found.extend(_paths(value, (*prefix, name)))
    return found


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


_FAULTS = (
    "drop",
    "wrong type",
    "extra field",
    "huge string",
    "unicode",
    "null",
    "nested garbage",
    "edge instant",
)


@st.composite
def near_valid(draw: st.DrawFn, valid: Mapping[str, Any], *, faults: int = 3) -> dict[str, Any]:
    """`valid` with one to `faults` faults, each at any depth of its tree."""
    document: dict[str, Any] = copy.deepcopy(dict(valid))
    for _ in range(draw(st.integers(1, faults))):
        paths = _paths(document)
        fault = draw(st.sampled_from(_FAULTS))
        if fault == "extra field" or not paths:
            objects = [(), *(path for path in paths if isinstance(_at(document, path), dict))]
            _at(document, draw(st.sampled_from(objects)))[draw(text)] = draw(json_values)
            continue
        path = draw(st.sampled_from(paths))
        parent, name = _at(document, path[:-1]), path[-1]
        if fault == "drop":
            del parent[name]
        elif fault == "wrong type":
            kind = type(parent[name])
            parent[name] = draw(json_values.filter(lambda value, kind=kind: type(value) is not kind))
        elif fault == "huge string":
            parent[name] = draw(huge_text)
        elif fault == "unicode":
            parent[name] = draw(text)
        elif fault == "null":
            parent[name] = None
        elif fault == "edge instant":
            parent[name] = draw(edge_instants)
        else:
            parent[name] = draw(
                st.dictionaries(text, json_values, min_size=1, max_size=3)
                | st.lists(json_values, min_size=1, max_size=3)
            )
    return document


def documents(valid: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """What may arrive where `valid` is expected: the valid record, a near-valid one, or any JSON."""
    return st.one_of(st.just(copy.deepcopy(dict(valid))), near_valid(valid), json_values, json_objects)


# ----------------------------------------------------------------------------------- trigger records


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kinesis_data(payloads: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    """A Kinesis record's `data`: base64 of a payload's JSON, base64 of non-JSON bytes, or not base64."""
    return st.one_of(
        payloads.map(lambda payload: b64(json.dumps(payload).encode())),
        st.binary(max_size=64).map(b64),
        st.sampled_from(["", "not base64!", "eyJh", "////", b64(b"\xff\xfe{}"), b64(b"[]"), b64(b'"text"')]),
        text,
    )


@st.composite
def kinesis_records(draw: st.DrawFn, payloads: st.SearchStrategy[Any], *, index: int = 1) -> dict[str, Any]:
    """A Lambda Kinesis record carrying any `payloads` data, its envelope valid or near-valid."""
    record = kinesis_record(sequence_number(index), b"{}")
    record["kinesis"]["data"] = draw(kinesis_data(payloads))
    return draw(st.just(record) | near_valid(record, faults=1))


@st.composite
def sqs_records(
    draw: st.DrawFn, bodies: st.SearchStrategy[Any], *, message_id: str = "m-1"
) -> dict[str, Any]:
    """A Lambda SQS record: any `bodies` as JSON, or not JSON; its envelope valid or near-valid."""
    body = draw(bodies.map(json.dumps) | text | st.sampled_from(["", "{", "null", "[1]", "\ufeff{}"]))
    record = sqs_record(message_id, body)
    return draw(st.just(record) | near_valid(record, faults=1))


# ------------------------------------------------------------------------------------ valid records

statuses = st.sampled_from([status.value for status in NotificationStatus])
notification_like = st.fixed_dictionaries(
    {
        "PK": st.from_regex(r"fan:[A-Za-z0-9-]{1,20}", fullmatch=True),
        "SK": st.from_regex(r"notification#[A-Za-z0-9]{1,10}-[A-Za-z0-9]{1,10}#(sms|email)", fullmatch=True),
        "type": st.just("notification"),
        "status": st.fixed_dictionaries({"id": statuses, "date": text}),
        "date": st.dictionaries(
            st.sampled_from(["created", "triggered", "queued", "sent"]), text, max_size=4
        ),
        "sendAttempts": st.integers(0, 3),
        "errors": st.lists(
            st.fixed_dictionaries(
                {"reason": text, "timestamp": text}, optional={"statusCode": st.integers(100, 599)}
            ),
            max_size=3,
        ),
    },
    optional={
        "messageBody": text,
        "templateVariables": st.dictionaries(st.text(min_size=1, max_size=12), text, max_size=5),
        "messageId": st.uuids().map(str),
        "nextAttemptAt": text,
        "isTest": st.booleans(),
        "expiresAt": st.integers(0, 2**40),
    },
)

VALID_NOTIFICATION: dict[str, Any] = {
    "PK": "fan:a1b2c3d4e5",
    "SK": "notification#vvG1IZ9KBxv3Tg-vvG1IZ9KBxv3Tg-presale-vf#sms",
    "type": "notification",
    "fanId": "a1b2c3d4e5",
    "eventId": "vvG1IZ9KBxv3Tg",
    "saleId": "vvG1IZ9KBxv3Tg-presale-vf",
    "contactMethod": "sms",
    "phoneNumber": "+15555550123",
    "messageBody": "Reminder! Tickets go on sale at 10:00 AM EST",
    "status": {"id": "CREATED", "date": "2024-01-15T09:45:00.123Z"},
    "date": {"created": "2024-01-15T09:45:00.123Z"},
    "sendAttempts": 0,
    "errors": [{"reason": "HTTP 503", "timestamp": "2024-01-15T09:46:00.000Z", "statusCode": 503}],
    "saleStartDateTime": "2024-01-15T15:00:00Z",
    "nextAttemptAt": "2024-01-15T09:46:30.000Z",
    "sweepShard": "7",
    "sweepAt": "2024-01-15T09:50:00.123Z",
    "expiresAt": 1707991500,
}
VALID_EVENT: dict[str, Any] = {
    "PK": "event:vvG1IZ9KBxv3Tg",
    "SK": "event#details",
    "type": "event",
    "id": "vvG1IZ9KBxv3Tg",
    "name": "Beyoncé - Renaissance World Tour",
    "url": "https://www.ticketmaster.com/event/vvG1IZ9KBxv3Tg",
    "locale": "en-us",
    "timezone": "America/New_York",
    "eventStartDateTime": "2024-03-15T23:00:00.000Z",
    "attractions": [{"id": "K8vZ9171ob7", "name": "Beyoncé"}],
    "countryCode": "US",
    "isSuppressed": False,
    "expiresAt": 1710547200,
}
VALID_SALE: dict[str, Any] = {
    "PK": "event:vvG1IZ9KBxv3Tg",
    "SK": "sale#vvG1IZ9KBxv3Tg-presale-vf",
    "type": "sale",
    "id": "vvG1IZ9KBxv3Tg-presale-vf",
    "eventId": "vvG1IZ9KBxv3Tg",
    "name": "Verified Fan Presale",
    "saleStartDateTime": "2024-01-15T15:00:00Z",
    "saleTypes": ["PRESALE"],
    "expiresAt": 1710547200,
}
VALID_DEMAND: dict[str, Any] = {
    "PK": "fan:a1b2c3d4e5",
    "SK": "demand#vvG1IZ9KBxv3Tg-vvG1IZ9KBxv3Tg-presale-vf",
    "type": "demand",
    "fanId": "a1b2c3d4e5",
    "eventId": "vvG1IZ9KBxv3Tg",
    "saleId": "vvG1IZ9KBxv3Tg-presale-vf",
    "phoneNumber": "+15555550123",
    "email": "fan@example.com",
    "contactMethod": "sms,email",
    "marketId": "TM_US",
    "locale": "en_US",
}


def change_payload(item: Mapping[str, Any], *, event_name: str = "MODIFY") -> dict[str, Any]:
    """The decoded Kinesis-for-DynamoDB change record of `item` (the `data` of a table stream record)."""
    decoded: dict[str, Any] = json.loads(change_data(dict(item), event_name=event_name, old_item=dict(item)))
    return decoded


VALID_STATUS_EVENT: dict[str, Any] = {
    "messageId": "SM0123456789",
    "status": "DELIVERED",
    "timestamp": "2024-01-15T14:30:05.250Z",
    "reference": "fan:a1b2c3d4e5|notification#vvG1IZ9KBxv3Tg-vvG1IZ9KBxv3Tg-presale-vf#sms",
    "errorCode": None,
    "errorReason": None,
}
VALID_GENERATION_JOB: dict[str, Any] = {
    "eventId": "vvG1IZ9KBxv3Tg",
    "saleId": "vvG1IZ9KBxv3Tg-presale-vf",
    "saleStartDateTime": "2024-01-15T15:00:00Z",
    "windowStart": "2024-01-15T14:30:00Z",
    "windowEnd": "2024-01-15T15:00:00Z",
    "cursor": None,
    "part": 0,
}
VALID_SHORT_URL_JOB: dict[str, Any] = {"eventId": "vvG1IZ9KBxv3Tg"}
VALID_SCHEDULE_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2024-01-15T14:30:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/prd3292-qa1-us-east-1-ntfcn-schdlr-schedule"],
    "detail": {},
}
VALID_RESOLVER_EVENT: dict[str, Any] = {
    "arguments": {"eventId": "vvG1IZ9KBxv3Tg", "tmMarketId": "TM_US"},
    "identity": {"accountId": "123456789012", "sourceIp": ["203.0.113.17"]},
    "source": None,
    "request": {
        "headers": {"x-amzn-trace-id": "Root=1-65a4f0a0-3f2b6c1d9e8a7b6c5d4e3f21"},
        "domainName": None,
    },
    "prev": None,
    "info": {
        "selectionSetList": ["eventId", "eventName"],
        "selectionSetGraphQL": "{\n  eventId\n  eventName\n}",
        "parentTypeName": "Query",
        "fieldName": "eventDetails",
        "variables": {},
    },
    "stash": {},
}
