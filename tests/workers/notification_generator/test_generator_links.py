"""Generation against moto, the reminder's link: a cached short URL, one shortened now, else the full URL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from generator_builders import (
    EVENT_ID,
    NOTIFICATION_PREFIX,
    SHORT_URL,
    SHORTENED_NOW,
    ScriptedBitly,
    demand_record,
    event_record,
    notification_items,
    run,
    sale_record,
)

from workers.notification_generator.models import GenerationStatus, SkipReason
from workers.shared.errors import PermanentError, RetryableVendorError
from workers.shared.repository import DemandRepository
from workers.shared.short_links import with_tracking

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def reminder_url_sources(blobs: list[dict[str, Any]]) -> list[str]:
    """The `source` dimension of each ReminderUrl metric emitted."""
    return [str(blob["source"]) for blob in blobs if "ReminderUrl" in blob]


# ------------------------------------------------------------------------------- the link


def test_a_cached_short_url_is_used_without_asking_bitly(
    seeded: DemandRepository, demand_table: str, emf_blobs: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given an event whose short URL the shortener stored
    bitly = ScriptedBitly()

    # When the sale's job runs
    run(seeded, shortener=bitly)

    # Then every reminder carries it, Bitly was not asked, and the metric says where it came from
    items = notification_items(demand_table).values()
    assert all(SHORT_URL in item["messageBody"] for item in items if "messageBody" in item)
    assert all(item["templateVariables"]["url"] == SHORT_URL for item in items if "templateVariables" in item)
    assert bitly.asked == []
    assert reminder_url_sources(emf_blobs()) == ["cached-short-url"]


def test_an_event_without_a_short_url_is_shortened_now_and_the_link_stored(
    repository: DemandRepository, demand_table: str, emf_blobs: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given an event re-cached without its short URL (its cache entry had expired) and two fans
    event = event_record(short_url=None)
    repository.put_event(event)
    repository.put_sale(sale_record())
    repository.put_demand(demand_record("fan-1", "sms", locale="en-us"))
    repository.put_demand(demand_record("fan-2", "email"))
    bitly = ScriptedBitly()

    # When the sale's job runs
    outcome = run(repository, shortener=bitly)

    # Then Bitly was asked once for the tracked event URL, as the shortener worker would ask
    assert bitly.asked == [with_tracking(event.url)]
    # And the reminders were created at once, carrying the new link
    assert (outcome.status, outcome.created) == (GenerationStatus.COMPLETED, 2)
    items = notification_items(demand_table)
    assert items[("fan:fan-1", NOTIFICATION_PREFIX + "sms")]["messageBody"].endswith(SHORTENED_NOW)
    assert items[("fan:fan-2", NOTIFICATION_PREFIX + "email")]["templateVariables"]["url"] == SHORTENED_NOW
    # And the link is stored on the event for the sale's continuations and the event's other sales
    stored = repository.get_event(EVENT_ID)
    assert stored is not None and stored.short_url == SHORTENED_NOW
    assert reminder_url_sources(emf_blobs()) == ["shortened-now"]


@pytest.mark.parametrize(
    "failure",
    [
        RetryableVendorError("bitly", "TEMPORARILY_UNAVAILABLE", status_code=503),
        RetryableVendorError("bitly", "no response within 3 s"),
        PermanentError("secret prd3292-test-us-east-1/bitly has no non-empty 'token'"),
        ValueError("any other failure"),
    ],
    ids=["5xx", "timeout", "bad secret", "unexpected"],
)
def test_when_bitly_fails_the_reminders_carry_the_full_url_and_the_job_never_raises(
    repository: DemandRepository,
    demand_table: str,
    emf_blobs: Callable[[], list[dict[str, Any]]],
    log_lines: Callable[[], list[dict[str, Any]]],
    failure: Exception,
) -> None:
    # Given an event without a short URL while Bitly fails
    event = event_record(short_url=None)
    repository.put_event(event)
    repository.put_sale(sale_record())
    repository.put_demand(demand_record("fan-1", "sms,email", locale="en-us"))

    # When the sale's job runs
    outcome = run(repository, shortener=ScriptedBitly(error=failure))

    # Then it completes without waiting: both reminders carry the event's full URL
    assert (outcome.status, outcome.created) == (GenerationStatus.COMPLETED, 2)
    items = notification_items(demand_table)
    assert items[("fan:fan-1", NOTIFICATION_PREFIX + "sms")]["messageBody"].endswith(event.url)
    assert items[("fan:fan-1", NOTIFICATION_PREFIX + "email")]["templateVariables"]["url"] == event.url
    # And nothing is stored on the event (the shortener worker still owes it a short URL)
    stored = repository.get_event(EVENT_ID)
    assert stored is not None and stored.short_url is None
    # And the fallback is counted and logged with its cause
    assert reminder_url_sources(emf_blobs()) == ["full-url"]
    warnings = [line for line in log_lines() if line["message"].startswith("Event has no short URL")]
    assert [line["error_type"] for line in warnings] == [type(failure).__name__]


def test_a_full_url_too_long_for_one_sms_skips_the_sms_and_the_email_still_goes(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given an event without a short URL whose full URL leaves no room in one SMS segment, Bitly down
    long_url = "https://www.ticketmaster.ca/" + "celine-dion-courage-world-tour-" * 4 + f"event/{EVENT_ID}"
    repository.put_event(event_record(short_url=None, url=long_url))
    repository.put_sale(sale_record())
    repository.put_demand(demand_record("fan-1", "sms,email", locale="en-us"))
    bitly = ScriptedBitly(error=RetryableVendorError("bitly", "TEMPORARILY_UNAVAILABLE", status_code=503))

    # When the sale's job runs
    outcome = run(repository, shortener=bitly)

    # Then the SMS length rule still holds: no SMS (counted as too long), the email with the full URL
    assert outcome.skipped == {SkipReason.SMS_TOO_LONG: 1}
    items = notification_items(demand_table)
    assert list(items) == [("fan:fan-1", NOTIFICATION_PREFIX + "email")]
    assert items[("fan:fan-1", NOTIFICATION_PREFIX + "email")]["templateVariables"]["url"] == long_url


def test_a_slow_bitly_costs_the_job_its_bound_not_the_reminders(
    repository: DemandRepository, demand_table: str, bitly: Any, bitly_secret: str
) -> None:
    # Given an event without a short URL and a Bitly that answers only after 2 s
    import time

    from sandbox.vendors import FaultPlan
    from workers.shared.bitly import bitly_client

    event = event_record(short_url=None)
    repository.put_event(event)
    repository.put_sale(sale_record())
    repository.put_demand(demand_record("fan-1", "sms", locale="en-us"))
    bitly.faults.configure(FaultPlan(latency={"bitly": 2.0}))
    shortener = bitly_client(bitly.url, secret_arn=bitly_secret, timeout_seconds=0.3, max_attempts=1)

    # When the sale's job runs with a 0.3 s bound on the Bitly call
    started = time.monotonic()
    outcome = run(repository, shortener=shortener)
    elapsed = time.monotonic() - started

    # Then the job did not wait for Bitly: the reminder carries the full URL, well within 2 s
    assert outcome.created == 1
    body = notification_items(demand_table)[("fan:fan-1", NOTIFICATION_PREFIX + "sms")]["messageBody"]
    assert body.endswith(event.url)
    assert elapsed < 1.5
