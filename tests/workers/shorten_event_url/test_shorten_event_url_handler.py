"""The shortener end to end: SQS jobs in, a fake Bitly over HTTP, moto DynamoDB and Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from shortener_builders import cached_event, job_record, sqs_event
from trigger_records import sqs_record

from sandbox.vendors import BITLY_TOKEN as TOKEN
from sandbox.vendors import Bitly, Reply
from workers.shared import clients
from workers.shared.repository import DemandRepository
from workers.shorten_event_url.handler import lambda_handler

TRACKED = "?utm_source=dmd&utm_medium=sms&utm_campaign=sale-reminder"
Blobs = Callable[[], list[dict[str, Any]]]
Lines = Callable[[], list[dict[str, Any]]]
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}


def metric_total(blobs: list[dict[str, Any]], name: str) -> float:
    """The sum of a metric over EMF blobs (a blob holds one value or a list of them)."""
    values = [blob[name] for blob in blobs if name in blob]
    return sum(sum(value) if isinstance(value, list) else value for value in values)


@pytest.mark.usefixtures("shortener_env")
def test_a_job_stores_the_bitly_link_on_the_event_once(
    events: DemandRepository, bitly: Bitly, lambda_context: Any, emf_blobs: Blobs
) -> None:
    # Given a cached event without a short URL
    events.put_event(cached_event("vvG1IZ9KBxv3Tg"))

    # When the job arrives twice in one batch, and once more in a later invocation
    first = lambda_handler(
        sqs_event(job_record("m-1", "vvG1IZ9KBxv3Tg"), job_record("m-2", "vvG1IZ9KBxv3Tg")), lambda_context
    )
    again = lambda_handler(sqs_event(job_record("m-3", "vvG1IZ9KBxv3Tg")), lambda_context)

    # Then every job succeeds and Bitly was called once, as documented, with the tracked URL
    assert first == again == {"batchItemFailures": []}
    [call] = bitly.shorten_calls
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.json() == {
        "long_url": f"https://www.ticketmaster.com/event/vvG1IZ9KBxv3Tg{TRACKED}",
        "domain": "bit.ly",
    }
    # And the event stores Bitly's link
    stored = events.get_event("vvG1IZ9KBxv3Tg")
    assert stored is not None and stored.short_url is not None
    assert stored.short_url.startswith("https://bit.ly/")
    assert metric_total(emf_blobs(), "UrlShortened") == 1


@pytest.mark.usefixtures("shortener_env")
def test_the_configured_bitly_group_is_sent(
    events: DemandRepository, bitly: Bitly, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BITLY_GROUP_GUID", "Ba1bc23dE4F")
    events.put_event(cached_event("E1"))
    assert lambda_handler(sqs_event(job_record("m-1", "E1")), lambda_context) == {"batchItemFailures": []}
    assert bitly.shorten_calls[0].json()["group_guid"] == "Ba1bc23dE4F"


@pytest.mark.usefixtures("shortener_env")
def test_a_rate_limited_call_is_retried_and_then_succeeds(
    events: DemandRepository, bitly: Bitly, lambda_context: Any
) -> None:
    # Given Bitly answers the first call with 429 RATE_LIMIT_EXCEEDED
    events.put_event(cached_event("E1"))
    bitly.reply_next(Bitly.rate_limited(429))

    # When the job is handled
    response = lambda_handler(sqs_event(job_record("m-1", "E1")), lambda_context)

    # Then the call was repeated after a backoff and the link stored
    assert response == {"batchItemFailures": []}
    assert len(bitly.shorten_calls) == 2
    stored = events.get_event("E1")
    assert stored is not None and stored.short_url is not None


@pytest.mark.usefixtures("shortener_env")
def test_bitlys_403_rate_limit_fails_the_record_as_retryable_without_hammering(
    events: DemandRepository, bitly: Bitly, lambda_context: Any, emf_blobs: Blobs, log_lines: Lines
) -> None:
    # Given Bitly answers with its documented 403 RATE_LIMIT_EXCEEDED (per-minute limit)
    events.put_event(cached_event("E1"))
    bitly.reply_next(Bitly.rate_limited(403))

    # When the job is handled
    response = lambda_handler(sqs_event(job_record("m-1", "E1")), lambda_context)

    # Then the record fails as retryable (the queue's redelivery is the backoff) after one call
    assert failed_ids(response) == {"m-1"}
    assert len(bitly.shorten_calls) == 1
    [failure] = [line for line in log_lines() if line["message"] == "Record failed"]
    assert (failure["error_type"], failure["retryable"]) == ("BitlyRateLimitedError", True)
    assert metric_total(emf_blobs(), "UrlShorteningFailed") == 1


@pytest.mark.usefixtures("shortener_env")
def test_a_mixed_batch_returns_exactly_the_malformed_and_failing_records(
    events: DemandRepository, bitly: Bitly, lambda_context: Any
) -> None:
    # Given a good job, a malformed message, a job Bitly refuses (400), and a job for an unknown event
    events.put_event(cached_event("GOOD"))
    events.put_event(cached_event("REFUSED"))
    bitly.reply_for(
        "REFUSED",
        Reply(400, {"message": "INVALID_ARG_LONG_URL", "resource": "bitlinks", "description": "x"}),
    )
    event = sqs_event(
        job_record("m-good", "GOOD"),
        sqs_record("m-malformed", '{"event_id": 42'),
        job_record("m-refused", "REFUSED"),
        job_record("m-unknown", "NOT-CACHED"),
    )

    # When the batch is handled
    response = lambda_handler(event, lambda_context)

    # Then exactly the malformed and refused messages fail; the good one is shortened
    assert failed_ids(response) == {"m-malformed", "m-refused"}
    good = events.get_event("GOOD")
    assert good is not None and good.short_url is not None


@pytest.mark.usefixtures("shortener_env")
def test_a_job_for_an_event_not_cached_succeeds_with_a_log_line(
    bitly: Bitly, lambda_context: Any, log_lines: Lines
) -> None:
    response = lambda_handler(sqs_event(job_record("m-1", "GONE")), lambda_context)
    assert response == {"batchItemFailures": []}
    assert bitly.shorten_calls == []
    assert any(
        line["message"] == "Event not cached; nothing to shorten" and line["event_id"] == "GONE"
        for line in log_lines()
    )


def test_a_permanently_refused_job_reaches_the_dlq_after_max_receives(
    shortener_env: None,
    events: DemandRepository,
    bitly: Bitly,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the short-url queue with its DLQ (maxReceiveCount 3) and an event Bitly always refuses
    sqs = clients.sqs()
    dlq = sqs.create_queue(QueueName="short-url-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName="short-url",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})},
    )["QueueUrl"]
    events.put_event(cached_event("REFUSED"))
    bitly.reply_for("REFUSED", Reply(400, {"message": "INVALID_ARG_LONG_URL"}))
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"eventId": "REFUSED"}))

    # When Lambda's poller receives it, the worker fails it, and it becomes visible again, repeatedly
    for _ in range(4):
        for message in sqs.receive_message(QueueUrl=queue, AttributeNames=["All"]).get("Messages", []):
            record = sqs_record(
                message["MessageId"],
                message["Body"],
                receive_count=int(message["Attributes"]["ApproximateReceiveCount"]),
            )
            if failed_ids(lambda_handler(sqs_event(record), lambda_context)):
                sqs.change_message_visibility(
                    QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )

    # Then after three receives the queue moved it to the DLQ, untouched
    [dead] = sqs.receive_message(QueueUrl=dlq).get("Messages", [])
    assert json.loads(dead["Body"]) == {"eventId": "REFUSED"}
    assert len(bitly.shorten_calls) == 3
