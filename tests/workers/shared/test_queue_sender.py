"""The SQS sender: JSON bodies with trace context and correlation id, in tens, every entry accounted for."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from workers.shared.messages import GenerationJob, ShortUrlJob
from workers.shared.queue_sender import OutgoingMessage, QueueSender, SendFailure

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/prd3292-test-us-east-1-event-short-url"


class ScriptedSqs:
    """An SQS client double: records calls; per call, entries to fail, to leave unanswered, or an error."""

    def __init__(self, script: list[dict[str, Any]] | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.batches: list[list[dict[str, Any]]] = []
        self._script = list(script or [])

    def send_message(self, **request: Any) -> dict[str, Any]:
        self.sent.append(request)
        return {"MessageId": "m-1"}

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        assert QueueUrl == QUEUE_URL
        self.batches.append(Entries)
        step = self._script.pop(0) if self._script else {}
        if "error" in step:
            raise step["error"]
        failed, unanswered = step.get("fail", set()), step.get("unanswered", set())
        return {
            "Successful": [{"Id": e["Id"]} for e in Entries if e["Id"] not in failed | unanswered],
            "Failed": [
                {"Id": e["Id"], "SenderFault": True, "Code": "InvalidParameterValue", "Message": "too big"}
                for e in Entries
                if e["Id"] in failed
            ],
        }


def sender(client: ScriptedSqs) -> QueueSender:
    return QueueSender(url=QUEUE_URL, client=client)  # type: ignore[arg-type]


def messages(count: int) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(ShortUrlJob(event_id=f"E{index}"), correlation_id=f"c{index}")
        for index in range(count)
    ]


def test_one_message_goes_as_camel_case_json_with_its_correlation_id() -> None:
    # Given a generation job without a cursor
    client = ScriptedSqs()
    job = GenerationJob.model_validate(
        {
            "eventId": "vvG1IZ9KBxv3Tg",
            "saleId": "public",
            "saleStartDateTime": "2024-01-15T15:00:00Z",
            "windowStart": "2024-01-15T15:00:00Z",
            "windowEnd": "2024-01-15T15:30:00Z",
        }
    )

    # When it is sent with a correlation id
    sender(client).send(job, correlation_id="corr-1")

    # Then the body is the job by its aliases, absent optionals left out, and the id is an attribute
    (request,) = client.sent
    assert request["QueueUrl"] == QUEUE_URL
    assert GenerationJob.model_validate_json(request["MessageBody"]) == job
    assert '"cursor"' not in request["MessageBody"]
    assert request["MessageAttributes"]["correlationId"] == {"DataType": "String", "StringValue": "corr-1"}


def test_a_batch_goes_in_tens_and_reports_nothing_when_all_are_taken() -> None:
    # When 23 messages are sent
    client = ScriptedSqs()
    failures = sender(client).send_batch(messages(23))

    # Then three calls of 10, 10 and 3 entries, ids by position, each with its correlation id
    assert failures == {}
    assert [len(batch) for batch in client.batches] == [10, 10, 3]
    assert [entry["Id"] for entry in client.batches[2]] == ["0", "1", "2"]
    last = client.batches[2][2]
    assert ShortUrlJob.model_validate_json(last["MessageBody"]).event_id == "E22"
    assert last["MessageAttributes"]["correlationId"]["StringValue"] == "c22"


def test_failed_and_unanswered_entries_are_reported_by_their_position_in_the_batch() -> None:
    # Given a queue that fails entry 1 of the second call and answers nothing for entry 0 of it
    client = ScriptedSqs([{}, {"fail": {"1"}, "unanswered": {"0"}}])

    # When 12 messages are sent without re-sending
    failures = sender(client).send_batch(messages(12))

    # Then messages 10 and 11 are the failures, each with its reason, and nothing was re-sent
    assert failures == {
        10: SendFailure("NoAnswer", "SendMessageBatch did not report this entry", sender_fault=False),
        11: SendFailure("InvalidParameterValue", "too big", sender_fault=True),
    }
    assert len(client.batches) == 2


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "no", "Type": "Sender"}}, "SendMessageBatch"
            ),
            SendFailure("AccessDenied", "no", sender_fault=True),
            id="client error",
        ),
        pytest.param(
            EndpointConnectionError(endpoint_url=QUEUE_URL),
            SendFailure(
                "EndpointConnectionError", f'Could not connect to the endpoint URL: "{QUEUE_URL}"', False
            ),
            id="no connection",
        ),
    ],
)
def test_a_call_that_fails_as_a_whole_fails_each_of_its_messages_and_the_next_ten_still_go(
    error: Exception, expected: SendFailure
) -> None:
    # Given a queue whose first call fails as a whole
    client = ScriptedSqs([{"error": error}])

    # When 12 messages are sent
    failures = sender(client).send_batch(messages(12))

    # Then the first ten fail with the call's reason and the last two were taken
    assert failures == dict.fromkeys(range(10), expected)
    assert len(client.batches) == 2


def test_with_resending_the_entries_not_taken_go_once_more_alone_before_the_next_ten(
    log_lines: Any,
) -> None:
    # Given a queue that fails entry 3 of the first call twice and entry 7 once
    client = ScriptedSqs([{"fail": {"3", "7"}}, {"fail": {"3"}}])

    # When 12 messages are sent with re-sending
    failures = sender(client).send_batch(messages(12), resend_rejected=True)

    # Then the two were re-sent alone, only message 3 stays out, and the retry was logged
    assert [[entry["Id"] for entry in batch] for batch in client.batches] == [
        [str(index) for index in range(10)],
        ["3", "7"],
        ["0", "1"],
    ]
    assert list(failures) == [3]
    (warning,) = [line for line in log_lines() if line["level"] == "WARNING"]
    assert (warning["queue"], warning["rejected"], warning["codes"]) == (
        "prd3292-test-us-east-1-event-short-url",
        2,
        ["InvalidParameterValue"],
    )
