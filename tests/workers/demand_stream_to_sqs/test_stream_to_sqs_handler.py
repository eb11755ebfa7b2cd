"""The forwarder end to end on moto SQS: realistic stream batches in, short-url jobs and failures out."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from forwarder_builders import event_id_of, event_item, malformed_record, notification_item, stream_record
from trigger_records import kinesis_event, sequence_number

from workers.demand_stream_to_sqs.handler import lambda_handler
from workers.shared import clients
from workers.shared.clients import sqs

EventLoader = Callable[[str], dict[str, Any]]
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def queued_jobs(queue_url: str) -> list[dict[str, Any]]:
    """Every message on the queue: body and correlation id."""
    client = clients.sqs()
    messages: list[dict[str, Any]] = []
    while batch := client.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        messages.extend(batch)
        for message in batch:
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [
        {
            "body": json.loads(message["Body"]),
            "correlation_id": message["MessageAttributes"]["correlationId"]["StringValue"],
        }
        for message in messages
    ]


class RejectingQueue:
    """Makes SendMessageBatch on the worker's (moto) client answer `Failed` for some events, as SQS can."""

    def __init__(self, event_ids: set[str]) -> None:
        self.event_ids = event_ids
        self._rejected: list[str] = []
        events = sqs().meta.events
        events.register("provide-client-params.sqs.SendMessageBatch", self._hold_back)
        events.register("after-call.sqs.SendMessageBatch", self._report)

    def _hold_back(self, params: dict[str, Any], **_: Any) -> None:
        self._rejected = [entry["Id"] for entry in params["Entries"] if event_id_of(entry) in self.event_ids]
        params["Entries"] = [entry for entry in params["Entries"] if entry["Id"] not in self._rejected]

    def _report(self, parsed: dict[str, Any], **_: Any) -> None:
        parsed.setdefault("Failed", []).extend(
            {"Id": entry_id, "SenderFault": False, "Code": "InternalError", "Message": "service unavailable"}
            for entry_id in self._rejected
        )


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}


def test_a_realistic_batch_enqueues_one_job_per_event_needing_a_short_url(
    short_url_queue: str, load_event: EventLoader, lambda_context: Any
) -> None:
    # Given a table-stream batch: an event inserted then modified, a suppressed event, an event
    # that already has a short URL, a notification, and a second new event
    event = load_event("demand_stream_to_sqs-table-stream.json")

    # When the forwarder handles it
    response = lambda_handler(event, lambda_context)

    # Then every record succeeds and each event needing a short URL was enqueued exactly once
    assert response == {"batchItemFailures": []}
    assert sorted(queued_jobs(short_url_queue), key=lambda job: job["body"]["eventId"]) == [
        {"body": {"eventId": "Z7r9jZ1AdJ9Fe"}, "correlation_id": "event:Z7r9jZ1AdJ9Fe|event#details"},
        {"body": {"eventId": "vvG1IZ9KBxv3Tg"}, "correlation_id": "event:vvG1IZ9KBxv3Tg|event#details"},
    ]


def test_a_mixed_batch_returns_exactly_the_malformed_and_rejected_records(
    short_url_queue: str, lambda_context: Any, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given a batch with a good event, a malformed record, a notification, and an event (twice)
    # whose job the queue rejects
    RejectingQueue({"REJECTED"})
    event = kinesis_event(
        stream_record(1, event_item("GOOD")),
        malformed_record(2),
        stream_record(3, event_item("REJECTED")),
        stream_record(4, notification_item("GOOD")),
        stream_record(5, event_item("REJECTED", name="Renamed"), event_name="MODIFY"),
    )

    # When the forwarder handles it
    response = lambda_handler(event, lambda_context)

    # Then exactly the malformed record and both records of the rejected event are reported
    assert failed_ids(response) == {sequence_number(2), sequence_number(3), sequence_number(5)}
    # And the good event's job is on the queue
    assert [job["body"] for job in queued_jobs(short_url_queue)] == [{"eventId": "GOOD"}]
    # And the logs say which record failed why
    lines = log_lines()
    assert any(
        line["message"] == "Record rejected: cannot parse" and line["record_id"] == sequence_number(2)
        for line in lines
    )
    assert {
        line["record_id"]
        for line in lines
        if line["message"] == "Record failed" and line["error_type"] == "ShortUrlEnqueueError"
    } == {sequence_number(3), sequence_number(5)}


def test_an_unreachable_queue_fails_the_event_records_and_passes_the_rest(
    short_url_queue: str, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a queue URL that names no queue
    monkeypatch.setenv("SHORT_URL_QUEUE_URL", short_url_queue.replace("event-short-url", "missing"))
    event = kinesis_event(
        stream_record(1, event_item("E1")),
        stream_record(2, notification_item("E1")),
        stream_record(3, event_item("E2", is_suppressed=True)),
    )

    # When the forwarder handles a batch
    response = lambda_handler(event, lambda_context)

    # Then the event that needed a job fails (to be retried), the others do not
    assert failed_ids(response) == {sequence_number(1)}


def test_a_batch_without_events_to_forward_sends_nothing(short_url_queue: str, lambda_context: Any) -> None:
    # Given only records the worker ignores
    event = kinesis_event(
        stream_record(1, notification_item("E1")),
        stream_record(2, event_item("E1", short_url="https://bit.ly/3xYz"), event_name="MODIFY"),
        stream_record(3, event_item("E1"), event_name="REMOVE"),
    )

    # When it is handled / Then nothing fails and nothing is queued
    assert lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    assert queued_jobs(short_url_queue) == []
