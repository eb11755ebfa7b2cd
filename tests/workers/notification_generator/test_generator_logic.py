"""Generation against moto: exact notifications, never twice, skips, retries and continuation jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from generator_builders import (
    EVENT_ID,
    NOTIFICATION_PREFIX,
    PRESALE_ID,
    PUBLIC_SALE_ID,
    SALE_START,
    SHORT_URL,
    demand_record,
    event_record,
    generation_job,
    notification_items,
    run,
    sale_record,
)

from workers.notification_generator.logic import Deadline
from workers.notification_generator.models import GenerationJob, GenerationStatus, SkipReason
from workers.shared.repository import DemandRepository

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


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
