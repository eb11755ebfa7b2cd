"""The generator's Lambda handler: partial batch failures, metrics, continuation through SQS, cold import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from generator_builders import (
    EVENT_ID,
    PRESALE_ID,
    ExpiringContext,
    demand_record,
    event_record,
    generation_job,
    sale_record,
)

from sandbox.vendors import Bitly
from workers.notification_generator.handler import lambda_handler
from workers.notification_generator.models import GenerationJob
from workers.shared.keys import Key
from workers.shared.repository import DemandRepository

EventLoader = Callable[[str], dict[str, Any]]
JOBS_EVENT = "notification-generator-sqs-jobs.json"
UNSHORTENED_EVENT_ID = "G5vYZ9f1KxNOv"


def notification_keys(table: str) -> list[tuple[str, str]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = client.scan(TableName=table)["Items"]
    return sorted((item["PK"]["S"], item["SK"]["S"]) for item in items if item["type"]["S"] == "notification")


def metric_values(blobs: list[dict[str, Any]], name: str) -> list[float]:
    values: list[float] = []
    for blob in blobs:
        if name in blob:
            value = blob[name]
            values.extend(value if isinstance(value, list) else [value])
    return values


def as_lambda_record(message: dict[str, Any]) -> dict[str, Any]:
    """An SQS ReceiveMessage message in the shape Lambda's event source mapping delivers it."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {
            name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1",
    }


@pytest.fixture
def seeded(repository: DemandRepository, generator_env: None) -> DemandRepository:
    """The presale with three fans, and a second event re-cached without its short URL."""
    repository.put_event(event_record())
    repository.put_sale(sale_record())
    for fan, methods in (("fan-1", "sms"), ("fan-2", "email"), ("fan-3", "sms,email")):
        repository.put_demand(demand_record(fan, methods, locale="en-us"))
    repository.put_event(event_record(id=UNSHORTENED_EVENT_ID, short_url=None))
    repository.put_sale(
        sale_record("G5vYZ9f1KxNOv-presale-amex", event_id=UNSHORTENED_EVENT_ID, name="Amex Presale")
    )
    repository.put_demand(
        demand_record("fan-9", "sms", event_id=UNSHORTENED_EVENT_ID, sale_id="G5vYZ9f1KxNOv-presale-amex")
    )
    return repository


def test_a_batch_reports_exactly_the_malformed_job_and_an_event_without_short_url_does_not_wait(
    seeded: DemandRepository, demand_table: str, load_event: EventLoader, lambda_context: Any, bitly: Bitly
) -> None:
    # Given a batch with a good job, a truncated body and a job whose event has no short URL yet
    event = load_event(JOBS_EVENT)
    ids = [record["messageId"] for record in event["Records"]]

    # When the handler processes it
    response = lambda_handler(event, lambda_context)

    # Then only the truncated body is reported back for redelivery
    assert response == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    # And both sales' notifications were created: the second event's URL was shortened on the spot
    # (it used to come back after the queue's visibility timeout, 90 minutes later)
    prefix = f"notification#{EVENT_ID}-{PRESALE_ID}#"
    amex = f"notification#{UNSHORTENED_EVENT_ID}-{UNSHORTENED_EVENT_ID}-presale-amex#"
    assert notification_keys(demand_table) == [
        ("fan:fan-1", prefix + "sms"),
        ("fan:fan-2", prefix + "email"),
        ("fan:fan-3", prefix + "email"),
        ("fan:fan-3", prefix + "sms"),
        ("fan:fan-9", amex + "sms"),
    ]
    assert len(bitly.shorten_calls) == 1
    shortened = seeded.get_event(UNSHORTENED_EVENT_ID)
    assert shortened is not None and shortened.short_url is not None
    sms = seeded.get_notification(Key("fan:fan-9", amex + "sms"))
    assert sms is not None and sms.message_body is not None
    assert sms.message_body.endswith(shortened.short_url)


