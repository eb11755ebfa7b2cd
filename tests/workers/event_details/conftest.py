"""Fixtures of the event_details tests: moto table/queue/secret, a fake Discovery API, the worker's env."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from discovery_payloads import SUPPRESSED_ARTIST_ID, discovery_payload

from sandbox.vendors import DISCOVERY_API_KEY as API_KEY
from sandbox.vendors import Discovery

REGION = "us-east-1"


@pytest.fixture
def discovery() -> Iterator[Discovery]:
    """A fake Discovery API serving the tests/events/discovery-event-*.json events."""
    fake = Discovery()
    fake.start()
    for name in ("music-us", "theatre-ca-fr", "festival-multi"):
        fake.add(discovery_payload(name))
    yield fake
    fake.stop()


@pytest.fixture
def discovery_secret_arn(aws: None) -> str:
    """The Discovery API key secret, as infra creates it."""
    return boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="prd3292-test-us-east-1/discovery", SecretString=json.dumps({"apiKey": API_KEY})
    )["ARN"]


@pytest.fixture
def short_url_queue_url(aws: None) -> str:
    """The short-url queue."""
    return boto3.client("sqs", region_name=REGION).create_queue(
        QueueName="prd3292-test-us-east-1-event-short-url"
    )["QueueUrl"]


@pytest.fixture
def short_url_jobs(short_url_queue_url: str) -> Callable[[], list[dict[str, Any]]]:
    """Bodies of the short-url jobs sent so far (each read once)."""

    def receive() -> list[dict[str, Any]]:
        messages = boto3.client("sqs", region_name=REGION).receive_message(
            QueueUrl=short_url_queue_url, MaxNumberOfMessages=10
        )
        return [json.loads(message["Body"]) for message in messages.get("Messages", [])]

    return receive


@pytest.fixture
def worker_env(
    monkeypatch: pytest.MonkeyPatch,
    demand_table: str,
    discovery: Discovery,
    discovery_secret_arn: str,
    short_url_queue_url: str,
) -> dict[str, str]:
    """The event_details environment (the variables infra declares), pointed at moto and the fake."""
    environment = {
        "DMD_ENVIRONMENT": "test",
        "POWERTOOLS_SERVICE_NAME": "event_details",
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
        "SHORT_URL_QUEUE_URL": short_url_queue_url,
        "VENDOR_TIMEOUT_SECONDS": "2",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
def resolver_event(load_event: Callable[[str], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Builds the AppSync direct resolver event (tests/events) with the given field arguments."""

    def build(**arguments: Any) -> dict[str, Any]:
        event = load_event("appsync-direct-resolver.json")
        event["arguments"] = arguments
        return event

    return build
