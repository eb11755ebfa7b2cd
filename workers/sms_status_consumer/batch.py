"""A status stream batch applied as a whole (one write per message), then reported record by record.

`process_batch` handles records one at a time; coalescing needs the whole batch first. So the batch
is read and applied up front, and `process_batch` then walks it as usual with this batch's parser
and handler: each record's parse error or its message's write error comes back at its record, so
parking, the batch-item failures, their logs and counters stay exactly those of every stream worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from workers.shared.observability import span
from workers.shared.records import StreamMessage
from workers.sms_status_consumer.logic import ReceivedStatus, StatusApplier, read_status_event
from workers.sms_status_consumer.models import StatusRecordBody

StatusMessage = StreamMessage[StatusRecordBody]


class RecordNotAppliedError(RuntimeError):
    """A record reported that the batch's application never saw (retried, never taken as handled)."""


class StatusBatch:
    """The records of one invocation: each one's parse, and what applying its status came to."""

    def __init__(self, parse: Callable[[Mapping[str, Any]], StatusMessage]) -> None:
        self._parse = parse
        self._parsed: dict[str, StatusMessage | Exception] = {}  # by sequence number
        self._failures: dict[str, Exception] = {}  # records whose message's write failed

    def apply(self, records: Sequence[Mapping[str, Any]], applier: StatusApplier, *, now: datetime) -> None:
        """Read every record once and apply the status events among them, one write per message."""
        received: list[ReceivedStatus] = []
        sequence_numbers: list[str] = []
        for raw in records:
            sequence_number = _sequence_number(raw)
            if sequence_number is None:
                continue  # not a Kinesis record: `parsed` parses it again and fails it
            try:
                message = self._parse(raw)
            except Exception as error:  # noqa: BLE001 - re-raised at its record by `parsed`
                self._parsed[sequence_number] = error
                continue
            self._parsed[sequence_number] = message
            status_event = read_status_event(message.body.fields)
            if status_event is None:
                continue  # counted and logged: a record no retry can change
            received.append(ReceivedStatus(status_event, message.arrival_time or now))
            sequence_numbers.append(sequence_number)
        with span("apply status events", attributes={"dmd.status_events": len(received)}):
            outcomes = applier.apply_all(received, now=now)
        for sequence_number, outcome in zip(sequence_numbers, outcomes, strict=True):
            if isinstance(outcome, Exception):
                self._failures[sequence_number] = outcome

    def parsed(self, raw: Mapping[str, Any]) -> StatusMessage:
        """`process_batch`'s parser: the record as read before (its parse error raised again)."""
        sequence_number = _sequence_number(raw)
        found = self._parsed.get(sequence_number) if sequence_number is not None else None
        if found is None:
            self._parse(raw)  # never read: not a Kinesis record, which fails here as it did before
            # A record this batch never applied must not pass as handled: the stream delivers it again.
            raise RecordNotAppliedError(f"record {sequence_number} was not in the batch applied")
        if isinstance(found, Exception):
            raise found
        return found

    def outcome(self, message: StatusMessage) -> None:
        """`process_batch`'s record handler: raises the error of the write the record's status was in."""
        failure = self._failures.get(message.sequence_number)
        if failure is not None:
            raise failure


def _sequence_number(raw: Mapping[str, Any]) -> str | None:
    kinesis = raw.get("kinesis") if isinstance(raw, Mapping) else None
    number = kinesis.get("sequenceNumber") if isinstance(kinesis, Mapping) else None
    return number if isinstance(number, str) else None
