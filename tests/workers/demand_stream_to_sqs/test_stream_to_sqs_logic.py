"""Which changes need a short URL, deduplication across the batch, and accounting for every SQS entry."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from forwarder_builders import FakeSqs, change, event_item, notification_item, sale_item
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.demand_stream_to_sqs.logic import (
    enqueue,
    forward,
    needs_short_url,
    pending_events,
    verify_forwarded,
)
from workers.demand_stream_to_sqs.models import ShortUrlEnqueueError, ShortUrlRejectedError
from workers.shared.errors import RecordError
from workers.shared.records import ChangeRecord

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/prd3292-test-us-east-1-event-short-url"


def without(item: dict[str, Any], attribute: str) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name != attribute}


@pytest.mark.parametrize(
    ("item", "event_name", "expected"),
    [
        pytest.param(event_item("E1"), "INSERT", True, id="new event without short URL"),
        pytest.param(event_item("E1"), "MODIFY", True, id="modified event without short URL"),
        pytest.param(without(event_item("E1"), "isSuppressed"), "INSERT", True, id="isSuppressed absent"),
        pytest.param(event_item("E1", is_suppressed=True), "INSERT", False, id="suppressed event"),
        pytest.param(
            event_item("E1", short_url="https://bit.ly/3xYz"), "MODIFY", False, id="has a short URL"
        ),
        pytest.param(event_item("E1"), "REMOVE", False, id="removed event (TTL)"),
        pytest.param(sale_item("E1"), "INSERT", False, id="sale record"),
        pytest.param(notification_item("E1"), "INSERT", False, id="notification record"),
    ],
)
def test_only_live_unsuppressed_events_without_a_short_url_need_one(
    item: dict[str, Any], event_name: str, expected: bool
) -> None:
    # Given a change of the demand table / When the forwarder re-checks the mapping's filter
    # Then only inserted or modified events that are not suppressed and lack shortUrl qualify
    assert needs_short_url(change(1, item, event_name=event_name)) is expected


def test_duplicates_of_an_event_in_the_batch_become_one_job_in_first_seen_order() -> None:
    # Given a batch where event E1 changes three times, around E2 and a notification
    changes = [
        change(1, event_item("E1")),
        change(2, event_item("E2")),
        change(3, event_item("E1", name="New name"), event_name="MODIFY"),
        change(4, notification_item("E1")),
        change(5, event_item("E1", name="Newer name"), event_name="MODIFY"),
    ]

    # When the forwarder sends the batch
    queue = FakeSqs()
    report = forward(changes, queue, QUEUE_URL)  # type: ignore[arg-type]

    # Then one job per event was sent, in one call, in first-seen order, and every record passes
    assert queue.attempted_event_ids == ["E1", "E2"]
    assert report.sent == {"E1", "E2"} and not report.failures
    for item in changes:
        verify_forwarded(item, report)


def test_jobs_go_in_batches_of_ten_with_the_correlation_attribute() -> None:
    # Given 23 distinct events
    changes = [change(index, event_item(f"E{index}")) for index in range(23)]

    # When they are forwarded
    queue = FakeSqs()
    forward(changes, queue, QUEUE_URL)  # type: ignore[arg-type]

    # Then SendMessageBatch was called with 10, 10 and 3 entries, each tracing back to its event
    assert [len(call) for call in queue.calls] == [10, 10, 3]
    first = queue.calls[0][0]
    assert first["MessageBody"] == '{"eventId":"E0"}'
    assert first["MessageAttributes"]["correlationId"] == {
        "DataType": "String",
        "StringValue": "event:E0|event#details",
    }


def test_a_rejected_entry_fails_every_record_of_its_event_and_no_other() -> None:
    # Given a batch with E1 twice and E2 once, and a queue that rejects E1's entry
    e1_first, e2, e1_again = (
        change(1, event_item("E1")),
        change(2, event_item("E2")),
        change(3, event_item("E1")),
    )
    queue = FakeSqs(reject=frozenset({"E1"}))

    # When the batch is forwarded and each record verified
    report = forward([e1_first, e2, e1_again], queue, QUEUE_URL)  # type: ignore[arg-type]

    # Then both records of E1 fail with a retryable error naming SQS's code; E2's passes
    for record in (e1_first, e1_again):
        with pytest.raises(ShortUrlEnqueueError, match="'E1' not enqueued: InternalError"):
            verify_forwarded(record, report)
    verify_forwarded(e2, report)


def test_a_sender_fault_rejection_is_a_permanent_error() -> None:
    record = change(1, event_item("E1"))
    report = forward([record], FakeSqs(reject=frozenset({"E1"}), sender_fault=True), QUEUE_URL)  # type: ignore[arg-type]
    with pytest.raises(ShortUrlRejectedError, match="InvalidParameterValue"):
        verify_forwarded(record, report)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            ClientError(
                {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": "no queue"}},
                "SendMessageBatch",
            ),
            "AWS.SimpleQueueService.NonExistentQueue",
        ),
        (
            EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com"),
            "EndpointConnectionError",
        ),
    ],
)
def test_a_failed_call_fails_every_event_of_its_ten_and_only_those(error: Exception, code: str) -> None:
    # Given a queue whose every call fails
    changes = [change(index, event_item(f"E{index}")) for index in range(3)]

    # When the batch is forwarded
    report = enqueue(pending_events(changes), FakeSqs(error=error), QUEUE_URL)  # type: ignore[arg-type]

    # Then every event is a failure carrying the call's error code
    assert report.sent == frozenset()
    assert {event_id: failure.code for event_id, failure in report.failures.items()} == dict.fromkeys(
        ("E0", "E1", "E2"), code
    )


def test_an_entry_sqs_answers_neither_way_is_a_failure_not_a_silent_drop() -> None:
    record = change(1, event_item("E1"))
    report = forward([record], FakeSqs(unanswered=frozenset({"E1"})), QUEUE_URL)  # type: ignore[arg-type]
    with pytest.raises(ShortUrlEnqueueError, match="NoAnswer"):
        verify_forwarded(record, report)


def test_an_event_record_without_a_valid_id_fails_as_bad_input() -> None:
    # Given an event image whose id holds a character ids may not have
    item = {**event_item("E1"), "id": "bad id"}
    record = change(1, item)

    # When the batch is forwarded
    queue = FakeSqs()
    report = forward([record], queue, QUEUE_URL)  # type: ignore[arg-type]

    # Then nothing is sent for it and its record fails, naming the problem
    assert queue.calls == []
    with pytest.raises(RecordError, match="has no valid id"):
        verify_forwarded(record, report)


@settings(max_examples=60, deadline=None)
@given(
    batch=st.lists(
        st.tuples(st.sampled_from(["A", "B", "C", "D", "E"]), st.booleans()), min_size=1, max_size=30
    ),
    rejected=st.frozensets(st.sampled_from(["A", "B", "C", "D", "E"])),
)
def test_exactly_the_records_of_rejected_events_fail(
    batch: list[tuple[str, bool]], rejected: frozenset[str]
) -> None:
    # Given any batch of events (some suppressed) and any set of events the queue rejects
    changes: list[ChangeRecord] = [
        change(index, event_item(event_id, is_suppressed=suppressed))
        for index, (event_id, suppressed) in enumerate(batch)
    ]
    queue = FakeSqs(reject=rejected)

    # When the batch is forwarded and verified record by record
    report = forward(changes, queue, QUEUE_URL)  # type: ignore[arg-type]
    failed = set()
    for record in changes:
        try:
            verify_forwarded(record, report)
        except ShortUrlEnqueueError:
            failed.add(record.sequence_number)

    # Then each event needing a URL was attempted once, and exactly the records of rejected ones fail
    needing = [event_id for event_id, suppressed in batch if not suppressed]
    assert queue.attempted_event_ids == list(dict.fromkeys(needing))
    assert failed == {
        record.sequence_number
        for record, (event_id, suppressed) in zip(changes, batch, strict=True)
        if not suppressed and event_id in rejected
    }
