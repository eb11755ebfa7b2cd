"""Generation against moto: exact notifications, never twice, skips, retries and continuation jobs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from generator_builders import (
    EVENT_ID,
    GENERATED_AT,
    PRESALE_ID,
    PUBLIC_SALE_ID,
    SALE_START,
    SHORT_URL,
    demand_record,
    event_record,
    generation_job,
    sale_record,
)

from workers.notification_generator.logic import (
    Deadline,
    InvalidEventError,
    generate,
)
from workers.notification_generator.models import (
    GenerationJob,
    GenerationOutcome,
    GenerationStatus,
    SkipReason,
)
from workers.shared.bitly import Bitlink
from workers.shared.errors import PermanentError, RetryableVendorError
from workers.shared.models import DemandRecord, deserialize_item, serialize_item
from workers.shared.observability import METRICS
from workers.shared.repository import DemandRepository
from workers.shared.short_links import UrlShortener, with_tracking

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

NOTIFICATION_PREFIX = f"notification#{EVENT_ID}-{PRESALE_ID}#"
PLENTY_OF_TIME = Deadline(lambda: 280_000, margin_seconds=20)
LATE_GRACE = timedelta(minutes=5)
SHORTENED_NOW = "https://bit.ly/4nOwG3n"


@dataclass
class ScriptedBitly:
    """Bitly as the generator sees it: answers `link`, or raises `error`; records what it was asked."""

    link: str = SHORTENED_NOW
    error: Exception | None = None
    asked: list[str] = field(default_factory=list)

    def shorten(self, long_url: str) -> Bitlink:
        self.asked.append(long_url)
        if self.error is not None:
            raise self.error
        return Bitlink(id=self.link.removeprefix("https://"), link=self.link, long_url=long_url)


def run(
    repository: DemandRepository,
    job: GenerationJob | None = None,
    *,
    page_size: int = 10,
    deadline: Deadline = PLENTY_OF_TIME,
    continued: list[GenerationJob] | None = None,
    shortener: UrlShortener | None = None,
    now: Callable[[], datetime] = lambda: GENERATED_AT,
) -> GenerationOutcome:
    sink = continued if continued is not None else []
    return generate(
        job or generation_job(),
        repository,
        page_size=page_size,
        write_parallelism=4,
        deadline=deadline,
        continue_with=sink.append,
        shortener=shortener or ScriptedBitly(),
        late_grace=LATE_GRACE,
        now=now,
    )


def reminder_url_sources(blobs: list[dict[str, Any]]) -> list[str]:
    """The `source` dimension of each ReminderUrl metric emitted."""
    return [str(blob["source"]) for blob in blobs if "ReminderUrl" in blob]


def metric_total(emf_blobs: Callable[[], list[dict[str, Any]]], name: str) -> float:
    """The sum of metric `name` over the test, the invocation's metrics flushed as the handler would."""
    METRICS.flush_metrics()
    values = [blob[name] for blob in emf_blobs() if name in blob]
    return sum(sum(value) if isinstance(value, list) else value for value in values)


def notification_items(table: str) -> dict[tuple[str, str], dict[str, Any]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table):
        items.extend(deserialize_item(item) for item in page["Items"])
    return {(item["PK"], item["SK"]): item for item in items if item.get("type") == "notification"}


def put_demand_without_locale(table: str, record: DemandRecord) -> None:
    item = record.to_item()
    del item["locale"]  # written by an older client: the event's locale applies
    boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=table, Item=serialize_item(item))


@pytest.fixture
def seeded(repository: DemandRepository, demand_table: str) -> DemandRepository:
    """Céline Dion's Verified Fan presale with fans in three locales, two markets and all methods."""
    repository.put_event(event_record())
    repository.put_sale(sale_record())
    repository.put_sale(sale_record(PUBLIC_SALE_ID))
    for record in (
        demand_record("fan-1", "sms", locale="en-us", market_id="TM_US"),
        demand_record("fan-2", "email", locale="en-ca", market_id="TM_CA"),
        demand_record("fan-3", "sms,email", locale="fr-ca", market_id="LN_CA"),
        demand_record("fan-5", "email,sms", locale="en-us", market_id="LN_US"),
        demand_record("fan-6", "sms,email", sale_id=PUBLIC_SALE_ID),  # another sale: not this job's
    ):
        repository.put_demand(record)
    put_demand_without_locale(demand_table, demand_record("fan-4", "sms"))
    return repository


