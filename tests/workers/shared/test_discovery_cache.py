"""Cache-first event details against moto (table, short-url queue) and a fake Discovery API."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from discovery_payloads import discovery_payload

from sandbox.vendors import DISCOVERY_API_KEY as API_KEY
from sandbox.vendors import Discovery, Effect
from workers.shared.discovery.cache import WITHDRAWN_SALE_REASON, CachedEvent, get_and_cache_event_details
from workers.shared.discovery.client import DiscoveryClient
from workers.shared.discovery.errors import EventNotFoundError
from workers.shared.discovery.normalize import normalize_event
from workers.shared.discovery.rules import EventRules
from workers.shared.errors import RetryableVendorError
from workers.shared.observability import METRICS
from workers.shared.queue_sender import QueueSender
from workers.shared.repository import DemandRepository

NOW = datetime(2024, 1, 10, 9, 30, tzinfo=UTC)
EVENT_ID = "vvG1IZ9KBxv3Tg"
RULES = EventRules(cache_ttl_hours=24)


@pytest.fixture
def discovery() -> Iterator[Discovery]:
    fake = Discovery()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def queue_url(aws: None) -> str:
    return boto3.client("sqs", region_name="us-east-1").create_queue(
        QueueName="prd3292-test-us-east-1-event-short-url"
    )["QueueUrl"]


def queued(queue_url: str) -> list[dict[str, Any]]:
    response = boto3.client("sqs", region_name="us-east-1").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return [dict(message) for message in response.get("Messages", [])]


def details(
    discovery: Discovery,
    repository: DemandRepository,
    *,
    now: datetime = NOW,
    queue_url: str | None = None,
    market_id: str | None = "TM_US",
    event_id: str = EVENT_ID,
) -> CachedEvent:
    return get_and_cache_event_details(
        event_id,
        market_id=market_id,
        repository=repository,
        discovery=DiscoveryClient(discovery.url, api_key=lambda: API_KEY, timeout_seconds=2),
        rules=RULES,
        now=now,
        short_url_queue=QueueSender(url=queue_url) if queue_url else None,
    )


def test_a_miss_caches_the_event_and_its_sales_and_requests_a_short_url(
    discovery: Discovery, repository: DemandRepository, queue_url: str
) -> None:
    # Given an uncached event known to Discovery
    discovery.add(discovery_payload("music-us"))

    # When its details are requested
    result = details(discovery, repository, queue_url=queue_url)

    # Then Discovery was asked once and the event and every sale are cached
    assert discovery.calls == {EVENT_ID: 1}
    assert not result.from_cache and result.short_url_requested
    assert repository.get_event(EVENT_ID) == result.event
    assert repository.sales_for_event(EVENT_ID) == sorted(result.sales, key=lambda sale: sale.key.sk)
    # And the sales are findable by the scheduler's index query
    found = repository.sales_in_window(
        datetime(2024, 1, 15, 15, tzinfo=UTC), datetime(2024, 1, 15, 16, tzinfo=UTC)
    )
    assert [sale.id for sale in found] == ["verified-fan-presale"]
    # And one short-url job carries the event id and its correlation id
    messages = queued(queue_url)
    assert [json.loads(message["Body"]) for message in messages] == [{"eventId": EVENT_ID}]
    assert messages[0]["MessageAttributes"]["correlationId"]["StringValue"] == EVENT_ID


def test_a_fresh_cached_event_is_served_without_calling_discovery(
    discovery: Discovery, repository: DemandRepository, queue_url: str
) -> None:
    # Given the event was cached 23 hours ago (TTL 24 h)
    discovery.add(discovery_payload("music-us"))
    first = details(discovery, repository, queue_url=queue_url)
    queued(queue_url)

    # When it is requested again
    second = details(discovery, repository, now=NOW + timedelta(hours=23), queue_url=queue_url)

    # Then the cache answers: same event and sales, Discovery not called again, no new short-url job
    assert second.from_cache and not second.short_url_requested
    assert (second.event, second.sales) == (first.event, first.sales)
    assert discovery.calls == {EVENT_ID: 1}


def test_an_expired_event_is_fetched_again_and_keeps_its_short_url(
    discovery: Discovery, repository: DemandRepository, queue_url: str
) -> None:
    # Given a cached event that was shortened, then expired
    discovery.add(discovery_payload("music-us"))
    details(discovery, repository)
    assert repository.set_short_url(EVENT_ID, "https://tmtix.co/3xAmPlE")

    # When it is requested after its TTL
    again = details(discovery, repository, now=NOW + timedelta(hours=25), queue_url=queue_url)

    # Then Discovery is asked again, the short URL survives and no new short-url job is sent
    assert discovery.calls == {EVENT_ID: 2}
    assert not again.from_cache and not again.short_url_requested
    assert again.event.short_url == "https://tmtix.co/3xAmPlE"
    assert repository.get_event(EVENT_ID).short_url == "https://tmtix.co/3xAmPlE"  # type: ignore[union-attr]
    assert queued(queue_url) == []


def test_a_suppressed_event_is_cached_but_never_queued_for_a_short_url(
    discovery: Discovery, repository: DemandRepository, queue_url: str
) -> None:
    # Given a sports event (classification not allowed)
    payload = discovery_payload("music-us")
    payload["classifications"][0]["segment"]["name"] = "Sports"
    discovery.add(payload)

    # When its details are requested
    result = details(discovery, repository, queue_url=queue_url)

    # Then it is cached as suppressed, with its reason, and no short URL is requested
    cached = repository.get_event(EVENT_ID)
    assert cached is not None and cached.is_suppressed
    assert cached.suppression_reason == "classification sports is not allowed"
    assert not result.short_url_requested
    assert queued(queue_url) == []


def test_without_a_short_url_queue_nothing_is_sent(
    discovery: Discovery, repository: DemandRepository
) -> None:
    # Given no queue configured (the scheduler) / When a miss is cached / Then no job is requested
    discovery.add(discovery_payload("music-us"))
    assert not details(discovery, repository).short_url_requested


def test_a_sale_discovery_stopped_listing_is_suppressed_and_left_out(
    discovery: Discovery, repository: DemandRepository
) -> None:
    # Given the event cached with its Live Nation presale, which Discovery then drops
    payload = discovery.add(discovery_payload("music-us"))
    details(discovery, repository)
    payload["sales"]["presales"] = [
        presale for presale in payload["sales"]["presales"] if not presale["name"].startswith("Live Nation")
    ]
    discovery.add(payload)

    # When the expired event is fetched again, and then served from the cache
    refreshed = details(discovery, repository, now=NOW + timedelta(hours=25))
    cached = details(discovery, repository, now=NOW + timedelta(hours=26))

    # Then the dropped sale is kept suppressed (its index entry can never notify) and not listed
    stale = repository.get_sale(EVENT_ID, "live-nation-mobile-app-presale")
    assert stale is not None and stale.is_suppressed and stale.suppression_reason == WITHDRAWN_SALE_REASON
    for result in (refreshed, cached):
        assert "live-nation-mobile-app-presale" not in {sale.id for sale in result.sales}
        assert len(result.sales) == 5


def test_an_unknown_event_is_not_found_and_nothing_is_cached(
    discovery: Discovery, repository: DemandRepository, queue_url: str
) -> None:
    # Given Discovery does not know the id / When requested / Then not found, nothing cached or sent
    with pytest.raises(EventNotFoundError):
        details(discovery, repository, event_id="vvG1IZ9KBxv3Tx", queue_url=queue_url)
    assert repository.get_event("vvG1IZ9KBxv3Tx") is None
    assert queued(queue_url) == []


def test_an_event_is_cached_under_the_id_it_was_asked_for(
    discovery: Discovery, repository: DemandRepository
) -> None:
    # Given Discovery answers a legacy id with the event's canonical id
    payload = discovery_payload("music-us")
    discovery.add(payload, event_id="04005F3CA1B26E4D")

    # When the legacy id is requested twice
    details(discovery, repository, event_id="04005F3CA1B26E4D")
    again = details(discovery, repository, event_id="04005F3CA1B26E4D")

    # Then the event and its sales are cached under that id, and the second request hits the cache
    assert again.from_cache and again.event.id == "04005F3CA1B26E4D"
    assert {sale.event_id for sale in again.sales} == {"04005F3CA1B26E4D"}
    assert discovery.calls == {"04005F3CA1B26E4D": 1}


# ------------------------------------------------------------------ orphaned demand, fallback


def put_demand_as_the_writer(repository: DemandRepository, fan_id: str, sale_id: str) -> None:
    """A fan's opt-in as the fan-facing system writes it."""
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName=repository.table_name,
        Item={
            "PK": {"S": f"fan:{fan_id}"},
            "SK": {"S": f"demand#{EVENT_ID}-{sale_id}"},
            "type": {"S": "demand"},
            "fanId": {"S": fan_id},
            "eventId": {"S": EVENT_ID},
            "saleId": {"S": sale_id},
            "contactMethod": {"S": "sms"},
            "phoneNumber": {"S": "+13125550100"},
            "marketId": {"S": "TM_US"},
        },
    )


