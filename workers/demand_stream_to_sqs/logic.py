"""Events without a short URL, deduplicated across the batch, become short-url jobs in tens."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from workers.demand_stream_to_sqs.models import (
    EnqueueReport,
    PendingEvent,
    ShortUrlEnqueueError,
    enqueue_error,
)
from workers.shared.errors import RecordError, validation_reason
from workers.shared.messages import ShortUrlJob
from workers.shared.models import RecordType
from workers.shared.observability import LOGGER
from workers.shared.queue_sender import OutgoingMessage, QueueSender
from workers.shared.records import ChangeRecord

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

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
    queue = QueueSender(url=queue_url, client=client)
    failed = queue.send_batch(
        [OutgoingMessage(item.job, correlation_id=item.correlation_id) for item in pending]
    )
    failures = {pending[index].job.event_id: failure for index, failure in failed.items()}
    sent = {item.job.event_id for index, item in enumerate(pending) if index not in failed}
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
        raise enqueue_error(event_id, failure)
    if event_id not in report.sent:
        raise ShortUrlEnqueueError(f"short-url job of event {event_id!r} was never sent")
