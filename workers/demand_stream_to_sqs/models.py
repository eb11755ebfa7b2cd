"""What the stream forwarder hands on: events that need a short URL, and what the queue answered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workers.shared.errors import PermanentError, RetryableError
from workers.shared.messages import ShortUrlJob

MAX_SQS_BATCH = 10  # SendMessageBatch takes at most ten entries


class ShortUrlEnqueueError(RetryableError):
    """The short-url queue did not take an event's job (throttling, outage): the record is retried."""


class ShortUrlRejectedError(PermanentError):
    """The short-url queue refused an event's job as invalid (SenderFault): retrying the same fails."""


@dataclass(frozen=True)
class PendingEvent:
    """One event that needs a short URL, however many records of the batch carried it."""

    job: ShortUrlJob
    correlation_id: str


@dataclass(frozen=True)
class EnqueueFailure:
    """Why the queue did not take a job: SQS's code and message, and whether our request was at fault."""

    code: str
    message: str
    sender_fault: bool

    def error(self, event_id: str) -> ShortUrlEnqueueError | ShortUrlRejectedError:
        """The error reported for every record that carried the event."""
        text = f"short-url job of event {event_id!r} not enqueued: {self.code}: {self.message}"
        return ShortUrlRejectedError(text) if self.sender_fault else ShortUrlEnqueueError(text)


@dataclass(frozen=True)
class EnqueueReport:
    """The events whose job the queue took, and the failure of each one it did not."""

    sent: frozenset[str]
    failures: Mapping[str, EnqueueFailure]
