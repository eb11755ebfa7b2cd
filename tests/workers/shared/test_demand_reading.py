"""Demand items as the fan-facing system writes them: what is kept, what is skipped, and why."""

from __future__ import annotations

from typing import Any

import pytest

from workers.shared.demand_reading import DemandDeviation, read_demand
from workers.shared.models import ContactMethod

PHONE = "+13125550100"
EMAIL = "fan@fans.example.com"


def writer_item(**overrides: Any) -> dict[str, Any]:
    """A demand item with the reference's attributes (system-reference.md §2.3), as plain python."""
    item: dict[str, Any] = {
        "PK": "fan:fan-1",
        "SK": "demand#evt-1-presale",
        "type": "demand",
        "fanId": "fan-1",
        "eventId": "evt-1",
        "saleId": "presale",
        "contactMethod": "sms,email",
        "phoneNumber": PHONE,
        "email": EMAIL,
        "marketId": "TM_US",
        "locale": "en-us",
    }
    item.update(overrides)
    return {name: value for name, value in item.items() if value is not None}


def read(**overrides: Any) -> Any:
    return read_demand(writer_item(**overrides), event_id="evt-1", sale_id="presale")


def test_a_record_as_the_writer_writes_it_is_kept_without_deviation() -> None:
    # When a complete demand item is read
    reading = read()

    # Then it is the fan's record, every method kept
    assert reading.deviations == ()
    assert reading.record is not None
    assert reading.record.contact_methods == (ContactMethod.SMS, ContactMethod.EMAIL)
    assert (reading.record.phone_number, reading.record.email, reading.record.locale) == (
        PHONE,
        EMAIL,
        "en-us",
    )


def test_unsupported_contact_methods_are_dropped_and_the_supported_ones_kept() -> None:
    # When the writer offers methods the fleet cannot send besides SMS and email
    reading = read(contactMethod="sms, PUSH,email,whatsapp")

    # Then SMS and email are kept, and the others reported as one deviation naming them
    assert reading.record is not None
    assert reading.record.contact_methods == (ContactMethod.SMS, ContactMethod.EMAIL)
    (deviation,) = reading.deviations
    assert deviation.kind is DemandDeviation.UNSUPPORTED_CONTACT_METHOD
    assert (deviation.field, deviation.detail) == ("contactMethod", "push,whatsapp")
    assert not deviation.kind.skips_the_record


def test_contact_methods_stored_as_a_string_set_are_read_too() -> None:
    # When the writer stores the methods as a DynamoDB string set
    reading = read(contactMethod={"email", "sms"})

    # Then both are kept
    assert reading.record is not None and set(reading.record.contact_methods) == set(ContactMethod)


def test_an_unknown_locale_gives_way_to_the_event_locale() -> None:
    # When the fan's locale is one the fleet has no messages for
    reading = read(locale="de-de")

    # Then the record is kept with its locale unset (the generator uses the event's), and it is reported
    assert reading.record is not None
    assert "locale" not in reading.record.model_fields_set
    (deviation,) = reading.deviations
    assert (deviation.kind, deviation.field, deviation.detail) == (
        DemandDeviation.UNKNOWN_LOCALE,
        "locale",
        "de-de",
    )


@pytest.mark.parametrize(
    ("written", "read_as"), [("EN-CA", "en-ca"), ("fr_CA", "fr-ca"), (" en-us ", "en-us")]
)
def test_a_supported_locale_in_another_spelling_is_recognized(written: str, read_as: str) -> None:
    # When the writer spells a supported locale in its own case or with an underscore
    reading = read(locale=written)

    # Then it is that locale, without a deviation
    assert reading.record is not None and reading.record.locale == read_as
    assert reading.deviations == ()


def test_a_record_without_a_locale_or_market_gets_the_defaults_without_deviation() -> None:
    # When the optional locale and market are absent
    reading = read(locale=None, marketId=None)

    # Then nothing deviates: the event's locale and the TM_US market apply
    assert reading.deviations == ()
    assert reading.record is not None
    assert "locale" not in reading.record.model_fields_set
    assert reading.record.market_id == "TM_US"


@pytest.mark.parametrize(
    ("contact_method", "detail"),
    [
        pytest.param("push", "push", id="only-unsupported"),
        pytest.param(None, "missing", id="missing"),
        pytest.param(" , ", "missing", id="empty"),
        pytest.param(7, "missing", id="not-text"),
    ],
)
def test_a_record_without_any_supported_method_is_skipped(contact_method: Any, detail: str) -> None:
    # When no method the fleet can send is left
    reading = read(contactMethod=contact_method)

    # Then the record is skipped, with the reason
    assert reading.record is None
    (deviation,) = reading.deviations
    assert deviation.kind is DemandDeviation.NO_SUPPORTED_CONTACT_METHOD
    assert deviation.kind.skips_the_record
    assert deviation.detail == detail


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"fanId": None}, id="no-fan-id"),
        pytest.param({"fanId": "fan#1"}, id="malformed-fan-id"),
        pytest.param({"saleId": None}, id="no-sale-id"),
        pytest.param({"saleId": "public"}, id="sale-id-not-the-key's"),
        pytest.param({"eventId": "evt-2"}, id="event-id-not-the-key's"),
    ],
)
def test_a_record_without_its_ids_is_skipped_as_invalid(overrides: dict[str, Any]) -> None:
    # When the ids that make the item an opt-in of this sale are missing, malformed or another sale's
    reading = read(**overrides)

    # Then it is skipped as invalid
    assert reading.record is None
    (deviation,) = reading.deviations
    assert deviation.kind is DemandDeviation.INVALID_RECORD


def test_no_deviation_ever_carries_the_phone_number_or_email() -> None:
    # Given records deviating in every way, with contact details in them
    readings = [
        read(contactMethod="sms,push", locale="xx-yy"),
        read(contactMethod="push"),
        read(fanId=None),
        read(saleId="other"),
    ]

    # Then what a warning would log never contains the fan's contact details
    details = [
        f"{deviation.field} {deviation.detail}" for reading in readings for deviation in reading.deviations
    ]
    assert len(details) == 5
    assert not [detail for detail in details if PHONE in detail or EMAIL in detail]
