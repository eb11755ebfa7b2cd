"""Scheduler logic with fakes: queue rejections, bounded parallel fetches, cache hits, withdrawn sales."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from discovery_payloads import discovery_payload

from workers.notification_scheduler.logic import (
    GenerationEnqueueError,
    enqueue_generation_jobs,
    schedule_notifications,
)
from workers.notification_scheduler.models import ScheduleWindow
from workers.shared.discovery.cache import get_and_cache_event_details
from workers.shared.discovery.rules import EventRules
from workers.shared.errors import RetryableError, RetryableVendorError
from workers.shared.messages import GenerationJob
from workers.shared.queue_sender import QueueSender
from workers.shared.repository import DemandRepository

NOW = datetime(2024, 1, 15, 14, 30, 2, tzinfo=UTC)
WINDOW = ScheduleWindow(
    start=datetime(2024, 1, 15, 15, tzinfo=UTC), end=datetime(2024, 1, 15, 15, 30, tzinfo=UTC)
)


def jobs(count: int) -> list[GenerationJob]:
    return [
        GenerationJob(
            event_id="vvG1IZ9KBxv3Tg",
            sale_id=f"presale-{index}",
            sale_start_date_time=WINDOW.start,
            window_start=WINDOW.start,
            window_end=WINDOW.end,
        )
        for index in range(count)
    ]


class RecordingSqs:
    """An SQS client double: records SendMessageBatch calls, rejects scripted entries per call."""

    def __init__(self, rejections: list[set[str]] | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self._rejections = list(rejections or [])

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.calls.append(Entries)
        rejected = self._rejections.pop(0) if self._rejections else set()
        return {
            "Successful": [{"Id": entry["Id"]} for entry in Entries if entry["Id"] not in rejected],
            "Failed": [
                {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
                for entry in Entries
                if entry["Id"] in rejected
            ],
        }


def queue(client: RecordingSqs) -> QueueSender:
    return QueueSender(url="https://sqs.us-east-1.amazonaws.com/123456789012/q", client=client)  # type: ignore[arg-type]


def test_jobs_are_sent_in_batches_of_ten_with_their_dedup_id_as_correlation_id() -> None:
    # Given 23 jobs / When sent
    client = RecordingSqs()
    assert enqueue_generation_jobs(jobs(23), queue(client)) == 23

    # Then three SendMessageBatch calls of 10, 10 and 3 entries
    assert [len(call) for call in client.calls] == [10, 10, 3]
    first = client.calls[0][0]
    correlation = first["MessageAttributes"]["correlationId"]["StringValue"]
    assert correlation == "vvG1IZ9KBxv3Tg-presale-0-20240115T1500-0"
    assert GenerationJob.model_validate_json(first["MessageBody"]) == jobs(1)[0]


def test_entries_the_queue_rejects_are_retried_once() -> None:
    # Given a queue that rejects two entries of the first batch once
    client = RecordingSqs(rejections=[{"3", "7"}])

    # When 12 jobs are sent / Then the two are re-sent alone and everything is enqueued
    assert enqueue_generation_jobs(jobs(12), queue(client)) == 12
    assert [[entry["Id"] for entry in call] for call in client.calls] == [
        [str(index) for index in range(10)],
        ["3", "7"],
        ["0", "1"],
    ]


def test_entries_rejected_twice_fail_the_run_loudly_after_the_other_batches() -> None:
    # Given a queue that rejects entry 3 of the first batch twice
    client = RecordingSqs(rejections=[{"3"}, {"3"}])

    # When 12 jobs are sent
    rejected = r"1 of 12 generation jobs .* vvG1IZ9KBxv3Tg/presale-3"
    with pytest.raises(GenerationEnqueueError, match=rejected) as raised:
        enqueue_generation_jobs(jobs(12), queue(client))

    # Then the later batch was still sent, and the error is retryable (the run is retried)
    assert len(client.calls) == 3
    assert isinstance(raised.value, RetryableError)


class SlowEvents:
    """An EventSource double that serves payloads slowly and measures concurrent calls."""

    def __init__(self, payloads: Mapping[str, dict[str, Any]], delay: float = 0.05) -> None:
        self.payloads = payloads
        self.delay = delay
        self.calls: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def event(self, event_id: str) -> Mapping[str, Any]:
        with self._lock:
            self.calls.append(event_id)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.delay)
        with self._lock:
            self.in_flight -= 1
        return self.payloads[event_id]


def payload(event_id: str, sales: dict[str, str]) -> dict[str, Any]:
    loaded = discovery_payload("music-us")
    loaded["id"] = event_id
    loaded["sales"] = {
        "public": {"startTBD": True},
        "presales": [{"name": name, "startDateTime": starts} for name, starts in sales.items()],
    }
    return loaded


@pytest.fixture
def repository(demand_table: str) -> DemandRepository:
    return DemandRepository(demand_table, sales_index="sales", demand_index="demand-by-sale")


def seed(repository: DemandRepository, events: SlowEvents) -> None:
    from workers.shared.discovery.normalize import normalize_event

    for event_payload in events.payloads.values():
        for sale in normalize_event(event_payload, market_id=None, rules=EventRules(), now=NOW)[1]:
            repository.put_sale(sale)


def run(repository: DemandRepository, events: SlowEvents, client: RecordingSqs, parallelism: int) -> Any:
    return schedule_notifications(
        WINDOW,
        repository=repository,
        discovery=events,
        rules=EventRules(),
        queue=queue(client),
        parallelism=parallelism,
        now=NOW,
    )


@pytest.mark.slow  # 12 slow fetches and their cache writes
def test_events_are_fetched_once_each_with_at_most_the_configured_parallelism(
    repository: DemandRepository,
) -> None:
    # Given 12 events with two sales each in the window
    sales = {"Fan Presale": "2024-01-15T15:00:00Z", "Amex Presale": "2024-01-15T15:10:00Z"}
    events = SlowEvents({f"evt{index:02d}": payload(f"evt{index:02d}", sales) for index in range(12)})
    seed(repository, events)
    client = RecordingSqs()

    # When the run fetches them with parallelism 3
    summary = run(repository, events, client, parallelism=3)

    # Then each event was fetched once, never more than 3 at a time (but in parallel), 24 jobs sent
    assert sorted(events.calls) == sorted(events.payloads)
    assert 1 < events.most_in_flight <= 3
    assert summary.jobs_enqueued == 24
    assert [len(call) for call in client.calls] == [10, 10, 4]


def test_a_fresh_cached_event_is_not_fetched_again(repository: DemandRepository) -> None:
    # Given an event cached (with its sales) a minute ago
    events = SlowEvents({"evt01": payload("evt01", {"Fan Presale": "2024-01-15T15:00:00Z"})})
    get_and_cache_event_details(
        "evt01",
        market_id=None,
        repository=repository,
        discovery=events,
        rules=EventRules(),
        now=NOW - timedelta(minutes=1),
    )
    events.calls.clear()

    # When the run covers its sale / Then the cache answers and the job is sent
    summary = run(repository, events, RecordingSqs(), parallelism=2)
    assert events.calls == []
    assert (summary.events_from_cache, summary.jobs_enqueued) == (1, 1)


def test_an_index_entry_for_a_sale_no_longer_listed_is_not_notified(repository: DemandRepository) -> None:
    # Given a sale in the index that Discovery no longer lists for its event
    seed(repository, SlowEvents({"evt01": payload("evt01", {"Old Presale": "2024-01-15T15:00:00Z"})}))
    events = SlowEvents({"evt01": payload("evt01", {"New Presale": "2024-01-15T15:05:00Z"})})

    # When the run refreshes the event
    client = RecordingSqs()
    summary = run(repository, events, client, parallelism=2)

    # Then only the listed sale is enqueued and the stale one is counted as withdrawn
    assert [GenerationJob.model_validate_json(entry["MessageBody"]).sale_id for entry in client.calls[0]] == [
        "new-presale"
    ]
    assert (summary.sales_withdrawn, summary.jobs_enqueued) == (1, 1)


def test_a_cached_event_about_to_expire_is_refreshed_for_the_generator(repository: DemandRepository) -> None:
    # Given an event cached 23 hours ago (TTL 24 h): it would expire before generation is done
    events = SlowEvents({"evt01": payload("evt01", {"Fan Presale": "2024-01-15T15:00:00Z"})})
    get_and_cache_event_details(
        "evt01",
        market_id=None,
        repository=repository,
        discovery=events,
        rules=EventRules(),
        now=NOW - timedelta(hours=23),
    )
    events.calls.clear()

    # When the run covers its sale / Then the event is fetched again and outlives the run
    summary = run(repository, events, RecordingSqs(), parallelism=2)
    assert events.calls == ["evt01"]
    assert summary.events_from_cache == 0
    cached = repository.get_event("evt01")
    assert cached is not None and cached.expires_at > (NOW + timedelta(hours=23)).timestamp()


class DiscoveryDown:
    """An EventSource double for a Discovery outage: every call fails after its retries."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def event(self, event_id: str) -> Mapping[str, Any]:
        self.calls.append(event_id)
        raise RetryableVendorError("discovery", "Service temporarily unavailable", status_code=503)


