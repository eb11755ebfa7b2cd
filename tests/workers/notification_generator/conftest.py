"""Fixtures of the generator tests: the repository on the moto table and the worker's environment."""

from __future__ import annotations

import pytest

from workers.shared.repository import DemandRepository

GENERATION_QUEUE = "prd3292-test-us-east-1-generation-jobs"


@pytest.fixture
def repository(demand_table: str) -> DemandRepository:
    """The demand repository on the moto table (both indexes)."""
    return DemandRepository(demand_table, sales_index="sales", demand_index="demand-by-sale")


@pytest.fixture
def generation_queue_url(aws: None) -> str:
    """The generation-job queue in moto."""
    import boto3

    return boto3.client("sqs", region_name="us-east-1").create_queue(QueueName=GENERATION_QUEUE)["QueueUrl"]


@pytest.fixture
def generator_env(monkeypatch: pytest.MonkeyPatch, demand_table: str, generation_queue_url: str) -> None:
    """The variables infra gives the generator (test table and queue, small pages)."""
    variables = {
        "DMD_ENVIRONMENT": "test",
        "POWERTOOLS_SERVICE_NAME": "notification_generator",
        "POWERTOOLS_METRICS_NAMESPACE": "DmdWorkersTest",
        "DEMAND_TABLE_NAME": demand_table,
        "DEMAND_TABLE_SALES_INDEX": "sales",
        "DEMAND_TABLE_DEMAND_INDEX": "demand-by-sale",
        "GENERATION_QUEUE_URL": generation_queue_url,
        "WRITE_PARALLELISM": "4",
        "DEMAND_PAGE_SIZE": "10",
        "CONTINUATION_MARGIN_SECONDS": "20",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
