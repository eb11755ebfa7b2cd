"""Events without a short URL, deduplicated across the batch, become short-url jobs in tens."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from workers.demand_stream_to_sqs.models import (
    MAX_SQS_BATCH,
    EnqueueFailure,
    EnqueueReport,
    PendingEvent,
    ShortUrlEnqueueError,
)
from workers.shared.errors import RecordError
from workers.shared.messages import ShortUrlJob
from workers.shared.models import RecordType, validation_reason
from workers.shared.observability import LOGGER
from workers.shared.records import ChangeRecord, queue_message_attributes

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

FORWARDED_EVENTS = frozenset({"INSERT", "MODIFY"})


def needs_short_url(change: ChangeRecord) -> bool:
    """An inserted or modified event, not suppressed, without shortUrl (the mapping's filter, re-checked)."""
    # The filter is configuration that can drift or be edited by hand; the code is the rule.
    image = change.new_image or {}
    suppressed = image.get("isSuppressed")
    return (
        change.event_name in FORWARDED_EVENTS
        and change.record_type == RecordType.EVENT
        and (suppressed is None or suppressed is False)
        and image.get("shortUrl") is None
    )


def short_url_job(change: ChangeRecord) -> ShortUrlJob:
    """The job of an event change; RecordError when the image has no valid event id."""
    image = change.new_image or {}
    try:
        return ShortUrlJob.model_validate({"eventId": image.get("id")})
    except ValidationError as error:
        raise RecordError(
            f"event record {change.key.pk!r} has no valid id: {validation_reason(error)}"
        ) from None


def pending_events(changes: Iterable[ChangeRecord]) -> list[PendingEvent]:
    """One pending event per event id, in order of first appearance; records without a valid id are out."""
    pending: dict[str, PendingEvent] = {}
    for change in changes:
        if not needs_short_url(change):
            continue
        try:
            job = short_url_job(change)
        except RecordError:
            continue  # reported per record by verify_forwarded
        pending.setdefault(job.event_id, PendingEvent(job=job, correlation_id=change.correlation_id))
    return list(pending.values())


def enqueue(pending: Sequence[PendingEvent], client: SQSClient, queue_url: str) -> EnqueueReport:
    """Send each pending event's job with SendMessageBatch, ten at a time; every entry is accounted for."""
    sent: set[str] = set()
    failures: dict[str, EnqueueFailure] = {}
    for start in range(0, len(pending), MAX_SQS_BATCH):
        chunk = pending[start : start + MAX_SQS_BATCH]
        chunk_sent, chunk_failures = _send_chunk(chunk, client, queue_url)
        sent |= chunk_sent
        failures.update(chunk_failures)
    for event_id, failure in failures.items():
        LOGGER.warning(
            "Short-URL job not enqueued",
            extra={
                "event_id": event_id,
                "code": failure.code,
                "reason": failure.message,
                "sender_fault": failure.sender_fault,
            },
        )
    if pending:
        LOGGER.info(
            "Short-URL jobs enqueued",
            extra={"events": len(pending), "sent": len(sent), "failed": len(failures)},
        )
    return EnqueueReport(sent=frozenset(sent), failures=failures)


def _send_chunk(
    chunk: Sequence[PendingEvent], client: SQSClient, queue_url: str
) -> tuple[set[str], dict[str, EnqueueFailure]]:
    # Entry ids are positions: event ids may hold characters SQS does not allow in an entry id.
    by_entry = {str(index): item.job.event_id for index, item in enumerate(chunk)}
    entries: list[SendMessageBatchRequestEntryTypeDef] = [
        {
            "Id": str(index),
            "MessageBody": item.job.model_dump_json(by_alias=True),
            "MessageAttributes": queue_message_attributes(item.correlation_id),
        }
        for index, item in enumerate(chunk)
    ]
    try:
        response = client.send_message_batch(QueueUrl=queue_url, Entries=entries)
    except ClientError as error:
        details = error.response.get("Error", {})
        failure = EnqueueFailure(
            code=str(details.get("Code", "ClientError")),
            message=str(details.get("Message", error)),
            sender_fault=details.get("Type") == "Sender",
        )
        return set(), dict.fromkeys(by_entry.values(), failure)
    except BotoCoreError as error:
        failure = EnqueueFailure(code=type(error).__name__, message=str(error), sender_fault=False)
        return set(), dict.fromkeys(by_entry.values(), failure)
    failures = {
        by_entry[entry["Id"]]: EnqueueFailure(
            code=entry.get("Code", "Unknown"),
            message=entry.get("Message", ""),
            sender_fault=bool(entry.get("SenderFault")),
        )
        for entry in response.get("Failed", [])
        if entry.get("Id") in by_entry
    }
    sent = {by_entry[entry["Id"]] for entry in response.get("Successful", []) if entry.get("Id") in by_entry}
    # An entry SQS answered neither way is not known to be enqueued: it fails, never vanishes.
    for event_id in set(by_entry.values()) - sent - set(failures):
        failures[event_id] = EnqueueFailure(
            code="NoAnswer", message="SendMessageBatch did not report this entry", sender_fault=False
        )
    return sent - set(failures), failures


def forward(changes: Sequence[ChangeRecord], client: SQSClient, queue_url: str) -> EnqueueReport:
    """Enqueue one short-url job per event of the batch that needs one."""
    return enqueue(pending_events(changes), client, queue_url)


def verify_forwarded(change: ChangeRecord, report: EnqueueReport) -> None:
    """Raise for a record whose event the queue did not take (every duplicate too); others pass."""
    if not needs_short_url(change):
        return
    event_id = short_url_job(change).event_id
    failure = report.failures.get(event_id)
    if failure is not None:
        raise failure.error(event_id)
    if event_id not in report.sent:
        raise ShortUrlEnqueueError(f"short-url job of event {event_id!r} was never sent")
