"""The demand table repository against moto: the cached events and sales, and a sale's paged demand."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from repository_builders import T0, notification

from workers.shared.demand_reading import DemandDeviation
from workers.shared.errors import RecordError
from workers.shared.models import DemandRecord, EventRecord, SaleRecord
from workers.shared.repository import DemandRepository


def event(**overrides: Any) -> EventRecord:
    fields: dict[str, Any] = {
        "id": "evt-1",
        "name": "Show",
        "url": "https://www.ticketmaster.com/event/evt-1",
        "timezone": "America/New_York",
        "country_code": "US",
        "is_suppressed": False,
        "expires_at": 1_900_000_000,
    }
    return EventRecord(**{**fields, **overrides})


def sale(sale_id: str, starts: str) -> SaleRecord:
    return SaleRecord(id=sale_id, event_id="evt-1", name=sale_id, sale_start_date_time=starts, expires_at=1)


# ---------------------------------------------------------------------------------- demand


def put_raw_demand(table: str, **attributes: str) -> None:
    """A demand item as the fan-facing system writes it: plain attributes, nothing this repo adds."""
    boto3.client("dynamodb").put_item(
        TableName=table, Item={name: {"S": value} for name, value in attributes.items()}
    )


def writer_demand(fan_id: str, sale_id: str = "sale-1", **overrides: str) -> dict[str, str]:
    """The attributes of the reference's demand record (system-reference.md §2.2/2.3)."""
    return {
        "PK": f"fan:{fan_id}",
        "SK": f"demand#evt-1-{sale_id}",
        "type": "demand",
        "fanId": fan_id,
        "eventId": "evt-1",
        "saleId": sale_id,
        "contactMethod": "sms",
        "phoneNumber": "+13125550100",
        "marketId": "TM_US",
        **overrides,
    }


def test_demand_is_paged_on_the_index_with_an_opaque_cursor(repository: DemandRepository) -> None:
    # Given 25 fans for sale-1, 5 for sale-1-2 (a prefix of its id) and 4 of the same sale id elsewhere
    for index in range(25):
        repository.put_demand(
            DemandRecord(fan_id=f"fan-{index:02d}", event_id="evt-1", sale_id="sale-1", contact_method="sms")
        )
    for index in range(5):
        repository.put_demand(
            DemandRecord(
                fan_id=f"other-{index}", event_id="evt-1", sale_id="sale-1-2", contact_method="email"
            )
        )
    for index in range(4):
        repository.put_demand(
            DemandRecord(
                fan_id=f"elsewhere-{index}", event_id="evt-2", sale_id="sale-1", contact_method="sms"
            )
        )

    # When the generator pages through sale-1, ten at a time
    pages: list[list[DemandRecord]] = []
    cursor: str | None = None
    while True:
        page = repository.demand_for_sale("evt-1", "sale-1", page_size=10, cursor=cursor)
        pages.append(page.records)
        cursor = page.cursor
        if cursor is None:
            break

    # Then it sees every fan of the sale exactly once, over three pages, and no other sale's fan
    assert [len(page) for page in pages] == [10, 10, 5]
    fans = [record.fan_id for page in pages for record in page]
    assert sorted(fans) == [f"fan-{index:02d}" for index in range(25)]
    assert {(record.event_id, record.sale_id) for page in pages for record in page} == {("evt-1", "sale-1")}


def test_demand_written_by_the_fan_facing_system_is_found_without_any_attribute_of_ours(
    repository: DemandRepository,
) -> None:
    # Given opt-ins written as the reference's writer writes them (no locale on one, no index key of ours)
    put_raw_demand(repository.table_name, **writer_demand("fan-a", locale="fr-ca"))
    put_raw_demand(
        repository.table_name, **writer_demand("fan-b", contactMethod="email", email="b@x.example")
    )
    put_raw_demand(repository.table_name, **writer_demand("fan-c", sale_id="public"))

    # When sale-1's demand is read
    page = repository.demand_for_sale("evt-1", "sale-1")

    # Then both of its fans are found, the locale kept only where the writer wrote one
    assert sorted(record.fan_id for record in page.records) == ["fan-a", "fan-b"]
    assert page.items == 2 and page.cursor is None and page.deviations == {}
    by_fan = {record.fan_id: record for record in page.records}
    assert by_fan["fan-a"].locale == "fr-ca"
    assert "locale" not in by_fan["fan-b"].model_fields_set


