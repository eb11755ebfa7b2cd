"""Lambda's SQS poller for one mapping: receive, filter (delete), invoke, delete what succeeded."""

from __future__ import annotations

import base64
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aws_clients import AwsClients
from sandbox.clock import SandboxClock
from sandbox.function import LambdaFunction
from sandbox.pollers.batch import invoke_batch
from sandbox.pollers.mapping import EventSourceMapping, arn_parts
from sandbox.pollers.record_filter import json_or_text
from sandbox.polling import PollingThread
from sandbox.trigger_state import TriggerState

LOGGER: Final = logging.getLogger("sandbox.pollers")
SQS_DEFAULT_CONCURRENCY: Final = 5  # Lambda starts with five concurrent SQS pollers
LONG_POLL_SECONDS: Final = 1  # short, so that stopping a poller takes at most a second
_RECEIVE_LIMIT: Final = 10
_DELETE_LIMIT: Final = 10
_WINDOW_PAUSE_SECONDS: Final = 0.01


class SqsPoller:
    """Lambda's SQS poller for one mapping: receive, filter (delete), invoke, delete what succeeded."""

    def __init__(
        self,
        mapping: EventSourceMapping | Mapping[str, Any],
        function: LambdaFunction,
        clients: AwsClients,
        clock: SandboxClock,
        *,
        state: TriggerState | None = None,
    ) -> None:
        self.mapping = EventSourceMapping.of(mapping)
        self.function = function
        # The mapping's live state in the emulator: while it is disabled, nothing is received.
        self._state = state
        self._clock = clock
        self._sqs = clients.client("sqs")
        self._region = clients.region
        _, account, name = arn_parts(self.mapping.event_source_arn)
        self.queue_url = str(
            self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        )
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"]
        )
        self.queue_visibility_timeout = int(attributes["Attributes"].get("VisibilityTimeout", 30))
        concurrency = self.mapping.maximum_concurrency or SQS_DEFAULT_CONCURRENCY
        self._threads = [
            PollingThread(f"sqs:{function.worker}:{index}", self._long_poll) for index in range(concurrency)
        ]

    @property
    def visibility_timeout(self) -> int:
        """What each receive asks for, in real seconds: the queue's timeout (sandbox time) over the speed."""
        return math.ceil(self._clock.real_seconds(self.queue_visibility_timeout))

    def start(self) -> None:
        """Poll on `MaximumConcurrency` background threads."""
        for thread in self._threads:
            thread.start()

    def stop(self, *, wait: bool = True) -> None:
        """Stop the background threads (after their current rounds, when waiting)."""
        for thread in self._threads:
            thread.stop(wait=False)  # all at once: each may be in a long poll
        if wait:
            for thread in self._threads:
                thread.stop()

    @property
    def errors(self) -> int:
        """Failed background rounds (emulator errors, not function errors)."""
        return sum(thread.errors for thread in self._threads)

    @property
    def enabled(self) -> bool:
        """Whether the mapping polls: enabled when created and (when its live state is known) now."""
        return self.mapping.enabled and (self._state is None or self._state.enabled())

    def idle(self) -> bool:
        """Whether the queue holds no message, visible, in flight or delayed."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return all(int(value) == 0 for value in attributes.values())

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive a batch (long-polling `wait_seconds` for the first message), invoke; how many received."""
        if not self.enabled:
            return 0
        messages = self._receive(wait_seconds)
        if not messages:
            return 0
        records = [self.record(message) for message in messages]
        passing: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for record in records:
            matches = self.mapping.record_filter.matches(_filter_subject(record))
            (passing if matches else rejected).append(record)
        if rejected:
            self._delete(rejected)  # Lambda deletes the messages its filter rejects
            self.function.counters.add(records_filtered=len(rejected))
        if passing:
            self._invoke(passing)
        return len(records)

    def record(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """A received SQS message → the record of a Lambda SQS event."""
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _lambda_message_attribute(value)
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        record.update(
            {
                "eventSource": "aws:sqs",
                "eventSourceARN": self.mapping.event_source_arn,
                "awsRegion": self._region,
            }
        )
        return record

    def _invoke(self, records: list[dict[str, Any]]) -> None:
        identifiers = [record["messageId"] for record in records]
        result = invoke_batch(
            self.function, {"Records": records}, identifiers, report=self.mapping.report_batch_item_failures
        )
        failed = set(result.failed)
        succeeded = [record for record in records if record["messageId"] not in failed]
        if succeeded:
            self._delete(succeeded)
        # Failures stay in the queue: visible again after the timeout, to the DLQ after maxReceiveCount.
        self.function.counters.add(
            records_processed=len(succeeded), records_failed=len(records) - len(succeeded)
        )

    def _long_poll(self) -> int:
        # Long polling, as Lambda's pollers do: an idle queue costs one request per second per thread.
        return self.poll_once(wait_seconds=LONG_POLL_SECONDS)

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        started = self._clock.now()
        while len(messages) < self.mapping.batch_size:
            answer = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(_RECEIVE_LIMIT, self.mapping.batch_size - len(messages)),
                VisibilityTimeout=self.visibility_timeout,
                WaitTimeSeconds=0 if messages else wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = answer.get("Messages", [])
            messages.extend(received)
            if received:
                continue
            if not messages or self._clock.now() - started >= self.mapping.batching_window_seconds:
                break
            time.sleep(_WINDOW_PAUSE_SECONDS)  # gather until the batching window closes
        return messages

    def _delete(self, records: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(records), _DELETE_LIMIT):
            chunk = records[start : start + _DELETE_LIMIT]
            answer = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                    for index, record in enumerate(chunk)
                ],
            )
            for failure in answer.get("Failed", []):
                LOGGER.warning("%s: delete failed: %s", self.function.worker, failure)


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """SQS's MessageAttributeValue (StringValue, DataType …) in the Lambda event's lowercase shape."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(bytes(value["BinaryValue"])).decode()
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [
        base64.b64encode(bytes(item)).decode() for item in value.get("BinaryListValues", [])
    ]
    attribute["dataType"] = value.get("DataType", "String")
    return attribute


def _filter_subject(record: Mapping[str, Any]) -> dict[str, Any]:
    # Lambda filters SQS records on their fields, with `body` parsed when it is a JSON object.
    return {**record, "body": json_or_text(str(record.get("body", "")))}
