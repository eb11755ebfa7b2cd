"""`dmd replay`: re-deliver a stream worker's records (runbooks: dead-letter-queue-not-empty, stream lag)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from ops.operations_records import active_maintenance
from ops.operator_io import (
    EXIT_BAD_INPUT,
    DryRunOption,
    EndpointOption,
    JsonOption,
    StackOption,
    YesOption,
    aws_errors,
    confirm,
    errors_console,
    fail,
    parse_time,
    print_json,
    progress,
    show,
    table,
    target_for,
)
from ops.replay import (
    DEFAULT_RATE,
    IDEMPOTENCE,
    Pacer,
    RangeSummary,
    ReplayError,
    ReplayPlan,
    ReplayReport,
    StreamReplay,
    dry_run_report,
    stream_worker,
)
from ops.replay_invokers import LOCAL_WORKER_LOG, invoker_for
from ops.replay_sources import FailureMessage, FailureQueue, MissingQueueError
from ops.target import FleetWorker, Target

COLUMNS = ("range", "read", "matching", "batches", "failed", "outcome", "detail")


def replay(
    *,
    stack: StackOption,
    worker: Annotated[
        str,
        typer.Option(
            help="The stream worker: notification_send, demand_stream_to_sqs or sms_status_consumer."
        ),
    ],
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="Start: an ISO-8601 time (UTC without a zone) or a duration back (30m, 2h, 1d)."
        ),
    ] = None,
    to: Annotated[str | None, typer.Option(help="End (default: now); same forms as --from.")] = None,
    from_failures: Annotated[
        bool,
        typer.Option(
            "--from-failures",
            help="Replay the ranges in the worker's on-failure queue; each message is deleted once its "
            "range succeeded.",
        ),
    ] = False,
    rate: Annotated[
        float, typer.Option(help="At most this many batches (invocations) a second.", min=0.01)
    ] = DEFAULT_RATE,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
    endpoint_url: EndpointOption = None,
) -> None:
    """Re-deliver a stream worker's records to its `live` alias, in the event Lambda would send.

    Reads the worker's stream for --from/--to (every shard, closed ones too, from GetShardIterator
    AT_TIMESTAMP), or exactly the shard and sequence ranges of the messages in its on-failure queue
    (--from-failures, AT_SEQUENCE_NUMBER); keeps the records the worker's own filter patterns pass;
    and invokes `live` synchronously, one batch of the mapping's batch size at a time, at most --rate
    batches a second. An on-failure message is deleted only after every batch of its range
    succeeded (no function error, no batch-item failure); a range the stream no longer holds
    (trimmed) or a malformed message is reported and kept. --dry-run reads and counts (records
    read, matching the filter, batches, ranges) and invokes nothing. Refused while a maintenance
    window pauses the worker.

    Why a replay is safe to repeat: notification_send: a notification is sent only by the
    invocation whose conditional claim wins (stored status CREATED or RETRY and no claimId): one
    already sent, claimed, failed or expired is skipped, decisions use the stored record (attempts,
    backoff), and SMS requests carry the notification's Idempotency-Key. demand_stream_to_sqs: it
    enqueues one short-url job per event; shorten_event_url skips an event that has a short URL
    (and stores one only conditionally): a replay costs queue messages, not a second link.
    sms_status_consumer: statuses only move forward (one conditional update each): a status
    already applied is skipped, an older one only stamps its date; a status of an unknown message
    older than unknownMessageMaxAgeSeconds is dropped and counted (UnknownMessageId).

    --json keys: stack, worker, functionName, qualifier, mode (time-range | from-failures), dryRun,
    start, end, recordsRead, recordsMatching, batches, batchesFailed, messagesDeleted, ranges[]:
    shardId, startSequenceNumber, endSequenceNumber, recordsRead, recordsMatching, batches,
    batchesFailed, failedRecords, functionErrors, outcome (planned | replayed | failed | trimmed |
    incomplete | malformed), reason, messageId, messageDeleted, parked (true: one poison record the
    worker parked with its payload, re-driven alone from that payload). Exit 1 when a batch failed or
    a message was kept.

    Example: dmd replay --stack prod1 --worker notification_send --from-failures --dry-run
    """
    if from_failures == (from_ is not None):
        fail("give either --from TIME [--to TIME] or --from-failures", code=EXIT_BAD_INPUT)
    if to is not None and from_ is None:
        fail("--to needs --from (--from-failures replays the queue's own ranges)", code=EXIT_BAD_INPUT)
    now = datetime.now(UTC)
    start = parse_time(from_, now=now, option="--from") if from_ is not None else None
    end = parse_time(to, now=now, option="--to") if to is not None else None
    target = target_for(stack, endpoint_url)
    with aws_errors(f"replay to {worker}"):
        chosen = _stream_worker(target, worker)
        stream_replay = StreamReplay(target, chosen)
        queue = _failure_queue(target, chosen) if from_failures else None
        held: list[FailureMessage] = []
        report: ReplayReport | None = None
        try:
            with progress(f"reading {stream_replay.reader.stream_name}", None) as advance:
                stream_replay.reader.on_read = advance
                if queue is not None:
                    held = queue.receive_all(str(chosen.event_source_arn))
                    plan = stream_replay.plan_failures(held)
                else:
                    plan = _time_range_plan(stream_replay, start or now, end, now)
            if dry_run:
                report = dry_run_report(plan)
            else:
                _refuse_during_maintenance(target, chosen)
                if plan.batches or any(item.message is not None and not item.skip for item in plan.ranges):
                    confirm(_plan_lines(plan, target, rate), yes=yes)
                report = _run(stream_replay, plan, queue, rate)
        finally:
            if queue is not None:
                queue.release(_kept(held, report))
    _print(report, target.stack, json_output=json_output)
    if report.failed and not report.dry_run:
        raise typer.Exit(1)


def _stream_worker(target: Target, name: str) -> FleetWorker:
    try:
        return stream_worker(target.fleet, name)
    except ReplayError as error:
        fail(str(error), code=EXIT_BAD_INPUT)


def _failure_queue(target: Target, worker: FleetWorker) -> FailureQueue:
    if worker.on_failure_queue is None:
        fail(f"{worker.name} has no on-failure queue in {target.stack}: use --from/--to", code=EXIT_BAD_INPUT)
    queue = FailureQueue(target.clients.client("sqs"), worker.on_failure_queue)
    try:
        queue.url  # noqa: B018 - resolve it now: a missing queue is bad input, before any read
    except MissingQueueError as error:
        fail(f"{error} in {target.stack} (is the stack deployed?)", code=EXIT_BAD_INPUT)
    return queue


def _time_range_plan(
    stream_replay: StreamReplay, start: datetime, end: datetime | None, now: datetime
) -> ReplayPlan:
    try:
        return stream_replay.plan_time_range(start, end, now=now)
    except ReplayError as error:
        fail(str(error), code=EXIT_BAD_INPUT)


def _refuse_during_maintenance(target: Target, worker: FleetWorker) -> None:
    record = active_maintenance(target)
    if record is not None and worker.name in record.workers:
        fail(
            f"maintenance pauses {worker.name} in {target.stack} (since "
            f"{record.started_at:%Y-%m-%d %H:%M} UTC, by {record.started_by}: {record.reason}); "
            "a replay would deliver what the pause holds "
            f"back: end it first (dmd maintenance end --stack {target.stack})"
        )


def _plan_lines(plan: ReplayPlan, target: Target, rate: float) -> list[str]:
    worker = plan.worker
    kept = [item for item in plan.ranges if item.skip]
    lines = [
        f"replay to {worker.alias} ({worker.name}, stack {target.stack}):",
        f"  {plan.records_read} records read in {len(plan.ranges)} range(s), "
        f"{plan.records_matching} pass the worker's filter",
        f"  {plan.batches} invocation(s) of up to {worker.batch_size} records, at most {rate:g} a second",
    ]
    if plan.mode == "from-failures":
        deletable = sum(1 for item in plan.ranges if not item.skip)
        lines.append(
            f"  on-failure messages: {deletable} deleted once their range succeeds, "
            f"{len(kept)} kept (trimmed, incomplete or malformed)"
        )
    if target.emulated:
        lines.append(f"  local: invoked in this process; the workers' logs go to {LOCAL_WORKER_LOG}")
    lines.append(f"Safe to repeat: {IDEMPOTENCE.get(worker.name, 'the worker must be idempotent')}.")
    return lines


def _run(
    stream_replay: StreamReplay, plan: ReplayPlan, queue: FailureQueue | None, rate: float
) -> ReplayReport:
    with (
        invoker_for(stream_replay.target, plan.worker) as invoker,
        progress(f"replaying to {plan.worker.alias}", plan.batches) as advance,
    ):
        return stream_replay.run(plan, invoker, pacer=Pacer(rate), queue=queue, advance=advance)


def _kept(held: list[FailureMessage], report: ReplayReport | None) -> list[FailureMessage]:
    """The held messages not deleted (visible again at once when the command ends)."""
    deleted = {
        result.planned.message.message_id
        for result in (report.results if report is not None else ())
        if result.message_deleted and result.planned.message is not None
    }
    return [message for message in held if message.message_id not in deleted]


def _print(report: ReplayReport, stack: str, *, json_output: bool) -> None:
    summary = report.summary(stack)
    if json_output:
        print_json(summary.model_dump())
    else:
        title = (
            f"{'dry run: ' if report.dry_run else ''}replay of {summary.worker} ({summary.mode}) "
            f"to {summary.function_name}:{summary.qualifier}"
        )
        show(table(title, COLUMNS, (_row(item) for item in summary.ranges)))
    verb = "would invoke" if report.dry_run else "invoked"
    errors_console().print(
        f"{summary.records_read} records read, {summary.records_matching} matching the filter; "
        f"{verb} {summary.batches} batch(es), {summary.batches_failed} failed"
        + (
            ""
            if summary.mode != "from-failures"
            else f"; {summary.messages_deleted} on-failure message(s) deleted"
        ),
        markup=False,
        highlight=False,
    )


def _row(item: RangeSummary) -> tuple[object, ...]:
    where = (
        f"{item.shard_id} {item.start_sequence_number}..{item.end_sequence_number}"
        if item.shard_id
        else f"message {item.message_id}"
    )
    details = [item.reason] if item.reason else []
    if item.parked:
        details.insert(0, "parked record")
    if item.function_errors:
        details.append("function error: " + ", ".join(sorted(set(item.function_errors))))
    if item.failed_records and not item.function_errors:
        details.append(f"{len(item.failed_records)} record(s) reported failed")
    if item.message_id is not None and item.outcome != "planned":
        details.append("message deleted" if item.message_deleted else "message kept")
    return (
        where,
        item.records_read,
        item.records_matching,
        item.batches,
        item.batches_failed,
        item.outcome,
        "; ".join(details) or None,
    )