def test_a_cursor_only_resumes_its_own_sale(repository: DemandRepository) -> None:
    # Given a cursor taken from sale-1, and sale ids of which one is a prefix of the other
    for index in range(3):
        repository.put_demand(
            DemandRecord(fan_id=f"fan-{index}", event_id="evt-1", sale_id="sale-1", contact_method="sms")
        )
    cursor = repository.demand_for_sale("evt-1", "sale-1", page_size=1).cursor
    assert cursor is not None

    # When it is used for another sale, of this event or another, or is garbage, then it is refused by name
    with pytest.raises(RecordError, match=r"belongs to \('evt-1', 'demand#evt-1-sale-1'\)"):
        repository.demand_for_sale("evt-1", "sale-1-2", cursor=cursor)
    with pytest.raises(RecordError, match="not to sale"):
        repository.demand_for_sale("evt-2", "sale-1", cursor=cursor)
    with pytest.raises(RecordError, match="demand cursor"):
        repository.demand_for_sale("evt-1", "sale-1", cursor="not-a-cursor!")
    # And a cursor of the old index (demandSaleKey, fanId) is not a demand-by-sale position any more
    with pytest.raises(RecordError, match="does not hold a demand-by-sale position"):
        repository.demand_for_sale("evt-1", "sale-1", cursor=_old_index_cursor())
    # And its own sale resumes after the first fan
    assert [
        record.fan_id for record in repository.demand_for_sale("evt-1", "sale-1", cursor=cursor).records
    ] == [
        "fan-1",
        "fan-2",
    ]


def _old_index_cursor() -> str:
    import base64
    import json

    position = {
        "PK": "fan:fan-0",
        "SK": "demand#evt-1-sale-1",
        "demandSaleKey": "evt-1#sale-1",
        "fanId": "fan-0",
    }
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def test_a_demand_item_without_a_supported_method_or_its_ids_is_skipped_with_a_warning(
    repository: DemandRepository, caplog: pytest.LogCaptureFixture
) -> None:
    # Given one good opt-in, one with only methods the fleet cannot send, one without a fan id and
    # one whose saleId is not its key's
    repository.put_demand(
        DemandRecord(fan_id="good", event_id="evt-1", sale_id="sale-1", contact_method="sms")
    )
    put_raw_demand(repository.table_name, **writer_demand("pigeon", contactMethod="pigeon,push"))
    nameless = writer_demand("nameless")
    del nameless["fanId"]
    put_raw_demand(repository.table_name, **nameless)
    put_raw_demand(repository.table_name, **{**writer_demand("confused"), "saleId": "sale-9"})

    # When the sale's demand is read
    with caplog.at_level(logging.WARNING):
        page = repository.demand_for_sale("evt-1", "sale-1")

    # Then the good record is returned, the others counted by reason (all four were read)
    assert [record.fan_id for record in page.records] == ["good"]
    assert page.cursor is None and page.items == 4
    assert page.deviations == {
        DemandDeviation.NO_SUPPORTED_CONTACT_METHOD: 1,
        DemandDeviation.INVALID_RECORD: 2,
    }
    # And each skip is logged with its key and field, never the phone number
    skipped = [record for record in caplog.records if record.getMessage() == "Demand record skipped"]
    assert sorted(record.deviation for record in skipped) == [
        "invalid-record",
        "invalid-record",
        "no-supported-contact-method",
    ]
    assert {record.sk for record in skipped} == {"demand#evt-1-sale-1"}
    assert not any("+1312555" in record.getMessage() + str(record.__dict__) for record in caplog.records)