# ---------------------------------------------------------------------------- what is created


def test_one_notification_per_fan_sale_and_method_with_exact_items(
    seeded: DemandRepository, demand_table: str
) -> None:
    # Given the presale's demand: sms, email, "sms,email", three locales, TM and LN markets
    # When its generation job runs
    outcome = run(seeded)

    # Then exactly one CREATED notification per fan × method of this sale exists
    assert (outcome.status, outcome.created, outcome.duplicates) == (GenerationStatus.COMPLETED, 7, 0)
    items = notification_items(demand_table)
    assert set(items) == {
        ("fan:fan-1", NOTIFICATION_PREFIX + "sms"),
        ("fan:fan-2", NOTIFICATION_PREFIX + "email"),
        ("fan:fan-3", NOTIFICATION_PREFIX + "sms"),
        ("fan:fan-3", NOTIFICATION_PREFIX + "email"),
        ("fan:fan-4", NOTIFICATION_PREFIX + "sms"),
        ("fan:fan-5", NOTIFICATION_PREFIX + "sms"),
        ("fan:fan-5", NOTIFICATION_PREFIX + "email"),
    }
    # And an SMS item is complete, pre-rendered in the fan's language and brand
    assert items[("fan:fan-1", NOTIFICATION_PREFIX + "sms")] == {
        "PK": "fan:fan-1",
        "SK": NOTIFICATION_PREFIX + "sms",
        "groupId": NOTIFICATION_PREFIX + "sms",
        "type": "notification",
        "fanId": "fan-1",
        "eventId": EVENT_ID,
        "saleId": PRESALE_ID,
        "saleName": "Verified Fan Presale",
        "contactMethod": "sms",
        "status": {"id": "CREATED", "date": "2052-03-01T14:30:00.123Z"},
        "date": {"created": "2052-03-01T14:30:00.123Z"},
        "sendAttempts": 0,
        "errors": [],
        "phoneNumber": "+15145550001",
        "messageBody": (
            "Heads up! Tickets for Celine Dion Verified Fan Presale in Montréal go on sale 10:00 AM EST. "
            "Get tickets with Ticketmaster: https://bit.ly/3xYz12A"
        ),
        "locale": "en-us",
        "marketId": "TM_US",
        "saleStartDateTime": "2052-03-01T15:00:00Z",
        # Listed as pending: the sweeper's shard of its key, due for a sweep 5 minutes after creation
        "sweepShard": "8",
        "sweepAt": "2052-03-01T14:35:00.123Z",
    }
    # And an email item carries template variables, not a body
    assert items[("fan:fan-3", NOTIFICATION_PREFIX + "email")] == {
        "PK": "fan:fan-3",
        "SK": NOTIFICATION_PREFIX + "email",
        "groupId": NOTIFICATION_PREFIX + "email",
        "type": "notification",
        "fanId": "fan-3",
        "eventId": EVENT_ID,
        "saleId": PRESALE_ID,
        "saleName": "Verified Fan Presale",
        "contactMethod": "email",
        "status": {"id": "CREATED", "date": "2052-03-01T14:30:00.123Z"},
        "date": {"created": "2052-03-01T14:30:00.123Z"},
        "sendAttempts": 0,
        "errors": [],
        "email": "fan-3@example.com",
        "templateVariables": {
            "artistName": "Céline Dion",
            "presaleName": "Verified Fan Presale",
            "saleTime": "10 h HNE",
            "eventDay": "VEN",
            "eventDate": "15 MARS",
            "eventTime": "20 h",
            "url": SHORT_URL,
            "venueName": "Centre Bell",
            "venueCity": "Montréal",
            "venueStateCode": "QC",
            "brand": "Live Nation",
        },
        "locale": "fr-ca",
        "marketId": "LN_CA",
        "saleStartDateTime": "2052-03-01T15:00:00Z",
        "sweepShard": "7",
        "sweepAt": "2052-03-01T14:35:00.123Z",
    }
    # And every SMS is in its fan's locale (fan-4 has none: the event's fr-ca) and brand
    bodies = {pk: item["messageBody"] for (pk, sk), item in items.items() if sk.endswith("#sms")}
    french_tm = (
        "Rappel! Les billets pour Céline Dion Verified Fan Presale à Montréal seront en vente à 10 h HNE. "
        "Obtenez vos billets avec Ticketmaster : https://bit.ly/3xYz12A"
    )
    assert bodies["fan:fan-3"] == french_tm.replace("Ticketmaster", "Live Nation")
    assert bodies["fan:fan-4"] == french_tm
    assert bodies["fan:fan-5"] == bodies["fan:fan-1"].replace("Ticketmaster", "Live Nation")
    assert items[("fan:fan-4", NOTIFICATION_PREFIX + "sms")]["locale"] == "fr-ca"
    assert items[("fan:fan-2", NOTIFICATION_PREFIX + "email")]["templateVariables"]["eventDate"] == "MAR 15"


