"""Fixtures of the generator tests: the moto table's repository, a seeded presale, the env."""

from __future__ import annotations

import pytest
from generator_builders import (
    PUBLIC_SALE_ID,
    demand_record,
    event_record,
    put_demand_without_locale,
    sale_record,
)

from sandbox.vendors import Bitly
from workers.shared.repository import DemandRepository

GENERATION_QUEUE = "prd3292-test-us-east-1-generation-jobs"


@pytest.fixture
def repository(demand_table: str) -> DemandRepository:
    """The demand repository on the moto table (both indexes)."""
    return DemandRepository(demand_table, sales_index="sales", demand_index="demand-by-sale")


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


@pytest.fixture
def generation_queue_url(aws: None) -> str:
    """The generation-job queue in moto."""
    import boto3

    return boto3.client("sqs", region_name="us-east-1").create_queue(QueueName=GENERATION_QUEUE)["QueueUrl"]


@pytest.fixture
def generator_env(
    monkeypatch: pytest.MonkeyPatch,
    demand_table: str,
    generation_queue_url: str,
    bitly: Bitly,
    bitly_secret: str,
) -> None:
    """The variables infra gives the generator (test table and queue, the fake Bitly, small pages)."""
    variables = {
        "DMD_ENVIRONMENT": "test",
        "POWERTOOLS_SERVICE_NAME": "notification_generator",
        "POWERTOOLS_METRICS_NAMESPACE": "DmdWorkersTest",
        "DEMAND_TABLE_NAME": demand_table,
        "DEMAND_TABLE_SALES_INDEX": "sales",
        "DEMAND_TABLE_DEMAND_INDEX": "demand-by-sale",
        "DEMAND_TABLE_MESSAGE_INDEX": "notification-by-message-id",
        "DEMAND_TABLE_PENDING_INDEX": "pending-notifications",
        "GENERATION_QUEUE_URL": generation_queue_url,
        "BITLY_URL": bitly.url,
        "BITLY_SECRET_ARN": bitly_secret,
        "BITLY_GROUP_GUID": "",
        "WRITE_PARALLELISM": "4",
        "DEMAND_PAGE_SIZE": "10",
        "CONTINUATION_MARGIN_SECONDS": "20",
        "SHORT_URL_TIMEOUT_SECONDS": "1",
        "LATE_GRACE_MINUTES": "5",
        "RELEASE_AFTER_MINUTES": "5",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
