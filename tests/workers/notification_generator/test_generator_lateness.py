"""Generation against moto, never late: nothing after the sale's start plus the grace, no unknown timezone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from generator_builders import (
    GENERATED_AT,
    LATE_GRACE,
    SALE_START,
    ScriptedBitly,
    demand_record,
    event_record,
    notification_items,
    run,
    sale_record,
)

from workers.notification_generator.logic import InvalidEventError
from workers.notification_generator.models import GenerationStatus
from workers.shared.errors import PermanentError
from workers.shared.observability import METRICS
from workers.shared.repository import DemandRepository
from workers.shared.short_links import with_tracking

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def metric_total(emf_blobs: Callable[[], list[dict[str, Any]]], name: str) -> float:
    """The sum of metric `name` over the test, the invocation's metrics flushed as the handler would."""
    METRICS.flush_metrics()
    values = [blob[name] for blob in emf_blobs() if name in blob]
    return sum(sum(value) if isinstance(value, list) else value for value in values)


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
