"""Scheduler runs end to end: EventBridge event → handler → moto table and queue, fake Discovery API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from discovery_payloads import SUPPRESSED_ARTIST_ID

from sandbox.vendors import Discovery
from workers.notification_scheduler.handler import lambda_handler

EventFactory = Callable[..., dict[str, Any]]
Jobs = Callable[[], list[dict[str, Any]]]
Logs = Callable[[], list[dict[str, Any]]]
Seed = Callable[[dict[str, Any]], None]
# tests/events/eventbridge-schedule.json ticks at 2024-01-15T14:30:00Z → window [15:00, 15:30).
# Handlers that emit no metric of their own make Powertools warn on every flush.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
WINDOW = {"start": "2024-01-15T15:00:00Z", "end": "2024-01-15T15:30:00Z"}


def job(event_id: str, sale_id: str, starts: str, window: dict[str, str] = WINDOW) -> dict[str, Any]:
    """The generation job the generator receives for a sale (body and correlation id)."""
    window_start = window["start"]
    stamp = window_start[:4] + window_start[5:7] + window_start[8:13] + window_start[14:16]
    return {
        "eventId": event_id,
        "saleId": sale_id,
        "saleStartDateTime": starts,
        "windowStart": window_start,
        "windowEnd": window["end"],
        "part": 0,
        "correlationId": f"{event_id}-{sale_id}-{stamp}-0",
    }


@pytest.fixture
def tick(load_event: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    return load_event("eventbridge-schedule.json")


@pytest.mark.usefixtures("worker_env")
def test_a_tick_enqueues_one_job_per_notifiable_sale_and_fetches_each_event_once(
    *,
    tick: dict[str, Any],
    lambda_context: Any,
    discovery: Discovery,
    event_with_sales: EventFactory,
    seed_sales: Seed,
    generation_jobs: Jobs,
) -> None:
    # Given two events with sales cached in the index; the first has two sales in the window
    seed_sales(
        event_with_sales(
            "vvG1IZ9KBxv3Tg",
            {
                "Verified Fan Presale": "2024-01-15T15:00:00Z",
                "Citi Cardmember Presale": "2024-01-15T15:29:59Z",
                "Live Nation Presale": "2024-01-15T15:30:00Z",  # the window's end is exclusive
                "public": "2024-01-15T14:59:59Z",
            },
        )
    )
    seed_sales(event_with_sales("Z7r9jZ1A7jvFk", {"Fan Club Presale": "2024-01-15T15:15:00Z"}))

    # When the scheduled tick runs
    summary = lambda_handler(tick, lambda_context)

    # Then one job per sale starting in [15:00, 15:30) is enqueued, carrying its dedup id
    assert generation_jobs() == [
        job("vvG1IZ9KBxv3Tg", "verified-fan-presale", "2024-01-15T15:00:00Z"),
        job("Z7r9jZ1A7jvFk", "fan-club-presale", "2024-01-15T15:15:00Z"),
        job("vvG1IZ9KBxv3Tg", "citi-cardmember-presale", "2024-01-15T15:29:59Z"),
    ]
    # And each event was fetched from Discovery once, and the run is summarized
    assert discovery.calls == {"vvG1IZ9KBxv3Tg": 1, "Z7r9jZ1A7jvFk": 1}
    assert summary == {
        "window": WINDOW,
        "salesFound": 3,
        "eventsFetched": 2,
        "eventsFromCache": 0,
        "eventsFailed": [],
        "eventsSuppressed": 0,
        "salesSuppressed": 0,
        "salesWithdrawn": 0,
        "jobsEnqueued": 3,
    }


@pytest.mark.usefixtures("worker_env")
def test_sales_across_midnight_utc_are_found_on_both_dates(
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    event_with_sales: EventFactory,
    seed_sales: Seed,
    generation_jobs: Jobs,
) -> None:
    # Given a one-hour window from the 23:00 tick, and sales just before and after midnight UTC
    monkeypatch.setenv("WINDOW_MINUTES", "60")
    seed_sales(
        event_with_sales(
            "vvG1IZ9KBxv3Tg",
            {
                "Verified Fan Presale": "2024-01-15T23:45:00Z",
                "Amex Presale": "2024-01-16T00:15:00Z",
                "Chase Presale": "2024-01-16T00:30:00Z",
                "Citi Presale": "2024-01-15T23:29:59Z",
            },
        )
    )
    tick = {"detail-type": "Scheduled Event", "source": "aws.events", "id": "tick-2300", "account": "1",
            "time": "2024-01-15T23:00:00Z", "region": "us-east-1", "detail": {}}  # fmt: skip

    # When it runs
    summary = lambda_handler(tick, lambda_context)

    # Then the window [23:30, 00:30) spans two UTC dates and both sales are enqueued
    window = {"start": "2024-01-15T23:30:00Z", "end": "2024-01-16T00:30:00Z"}
    assert generation_jobs() == [
        job("vvG1IZ9KBxv3Tg", "verified-fan-presale", "2024-01-15T23:45:00Z", window),
        job("vvG1IZ9KBxv3Tg", "amex-presale", "2024-01-16T00:15:00Z", window),
    ]
    assert (summary["window"], summary["salesFound"]) == (window, 2)


@pytest.mark.usefixtures("worker_env")
def test_suppressed_events_and_sales_are_dropped_with_a_log_line_each(
    *,
    tick: dict[str, Any],
    lambda_context: Any,
    discovery: Discovery,
    event_with_sales: EventFactory,
    seed_sales: Seed,
    generation_jobs: Jobs,
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given an event by a suppressed artist, and an event whose in-window sale is a registration
    suppressed = event_with_sales("G5vYZ9hBFkAtn", {"Verified Fan Presale": "2024-01-15T15:00:00Z"})
    suppressed["_embedded"]["attractions"][0]["id"] = SUPPRESSED_ARTIST_ID
    seed_sales(discovery.add(suppressed))
    seed_sales(
        event_with_sales(
            "vvG1IZ9KBxv3Tg",
            {"Verified Fan Registration": "2024-01-15T15:00:00Z", "Fan Club Presale": "2024-01-15T15:10:00Z"},
        )
    )

    # When the tick runs
    summary = lambda_handler(tick, lambda_context)

    # Then only the notifiable sale is enqueued
    assert [(job["eventId"], job["saleId"]) for job in generation_jobs()] == [
        ("vvG1IZ9KBxv3Tg", "fan-club-presale")
    ]
    assert (summary["eventsSuppressed"], summary["salesSuppressed"], summary["jobsEnqueued"]) == (1, 1, 1)
    # And each drop is logged with its reason
    drops = {
        (line["message"], line["event_id"], line["reason"])
        for line in log_lines()
        if line["message"].endswith("not notified")
    }
    artist_reason = f"artist {SUPPRESSED_ARTIST_ID} is suppressed"
    assert drops == {
        ("Event suppressed; its sales are not notified", "G5vYZ9hBFkAtn", artist_reason),
        ("Sale suppressed; not notified", "vvG1IZ9KBxv3Tg", "sale name contains 'registration'"),
    }


@pytest.mark.usefixtures("worker_env")
def test_a_failing_discovery_call_drops_only_that_events_sales_and_is_reported(
    *,
    tick: dict[str, Any],
    lambda_context: Any,
    discovery: Discovery,
    event_with_sales: EventFactory,
    seed_sales: Seed,
    generation_jobs: Jobs,
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given two events in the window, one of which Discovery cannot serve (503 on every attempt)
    seed_sales(event_with_sales("vvG1IZ9KBxv3Tg", {"Verified Fan Presale": "2024-01-15T15:00:00Z"}))
    seed_sales(event_with_sales("Z7r9jZ1A7jvFk", {"Amex Presale": "2024-01-15T15:00:00Z"}))
    discovery.reply_for("Z7r9jZ1A7jvFk", Discovery.unavailable())

    # When the tick runs
    summary = lambda_handler(tick, lambda_context)

    # Then the healthy event's sale is still enqueued
    assert [job["eventId"] for job in generation_jobs()] == ["vvG1IZ9KBxv3Tg"]
    # And the run reports the failed event in its summary and at ERROR level with the reason
    assert (summary["eventsFailed"], summary["eventsFetched"], summary["jobsEnqueued"]) == (
        ["Z7r9jZ1A7jvFk"],
        1,
        1,
    )
    failure = next(line for line in log_lines() if line["level"] == "ERROR")
    assert failure["event_id"] == "Z7r9jZ1A7jvFk"
    assert failure["sale_ids"] == ["amex-presale"]
    assert (failure["error_type"], failure["retryable"]) == ("RetryableVendorError", True)


@pytest.mark.usefixtures("worker_env")
def test_an_explicit_window_overrides_the_schedule(
    lambda_context: Any, event_with_sales: EventFactory, seed_sales: Seed, generation_jobs: Jobs
) -> None:
    # Given an operator's run for [09:00, 12:00) (e.g. `dmd workers invoke` after an outage)
    seed_sales(
        event_with_sales(
            "vvG1IZ9KBxv3Tg",
            {"Verified Fan Presale": "2024-01-15T09:00:00Z", "Amex Presale": "2024-01-15T12:00:00Z"},
        )
    )
    window = {"startDateTime": "2024-01-15T09:00:00Z", "endDateTime": "2024-01-15T12:00:00Z"}

    # When the scheduler is invoked with it
    summary = lambda_handler(window, lambda_context)

    # Then that window is used
    assert summary["window"] == {"start": "2024-01-15T09:00:00Z", "end": "2024-01-15T12:00:00Z"}
    assert [job["saleId"] for job in generation_jobs()] == ["verified-fan-presale"]


@pytest.mark.usefixtures("worker_env")
def test_a_rerun_of_the_same_window_enqueues_recognisably_identical_jobs(
    tick: dict[str, Any],
    lambda_context: Any,
    event_with_sales: EventFactory,
    seed_sales: Seed,
    generation_jobs: Jobs,
) -> None:
    # Given a window already run once
    seed_sales(event_with_sales("vvG1IZ9KBxv3Tg", {"Verified Fan Presale": "2024-01-15T15:00:00Z"}))
    lambda_handler(tick, lambda_context)
    first = generation_jobs()

    # When the same tick runs again (a Lambda retry keeps the event's time)
    lambda_handler(tick, lambda_context)

    # Then the same jobs, with the same deduplication ids, are sent: the generator's conditional
    # creates make them produce nothing new
    assert generation_jobs() == first


@pytest.mark.usefixtures("worker_env")
def test_a_window_without_sales_enqueues_nothing(
    tick: dict[str, Any], lambda_context: Any, discovery: Discovery, generation_jobs: Jobs
) -> None:
    summary = lambda_handler(tick, lambda_context)
    assert (summary["salesFound"], summary["jobsEnqueued"]) == (0, 0)
    assert (generation_jobs(), discovery.calls) == ([], {})
