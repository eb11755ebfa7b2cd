"""`dmd dlq`: dead-letter queues (runbook dead-letter-queue-not-empty)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from ops.dead_letters import (
    HeldQueueStatus,
    RedriveError,
    depth,
    held_queue_statuses,
    held_queues,
    queue_url,
    redrive,
    source_queues,
)
from ops.held_messages import BODY_PREVIEW, HeldMessage, peek
from ops.operator_io import (
    EXIT_BAD_INPUT,
    DryRunOption,
    EndpointOption,
    JsonOption,
    StackOption,
    YesOption,
    aws_errors,
    confirm,
    fail,
    format_age,
    print_json,
    progress,
    show,
    table,
    target_for,
)

app = typer.Typer(help="Dead-letter queues: depth and redrive.", no_args_is_help=True)

LIST_COLUMNS = ("queue", "worker", "kind", "depth", "visible", "in flight", "delayed", "oldest")


def _depth(status: HeldQueueStatus) -> str:
    if not status.exists:
        return "[bold red]missing[/bold red]"
    return f"[bold red]{status.depth}[/bold red]" if status.depth else str(status.depth)


@app.command("list")
def list_command(stack: StackOption, json_output: JsonOption = False) -> None:
    """Every DLQ and on-failure queue of the stack: its worker, kind, depth and oldest message.

    Kinds: dlq (a queue worker's source-queue DLQ: the messages themselves, redrive them with
    `dmd dlq redrive`), on-failure (a stream worker's given-up batches: shard and sequence ranges
    to replay), schedule-dlq (scheduled events Lambda could not be invoked with). Depth is visible +
    in flight + delayed (SQS); the oldest message's age is CloudWatch's ApproximateAgeOfOldestMessage
    ("-" when the queue is empty or no datapoint exists, e.g. on the emulator). Nothing is received:
    `dmd dlq show --queue Q` tells parked poison records from Lambda's on-failure records.

    JSON keys: a list of {queue, worker, kind, exists, depth, visible, inFlight, delayed,
    oldestAgeSeconds}; unknown values are null.

    Example: dmd dlq list --stack prod1
    """
    target = target_for(stack)
    with aws_errors(f"read the dead-letter queues of {stack}"):
        with progress(f"reading {stack}'s graph", total=None):
            queues = held_queues(target.fleet)
        with progress("queues", total=len(queues)) as advance:
            statuses = held_queue_statuses(
                target.clients, queues, on_queue=lambda queue: advance(description=queue.name)
            )
    if json_output:
        print_json([status.model_dump() for status in statuses])
        return
    rows = [
        (
            status.queue,
            status.worker,
            status.kind,
            _depth(status),
            status.visible,
            status.in_flight,
            status.delayed,
            format_age(status.oldest_age_seconds),
        )
        for status in statuses
    ]
    show(table(f"{stack}: dead-letter and on-failure queues", LIST_COLUMNS, rows))


SHOW_COLUMNS = ("message", "kind", "sent", "receives", "worker", "reason", "position / body")


def _show_row(held: HeldMessage) -> tuple[object, ...]:
    where = held.position if held.kind != "message" else held.body[:BODY_PREVIEW]
    return (
        held.message_id,
        held.kind,
        held.sent_at.strftime("%Y-%m-%d %H:%M:%SZ") if held.sent_at else None,
        held.receive_count,
        held.worker,
        escape(held.reason) if held.reason else None,
        escape(where) if where else None,
    )


@app.command("show")
def show_command(
    queue: Annotated[
        str,
        typer.Option(
            help="A DLQ or on-failure queue of the stack, e.g. prd3292-qa1-us-east-1-ntfcn-snd-on-failure."
        ),
    ],
    stack: StackOption,
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many messages.")] = 10,
    json_output: JsonOption = False,
) -> None:
    """Peek at a DLQ or on-failure queue: each message's kind, reason and source position.

    Kinds: parked (a poison record the worker set aside with its payload: `dmd replay --worker W
    --from-failures` re-drives a stream worker's; the generator's, a malformed demand item with its
    table and key as position, goes back with `dmd dlq redrive`), on-failure (Lambda's record of a
    given-up Kinesis batch: shard and sequence range), message (any other body, e.g. a queue worker's
    message SQS moved to its DLQ).
    Peeking is a ReceiveMessage with VisibilityTimeout 0: nothing is deleted or hidden, but SQS counts
    the receive (these queues have no redrive policy, so the count changes nothing); only the stack's
    DLQs and on-failure queues are accepted (a receive on a work queue would count towards its DLQ).
    A large queue answers with a sample.

    JSON keys: a list of {messageId, kind, sentAt, receiveCount, worker, reason, position, body};
    body is the message as SQS holds it (a parked record's payload, fans' data included).

    Example: dmd dlq show --stack prod1 --queue prd3292-prod1-us-east-1-ntfcn-snd-on-failure
    """
    target = target_for(stack)
    with aws_errors(f"peek at {queue}"):
        with progress(f"reading {stack}'s graph", total=None):
            held = {item.name for item in held_queues(target.fleet)}
        if queue not in held:
            fail(
                f"{queue} is not a dead-letter or on-failure queue of {stack} ({', '.join(sorted(held))})",
                code=EXIT_BAD_INPUT,
            )
        try:
            url = queue_url(target.clients, queue)
        except RedriveError as error:
            fail(str(error), code=EXIT_BAD_INPUT)
        with progress(f"peeking at {queue}", total=None):
            messages = peek(target.clients, url, limit=limit)
    if json_output:
        print_json([message.model_dump() for message in messages])
        return
    counts = {
        kind: sum(1 for message in messages if message.kind == kind)
        for kind in ("parked", "on-failure", "message")
    }
    summary = ", ".join(f"{number} {kind}" for kind, number in counts.items() if number) or "empty"
    show(table(f"{stack}: {queue} ({summary})", SHOW_COLUMNS, (_show_row(message) for message in messages)))


@app.command("redrive")
def redrive_command(
    queue: Annotated[
        str, typer.Option(help="The DLQ's name, e.g. prd3292-qa1-us-east-1-event-short-url-dlq.")
    ],
    *,
    stack: StackOption,
    endpoint_url: EndpointOption = None,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Move a DLQ's messages back to its source queue, once the cause is fixed.

    On AWS it starts SQS's own message move task (StartMessageMoveTask: asynchronous, the count is
    the depth when it started); on an emulator without it (the sandbox) each message is received,
    sent to the source queue with its attributes and deleted. Shows the count and the source queue
    and asks first unless --yes. For a stream worker's on-failure queue use `dmd replay --worker W
    --from-failures` instead (those messages describe stream records, they are no jobs). The
    generation jobs' DLQ also holds the generator's parked demand items (`dmd dlq show`): each goes
    back with the job it carries, which the generator runs again (conditional creates: only the
    missing reminder), so redrive once the item's owner fixed it; one still malformed is parked again.

    JSON keys: {queue, sources, messages, moved, method, dryRun}.

    Example: dmd dlq redrive --stack prod1 --queue prd3292-prod1-us-east-1-generation-jobs-dlq --dry-run
    """
    target = target_for(stack, endpoint_url)
    clients = target.clients
    with aws_errors(f"redrive {queue}"):
        try:
            waiting = depth(clients, queue)
            sources = source_queues(clients, queue)
        except RedriveError as error:
            fail(str(error))
        plan = f"{waiting} messages in {queue} would go back to {', '.join(sources) or 'no source queue'}"
        if dry_run:
            if json_output:
                print_json(
                    {
                        "queue": queue,
                        "sources": sources,
                        "messages": waiting,
                        "moved": 0,
                        "method": None,
                        "dryRun": True,
                    }
                )
            else:
                show(f"dry run: {plan}")
            return
        if not sources:
            fail(f"{queue} is not the dead-letter queue of any queue: nothing to redrive to")
        confirm([f"{stack}: {plan}"], yes=yes, question="Move them back?")
        with progress(f"redriving {queue}", total=waiting or None) as advance:
            try:
                result = redrive(
                    clients, queue, native=not target.emulated, on_moved=lambda _moved: advance()
                )
            except RedriveError as error:
                fail(str(error))
    if json_output:
        print_json(
            {
                "queue": queue,
                "sources": list(result.sources),
                "messages": waiting,
                "moved": result.moved,
                "method": result.method,
                "dryRun": False,
            }
        )
        return
    show(f"{result.moved} messages from {queue} → {', '.join(result.sources)} ({result.method})")