def test_a_public_sale_reminder_omits_the_sale_name(seeded: DemandRepository, demand_table: str) -> None:
    # Given the public onsale's fan (sms and email)
    # When its job runs
    outcome = run(seeded, generation_job(PUBLIC_SALE_ID))

    # Then the SMS and the email variables carry no presale name
    assert outcome.created == 2
    items = notification_items(demand_table)
    prefix = f"notification#{EVENT_ID}-{PUBLIC_SALE_ID}#"
    sms = items[("fan:fan-6", prefix + "sms")]
    assert sms["messageBody"].startswith("Heads up! Tickets for Celine Dion in Montréal go on sale")
    assert "presaleName" not in items[("fan:fan-6", prefix + "email")]["templateVariables"]


def test_a_redelivered_job_creates_nothing_new_and_counts_duplicates(
    seeded: DemandRepository, demand_table: str
) -> None:
    # Given a job that already ran
    run(seeded)
    before = notification_items(demand_table)

    # When the queue delivers it again
    outcome = run(seeded)

    # Then nothing is created or changed; every notification is counted as a duplicate
    assert (outcome.created, outcome.duplicates) == (0, 7)
    assert notification_items(demand_table) == before


# ---------------------------------------------------------------------------- nothing to do


@pytest.mark.parametrize(
    ("event_overrides", "sale_overrides", "reason"),
    [
        pytest.param(None, {}, "event is not cached", id="event missing"),
        pytest.param({}, None, "sale is not cached", id="sale missing"),
        pytest.param(
            {"is_suppressed": True, "suppression_reason": "country"},
            {},
            "event is suppressed (country)",
            id="event suppressed",
        ),
        pytest.param(
            {},
            {"is_suppressed": True, "suppression_reason": "registration"},
            "sale is suppressed (registration)",
            id="sale suppressed",
        ),
        pytest.param(
            {},
            {"sale_start_date_time": "2052-03-08T15:00:00Z"},
            "sale was rescheduled to 2052-03-08T15:00:00Z",
            id="sale rescheduled",
        ),
    ],
)
def test_a_missing_suppressed_or_rescheduled_sale_succeeds_without_creating_anything(
    repository: DemandRepository,
    log_lines: Callable[[], list[dict[str, Any]]],
    event_overrides: dict[str, Any] | None,
    sale_overrides: dict[str, Any] | None,
    reason: str,
) -> None:
    # Given a sale with demand whose event or sale is gone, suppressed or moved
    if event_overrides is not None:
        repository.put_event(event_record(**event_overrides))
    if sale_overrides is not None:
        repository.put_sale(sale_record(**sale_overrides))
    repository.put_demand(demand_record("fan-1", "sms,email"))

    # When its job runs
    outcome = run(repository)

    # Then it ends successfully (no queue loop), creates nothing and logs why
    assert (outcome.status, outcome.reason) == (GenerationStatus.SKIPPED, reason)
    assert notification_items(repository.table_name) == {}
    logged = [line for line in log_lines() if line["message"] == "Nothing to generate for this sale"]
    assert [line["reason"] for line in logged] == [reason]


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


# ----------------------------------------------------------------------------- never late


def clock(*readings: datetime) -> Callable[[], datetime]:
    """A clock that reads each of `readings` in turn, then stays at the last."""
    iterator: Iterator[datetime] = iter(readings)
    last = readings[-1]

    def now() -> datetime:
        nonlocal last
        last = next(iterator, last)
        return last

    return now


