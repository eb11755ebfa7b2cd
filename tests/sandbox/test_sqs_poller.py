"""Lambda's SQS poller: Lambda-shaped records, partial deletes, visibility timeout, redrive, filters."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import BaseModel

from aws_clients import AwsClients
from sandbox.clock import SandboxClock
from sandbox.pollers import SqsPoller
from sandbox.trigger_state import TriggerState
from tests.sandbox.conftest import ACCOUNT, REGION, FunctionFactory
from workers.shared.records import queue_message, queue_message_attributes

pytestmark = pytest.mark.slow

QUEUE = "prd3292-local-us-east-1-event-short-url"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}"


def _queue(aws: AwsClients, *, visibility_timeout: int = 30, max_receive_count: int = 3) -> tuple[str, str]:
    """The queue and its DLQ, redriving after `max_receive_count` receives; their URLs."""
    sqs = aws.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
    url = sqs.create_queue(
        QueueName=QUEUE,
        Attributes={"VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    return url, dlq


def _mapping(**overrides: Any) -> dict[str, Any]:
    return {
        "FunctionName": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:prd3292-test-test_worker:live",
        "EventSourceArn": QUEUE_ARN,
        "Enabled": True,
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        **overrides,
    }


def _depth(aws: AwsClients, url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _send(aws: AwsClients, url: str, *bodies: Any) -> list[str]:
    sqs = aws.client("sqs")
    return [
        sqs.send_message(QueueUrl=url, MessageBody=body if isinstance(body, str) else json.dumps(body))[
            "MessageId"
        ]
        for body in bodies
    ]


class ShortUrlJob(BaseModel):
    eventId: str  # noqa: N815 - the producer's JSON field


def test_records_are_lambda_shaped_and_only_successes_are_deleted(
    aws: AwsClients, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a queue, a poller, a message with the producers' correlation attributes and a poisoned one
    url, _ = _queue(aws)
    function = make_function("report_poisoned")
    poller = SqsPoller(_mapping(), function, aws, clock)
    sqs = aws.client("sqs")
    good = sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"eventId": "vvG1IZ9KBxv3Tg"}),
        MessageAttributes=queue_message_attributes(correlation_id="schedule-2024-01-15T15:00:00Z"),
    )["MessageId"]
    [bad] = _send(aws, url, {"eventId": "x", "poison": True})
    # When the poller runs
    poller.poll_once()
    # Then the handler got both as Lambda SQS records, which the workers' parser reads
    [call] = handlers.invocations("report_poisoned")
    assert call.identifiers == [good, bad]
    record = call.event["Records"][0]
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        QUEUE_ARN,
        REGION,
    )
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["correlationId"] == {
        "stringValue": "schedule-2024-01-15T15:00:00Z",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert len(record["md5OfBody"]) == 32 and record["receiptHandle"]
    parsed = queue_message(ShortUrlJob)(record)
    assert (parsed.body.eventId, parsed.correlation_id, parsed.receive_count) == (
        "vvG1IZ9KBxv3Tg",
        "schedule-2024-01-15T15:00:00Z",
        1,
    )
    # And only the reported failure is left in the queue (invisible for now)
    assert _depth(aws, url) == 1
    assert poller.poll_once() == 0
    counters = function.counters.snapshot()
    assert (counters.records_processed, counters.records_failed) == (1, 1)


def test_a_failed_message_reappears_after_the_visibility_timeout_then_goes_to_the_dlq(
    aws: AwsClients, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a queue with a 2 s visibility timeout redriving after 2 receives, on a clock at 2x
    url, dlq = _queue(aws, visibility_timeout=2, max_receive_count=2)
    clock = SandboxClock(speed=2)
    poller = SqsPoller(_mapping(), make_function("report_poisoned"), aws, clock)
    [message] = _send(aws, url, {"poison": True})
    # When the poller runs, waits out the (sandbox) visibility timeout, and runs again, twice
    assert poller.visibility_timeout == 1
    poller.poll_once()
    assert poller.poll_once() == 0  # still invisible
    time.sleep(1.1)
    poller.poll_once()
    time.sleep(1.1)
    poller.poll_once()
    # Then it was delivered twice (receive counts 1 and 2), and the third receive moved it to the DLQ
    calls = handlers.invocations("report_poisoned")
    assert [call.identifiers for call in calls] == [[message], [message]]
    assert [call.event["Records"][0]["attributes"]["ApproximateReceiveCount"] for call in calls] == ["1", "2"]
    assert _depth(aws, url) == 0
    moved = aws.client("sqs").receive_message(QueueUrl=dlq)["Messages"]
    assert [item["MessageId"] for item in moved] == [message]


def test_a_function_error_deletes_nothing(
    aws: AwsClients, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given two messages and a handler that raises
    url, _ = _queue(aws)
    function = make_function("always_raise")
    poller = SqsPoller(_mapping(), function, aws, clock)
    _send(aws, url, {"n": 1}, {"n": 2})
    # When the poller runs
    poller.poll_once()
    # Then both stay in the queue, and the invocation counts as a function error
    assert _depth(aws, url) == 2
    counters = function.counters.snapshot()
    assert (counters.function_errors, counters.records_failed, counters.records_processed) == (1, 2, 0)


def test_messages_the_filter_rejects_are_deleted_without_an_invocation(
    aws: AwsClients, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a mapping that only wants JSON bodies of kind "job"
    url, _ = _queue(aws)
    criteria = {"Filters": [{"Pattern": json.dumps({"body": {"kind": ["job"]}})}]}
    function = make_function("succeed")
    poller = SqsPoller(_mapping(FilterCriteria=criteria), function, aws, clock)
    [job, _, _] = _send(aws, url, {"kind": "job"}, {"kind": "other"}, "not json")
    # When the poller runs
    poller.poll_once()
    # Then only the job was delivered, and the queue is empty (Lambda deletes what it filters out)
    assert [call.identifiers for call in handlers.invocations("succeed")] == [[job]]
    assert _depth(aws, url) == 0
    assert function.counters.snapshot().records_filtered == 2


def test_maximum_concurrency_runs_that_many_invocations_at_once(
    aws: AwsClients, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given batches of one, a concurrency of 2, and a handler that only returns when a partner runs too
    url, _ = _queue(aws)
    function = make_function("meet_partner")
    poller = SqsPoller(_mapping(BatchSize=1, ScalingConfig={"MaximumConcurrency": 2}), function, aws, clock)
    _send(aws, url, {"n": 1}, {"n": 2})
    # When the poller runs in the background
    poller.start()
    try:
        deadline = time.monotonic() + 10
        while function.counters.snapshot().records_processed < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        poller.stop()
    # Then both invocations overlapped and succeeded
    counters = function.counters.snapshot()
    assert (counters.invocations, counters.function_errors, counters.records_processed) == (2, 0, 2)
    assert _depth(aws, url) == 0


def test_while_its_mapping_is_disabled_the_poller_receives_nothing_and_resumes_when_enabled(
    aws: AwsClients, clock: SandboxClock, make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a poller whose mapping's live state says disabled, and two messages in its queue
    url, _ = _queue(aws)
    mapping_enabled = [False]
    function = make_function("succeed")
    poller = SqsPoller(
        _mapping(), function, aws, clock, state=TriggerState(lambda: mapping_enabled[0], max_age=0)
    )
    sent = _send(aws, url, {"n": 1}, {"n": 2})
    # When the poller runs
    # Then it receives nothing, and both messages wait in the queue, visible
    assert poller.poll_once() == 0
    assert not poller.enabled and not handlers.invocations("succeed")
    assert _depth(aws, url) == 2
    assert not poller.idle()
    # And once the mapping is enabled again, both are delivered and deleted
    mapping_enabled[0] = True
    assert poller.poll_once() == 2
    assert [call.identifiers for call in handlers.invocations("succeed")] == [sent]
    assert _depth(aws, url) == 0