def test_a_discovery_outage_still_notifies_the_sales_of_events_cached_before(
    repository: DemandRepository,
) -> None:
    # Given one event cached yesterday (its freshness is over) and one never cached, both with a sale
    # in the window, and Discovery down
    cached = SlowEvents({"evt01": payload("evt01", {"Fan Presale": "2024-01-15T15:00:00Z"})})
    get_and_cache_event_details(
        "evt01",
        market_id=None,
        repository=repository,
        discovery=cached,
        rules=EventRules(),
        now=NOW - timedelta(hours=25),
    )
    seed(repository, SlowEvents({"evt02": payload("evt02", {"Amex Presale": "2024-01-15T15:10:00Z"})}))
    down = DiscoveryDown()

    # When the run covers both sales
    client = RecordingSqs()
    summary = schedule_notifications(
        WINDOW,
        repository=repository,
        discovery=down,
        rules=EventRules(),
        queue=queue(client),
        parallelism=2,
        now=NOW,
    )

    # Then Discovery was asked for both; the cached event's sale is enqueued from its cached copy,
    # and only the never-cached event's sale is dropped for the run, as before
    assert sorted(down.calls) == ["evt01", "evt02"]
    assert [GenerationJob.model_validate_json(entry["MessageBody"]).sale_id for entry in client.calls[0]] == [
        "fan-presale"
    ]
    assert (summary.events_from_cache, summary.events_failed, summary.jobs_enqueued) == (1, ("evt02",), 1)
