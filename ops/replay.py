"""Re-delivering a stream worker's records to its `live` alias, as its event-source mapping would.

A replay is planned first (the records read, the worker's own filter applied, cut into batches of
the mapping's size), shown, then run: one synchronous invocation per batch, at most `rate` batches a
second, each in the event shape Lambda sends (the sandbox's `kinesis_event`). Two sources:

- a time range: every shard of the stream (closed ones too) from `GetShardIterator AT_TIMESTAMP`,
  up to the range's end;
- the worker's on-failure queue: each message is Lambda's record of a batch it gave up on
  (`KinesisBatchInfo`: shard and sequence-number range); exactly that range is read again
  (`AT_SEQUENCE_NUMBER`) and the message is deleted only once every batch of it succeeded (no
  function error, no batch-item failure). A range the stream no longer holds, or a message that is
  not such a record, is reported and kept. A parked record (a poison record the worker set aside
  with its payload, `workers/shared/parking.py`) is re-driven alone, from its payload, in the event
  Lambda sends, and its message deleted once that invocation succeeded.

Reading the stream and the queue: `ops/replay_sources.py`; invoking: `ops/replay_invokers.py`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from ops.operator_io import JsonModel
from ops.replay_invokers import Invoker
from ops.replay_sources import (
    FailureMessage,
    FailureQueue,
    RangeUnavailableError,
    StreamReader,
    parked_stream_record,
)
from ops.target import LIVE_ALIAS, Fleet, FleetWorker, Target
from sandbox.pollers.batch import BatchResult
from sandbox.pollers.kinesis_records import StreamRecord, filter_subject, kinesis_event
from sandbox.pollers.record_filter import RecordFilter

DEFAULT_RATE: Final = 1.0  # batches per second
# Under Lambda's 6 MB synchronous payload: a batch is also cut when its event would pass this.
MAX_EVENT_BYTES: Final = 5_000_000
_RECORD_OVERHEAD_BYTES: Final = 600  # the event's per-record keys, ids and ARNs

# Why re-delivering a record these workers already handled changes nothing (checked against the
# workers' code; the help and the confirmation show it).
IDEMPOTENCE: Final[dict[str, str]] = {
    "notification_send": (
        "a notification is sent only by the invocation whose conditional claim wins (stored status "
        "CREATED or RETRY and no claimId): one already sent, claimed, failed or expired is skipped, "
        "decisions use the stored record (attempts, backoff), and SMS requests carry the "
        "notification's Idempotency-Key"
    ),
    "demand_stream_to_sqs": (
        "it enqueues one short-url job per event; shorten_event_url skips an event that has a "
        "short URL (and stores one only conditionally): a replay costs queue messages, not a second link"
    ),
    "sms_status_consumer": (
        "statuses only move forward (one conditional update each): a status already applied is "
        "skipped, an older one only stamps its date; a status of an unknown message older than "
        "unknownMessageMaxAgeSeconds is dropped and counted (UnknownMessageId)"
    ),
}


class ReplayError(Exception):
    """The replay cannot be done as asked (bad worker, time range); the message is the reason."""


# --- what is replayed -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRange:
    """One shard range to replay, cut into batches; `skip` says why it cannot be (and its message stays)."""

    shard_id: str | None
    start_sequence: str | None
    end_sequence: str | None
    records_read: int
    batches: tuple[tuple[StreamRecord, ...], ...]
    message: FailureMessage | None = None
    skip: str | None = None  # "trimmed" | "incomplete" | "malformed"
    reason: str | None = None
    parked: bool = False  # one parked record, re-driven from its payload

    @property
    def records_matching(self) -> int:
        """Records that pass the worker's filter (what is invoked)."""
        return sum(len(batch) for batch in self.batches)


