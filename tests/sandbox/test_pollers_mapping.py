"""An event source mapping read from its CreateEventSourceMapping request, with Lambda's defaults."""

from __future__ import annotations

import json

import pytest

from sandbox.pollers import EventSourceMapping

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/changes"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:jobs"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:worker:live"


def test_a_bare_request_gets_lambdas_defaults_for_its_source() -> None:
    # Given requests naming only the function and the source
    stream = EventSourceMapping.from_request({"FunctionName": FUNCTION, "EventSourceArn": STREAM})
    queue = EventSourceMapping.from_request({"FunctionName": FUNCTION, "EventSourceArn": QUEUE})
    # Then batches default to 100 stream records or 10 messages, with no limits and no reporting
    assert (stream.batch_size, queue.batch_size) == (100, 10)
    assert (stream.maximum_retry_attempts, stream.maximum_record_age_seconds) == (-1, -1)
    assert stream.starting_position == "LATEST"
    assert (stream.parallelization_factor, stream.enabled, stream.report_batch_item_failures) == (
        1,
        True,
        False,
    )
    assert stream.on_failure_destination is None
    assert stream.record_filter.matches({"anything": 1})


def test_every_setting_of_a_full_request_is_read() -> None:
    # Given a request with every setting the pollers act on
    request = {
        "FunctionName": FUNCTION,
        "EventSourceArn": STREAM,
        "BatchSize": 25,
        "MaximumBatchingWindowInSeconds": 2,
        "StartingPosition": "TRIM_HORIZON",
        "MaximumRetryAttempts": 3,
        "MaximumRecordAgeInSeconds": 600,
        "BisectBatchOnFunctionError": True,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": QUEUE}},
        "ScalingConfig": {"MaximumConcurrency": 4},
        "ParallelizationFactor": 2,
        "Enabled": False,
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"data": {"kind": ["job"]}})}]},
    }
    # When it is read
    mapping = EventSourceMapping.from_request(request)
    # Then each setting is there
    assert mapping == EventSourceMapping(
        function_arn=FUNCTION,
        event_source_arn=STREAM,
        batch_size=25,
        batching_window_seconds=2.0,
        starting_position="TRIM_HORIZON",
        maximum_retry_attempts=3,
        maximum_record_age_seconds=600,
        bisect_on_function_error=True,
        report_batch_item_failures=True,
        on_failure_destination=QUEUE,
        maximum_concurrency=4,
        parallelization_factor=2,
        enabled=False,
        record_filter=mapping.record_filter,
    )
    assert mapping.record_filter.matches({"data": {"kind": "job"}})
    assert not mapping.record_filter.matches({"data": {"kind": "other"}})
    # And a mapping passed where a request may be is taken as it is
    assert EventSourceMapping.of(mapping) is mapping


def test_a_source_that_is_not_an_arn_is_refused() -> None:
    # Given / When / Then a request whose source is a bare name fails, naming it
    with pytest.raises(ValueError, match="not an ARN: 'jobs'"):
        EventSourceMapping.from_request({"FunctionName": FUNCTION, "EventSourceArn": "jobs"})