def test_the_demand_of_a_sale_is_counted_on_the_index_across_pages(repository: DemandRepository) -> None:
    # Given 30 opt-ins for a sale, 2 for a sale whose id it prefixes, and a notification of the sale
    for index in range(30):
        put_raw_demand(repository.table_name, **writer_demand(f"fan-{index}", sale_id="presale"))
    for index in range(2):
        put_raw_demand(repository.table_name, **writer_demand(f"two-{index}", sale_id="presale-2"))
    repository.create_notification(notification("fan-0", sale_id="presale"))

    # When each sale's demand is counted, then only its own demand items count
    assert repository.count_demand_for_sale("evt-1", "presale") == 30
    assert repository.count_demand_for_sale("evt-1", "presale-2") == 2
    assert repository.count_demand_for_sale("evt-1", "renamed") == 0


# ----------------------------------------------------------------------------------- sales


def test_sales_in_a_window_spanning_midnight_utc(repository: DemandRepository) -> None:
    # Given sales around midnight UTC on two date partitions
    for sale_id, starts in [
        ("too-early", "2024-01-15T23:29:59Z"),
        ("at-start", "2024-01-15T23:30:00Z"),
        ("before-midnight", "2024-01-15T23:45:00Z"),
        ("after-midnight", "2024-01-16T00:10:00Z"),
        ("at-end", "2024-01-16T00:30:00Z"),
    ]:
        repository.put_sale(sale(sale_id, starts))

    # When the scheduler asks for [23:30, 00:30)
    found = repository.sales_in_window(
        datetime(2024, 1, 15, 23, 30, tzinfo=UTC), datetime(2024, 1, 16, 0, 30, tzinfo=UTC)
    )

    # Then both partitions are queried and the window is half-open
    assert [record.id for record in found] == ["at-start", "before-midnight", "after-midnight"]


def test_sales_in_window_needs_aware_datetimes(repository: DemandRepository) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        repository.sales_in_window(datetime(2024, 1, 15), datetime(2024, 1, 16))
    assert repository.sales_in_window(T0, T0) == []


def test_sales_of_an_event_and_a_single_sale(repository: DemandRepository) -> None:
    # Given an event with two sales
    repository.put_event(event())
    repository.put_sale(sale("presale", "2024-01-15T15:00:00Z"))
    repository.put_sale(sale("public", "2024-01-16T15:00:00Z"))

    # Then they are found by event and by id
    assert sorted(record.id for record in repository.sales_for_event("evt-1")) == ["presale", "public"]
    found = repository.get_sale("evt-1", "public")
    assert found is not None
    assert found.sale_start_date == "2024-01-16"
    assert repository.get_sale("evt-1", "missing") is None


# ---------------------------------------------------------------------------------- events


def test_event_cache_refresh_keeps_the_short_url_and_drops_stale_attributes(
    repository: DemandRepository,
) -> None:
    # Given a suppressed event that got a short URL
    repository.put_event(event(is_suppressed=True, suppression_reason="country"))
    assert repository.set_short_url("evt-1", "https://bit.ly/abc") is True

    # When the cache is refreshed from Discovery (no short URL, no longer suppressed)
    repository.put_event(event(name="Show (new date)"))

    # Then the new details are stored, the short URL kept, the old reason removed
    cached = repository.get_event("evt-1")
    assert cached is not None
    assert cached.name == "Show (new date)"
    assert cached.short_url == "https://bit.ly/abc"
    assert cached.is_suppressed is False
    assert cached.suppression_reason is None


def test_short_url_is_set_once_and_only_on_a_cached_event(repository: DemandRepository) -> None:
    # Given no cached event, then there is nothing to shorten for
    assert repository.set_short_url("evt-1", "https://bit.ly/first") is False
    assert repository.get_event("evt-1") is None

    # Given the event is cached, then the first short URL wins
    repository.put_event(event())
    assert repository.set_short_url("evt-1", "https://bit.ly/first") is True
    assert repository.set_short_url("evt-1", "https://bit.ly/second") is False
    cached = repository.get_event("evt-1")
    assert cached is not None
    assert cached.short_url == "https://bit.ly/first"


def test_table_contract_matches_infra() -> None:
    # Then the index and TTL names the tests use are the ones infra declares
    from infra.table import DEMAND_INDEX, SALES_INDEX, TTL_ATTRIBUTE

    assert (SALES_INDEX, DEMAND_INDEX, TTL_ATTRIBUTE) == ("sales", "demand-by-sale", "expiresAt")