def test_when_bitly_is_unreachable_the_job_succeeds_with_the_event_full_url(
    seeded: DemandRepository,
    demand_table: str,
    load_event: EventLoader,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the job of the event without a short URL, and Bitly unreachable (nothing listens there)
    monkeypatch.setenv("BITLY_URL", "http://127.0.0.1:9/v4")
    event = {"Records": load_event(JOBS_EVENT)["Records"][2:]}

    # When the handler processes it
    response = lambda_handler(event, lambda_context)

    # Then the job succeeds at once and its reminder carries the event's full URL
    assert response == {"batchItemFailures": []}
    amex = f"notification#{UNSHORTENED_EVENT_ID}-{UNSHORTENED_EVENT_ID}-presale-amex#sms"
    sms = seeded.get_notification(Key("fan:fan-9", amex))
    cached = seeded.get_event(UNSHORTENED_EVENT_ID)
    assert sms is not None and sms.message_body is not None and cached is not None
    assert cached.short_url is None
    assert sms.message_body.endswith(cached.url)


def test_created_and_duplicate_notifications_are_counted_as_metrics(
    seeded: DemandRepository,
    load_event: EventLoader,
    lambda_context: Any,
    emf_blobs: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given the good job of the batch
    event = {"Records": load_event(JOBS_EVENT)["Records"][:1]}

    # When it is delivered twice
    lambda_handler(event, lambda_context)
    first = emf_blobs()
    lambda_handler(event, lambda_context)
    second = emf_blobs()

    # Then the first run counts 4 created, the redelivery 4 duplicates and nothing created
    assert (metric_values(first, "NotificationsCreated"), metric_values(first, "NotificationsDuplicate")) == (
        [4.0],
        [0.0],
    )
    assert (
        metric_values(second, "NotificationsCreated"),
        metric_values(second, "NotificationsDuplicate"),
    ) == (
        [0.0],
        [4.0],
    )


def test_a_continuation_job_goes_through_the_generation_queue_and_finishes_the_sale(
    repository: DemandRepository,
    generator_env: None,
    generation_queue_url: str,
    load_event: EventLoader,
    lambda_context: Any,
) -> None:
    # Given 15 fans (pages of 10) and an invocation whose time runs short after its first page
    repository.put_event(event_record())
    repository.put_sale(sale_record())
    for number in range(1, 16):
        repository.put_demand(demand_record(f"fan-{number:02d}", "sms"))
    event = {"Records": load_event(JOBS_EVENT)["Records"][:1]}

    # When the job is handled
    response = lambda_handler(event, ExpiringContext(expires_at_check=1))

    # Then it succeeds and enqueues part 1 from the second page, with the same correlation id
    assert response == {"batchItemFailures": []}
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(
        QueueUrl=generation_queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert len(messages) == 1
    second_page = repository.demand_for_sale(EVENT_ID, PRESALE_ID, page_size=10).cursor
    assert GenerationJob.model_validate_json(messages[0]["Body"]) == generation_job(
        cursor=second_page, part=1
    )
    assert messages[0]["MessageAttributes"]["correlationId"]["StringValue"] == "schedule-2024-03-01T14:30:00Z"
    assert len(notification_keys(repository.table_name)) == 10

    # When the continuation is delivered to the generator
    response = lambda_handler({"Records": [as_lambda_record(messages[0])]}, lambda_context)

    # Then the sale's 15 reminders exist, each once, and nothing more is enqueued
    assert response == {"batchItemFailures": []}
    keys = notification_keys(repository.table_name)
    assert len(keys) == len(set(keys)) == 15
    assert "Messages" not in sqs.receive_message(QueueUrl=generation_queue_url, WaitTimeSeconds=0)


@pytest.mark.slow  # a fresh interpreter
def test_the_handler_imports_without_creating_clients_or_loading_lazy_packages() -> None:
    # Given a fresh interpreter without any worker environment or collector
    code = (
        "import json, sys\n"
        "import workers.notification_generator.handler\n"
        "from workers.shared import clients\n"
        "lazy = ('opentelemetry', 'aws_lambda_powertools.utilities.batch',\n"
        "        'aws_lambda_powertools.utilities.parser', 'aws_lambda_powertools.utilities.parameters')\n"
        "loaded = [p for p in lazy if any(n == p or n.startswith(p + '.') for n in sys.modules)]\n"
        "built = [f.__name__ for f in (clients.dynamodb, clients.sqs) if f.cache_info().currsize]\n"
        "print(json.dumps({'loaded': loaded, 'built': built}))\n"
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_EXPORTER")}

    # When the handler module is imported
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )

    # Then no AWS client exists yet and nothing lazy was imported
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"loaded": [], "built": []}
