"""Demand as the fan-facing system writes it: kept where a reminder can be built, loud when none is found."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest
from generator_builders import (
    EVENT_ID,
    GENERATED_AT,
    PRESALE_ID,
    demand_record,
    event_record,
    generation_job,
    sale_record,
)

from workers.notification_generator.handler import lambda_handler
from workers.notification_generator.logic import Deadline, generate
from workers.notification_generator.models import GenerationJob, GenerationOutcome, GenerationStatus
from workers.shared.demand_reading import DemandDeviation
from workers.shared.models import deserialize_item
from workers.shared.repository import DemandRepository

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

NOTIFICATION_PREFIX = f"notification#{EVENT_ID}-{PRESALE_ID}#"
Blobs = Callable[[], list[dict[str, Any]]]


class CachedShortUrlOnly:
    """The cached event has its short URL: Bitly is never asked."""

    def shorten(self, long_url: str) -> Any:
        raise AssertionError(f"Bitly asked to shorten {long_url}")


def run(repository: DemandRepository, job: GenerationJob | None = None) -> GenerationOutcome:
    return generate(
        job or generation_job(),
        repository,
        page_size=10,
        write_parallelism=4,
        deadline=Deadline(lambda: 280_000, margin_seconds=20),
        continue_with=lambda _: None,
        shortener=CachedShortUrlOnly(),
        late_grace=timedelta(minutes=5),
        now=lambda: GENERATED_AT,
    )


def put_as_the_writer(table: str, fan_id: str, **attributes: str) -> None:
    """A demand item with the reference's attributes only, as the fan-facing system puts it."""
    item = {
        "PK": f"fan:{fan_id}",
        "SK": f"demand#{EVENT_ID}-{PRESALE_ID}",
        "type": "demand",
        "fanId": fan_id,
        "eventId": EVENT_ID,
        "saleId": PRESALE_ID,
        "marketId": "TM_US",
        **attributes,
    }
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName=table, Item={name: {"S": value} for name, value in item.items()}
    )


