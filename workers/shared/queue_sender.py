"""Messages to an SQS queue: JSON bodies with trace context and a correlation id, one at a time or in tens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from workers.shared.clients import sqs
from workers.shared.observability import LOGGER
from workers.shared.records import queue_message_attributes

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

MAX_BATCH = 10  # SendMessageBatch takes at most ten entries


@dataclass(frozen=True)
class OutgoingMessage:
    """A message body and the correlation id its consumer logs it under."""

    body: BaseModel
    correlation_id: str | None = None


@dataclass(frozen=True)
class SendFailure:
    """Why the queue did not take a message: SQS's code and message, and whether our request was at fault."""

    code: str
    message: str
    sender_fault: bool


@dataclass(frozen=True, kw_only=True)
class QueueSender:
    """Sends to one SQS queue (on the cached SQS client unless one is given)."""

    url: str
    client: SQSClient | None = None

    @property
    def name(self) -> str:
        """The queue's name (the last segment of its URL)."""
        return self.url.rstrip("/").rpartition("/")[2]

    def _client(self) -> SQSClient:
        return self.client if self.client is not None else sqs()

    def send(
        self,
        body: BaseModel,
        *,
        correlation_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        """SendMessage of one message (plus any extra string `attributes`); the SDK's error propagates."""
        message_attributes = queue_message_attributes(correlation_id)
        for name, value in (attributes or {}).items():
            message_attributes[name] = {"DataType": "String", "StringValue": value}
        self._client().send_message(
            QueueUrl=self.url,
            MessageBody=body.model_dump_json(by_alias=True, exclude_none=True),
            MessageAttributes=message_attributes,
        )

    def send_batch(
        self, messages: Sequence[OutgoingMessage], *, resend_rejected: bool = False
    ) -> dict[int, SendFailure]:
        """SendMessageBatch in tens; the failure of each message the queue did not take, by position.

        With `resend_rejected`, the entries a call did not take are sent once more, alone, before the
        next ten. A call that fails as a whole fails each of its messages, and an entry SQS answered
        neither way fails too: no message is ever assumed enqueued.
        """
        failures: dict[int, SendFailure] = {}
        for offset in range(0, len(messages), MAX_BATCH):
            pending = dict(enumerate(messages[offset : offset + MAX_BATCH]))
            for attempt in (1, 2) if resend_rejected else (1,):
                failed = self._send_chunk(pending)
                if failed and attempt == 1 and resend_rejected:
                    LOGGER.warning(
                        "Queue did not take messages; sending them once more",
                        extra={
                            "queue": self.name,
                            "rejected": len(failed),
                            "codes": sorted({failure.code for failure in failed.values()}),
                        },
                    )
                pending = {index: pending[index] for index in failed}
                if not pending:
                    break
            failures.update({offset + index: failed[index] for index in pending})
        return failures

    def _send_chunk(self, chunk: dict[int, OutgoingMessage]) -> dict[int, SendFailure]:
        # Entry ids are positions in the chunk: correlation ids may hold characters SQS refuses in an id.
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {
                "Id": str(index),
                "MessageBody": message.body.model_dump_json(by_alias=True, exclude_none=True),
                "MessageAttributes": queue_message_attributes(message.correlation_id),
            }
            for index, message in chunk.items()
        ]
        try:
            response = self._client().send_message_batch(QueueUrl=self.url, Entries=entries)
        except ClientError as error:
            details = error.response.get("Error", {})
            failure = SendFailure(
                code=str(details.get("Code", "ClientError")),
                message=str(details.get("Message", error)),
                sender_fault=details.get("Type") == "Sender",
            )
            return dict.fromkeys(chunk, failure)
        except BotoCoreError as error:
            return dict.fromkeys(chunk, SendFailure(type(error).__name__, str(error), sender_fault=False))
        by_id = {str(index): index for index in chunk}
        failures = {
            by_id[entry["Id"]]: SendFailure(
                code=entry.get("Code", "Unknown"),
                message=entry.get("Message", ""),
                sender_fault=bool(entry.get("SenderFault")),
            )
            for entry in response.get("Failed", [])
            if entry.get("Id") in by_id
        }
        taken = {by_id[entry["Id"]] for entry in response.get("Successful", []) if entry.get("Id") in by_id}
        for index in chunk.keys() - taken - failures.keys():
            failures[index] = SendFailure(
                "NoAnswer", "SendMessageBatch did not report this entry", sender_fault=False
            )
        return failures