def flushed_metrics(emf_blobs: Callable[[], list[dict[str, Any]]]) -> dict[str, float]:
    """Every metric emitted so far in this test, summed by name (the buffer flushed as a handler would)."""
    METRICS.flush_metrics()
    totals: dict[str, float] = {}
    for blob in emf_blobs():
        for definition in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = blob[definition["Name"]]
            totals[definition["Name"]] = totals.get(definition["Name"], 0) + (
                sum(value) if isinstance(value, list) else value
            )
    return totals


def test_the_demand_of_a_sale_discovery_stopped_listing_is_counted_as_orphaned(
    discovery: Discovery,
    repository: DemandRepository,
    log_lines: Callable[[], list[dict[str, Any]]],
    emf_blobs: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given the event cached with its Live Nation presale, three fans opted in to it and one to
    # another presale, and Discovery then lists the presale under a new name (a new sale id)
    payload = discovery.add(discovery_payload("music-us"))
    details(discovery, repository)
    for fan in ("fan-1", "fan-2", "fan-3"):
        put_demand_as_the_writer(repository, fan, "live-nation-mobile-app-presale")
    put_demand_as_the_writer(repository, "fan-4", "verified-fan-presale")
    for presale in payload["sales"]["presales"]:
        if presale["name"].startswith("Live Nation"):
            presale["name"] = "Live Nation App Presale"
    discovery.add(payload)

    # When the expired event is fetched again
    refreshed = details(discovery, repository, now=NOW + timedelta(hours=25))

    # Then the renamed presale is a new sale, the old one withdrawn
    assert "live-nation-app-presale" in {sale.id for sale in refreshed.sales}
    # And its three opt-ins are counted as orphaned, with the event and old sale in the warning
    assert flushed_metrics(emf_blobs)["OrphanedDemand"] == 3
    (warning,) = [line for line in log_lines() if line["message"].startswith("Demand for a sale Discovery")]
    assert (warning["level"], warning["event_id"], warning["sale_id"], warning["orphaned_demand"]) == (
        "WARNING",
        EVENT_ID,
        "live-nation-mobile-app-presale",
        3,
    )


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_a_withdrawn_sale_without_demand_is_not_orphaned_demand(
    discovery: Discovery,
    repository: DemandRepository,
    log_lines: Callable[[], list[dict[str, Any]]],
    emf_blobs: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given a cached presale nobody opted in to, which Discovery then drops
    payload = discovery.add(discovery_payload("music-us"))
    details(discovery, repository)
    payload["sales"]["presales"] = payload["sales"]["presales"][1:]
    discovery.add(payload)

    # When the expired event is fetched again, then nothing is orphaned
    details(discovery, repository, now=NOW + timedelta(hours=25))
    assert "OrphanedDemand" not in flushed_metrics(emf_blobs)
    assert not [line for line in log_lines() if line["message"].startswith("Demand for a sale Discovery")]


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param("503", id="vendor-5xx"),
        pytest.param("401", id="key-refused"),
    ],
)
def test_a_discovery_failure_serves_the_cached_event_and_its_sales_past_their_freshness(
    discovery: Discovery,
    repository: DemandRepository,
    log_lines: Callable[[], list[dict[str, Any]]],
    emf_blobs: Callable[[], list[dict[str, Any]]],
    failure: str,
) -> None:
    # Given the event cached a day ago (its freshness is over) and Discovery failing now
    discovery.add(discovery_payload("music-us"))
    first = details(discovery, repository)
    if failure == "503":
        discovery.faults.script(EVENT_ID, Effect.SERVER_ERROR, Effect.SERVER_ERROR, Effect.SERVER_ERROR)
    else:
        discovery.api_key = "rotated-key"

    # When its details are requested
    fallback = details(discovery, repository, now=NOW + timedelta(hours=25))

    # Then the cached copy is served, marked stale, with the same sales, and the cache is left as it was
    assert fallback.from_cache and fallback.stale
    assert (fallback.event, fallback.sales) == (first.event, first.sales)
    assert repository.get_event(EVENT_ID) == first.event
    # And the fallback is counted and logged with the error
    assert flushed_metrics(emf_blobs)["DiscoveryFallbackToCache"] == 1
    (warning,) = [line for line in log_lines() if line["message"].startswith("Discovery failed")]
    assert (warning["level"], warning["event_id"], warning["status_code"]) == (
        "WARNING",
        EVENT_ID,
        int(failure),
    )
    assert warning["expired_seconds_ago"] == 3600


def test_a_discovery_failure_without_a_cached_copy_fails_as_before(
    discovery: Discovery, repository: DemandRepository
) -> None:
    # Given an event never cached and Discovery failing
    discovery.add(discovery_payload("music-us"))
    discovery.faults.script(EVENT_ID, Effect.SERVER_ERROR, Effect.SERVER_ERROR, Effect.SERVER_ERROR)

    # When its details are requested, then the vendor's error is raised and nothing is cached
    with pytest.raises(RetryableVendorError):
        details(discovery, repository)
    assert repository.get_event(EVENT_ID) is None


def test_an_event_gone_from_discovery_is_not_served_from_the_cache(repository: DemandRepository) -> None:
    # Given an event cached a day ago, which Discovery no longer knows (404)
    event, sales = normalize_event(discovery_payload("music-us"), market_id="TM_US", rules=RULES, now=NOW)
    repository.put_event(event)
    for sale in sales:
        repository.put_sale(sale)
    empty = Discovery()
    empty.start()
    try:
        # When its details are requested, then it is not found: a stale copy must not keep reminding
        with pytest.raises(EventNotFoundError):
            details(empty, repository, now=NOW + timedelta(hours=25))
    finally:
        empty.stop()
