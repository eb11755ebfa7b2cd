"""SMS status events: their shape, when they fall due, and the publisher that writes them to a sink.

The SMS fake schedules status events in the service's documented shape (docs/contracts/sms.md:
`{"messageId", "status", "timestamp"}`, upper-case statuses; QUEUED → SENT → DELIVERED, or QUEUED →
FAILED with the carrier's code and reason) on the sandbox clock; a background `StatusPublisher`
writes each one when it falls due to its sink, in the sandbox the SMS status Kinesis stream
(`KinesisStatusSink`).
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from sandbox.clock import SandboxClock, iso_millis

LOGGER: Final = logging.getLogger(__name__)
_PUBLISH_PAUSE_SECONDS: Final = 0.05
_KINESIS_PUT_LIMIT: Final = 500
_KINESIS_PUT_ATTEMPTS: Final = 5
_SHUTDOWN_SECONDS: Final = 5.0


class SmsStatusDelays(NamedTuple):
    """Sandbox seconds from acceptance to each status event (jittered ±25 % per message, seeded)."""

    queued: float = 1.0
    sent: float = 3.0
    delivered: float = 6.0


DEFAULT_DELAYS: Final = SmsStatusDelays()
StatusSink = Callable[[Sequence[Mapping[str, Any]]], None]


class StatusPublisher:
    """Publishes scheduled SMS status events to a sink when the sandbox clock reaches their due time."""

    def __init__(self, clock: SandboxClock, sink: StatusSink | None = None) -> None:
        self._clock = clock
        self._sink = sink
        # (due, order, history key, event, when to publish the event again: the duplicate drill)
        self._heap: list[tuple[float, int, str, dict[str, Any], float | None]] = []
        self._order = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.published: Counter[str] = Counter()
        self.history: dict[str, list[str]] = {}  # history key → statuses in the order published
        self.duplicated: Counter[str] = Counter()  # statuses published a second time, per status
        self.errors = 0

    def attach(self, sink: StatusSink) -> None:
        """Publish to `sink` from now on (events scheduled before wait for it)."""
        with self._condition:
            self._sink = sink
            self._condition.notify_all()

    def schedule(
        self,
        due: float,
        event: Mapping[str, Any],
        *,
        key: str | None = None,
        again_at: float | None = None,
    ) -> None:
        """Publish `event` once the sandbox clock reaches `due`; its `history` is kept under `key`.

        `key` defaults to the event's messageId; the SMS fake passes the notification's reference,
        which the events themselves need not carry. `again_at`: the same event (same timestamp) is
        published a second time at that sandbox time, as a stream's at-least-once delivery can.
        """
        history_key = key if key is not None else str(event.get("messageId"))
        with self._condition:
            heapq.heappush(self._heap, (due, self._order, history_key, dict(event), again_at))
            self._order += 1
            self._condition.notify_all()

    @property
    def pending(self) -> int:
        """Events scheduled but not yet published."""
        with self._condition:
            return len(self._heap)

    def publish_due(self) -> int:
        """Publish every event due now (in due order); how many were published."""
        with self._condition:
            sink = self._sink
            now = self._clock.now()
            if sink is None:
                return 0
            due: list[tuple[str, dict[str, Any], float | None]] = []
            while self._heap and self._heap[0][0] <= now:
                _, _, history_key, event, again_at = heapq.heappop(self._heap)
                due.append((history_key, event, again_at))
        if not due:
            return 0
        stamp = iso_millis(datetime.now(UTC))
        for _, event, _ in due:
            event.setdefault("timestamp", stamp)
        try:
            sink([event for _, event, _ in due])
        except Exception:  # the stream may be briefly unavailable: keep the events, try again
            self.errors += 1
            LOGGER.exception("SMS status events could not be published; retrying")
            with self._condition:
                for history_key, event, again_at in due:
                    heapq.heappush(self._heap, (now, self._order, history_key, event, again_at))
                    self._order += 1
            return 0
        self.published.update(str(event.get("status")) for _, event, _ in due)
        with self._condition:
            for history_key, event, again_at in due:
                self.history.setdefault(history_key, []).append(str(event.get("status")))
                if again_at is not None:  # the copy: the event as published, timestamp and all
                    heapq.heappush(self._heap, (again_at, self._order, history_key, dict(event), None))
                    self._order += 1
                    self.duplicated[str(event.get("status"))] += 1
        return len(due)

    def start(self) -> None:
        """Publish on a daemon thread."""
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="vendor:sms-status", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop publishing (what is still scheduled stays unpublished); idempotent."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(_SHUTDOWN_SECONDS)

    def _run(self) -> None:
        while not self._stopping:
            if self.publish_due():
                # The service writes in batches: what falls due meanwhile goes in the next put.
                time.sleep(_PUBLISH_PAUSE_SECONDS * 2)
                continue
            with self._condition:
                if not self._stopping:
                    self._condition.wait(self._pause())

    def _pause(self) -> float:
        # Capped, so a jump of the sandbox clock is noticed within a fifth of a second.
        pause = _PUBLISH_PAUSE_SECONDS * 4
        if self._heap and self._sink is not None:
            pause = min(pause, self._clock.real_seconds(self._heap[0][0] - self._clock.now()))
        return max(pause, 0.001)


class KinesisStatusSink:
    """Writes SMS status events to a Kinesis stream, partitioned by messageId (per-message order kept)."""

    def __init__(self, kinesis: Any, stream_name: str) -> None:
        self._kinesis = kinesis
        self.stream_name = stream_name

    def __call__(self, events: Sequence[Mapping[str, Any]]) -> None:
        records = [
            {
                "Data": json.dumps(event, separators=(",", ":")).encode(),
                "PartitionKey": str(event.get("messageId") or event.get("reference") or "sms"),
            }
            for event in events
        ]
        for start in range(0, len(records), _KINESIS_PUT_LIMIT):
            pending = records[start : start + _KINESIS_PUT_LIMIT]
            for _ in range(_KINESIS_PUT_ATTEMPTS):
                answer = self._kinesis.put_records(StreamName=self.stream_name, Records=pending)
                if not answer.get("FailedRecordCount"):
                    break
                first = next(index for index, item in enumerate(answer["Records"]) if item.get("ErrorCode"))
                pending = pending[first:]  # in order, so no status overtakes an earlier one
            else:
                raise RuntimeError(f"{len(pending)} SMS status events not written to {self.stream_name}")


def status_event(
    *,
    message_id: str,
    status: str,
    at: datetime | None,
    reference: str | None = None,
    error_code: str | None = None,
    error_reason: str | None = None,
) -> dict[str, Any]:
    """A status event as the SMS service writes it: `{"messageId", "status", "timestamp"}`, upper case.

    No `at`: stamped when published. `reference` (the request's, echoed) only when given: the
    service's documented example has none, and the consumer must not need it.
    """
    event: dict[str, Any] = {"messageId": message_id, "status": status.upper()}
    if at is not None:
        event["timestamp"] = iso_millis(at)
    if reference is not None:
        event["reference"] = reference
    if error_code is not None:
        event["errorCode"] = error_code
    if error_reason is not None:
        event["errorReason"] = error_reason
    return event