@pytest.mark.parametrize(
    ("after_start", "status"),
    [
        (timedelta(minutes=-30), GenerationStatus.COMPLETED),
        (timedelta(minutes=5), GenerationStatus.COMPLETED),  # the grace is inclusive
        (timedelta(minutes=5, seconds=1), GenerationStatus.EXPIRED),
        (timedelta(hours=1), GenerationStatus.EXPIRED),
    ],
    ids=["before the sale", "at the end of the grace", "just after the grace", "an hour late"],
)
def test_a_job_that_runs_after_its_sale_started_plus_the_grace_creates_nothing(
    repository: DemandRepository,
    emf_blobs: Callable[[], list[dict[str, Any]]],
    log_lines: Callable[[], list[dict[str, Any]]],
    after_start: timedelta,
    status: GenerationStatus,
) -> None:
    # Given a sale with a fan by SMS and email, and an event still without a short URL
    repository.put_event(event_record(short_url=None))
    repository.put_sale(sale_record())
    repository.put_demand(demand_record("fan-1", "sms,email"))
    bitly = ScriptedBitly()

    # When its job runs `after_start` the sale's start (a 5-minute grace)
    outcome = run(repository, shortener=bitly, now=lambda: SALE_START + after_start)

    # Then within the grace the reminders are created; after it nothing is, Bitly is not even asked,
    # and the expired sale is counted and logged with its reason
    expired = status is GenerationStatus.EXPIRED
    created = 0 if expired else 2
    assert (outcome.status, outcome.created) == (status, created)
    assert len(notification_items(repository.table_name)) == created
    assert bitly.asked == ([] if expired else [with_tracking(event_record().url)])
    assert metric_total(emf_blobs, "SalesExpired") == (1 if expired else 0)
    warnings = [line for line in log_lines() if line["message"].startswith("Sale already started")]
    assert [line["reason"] for line in warnings] == (
        ["sale started at 2052-03-01T15:00:00Z, more than 5 min ago"] if expired else []
    )


