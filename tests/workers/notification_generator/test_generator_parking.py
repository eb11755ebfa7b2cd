"""The generator parks malformed demand items whole, re-drives them from its DLQ, and rides out throttling."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from generator_builders import EVENT_ID, PRESALE_ID, demand_record, event_record, generation_job, sale_record

from workers.notification_generator import handler
from workers.notification_generator.handler import lambda_handler, retry_delay, retry_soon
from workers.shared.keys import Key
from workers.shared.models import serialize_item
from workers.shared.parking import PARKED_ATTRIBUTE, parked_record
from workers.shared.repository import DemandRepository

DLQ = "prd3292-test-us-east-1-generation-jobs-dlq"
PREFIX = f"notification#{EVENT_ID}-{PRESALE_ID}#"


def job_record(body: str, *, message_id: str = "m-1", receives: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receives)},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1",
    }


def the_job() -> str:
    return generation_job().model_dump_json(by_alias=True, exclude_none=True)


def put_raw(table: str, item: dict[str, Any]) -> None:
    boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=table, Item=serialize_item(item))


def malformed_demand(fan: str) -> dict[str, Any]:
    """fan's opt-in as a broken writer wrote it: no contactMethod at all."""
    item = demand_record(fan, "sms", locale="en-us").to_item()
    del item["contactMethod"]
    return item


def parked_messages(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
    ).get("Messages", []):
        messages.extend(batch)
    return messages


@pytest.fixture
def dead_letters(generator_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The generation queue's DLQ in moto, named to the generator as its parking queue."""
    url = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName=DLQ)["QueueUrl"]
    monkeypatch.setenv("PARKING_QUEUE_URL", url)
    return url


@pytest.fixture
def sale_with_a_malformed_opt_in(repository: DemandRepository, demand_table: str) -> DemandRepository:
    repository.put_event(event_record())
    repository.put_sale(sale_record())
    repository.put_demand(demand_record("fan-1", "sms", locale="en-us"))
    repository.put_demand(demand_record("fan-2", "email", locale="en-us"))
    put_raw(demand_table, malformed_demand("fan-3"))
    return repository


def test_a_malformed_demand_item_is_parked_whole_and_the_sales_other_fans_get_their_reminders(
    sale_with_a_malformed_opt_in: DemandRepository, dead_letters: str, demand_table: str, lambda_context: Any
) -> None:
    # Given a sale with two good opt-ins and one without contactMethod, and the generation DLQ to park in
    # When the generator runs the sale's job
    response = lambda_handler({"Records": [job_record(the_job())]}, lambda_context)

    # Then the job succeeds and the two good fans' reminders exist
    assert response == {"batchItemFailures": []}
    repository = sale_with_a_malformed_opt_in
    assert repository.get_notification(Key("fan:fan-1", PREFIX + "sms")) is not None
    assert repository.get_notification(Key("fan:fan-2", PREFIX + "email")) is not None
    # And the malformed item is parked once, marked, with the item as read, why, from where and the job
    (message,) = parked_messages(dead_letters)
    assert message["MessageAttributes"][PARKED_ATTRIBUTE]["StringValue"] == "1"
    parked = parked_record(message["Body"])
    assert parked is not None
    assert parked.worker == "notification_generator"
    assert parked.record == serialize_item(malformed_demand("fan-3"))
    assert parked.source.kind == "dynamodb"
    assert parked.source.table_name == demand_table
    assert parked.source.key == {"PK": "fan:fan-3", "SK": f"demand#{EVENT_ID}-{PRESALE_ID}"}
    assert parked.reason.error_type == "DemandDeviation:no-supported-contact-method"
    assert parked.job is not None
    assert (parked.job["eventId"], parked.job["saleId"], parked.job.get("cursor")) == (
        EVENT_ID,
        PRESALE_ID,
        None,
    )


def test_when_the_item_cannot_be_parked_the_job_fails_and_nothing_is_lost(
    sale_with_a_malformed_opt_in: DemandRepository,
    generator_env: None,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: Any,
) -> None:
    # Given a parking queue that does not exist
    monkeypatch.setenv("PARKING_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/gone-dlq")

    # When the generator runs the sale's job
    response = lambda_handler({"Records": [job_record(the_job())]}, lambda_context)

    # Then the job comes back as a failure (the queue redelivers it; the item stays in the table)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_a_redriven_parked_item_once_fixed_creates_only_its_reminder(
    sale_with_a_malformed_opt_in: DemandRepository, dead_letters: str, demand_table: str, lambda_context: Any
) -> None:
    # Given the malformed item parked by a first run, then rewritten by its owner
    lambda_handler({"Records": [job_record(the_job())]}, lambda_context)
    (message,) = parked_messages(dead_letters)
    repository = sale_with_a_malformed_opt_in
    repository.put_demand(demand_record("fan-3", "sms", locale="en-us"))

    # When the parked message is re-driven to the generation queue (as `dmd dlq redrive` moves it)
    response = lambda_handler({"Records": [job_record(message["Body"], message_id="m-2")]}, lambda_context)

    # Then it runs its job: the fixed fan gets the reminder, and nothing is parked again
    assert response == {"batchItemFailures": []}
    assert repository.get_notification(Key("fan:fan-3", PREFIX + "sms")) is not None
    assert parked_messages(dead_letters) == []


