"""What the stream forwarder hands on: events that need a short URL, and what the queue answered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workers.shared.errors import PermanentError, RetryableError
from workers.shared.messages import ShortUrlJob
from workers.shared.queue_sender import SendFailure


class ShortUrlEnqueueError(RetryableError):
    """The short-url queue did not take an event's job (throttling, outage): the record is retried."""


class ShortUrlRejectedError(PermanentError):
    """The short-url queue refused an event's job as invalid (SenderFault): retrying the same fails."""


@dataclass(frozen=True)
class PendingEvent:
    """One event that needs a short URL, however many records of the batch carried it."""

    job: ShortUrlJob
    correlation_id: str


def enqueue_error(event_id: str, failure: SendFailure) -> ShortUrlEnqueueError | ShortUrlRejectedError:
    """The error reported for every record that carried the event the queue did not take."""
    text = f"short-url job of event {event_id!r} not enqueued: {failure.code}: {failure.message}"
    return ShortUrlRejectedError(text) if failure.sender_fault else ShortUrlEnqueueError(text)


@dataclass(frozen=True)
class EnqueueReport:
    """The events whose job the queue took, and the failure of each one it did not."""

    sent: frozenset[str]
    failures: Mapping[str, SendFailure]