def test_a_job_whose_sale_starts_while_it_pages_stops_creating(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given 25 fans (pages of 10) and a clock that passes the sale's start plus grace after page one
    repository.put_event(event_record())
    repository.put_sale(sale_record())
    for number in range(1, 26):
        repository.put_demand(demand_record(f"fan-{number:02d}", "sms"))
    late = SALE_START + LATE_GRACE + timedelta(seconds=1)

    # When the job runs
    outcome = run(repository, now=clock(GENERATED_AT, GENERATED_AT, late))

    # Then the first page's reminders exist, and the job stopped before creating any late one
    assert (outcome.status, outcome.created, outcome.pages) == (GenerationStatus.EXPIRED, 10, 2)
    assert len(notification_items(demand_table)) == 10


def test_an_event_with_an_unknown_timezone_fails_permanently(repository: DemandRepository) -> None:
    # Given an event whose timezone is not a tz database name
    repository.put_event(event_record(timezone="Eastern Standard"))
    repository.put_sale(sale_record())

    # When its job runs  # Then the error is permanent and names the timezone
    with pytest.raises(InvalidEventError, match="Eastern Standard") as raised:
        run(repository)
    assert isinstance(raised.value, PermanentError)


# ---------------------------------------------------------------------------- partial reminders


def test_an_sms_that_cannot_fit_is_not_created_but_the_email_is(
    repository: DemandRepository, demand_table: str, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given an artist name no SMS segment can carry (UCS-2 only) and two "sms,email" fans
    repository.put_event(event_record(artist_name="🌈🌈🌈"))
    repository.put_sale(sale_record())
    for fan in ("fan-1", "fan-2"):
        repository.put_demand(demand_record(fan, "sms,email", locale="en-us"))

    # When the job runs
    outcome = run(repository)

    # Then only the emails exist, the skips are counted and the reason is logged once
    assert outcome.created == 2
    assert outcome.skipped == {SkipReason.SMS_TOO_LONG: 2}
    assert {sk.rsplit("#", 1)[-1] for _, sk in notification_items(demand_table)} == {"email"}
    warnings = [line for line in log_lines() if line["message"].startswith("SMS reminder does not fit")]
    assert len(warnings) == 1
    assert warnings[0]["encoding"] == "UCS-2"


def test_a_method_without_its_contact_detail_is_skipped(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given fans whose opt-in lacks the phone number or the email of a chosen method
    repository.put_event(event_record())
    repository.put_sale(sale_record())
    repository.put_demand(demand_record("fan-1", "sms,email", phone_number=None))
    repository.put_demand(demand_record("fan-2", "sms,email", email=None))

    # When the job runs
    outcome = run(repository)

    # Then each gets the reminder it can receive, and the rest is counted
    assert set(notification_items(demand_table)) == {
        ("fan:fan-1", NOTIFICATION_PREFIX + "email"),
        ("fan:fan-2", NOTIFICATION_PREFIX + "sms"),
    }
    assert outcome.skipped == {SkipReason.MISSING_PHONE_NUMBER: 1, SkipReason.MISSING_EMAIL: 1}


# ---------------------------------------------------------------------------- continuation


def _fans(repository: DemandRepository, count: int) -> None:
    repository.put_event(event_record())
    repository.put_sale(sale_record())
    for number in range(1, count + 1):
        repository.put_demand(demand_record(f"fan-{number:05d}", "sms"))


class CountdownDeadline:
    """Remaining time that drops under the margin at the `expires_at_check`-th look."""

    def __init__(self, expires_at_check: int) -> None:
        self.expires_at_check = expires_at_check
        self.checks = 0

    def remaining_millis(self) -> int:
        self.checks += 1
        return 1_000 if self.checks >= self.expires_at_check else 280_000


def test_when_time_runs_short_a_continuation_job_carries_the_next_page(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given 25 fans, pages of 10, and an invocation whose time runs short after the second page
    _fans(repository, 25)
    countdown = CountdownDeadline(expires_at_check=2)
    continued: list[GenerationJob] = []

    # When the job runs
    first = run(repository, deadline=Deadline(countdown.remaining_millis, 20), continued=continued)

    # Then it stops after two pages and enqueues part 1 from the third page's cursor
    after_first_page = repository.demand_for_sale(EVENT_ID, PRESALE_ID, page_size=10).cursor
    after_second_page = repository.demand_for_sale(
        EVENT_ID, PRESALE_ID, page_size=10, cursor=after_first_page
    ).cursor
    assert (first.status, first.pages, first.created) == (GenerationStatus.CONTINUED, 2, 20)
    assert continued == [generation_job(cursor=after_second_page, part=1)]
    assert first.continuation == continued[0]

    # When the continuation job runs in a fresh invocation
    second = run(repository, continued[0])

    # Then it creates the remaining fans' notifications, none twice
    assert (second.status, second.created, second.duplicates) == (GenerationStatus.COMPLETED, 5, 0)
    items = notification_items(demand_table)
    assert len(items) == 25
    assert {pk for pk, _ in items} == {f"fan:fan-{number:05d}" for number in range(1, 26)}


def test_every_job_processes_at_least_one_page_even_when_started_late(
    repository: DemandRepository,
) -> None:
    # Given an invocation already under the margin when the job starts
    _fans(repository, 15)
    continued: list[GenerationJob] = []

    # When the job runs
    outcome = run(repository, deadline=Deadline(lambda: 1_000, 20), continued=continued)

    # Then one page is still written before handing over (progress, never a ping-pong of empty jobs)
    assert (outcome.pages, outcome.created) == (1, 10)
    assert [job.part for job in continued] == [1]


def test_the_last_page_completes_the_job_whatever_the_time_left(repository: DemandRepository) -> None:
    # Given fewer fans than a page and no time to spare
    _fans(repository, 5)
    continued: list[GenerationJob] = []

    # When the job runs  # Then it completes without a continuation
    outcome = run(repository, deadline=Deadline(lambda: 1_000, 20), continued=continued)
    assert (outcome.status, outcome.created, continued) == (GenerationStatus.COMPLETED, 5, [])


def test_the_sale_start_in_the_job_is_compared_to_the_second(repository: DemandRepository) -> None:
    # Given a job whose sale start carries milliseconds (the sale is stored to the second)
    _fans(repository, 1)
    job = generation_job(sale_start_date_time=SALE_START.replace(microsecond=250_000))

    # When it runs  # Then it is the same sale start, not a reschedule
    assert run(repository, job).created == 1