def test_a_redriven_item_still_malformed_is_parked_again_alone(
    sale_with_a_malformed_opt_in: DemandRepository, dead_letters: str, demand_table: str, lambda_context: Any
) -> None:
    # Given two malformed items of the sale, both parked by a first run
    put_raw(demand_table, malformed_demand("fan-4"))
    lambda_handler({"Records": [job_record(the_job())]}, lambda_context)
    first, second = parked_messages(dead_letters)

    # When one of the parked messages is re-driven before anyone fixed the item
    response = lambda_handler({"Records": [job_record(first["Body"], message_id="m-2")]}, lambda_context)

    # Then only that item is parked again (the other one has its own message)
    assert response == {"batchItemFailures": []}
    (again,) = parked_messages(dead_letters)
    first_parked, again_parked = parked_record(first["Body"]), parked_record(again["Body"])
    assert first_parked is not None and again_parked is not None
    assert again_parked.source.key == first_parked.source.key
    assert parked_record(second["Body"]) is not None


def test_a_parked_record_without_a_job_is_a_malformed_message(
    generator_env: None, lambda_context: Any
) -> None:
    # Given a parked Kinesis record of another worker, moved into the generation queue by mistake
    body = json.dumps(
        {
            "parked": {
                "worker": "notification_send",
                "parkedAt": "2052-03-01T14:30:00Z",
                "reason": {"errorType": "RecordError", "message": "bad"},
                "source": {"kind": "kinesis"},
                "record": {},
            }
        }
    )

    # When the generator receives it
    response = lambda_handler({"Records": [job_record(body)]}, lambda_context)

    # Then it is reported failed (the queue moves it to the DLQ after its receives), never run
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


@pytest.mark.parametrize(("receives", "delay"), [(1, 30), (2, 60), (3, 120), (4, 240), (5, 300), (40, 300)])
def test_a_failed_job_comes_back_after_a_short_delay_doubling_per_receive(receives: int, delay: int) -> None:
    # Given a job received `receives` times / When it fails / Then it is visible again after `delay` s
    assert retry_delay(receives) == delay


class RecordingSqs:
    def __init__(self, *, refuse: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.refuse = refuse

    def change_message_visibility(self, **request: Any) -> None:
        self.calls.append(request)
        if self.refuse:
            raise ClientError({"Error": {"Code": "ReceiptHandleIsInvalid", "Message": "no"}}, "Change")


def test_only_the_failed_jobs_visibility_is_shortened(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a batch of two jobs, the second failed on its third receive
    sqs = RecordingSqs()
    monkeypatch.setattr(handler, "sqs", lambda: sqs)
    event = {"Records": [job_record("{}", message_id="ok"), job_record("{}", message_id="bad", receives=3)]}

    # When the handler's answer is applied
    retry_soon(event, {"batchItemFailures": [{"itemIdentifier": "bad"}]}, queue_url="https://q/generation")

    # Then only the failed job becomes visible again, after 120 s
    assert sqs.calls == [
        {"QueueUrl": "https://q/generation", "ReceiptHandle": "handle-bad", "VisibilityTimeout": 120}
    ]


def test_a_visibility_sqs_refuses_leaves_the_job_to_the_queues_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given SQS refusing the change (e.g. the receipt handle expired)
    sqs = RecordingSqs(refuse=True)
    monkeypatch.setattr(handler, "sqs", lambda: sqs)
    event = {"Records": [job_record("{}", message_id="bad")]}

    # When the failure is applied / Then nothing raises: the job comes back after the queue's timeout
    retry_soon(event, {"batchItemFailures": [{"itemIdentifier": "bad"}]}, queue_url="https://q/generation")
    assert len(sqs.calls) == 1


def test_the_generators_table_client_rides_out_throttling_with_more_attempts(
    sale_with_a_malformed_opt_in: DemandRepository,
    dead_letters: str,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the generator's repository as its handler builds it
    built: list[Any] = []
    original = handler.demand_repository

    def spy(settings: Any, **options: Any) -> DemandRepository:
        repository = original(settings, **options)
        built.append(repository)
        return repository

    monkeypatch.setattr(handler, "demand_repository", spy)

    # When a job runs
    lambda_handler({"Records": [job_record(the_job())]}, lambda_context)

    # Then its DynamoDB client retries throttled writes up to 10 attempts (DynamoDB's 50 ms doubling)
    (repository,) = built
    retries = repository.client.meta.config.retries
    assert retries == {"mode": "legacy", "total_max_attempts": handler.PATIENT_DYNAMODB_ATTEMPTS}
    assert handler.PATIENT_DYNAMODB_ATTEMPTS >= 10