@dataclass(frozen=True)
class ReplayPlan:
    """What a replay would deliver: per range, the records read and the batches that match."""

    worker: FleetWorker
    mode: str  # "time-range" | "from-failures"
    ranges: tuple[PlannedRange, ...]
    start: datetime | None = None
    end: datetime | None = None

    @property
    def records_read(self) -> int:
        """Records read from the stream."""
        return sum(item.records_read for item in self.ranges)

    @property
    def records_matching(self) -> int:
        """Records that pass the worker's filter."""
        return sum(item.records_matching for item in self.ranges)

    @property
    def batches(self) -> int:
        """Invocations the replay makes."""
        return sum(len(item.batches) for item in self.ranges if item.skip is None)


@dataclass
class RangeResult:
    """How one range's replay went."""

    planned: PlannedRange
    batches_replayed: int = 0
    batches_failed: int = 0
    failed_records: list[str] = field(default_factory=list)
    function_errors: list[str] = field(default_factory=list)
    message_deleted: bool = False
    ran: bool = False

    @property
    def outcome(self) -> str:
        """`planned` (dry run), `replayed`, `failed`, or the reason it was skipped."""
        if self.planned.skip is not None:
            return self.planned.skip
        if not self.ran:
            return "planned"
        return "failed" if self.batches_failed else "replayed"

    def add(self, result: BatchResult, identifiers: Sequence[str]) -> None:
        """Count one invocation's result."""
        self.batches_replayed += 1
        if result.failed or result.function_error:
            self.batches_failed += 1
            self.failed_records.extend(result.failed or identifiers)
            if result.function_error:
                self.function_errors.append(result.function_error)


@dataclass(frozen=True)
class ReplayReport:
    """A plan and, unless it was a dry run, what each of its ranges did."""

    plan: ReplayPlan
    results: tuple[RangeResult, ...]
    dry_run: bool

    @property
    def failed(self) -> bool:
        """Whether a batch failed or a range (and its on-failure message) was kept."""
        return any(result.outcome not in ("replayed", "planned") for result in self.results)

    def summary(self, stack: str) -> ReplaySummary:
        """The result for `--json` (keys documented on the command)."""
        plan = self.plan
        return ReplaySummary(
            stack=stack,
            worker=plan.worker.name,
            function_name=plan.worker.function_name,
            qualifier=LIVE_ALIAS,
            mode=plan.mode,
            dry_run=self.dry_run,
            start=plan.start,
            end=plan.end,
            records_read=plan.records_read,
            records_matching=plan.records_matching,
            batches=plan.batches,
            batches_failed=sum(result.batches_failed for result in self.results),
            messages_deleted=sum(result.message_deleted for result in self.results),
            ranges=tuple(_range_summary(result) for result in self.results),
        )


class RangeSummary(JsonModel):
    """One range of a replay as `--json` shows it."""

    shard_id: str | None
    start_sequence_number: str | None
    end_sequence_number: str | None
    records_read: int
    records_matching: int
    batches: int
    batches_failed: int
    failed_records: tuple[str, ...]
    function_errors: tuple[str, ...]
    outcome: str  # planned | replayed | failed | trimmed | incomplete | malformed
    reason: str | None
    message_id: str | None
    message_deleted: bool
    parked: bool


class ReplaySummary(JsonModel):
    """A replay (or its dry run) as `--json` shows it."""

    stack: str
    worker: str
    function_name: str
    qualifier: str
    mode: str  # time-range | from-failures
    dry_run: bool
    start: datetime | None
    end: datetime | None
    records_read: int
    records_matching: int
    batches: int
    batches_failed: int
    messages_deleted: int
    ranges: tuple[RangeSummary, ...]


def _range_summary(result: RangeResult) -> RangeSummary:
    planned = result.planned
    return RangeSummary(
        shard_id=planned.shard_id,
        start_sequence_number=planned.start_sequence,
        end_sequence_number=planned.end_sequence,
        records_read=planned.records_read,
        records_matching=planned.records_matching,
        batches=len(planned.batches),
        batches_failed=result.batches_failed,
        failed_records=tuple(result.failed_records),
        function_errors=tuple(result.function_errors),
        outcome=result.outcome,
        reason=planned.reason,
        message_id=planned.message.message_id if planned.message else None,
        message_deleted=result.message_deleted,
        parked=planned.parked,
    )


