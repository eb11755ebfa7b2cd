"""Records of the demand table: keys, items, timestamps, the status machine and item conversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from record_strategies import plain_values

from workers.shared.errors import RecordError
from workers.shared.keys import (
    Key,
    demand_key,
    event_key,
    key_from_reference,
    notification_reference,
    sale_key,
)
from workers.shared.models import (
    ContactMethod,
    DemandRecord,
    EventRecord,
    NotificationRecord,
    SaleRecord,
    SendError,
    deserialize_item,
    expiry,
    notification_key,
    record_from_item,
    serialize_item,
)
from workers.shared.statuses import TERMINAL_STATUSES, NotificationStatus, can_transition, sources_of

S = NotificationStatus
AT = datetime(2024, 1, 15, 9, 45, 0, 123456, tzinfo=UTC)


def sms_notification(**overrides: Any) -> NotificationRecord:
    fields: dict[str, Any] = {
        "fan_id": "fan-1",
        "event_id": "evt-1",
        "sale_id": "sale-1",
        "contact_method": "sms",
        "phone_number": "+15555550123",
        "message_body": "Tickets go on sale soon",
        "sale_start_date_time": "2024-01-15T15:00:00Z",
    }
    return NotificationRecord.created(at=AT, **{**fields, **overrides})


def test_keys_follow_the_table_key_patterns() -> None:
    # Then each record kind has the PK/SK of the demand table's data model (the event item keeps one SK)
    assert event_key("E1") == Key("event:E1", "event#details")
    assert sale_key("E1", "S1") == Key("event:E1", "sale#S1")
    assert demand_key("F1", "E1", "S1") == Key("fan:F1", "demand#E1-S1")
    assert notification_key("F1", "E1", "S1", ContactMethod.EMAIL) == Key(
        "fan:F1", "notification#E1-S1#email"
    )


def test_notification_item_has_keys_group_id_and_camel_case_attributes() -> None:
    # Given a new SMS notification
    notification = sms_notification(app_id="reminders", market_id="TM_US")

    # When it becomes a table item
    item = notification.to_item()

    # Then it carries PK/SK, groupId = SK, CREATED status, created stamp and zero attempts
    assert item["PK"] == "fan:fan-1"
    assert item["SK"] == "notification#evt-1-sale-1#sms"
    assert item["groupId"] == item["SK"]
    assert item["type"] == "notification"
    assert item["status"] == {"id": "CREATED", "date": "2024-01-15T09:45:00.123Z"}
    assert item["date"] == {"created": "2024-01-15T09:45:00.123Z"}
    assert item["sendAttempts"] == 0
    assert item["errors"] == []
    assert item["saleStartDateTime"] == "2024-01-15T15:00:00Z"
    assert "templateVariables" not in item  # absent, not null
    assert notification.reference == "fan:fan-1|notification#evt-1-sale-1#sms"


def test_every_record_round_trips_through_a_typed_dynamodb_item() -> None:
    # Given one record of each kind
    records = [
        sms_notification(errors=(SendError(status_code=503, reason="throttled", timestamp=AT),)),
        NotificationRecord.created(
            at=AT,
            fan_id="fan-1",
            event_id="evt-1",
            sale_id="sale-1",
            contact_method="email",
            email="fan@example.com",
            template_variables={"artistName": "Beyoncé", "eventDay": "FRI"},
            sale_start_date_time="2024-01-15T15:00:00Z",
            locale="fr-CA",
        ),
        EventRecord(
            id="evt-1",
            name="Show",
            url="https://www.ticketmaster.com/event/evt-1",
            timezone="America/Toronto",
            country_code="CA",
            is_suppressed=False,
            expires_at=expiry(AT, hours=24),
            attractions=[{"id": "a1", "name": "Artist"}],
        ),
        SaleRecord(
            id="sale-1",
            event_id="evt-1",
            name="Presale",
            sale_start_date_time="2024-01-15T15:00:00Z",
            expires_at=1,
        ),
        DemandRecord(fan_id="fan-1", event_id="evt-1", sale_id="sale-1", contact_method="sms,email"),
    ]

    for record in records:
        # When written as DynamoDB attribute values and read back
        item = deserialize_item(serialize_item(record.to_item()))

        # Then the same record comes back, chosen by its type attribute
        assert record_from_item(item) == record


def test_derived_index_attributes_are_written() -> None:
    # Given a sale late in the UTC day and a demand record
    sale = SaleRecord(
        id="s", event_id="e", name="Public", sale_start_date_time="2024-01-15T19:30:00-05:00", expires_at=1
    )
    demand = DemandRecord(fan_id="f", event_id="e", sale_id="s", contact_method="sms")

    # Then the sale is indexed under its UTC date
    assert sale.to_item()["saleStartDate"] == "2024-01-16"
    assert sale.to_item()["saleStartDateTime"] == "2024-01-16T00:30:00Z"
    # And the demand record carries only the fan-facing writer's attributes: the `demand-by-sale`
    # index keys on two of them (eventId, SK), nothing only this repo would write
    assert demand.to_item() == {
        "PK": "fan:f",
        "SK": "demand#e-s",
        "type": "demand",
        "fanId": "f",
        "eventId": "e",
        "saleId": "s",
        "contactMethod": "sms",
        "marketId": "TM_US",
        "locale": "en-us",
    }


def test_is_suppressed_is_always_written_even_when_false() -> None:
    # Given an event that is not suppressed
    event = EventRecord(
        id="e", name="n", url="u", timezone="UTC", country_code="US", is_suppressed=False, expires_at=1
    )

    # Then the attribute is present (the stream filter must not have to guess)
    assert event.to_item()["isSuppressed"] is False


def test_timestamps_must_carry_a_timezone() -> None:
    # When a naive sale start is given, then validation names the field
    with pytest.raises(ValidationError, match=r"sale_start_date_time|saleStartDateTime"):
        SaleRecord(id="s", event_id="e", name="n", sale_start_date_time=datetime(2024, 1, 1), expires_at=1)


def test_timestamps_are_stored_in_utc_with_fixed_precision() -> None:
    # Given a status time in another zone and a sale start with sub-second noise
    eastern = timezone(timedelta(hours=-5))
    created = NotificationRecord.model_validate(
        {
            **sms_notification().model_dump(),
            "date": {"created": datetime(2024, 1, 15, 4, 45, 0, 999999, tzinfo=eastern)},
            "sale_start_date_time": datetime(2024, 1, 15, 10, 0, 0, 500000, tzinfo=eastern),
        }
    )

    # Then status dates are UTC with milliseconds, sale starts UTC to the second
    assert created.to_item()["date"]["created"] == "2024-01-15T09:45:00.999Z"
    assert created.to_item()["saleStartDateTime"] == "2024-01-15T15:00:00Z"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"phone_number": None}, "an sms notification needs phoneNumber and messageBody"),
        ({"contact_method": "email"}, "an email notification needs email and templateVariables"),
        ({"fan_id": "fan#1"}, "String should match pattern"),
        ({"locale": "de-de"}, "Input should be 'en-us', 'en-ca' or 'fr-ca'"),
    ],
)
def test_invalid_notifications_are_rejected_with_the_reason(overrides: dict[str, Any], message: str) -> None:
    # When a notification lacks what its channel needs or has a malformed field
    with pytest.raises(ValidationError, match=message):
        sms_notification(**overrides)


def test_contact_methods_are_normalized_and_validated() -> None:
    # Given a messy but meaningful contact method list
    demand = DemandRecord(fan_id="f", event_id="e", sale_id="s", contact_method=" SMS, email,sms")

    # Then it is normalized, and an unknown method is rejected by name
    assert demand.contact_method == "sms,email"
    assert demand.contact_methods == (ContactMethod.SMS, ContactMethod.EMAIL)
    with pytest.raises(ValidationError, match="'fax' is not a valid ContactMethod"):
        DemandRecord(fan_id="f", event_id="e", sale_id="s", contact_method="sms,fax")


def test_reference_round_trips_to_the_notification_key() -> None:
    # Given the reference given to the SMS service
    key = notification_key("F-1", "E-1", "S-1", "sms")

    # Then the status consumer derives the key back without a lookup
    assert key_from_reference(notification_reference(key)) == key


@pytest.mark.parametrize("reference", ["", "fan:F1", "event:E1|event#details", "fan:F1|demand#E1-S1"])
def test_foreign_references_are_rejected(reference: str) -> None:
    # When a status event carries something that is not a notification reference
    with pytest.raises(RecordError, match="is not a notification reference"):
        key_from_reference(reference)


FORWARD = [S.CREATED, S.TRIGGERED, S.QUEUED, S.SENT, S.DELIVERED]


@pytest.mark.parametrize(
    ("earlier", "later"), [(a, b) for i, a in enumerate(FORWARD) for b in FORWARD[i + 1 :]]
)
def test_status_moves_forward_never_back(earlier: NotificationStatus, later: NotificationStatus) -> None:
    # Then every forward move is allowed and its reverse is not
    assert can_transition(earlier, later)
    assert not can_transition(later, earlier)


@pytest.mark.parametrize("status", list(NotificationStatus))
def test_same_status_is_not_a_transition_except_retry(status: NotificationStatus) -> None:
    # Then repeating a status is a no-op, but a retry may fail again
    assert can_transition(status, status) is (status is S.RETRY)


def test_failed_is_reachable_from_every_live_state_and_terminal_states_stay() -> None:
    # Then FAILED comes from any non-terminal state; DELIVERED and FAILED (and EXPIRED) never move
    assert sources_of(S.FAILED) == {S.CREATED, S.TRIGGERED, S.QUEUED, S.SENT, S.RETRY}
    for target in NotificationStatus:
        assert not can_transition(S.DELIVERED, target)
        assert not can_transition(S.FAILED, target)


def test_retry_is_transient_before_the_vendor_queued_the_message() -> None:
    # Then RETRY comes only from CREATED/TRIGGERED/RETRY and leads back into the send path
    assert sources_of(S.RETRY) == {S.CREATED, S.TRIGGERED, S.RETRY}
    assert can_transition(S.RETRY, S.TRIGGERED)
    assert not can_transition(S.RETRY, S.CREATED)
    assert sources_of(S.CREATED) == frozenset()


def test_expired_comes_only_from_an_unsent_notification_and_is_terminal() -> None:
    # Then only CREATED and RETRY (never sent) may expire, and an EXPIRED notification never moves:
    # no vendor status, retry or failure can bring back a reminder whose sale already started
    assert sources_of(S.EXPIRED) == {S.CREATED, S.RETRY}
    assert S.EXPIRED in TERMINAL_STATUSES
    assert [target for target in NotificationStatus if can_transition(S.EXPIRED, target)] == []
    assert S.EXPIRED.date_attribute == "expired"


def test_floats_become_decimals_and_non_finite_numbers_are_refused() -> None:
    # When an item holds floats
    attributes = serialize_item({"ratio": 0.1, "nested": {"values": [1.5, 2]}})

    # Then DynamoDB gets exact decimals, and they come back as Decimal/int
    assert attributes["ratio"] == {"N": "0.1"}
    assert deserialize_item(attributes) == {
        "ratio": Decimal("0.1"),
        "nested": {"values": [Decimal("1.5"), 2]},
    }
    with pytest.raises(ValueError, match="cannot store nan"):
        serialize_item({"bad": float("nan")})


@given(st.dictionaries(st.text(min_size=1, max_size=12), plain_values, max_size=8))
def test_plain_items_survive_serialization(item: dict[str, Any]) -> None:
    # Then TypeSerializer → TypeDeserializer gives back the same plain item (ints stay ints)
    assert deserialize_item(serialize_item(item)) == item