def notifications(table: str) -> dict[tuple[str, str], dict[str, Any]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = [deserialize_item(item) for item in client.scan(TableName=table)["Items"]]
    return {(item["PK"], item["SK"]): item for item in items if item["type"] == "notification"}


@pytest.fixture
def presale(repository: DemandRepository) -> DemandRepository:
    """Céline Dion's presale (an fr-ca event), cached with its short URL, without any demand yet."""
    repository.put_event(event_record())
    repository.put_sale(sale_record())
    return repository


def test_a_fan_with_an_unsupported_method_and_an_unknown_locale_still_gets_the_supported_reminders(
    presale: DemandRepository, demand_table: str, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given an opt-in written by the fan-facing system with push besides SMS and email, in German
    put_as_the_writer(
        demand_table,
        "fan-1",
        contactMethod="sms,push,email",
        locale="de-de",
        phoneNumber="+15145550001",
        email="fan-1@example.com",
    )

    # When the sale's job runs
    outcome = run(presale)

    # Then the fan gets the SMS and the email, in the event's locale (fr-ca)
    items = notifications(demand_table)
    assert set(items) == {
        ("fan:fan-1", NOTIFICATION_PREFIX + "sms"),
        ("fan:fan-1", NOTIFICATION_PREFIX + "email"),
    }
    assert {item["locale"] for item in items.values()} == {"fr-ca"}
    assert "Céline Dion" in items[("fan:fan-1", NOTIFICATION_PREFIX + "sms")]["messageBody"]
    # And both deviations are counted and logged with the fan and field, never the contact details
    assert outcome.deviations == {
        DemandDeviation.UNSUPPORTED_CONTACT_METHOD: 1,
        DemandDeviation.UNKNOWN_LOCALE: 1,
    }
    warnings = [line for line in log_lines() if line["message"] == "Demand record kept with a deviation"]
    assert sorted((line["fan_id"], line["field"], line["reason"]) for line in warnings) == [
        ("fan-1", "contactMethod", "push"),
        ("fan-1", "locale", "de-de"),
    ]
    assert not [line for line in warnings if "+1514" in str(line) or "@example.com" in str(line)]


def test_only_a_fan_without_any_usable_method_is_skipped(
    presale: DemandRepository, demand_table: str
) -> None:
    # Given a push-only opt-in next to a good one
    put_as_the_writer(demand_table, "fan-1", contactMethod="push")
    put_as_the_writer(demand_table, "fan-2", contactMethod="sms", phoneNumber="+15145550002")

    # When the sale's job runs
    outcome = run(presale)

    # Then the good fan is reminded, the push-only one counted as skipped
    assert set(notifications(demand_table)) == {("fan:fan-2", NOTIFICATION_PREFIX + "sms")}
    assert outcome.deviations == {DemandDeviation.NO_SUPPORTED_CONTACT_METHOD: 1}
    assert outcome.demand_items == 2


def test_a_notifiable_sale_whose_generation_finds_no_demand_is_reported(
    presale: DemandRepository, demand_table: str, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given demand for the event's public sale only (none for the presale)
    presale.put_demand(demand_record("fan-1", "sms", sale_id=f"{EVENT_ID}-public"))

    # When the presale's job runs
    outcome = run(presale)

    # Then it completes with no demand item read, and says so with the event and sale ids
    assert (outcome.status, outcome.demand_items, outcome.created) == (GenerationStatus.COMPLETED, 0, 0)
    reported = [line for line in log_lines() if line["message"] == "Notifiable sale found no demand"]
    assert [(line["level"], line["event_id"], line["sale_id"]) for line in reported] == [
        ("WARNING", EVENT_ID, PRESALE_ID)
    ]


@pytest.mark.parametrize(
    ("job_changes", "sale_changes"),
    [
        pytest.param({"cursor": "continuation", "part": 1}, {}, id="continuation-job"),
        pytest.param(
            {}, {"is_suppressed": True, "suppression_reason": "sale type SUPPRESS"}, id="suppressed"
        ),
    ],
)
def test_a_sale_without_demand_is_only_reported_by_its_first_job_when_notifiable(
    repository: DemandRepository,
    log_lines: Callable[[], list[dict[str, Any]]],
    job_changes: dict[str, Any],
    sale_changes: dict[str, Any],
) -> None:
    # Given a continuation job whose remaining pages hold nothing, or a suppressed sale
    repository.put_event(event_record())
    repository.put_sale(sale_record(**sale_changes))
    job = generation_job(**job_changes)
    if job.cursor is not None:
        repository.put_demand(demand_record("fan-1", "sms"))
        job = job.model_copy(
            update={"cursor": repository.demand_for_sale(EVENT_ID, PRESALE_ID, page_size=1).cursor}
        )

    # When the job runs
    run(repository, job)

    # Then no sale is reported as without demand (the first job saw the demand; nobody is reminded of a
    # suppressed sale anyway)
    assert not [line for line in log_lines() if line["message"] == "Notifiable sale found no demand"]


def test_the_deviations_and_a_sale_without_demand_are_metrics(
    *,
    presale: DemandRepository,
    demand_table: str,
    generator_env: None,
    load_event: Callable[[str], dict[str, Any]],
    lambda_context: Any,
    emf_blobs: Blobs,
) -> None:
    # Given the presale's job, first without any demand
    event = {"Records": load_event("notification-generator-sqs-jobs.json")["Records"][:1]}

    # When it is handled
    lambda_handler(event, lambda_context)

    # Then SalesWithoutDemand counts it, with the worker's service and environment dimensions
    (blob,) = [blob for blob in emf_blobs() if "SalesWithoutDemand" in blob]
    assert (blob["SalesWithoutDemand"], blob["service"], blob["environment"]) == (
        [1.0],
        "notification_generator",
        "test",
    )

    # When two fans then opt in with deviations and the job is delivered again
    put_as_the_writer(
        demand_table, "fan-1", contactMethod="sms,push", phoneNumber="+15145550001", locale="xx"
    )
    put_as_the_writer(demand_table, "fan-2", contactMethod="fax")
    lambda_handler(event, lambda_context)

    # Then each deviation is counted under its reason, and the sale no longer lacks demand
    blobs = emf_blobs()
    assert {blob["reason"]: blob["DemandDeviations"] for blob in blobs if "DemandDeviations" in blob} == {
        "unsupported-contact-method": [1.0],
        "unknown-locale": [1.0],
        "no-supported-contact-method": [1.0],
    }
    assert not [blob for blob in blobs if "SalesWithoutDemand" in blob]