# --- which worker ---------------------------------------------------------------------------------


def stream_workers(fleet: Fleet) -> list[str]:
    """The workers triggered by a stream (the ones a replay can re-deliver to)."""
    return sorted(name for name, worker in fleet.workers.items() if worker.trigger == "stream")


def stream_worker(fleet: Fleet, name: str) -> FleetWorker:
    """The stream worker `name`; ReplayError naming the stream workers for any other name."""
    names = ", ".join(stream_workers(fleet))
    worker = fleet.workers.get(name)
    if worker is None:
        raise ReplayError(f"no worker {name!r} (stream workers: {names})")
    if worker.trigger != "stream" or not worker.event_source_arn:
        # A queue worker's given-up messages (the generator's parked demand items too) wait in its
        # source queue's DLQ, and SQS moves them back: nothing to read from a stream.
        redrive = (
            f"; its dead-letter queue is re-driven with `dmd dlq redrive --queue {worker.dead_letter_queue}`"
            if worker.trigger == "queue" and worker.dead_letter_queue
            else ""
        )
        raise ReplayError(
            f"{name} is triggered by a {worker.trigger}, not a stream: replay re-delivers stream "
            f"records (stream workers: {names}){redrive}"
        )
    return worker


def check_time_range(start: datetime, end: datetime | None, *, now: datetime, retention: timedelta) -> None:
    """ReplayError for a range in the future, `--to` not after `--from`, or a start past the retention."""
    if start > now:
        raise ReplayError(f"--from {_iso(start)} is in the future (now {_iso(now)})")
    if end is not None and end <= start:
        raise ReplayError(f"--to {_iso(end)} is not after --from {_iso(start)}")
    oldest = now - retention
    if start < oldest:
        hours = retention.total_seconds() / 3600
        raise ReplayError(
            f"--from {_iso(start)} is beyond the stream's retention ({hours:g} h): records before "
            f"{_iso(oldest)} are gone; use --from {_iso(oldest)} or later"
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- planning and running -------------------------------------------------------------------------


class Pacer:
    """At most `per_second` calls of `wait()` return per second."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ReplayError(f"--rate must be above 0 batches a second, not {per_second:g}")
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    def wait(self) -> None:
        """Return when the next call is due."""
        now = self._clock()
        if self._next is not None and self._next > now:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


def batches_of(records: Sequence[StreamRecord], size: int) -> tuple[tuple[StreamRecord, ...], ...]:
    """Records in batches of at most `size`, and of an event under MAX_EVENT_BYTES."""
    batches: list[tuple[StreamRecord, ...]] = []
    batch: list[StreamRecord] = []
    weight = 0
    for record in records:
        cost = len(record.data) * 4 // 3 + _RECORD_OVERHEAD_BYTES
        if batch and (len(batch) >= size or weight + cost > MAX_EVENT_BYTES):
            batches.append(tuple(batch))
            batch, weight = [], 0
        batch.append(record)
        weight += cost
    if batch:
        batches.append(tuple(batch))
    return tuple(batches)


class StreamReplay:
    """Plans and runs the replay of one stream worker's records."""

    def __init__(self, target: Target, worker: FleetWorker, *, reader: StreamReader | None = None) -> None:
        self.target = target
        self.worker = worker
        self.reader = reader or StreamReader(target.clients.client("kinesis"), str(worker.event_source_arn))
        self._filter = RecordFilter([json.dumps(pattern) for pattern in worker.filter_patterns])

    def matching(self, records: Sequence[StreamRecord]) -> list[StreamRecord]:
        """The records the worker's filter lets through (Lambda's filtering, the sandbox's matcher)."""
        return [record for record in records if self._filter.matches(filter_subject(record))]

    def plan_time_range(
        self, start: datetime, end: datetime | None = None, *, now: datetime | None = None
    ) -> ReplayPlan:
        """Every shard's records from `start` to `end` (default, and at most: now); ReplayError if bad."""
        moment = now or datetime.now(UTC)
        check_time_range(start, end, now=moment, retention=self.reader.retention())
        until = min(end, moment) if end is not None else moment
        ranges = []
        for shard_id in self.reader.shards():
            read, first, last = 0, None, None
            matching: list[StreamRecord] = []  # only these are kept: a day of a table stream is large
            for record in self.reader.records_between(shard_id, start, until):
                read += 1
                first = first or record.sequence_number
                last = record.sequence_number
                if self._filter.matches(filter_subject(record)):
                    matching.append(record)
            if read:
                ranges.append(
                    PlannedRange(shard_id, first, last, read, batches_of(matching, self.worker.batch_size))
                )
        return ReplayPlan(self.worker, "time-range", tuple(ranges), start=start, end=until)

    def plan_failures(self, messages: Sequence[FailureMessage]) -> ReplayPlan:
        """Each on-failure message's shard range, read again; unreadable ones kept with the reason."""
        # In stream order (a standard queue returns them in any order); malformed ones last.
        ordered = sorted(messages, key=_stream_order)
        return ReplayPlan(self.worker, "from-failures", tuple(self._failure_range(item) for item in ordered))

    def _failure_range(self, message: FailureMessage) -> PlannedRange:
        if message.parked is not None and message.problem is None:
            # Not filtered again: the mapping's filter let it through once; it is what the worker got.
            record = parked_stream_record(message.parked)
            position = record.sequence_number
            return PlannedRange(record.shard_id, position, position, 1, ((record,),), message, parked=True)
        if message.record is None:
            return PlannedRange(None, None, None, 0, (), message, skip="malformed", reason=message.problem)
        info = message.record.batch
        try:
            records = self.reader.records_in_range(
                info.shard_id, info.start_sequence_number, info.end_sequence_number
            )
        except RangeUnavailableError as error:
            return PlannedRange(
                info.shard_id,
                info.start_sequence_number,
                info.end_sequence_number,
                0,
                (),
                message,
                skip=error.kind,
                reason=str(error),
            )
        return PlannedRange(
            info.shard_id,
            info.start_sequence_number,
            info.end_sequence_number,
            len(records),
            batches_of(self.matching(records), self.worker.batch_size),
            message,
        )

    def run(
        self,
        plan: ReplayPlan,
        invoker: Invoker,
        *,
        pacer: Pacer,
        queue: FailureQueue | None = None,
        advance: Callable[[], None] = lambda: None,
    ) -> ReplayReport:
        """Invoke every batch of the plan; delete an on-failure message once all its batches succeeded."""
        results = []
        for planned in plan.ranges:
            result = RangeResult(planned)
            results.append(result)
            if planned.skip is not None:
                continue
            result.ran = True
            if queue is not None and planned.message is not None:
                queue.hold(planned.message)
            for batch in planned.batches:
                pacer.wait()
                identifiers = [record.sequence_number for record in batch]
                event = kinesis_event(
                    str(planned.shard_id),
                    batch,
                    source_arn=str(self.worker.event_source_arn),
                    role_arn=invoker.role_arn,
                    region=self.target.clients.region,
                )
                result.add(invoker.invoke(event, identifiers), identifiers)
                advance()
            if queue is not None and planned.message is not None and not result.batches_failed:
                queue.delete(planned.message)
                result.message_deleted = True
        return ReplayReport(plan, tuple(results), dry_run=False)


def _stream_order(message: FailureMessage) -> tuple[int, str, int]:
    if message.record is not None:
        return (0, message.record.batch.shard_id, int(message.record.batch.start_sequence_number))
    if message.parked is not None and message.problem is None:
        record = parked_stream_record(message.parked)
        return (0, record.shard_id, record.position)
    return (1, "", 0)


def dry_run_report(plan: ReplayPlan) -> ReplayReport:
    """The report of a plan that is only shown."""
    return ReplayReport(plan, tuple(RangeResult(planned) for planned in plan.ranges), dry_run=True)
