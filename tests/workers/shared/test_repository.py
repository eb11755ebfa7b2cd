"""The demand table repository against moto: access patterns, conditional writes, transitions."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from workers.shared.demand_reading import DemandDeviation
from workers.shared.errors import RecordError
from workers.shared.models import (
    DemandRecord,
    EventRecord,
    NotificationRecord,
    NotificationStatus,
    SaleRecord,
    SendError,
    notification_key,
    sources_of,
)
from workers.shared.repository import CreateCounts, DemandRepository

S = NotificationStatus
T0 = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
LEASE = T0 + timedelta(minutes=1)  # a claim's lease: its invocation's deadline plus a margin


@pytest.fixture
def repository(demand_table: str) -> DemandRepository:
    return DemandRepository(demand_table, sales_index="sales", demand_index="demand-by-sale")


def notification(fan_id: str = "fan-1", **overrides: Any) -> NotificationRecord:
    fields: dict[str, Any] = {
        "fan_id": fan_id,
        "event_id": "evt-1",
        "sale_id": "sale-1",
        "contact_method": "sms",
        "phone_number": "+15555550123",
        "message_body": "Tickets go on sale soon",
        "sale_start_date_time": "2024-01-15T15:00:00Z",
    }
    return NotificationRecord.created(at=T0, **{**fields, **overrides})


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


# --------------------------------------------------------------------------------- creates


def test_conditional_create_never_duplicates_a_notification(repository: DemandRepository) -> None:
    # Given a notification already written
    assert repository.create_notification(notification()) is True

    # When the same fan/sale/method is generated again with a different body
    duplicate = notification(message_body="a second, different reminder")
    created_again = repository.create_notification(duplicate)

    # Then the write is refused quietly and the original survives
    assert created_again is False
    stored = repository.get_notification(duplicate.key)
    assert stored is not None
    assert stored.message_body == "Tickets go on sale soon"


def test_parallel_creates_count_new_and_duplicate_notifications(repository: DemandRepository) -> None:
    # Given 5 notifications that already exist among 30 to write
    for index in range(5):
        repository.create_notification(notification(f"fan-{index}"))
    batch = [notification(f"fan-{index}") for index in range(30)]

    # When they are written with bounded parallelism
    counts = repository.create_notifications(batch, parallelism=8)

    # Then 25 are new, 5 were duplicates, and a replay creates nothing
    assert counts == CreateCounts(created=25, duplicates=5)
    assert all(repository.get_notification(record.key) is not None for record in batch)
    assert repository.create_notifications(batch, parallelism=8) == CreateCounts(created=0, duplicates=30)
    assert repository.create_notifications([], parallelism=8) == CreateCounts(0, 0)


# ----------------------------------------------------------------------------- transitions


def test_transition_stamps_the_status_and_its_date(repository: DemandRepository) -> None:
    # Given a CREATED notification
    record = notification()
    repository.create_notification(record)

    # When the send worker reports the vendor accepted it
    moved = repository.transition(
        record.key,
        {S.CREATED, S.RETRY},
        S.TRIGGERED,
        at=T0 + timedelta(seconds=5),
        extra_updates={"messageId": "msg-123", "appId": "reminders"},
        increment_attempts=True,
    )

    # Then status, date.triggered, attempts and extra attributes change in one write
    assert moved is True
    stored = repository.get_notification(record.key)
    assert stored is not None
    assert stored.status.id is S.TRIGGERED
    assert stored.status.date == T0 + timedelta(seconds=5)
    assert stored.date.triggered == T0 + timedelta(seconds=5)
    assert stored.date.created == T0
    assert stored.send_attempts == 1
    assert (stored.message_id, stored.app_id) == ("msg-123", "reminders")


def test_out_of_order_status_never_moves_a_record_back(repository: DemandRepository) -> None:
    # Given a notification the vendor already reported SENT
    record = notification()
    repository.create_notification(record)
    assert repository.transition(record.key, sources_of(S.SENT), S.SENT, at=T0 + timedelta(seconds=9))

    # When a late QUEUED event arrives
    moved = repository.transition(record.key, sources_of(S.QUEUED), S.QUEUED, at=T0 + timedelta(seconds=7))

    # Then nothing moves; its timestamp can still be recorded without touching the status
    assert moved is False
    assert repository.record_timestamp(record.key, S.QUEUED, T0 + timedelta(seconds=7)) is True
    stored = repository.get_notification(record.key)
    assert stored is not None
    assert stored.status.id is S.SENT
    assert stored.date.queued == T0 + timedelta(seconds=7)


@pytest.mark.parametrize("live", [S.CREATED, S.TRIGGERED, S.QUEUED, S.SENT, S.RETRY])
def test_failed_is_allowed_from_any_non_terminal_state(repository: DemandRepository, live: S) -> None:
    # Given a notification in a live state
    record = notification()
    repository.create_notification(record)
    if live is not S.CREATED:
        assert repository.transition(record.key, {S.CREATED}, live, at=T0)

    # When it fails with a reason
    error = SendError(status_code=400, reason="invalid phone number", timestamp=T0)
    failed = repository.transition(record.key, sources_of(S.FAILED), S.FAILED, at=T0, error=error)

    # Then it is FAILED with the error kept in its history
    assert failed is True
    stored = repository.get_notification(record.key)
    assert stored is not None
    assert stored.status.id is S.FAILED
    assert stored.errors == (error,)


def test_terminal_states_do_not_fail_again(repository: DemandRepository) -> None:
    # Given a DELIVERED notification
    record = notification()
    repository.create_notification(record)
    assert repository.transition(record.key, sources_of(S.DELIVERED), S.DELIVERED, at=T0)

    # When a FAILED status arrives afterwards, then it is refused
    assert repository.transition(record.key, sources_of(S.FAILED), S.FAILED, at=T0) is False


def test_backward_transition_requests_are_programming_errors(repository: DemandRepository) -> None:
    # When a caller asks to move SENT back to QUEUED, then it is refused before any write
    with pytest.raises(ValueError, match="SENT -> QUEUED moves a notification backwards"):
        repository.transition(notification().key, {S.SENT}, S.QUEUED, at=T0)


def test_operator_override_reopens_a_failed_notification(repository: DemandRepository) -> None:
    # Given a FAILED notification
    record = notification()
    repository.create_notification(record)
    repository.transition(record.key, sources_of(S.FAILED), S.FAILED, at=T0)

    # When an operator retries it explicitly
    reopened = repository.transition(record.key, {S.FAILED}, S.RETRY, at=T0, override=True)

    # Then it is RETRY again
    stored = repository.get_notification(record.key)
    assert reopened is True
    assert stored is not None
    assert stored.status.id is S.RETRY


def test_only_one_sender_holds_the_claim(repository: DemandRepository) -> None:
    # Given a CREATED notification claimed by one invocation
    record = notification()
    repository.create_notification(record)
    claimed = repository.claim(
        record.key, "claim-a", from_statuses={S.CREATED, S.RETRY}, at=T0, lease_expires_at=LEASE
    )
    assert claimed is True

    # When a replayed record tries to claim it, or to move it without the claim
    second_claim = repository.claim(
        record.key, "claim-b", from_statuses={S.CREATED, S.RETRY}, at=T0, lease_expires_at=LEASE
    )
    wrong_claim = repository.transition(record.key, {S.CREATED}, S.TRIGGERED, at=T0, expected_claim="claim-b")

    # Then both are refused, and the holder moves it and releases the claim
    assert (second_claim, wrong_claim) == (False, False)
    assert repository.transition(
        record.key, {S.CREATED}, S.TRIGGERED, at=T0, expected_claim="claim-a", remove=("claimId",)
    )
    stored = repository.get_notification(record.key)
    assert stored is not None
    assert stored.claim_id is None
    assert stored.claimed_at == T0
    assert stored.status.id is S.TRIGGERED


def test_an_unclaimed_only_transition_is_refused_while_a_claim_is_held(repository: DemandRepository) -> None:
    # Given a CREATED notification another invocation claimed (a send may be in flight)
    record = notification()
    repository.create_notification(record)
    repository.claim(record.key, "in-flight", from_statuses={S.CREATED}, at=T0, lease_expires_at=LEASE)

    # When it is to expire only if nobody holds a claim  # Then the write is refused
    assert repository.transition(record.key, {S.CREATED, S.RETRY}, S.EXPIRED, at=T0, unclaimed=True) is False
    # And once the holder released it (back to RETRY), the same write expires it
    repository.transition(
        record.key, {S.CREATED}, S.RETRY, at=T0, expected_claim="in-flight", remove=("claimId",)
    )
    assert repository.transition(record.key, {S.CREATED, S.RETRY}, S.EXPIRED, at=T0, unclaimed=True) is True
    stored = repository.get_notification(record.key)
    assert stored is not None and (stored.status.id, stored.date.expired) == (S.EXPIRED, T0)
    # And asking for a claim and for none at once is a programming error
    with pytest.raises(ValueError, match="cannot both expect a claim and require none"):
        repository.transition(record.key, {S.RETRY}, S.EXPIRED, at=T0, expected_claim="x", unclaimed=True)


def test_a_claim_returns_the_record_as_stored_not_as_a_replayed_image(repository: DemandRepository) -> None:
    # Given a notification whose stored state moved on after its INSERT (one failed attempt)
    record = notification()
    repository.create_notification(record)
    error = SendError(status_code=503, reason="service unavailable", timestamp=T0)
    later = T0 + timedelta(seconds=30)
    repository.transition(
        record.key,
        {S.CREATED},
        S.RETRY,
        at=T0,
        increment_attempts=True,
        error=error,
        extra_updates={"nextAttemptAt": later},
    )

    # When a sender claims it, and another tries too
    claimed = repository.claim_notification(
        record.key, "claim-a", from_statuses={S.CREATED, S.RETRY}, at=T0, lease_expires_at=LEASE
    )
    lost = repository.claim_notification(
        record.key, "claim-b", from_statuses={S.CREATED, S.RETRY}, at=T0, lease_expires_at=LEASE
    )

    # Then the winner sees the stored attempts, backoff and its own claim; the other gets nothing
    assert claimed is not None
    assert (claimed.send_attempts, claimed.next_attempt_at, claimed.claim_id) == (1, later, "claim-a")
    assert claimed.status.id is S.RETRY
    assert lost is None


def test_retry_records_the_error_attempt_and_next_attempt_time(repository: DemandRepository) -> None:
    # Given a notification whose send hit a transient error
    record = notification()
    repository.create_notification(record)
    error = SendError(status_code=503, reason="service unavailable", timestamp=T0)

    # When it is moved to RETRY with a backoff
    repository.transition(
        record.key,
        sources_of(S.RETRY),
        S.RETRY,
        at=T0,
        increment_attempts=True,
        error=error,
        extra_updates={"nextAttemptAt": T0 + timedelta(seconds=30)},
    )
    repository.transition(
        record.key, sources_of(S.RETRY), S.RETRY, at=T0, increment_attempts=True, error=error
    )

    # Then attempts and error history accumulate
    stored = repository.get_notification(record.key)
    assert stored is not None
    assert stored.send_attempts == 2
    assert stored.errors == (error, error)
    assert stored.next_attempt_at == T0 + timedelta(seconds=30)
    assert stored.date.retry == T0


def test_transition_of_a_missing_notification_is_refused(repository: DemandRepository) -> None:
    # When the key names no item, then nothing is created
    key = notification_key("ghost", "evt-1", "sale-1", "sms")
    assert repository.transition(key, sources_of(S.SENT), S.SENT, at=T0) is False
    assert repository.record_timestamp(key, S.SENT, T0) is False
    assert repository.get_notification(key) is None


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
