"""Fixtures of the notification_scheduler tests: moto table/queue/secret, fake Discovery, the worker's env."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from discovery_payloads import SUPPRESSED_ARTIST_ID, discovery_payload

from sandbox.vendors import DISCOVERY_API_KEY as API_KEY
from sandbox.vendors import Discovery
from workers.shared.discovery.normalize import normalize_event
from workers.shared.discovery.rules import EventRules
from workers.shared.repository import DemandRepository

REGION = "us-east-1"


@pytest.fixture
def discovery() -> Iterator[Discovery]:
    """A fake Discovery API (empty: tests add the events they need)."""
    fake = Discovery()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def repository(demand_table: str) -> DemandRepository:
    """The moto demand table."""
    return DemandRepository(demand_table, sales_index="sales", demand_index="demand-by-sale")


@pytest.fixture
def discovery_secret_arn(aws: None) -> str:
    """The Discovery API key secret, as infra creates it."""
    return boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="prd3292-test-us-east-1/discovery", SecretString=json.dumps({"apiKey": API_KEY})
    )["ARN"]


@pytest.fixture
def generation_queue_url(aws: None) -> str:
    """The generation-job queue."""
    return boto3.client("sqs", region_name=REGION).create_queue(
        QueueName="prd3292-test-us-east-1-generation-jobs"
    )["QueueUrl"]


@pytest.fixture
def generation_jobs(generation_queue_url: str) -> Callable[[], list[dict[str, Any]]]:
    """Every job on the generation queue (body plus its correlationId attribute), drained."""

    def drain() -> list[dict[str, Any]]:
        client = boto3.client("sqs", region_name=REGION)
        jobs: list[dict[str, Any]] = []
        while True:
            messages = client.receive_message(
                QueueUrl=generation_queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return sorted(jobs, key=lambda job: (job["saleStartDateTime"], job["eventId"], job["saleId"]))
            for message in messages:
                job = json.loads(message["Body"])
                job["correlationId"] = message["MessageAttributes"]["correlationId"]["StringValue"]
                jobs.append(job)
                client.delete_message(QueueUrl=generation_queue_url, ReceiptHandle=message["ReceiptHandle"])

    return drain


@pytest.fixture
def worker_env(
    monkeypatch: pytest.MonkeyPatch,
    demand_table: str,
    discovery: Discovery,
    discovery_secret_arn: str,
    generation_queue_url: str,
) -> dict[str, str]:
    """The notification_scheduler environment (the variables infra declares), pointed at moto and the fake."""
    environment = {
        "DMD_ENVIRONMENT": "test",
        "POWERTOOLS_SERVICE_NAME": "notification_scheduler",
        "POWERTOOLS_METRICS_NAMESPACE": "DmdWorkersTest",
        "DEMAND_TABLE_NAME": demand_table,
        "DEMAND_TABLE_SALES_INDEX": "sales",
        "DEMAND_TABLE_DEMAND_INDEX": "demand-by-sale",
        "DEMAND_TABLE_MESSAGE_INDEX": "notification-by-message-id",
        "DEMAND_TABLE_PENDING_INDEX": "pending-notifications",
        "DISCOVERY_URL": discovery.url,
        "DISCOVERY_SECRET_ARN": discovery_secret_arn,
        "SUPPRESSED_ARTIST_IDS": SUPPRESSED_ARTIST_ID,
        "ALLOWED_COUNTRIES": "US,CA",
        "ALLOWED_CLASSIFICATIONS": "music,theatre",
        "EVENT_CACHE_TTL_HOURS": "24",
        "GENERATION_QUEUE_URL": generation_queue_url,
        "LEAD_MINUTES": "30",
        "WINDOW_MINUTES": "30",
        "EVENT_FETCH_PARALLELISM": "4",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
def event_with_sales(discovery: Discovery) -> Callable[..., dict[str, Any]]:
    """Serves a Discovery event (the US music fixture with another id) whose sales start at given times.

    `sales` maps presale names to ISO instants; "public" sets the public sale.
    """

    def build(event_id: str, sales: dict[str, str], **changes: Any) -> dict[str, Any]:
        payload = discovery_payload("music-us")
        payload["id"] = event_id
        payload["sales"] = {
            "public": {"startDateTime": sales.pop("public")} if "public" in sales else {"startTBD": True},
            "presales": [{"name": name, "startDateTime": starts} for name, starts in sales.items()],
        }
        for key, value in changes.items():
            payload[key] = value
        return discovery.add(payload)

    return build


@pytest.fixture
def seed_sales(repository: DemandRepository) -> Callable[[dict[str, Any]], None]:
    """Puts an event's sale records only, as left by an earlier caching whose event record expired."""

    def seed(payload: dict[str, Any]) -> None:
        _, sales = normalize_event(
            payload, market_id=None, rules=EventRules(), now=datetime(2024, 1, 1, tzinfo=UTC)
        )
        for sale in sales:
            repository.put_sale(sale)

    return seed
