"""`dmd dlq`: dead-letter queues (runbook dead-letter-queue-not-empty)."""

from __future__ import annotations

from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from aws_clients import AwsClients
from infra.config import ConfigError
from infra.stack_files import load_committed
from infra.synth import StackFileError
from ops.dead_letters import (
    HeldQueueStatus,
    RedriveError,
    depth,
    held_queue_statuses,
    held_queues,
    redrive,
    source_queues,
)
from ops.operator_io import (
    JsonOption,
    StackOption,
    aws_errors,
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
    ("-" when the queue is empty or no datapoint exists, e.g. on the emulator). Nothing is received.

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


@app.command("redrive")
def redrive_command(
    queue: Annotated[
        str, typer.Option(help="The DLQ's name, e.g. prd3292-qa1-us-east-1-event-short-url-dlq.")
    ],
    stack: Annotated[str, typer.Option(help="Stack the queue belongs to (its region).")] = "local",
    endpoint_url: Annotated[
        str | None, typer.Option(help="AWS emulator endpoint (fake credentials); default: real AWS.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Show what would be moved, move nothing.")] = False,
) -> None:
    """Move a DLQ's messages back to its source queue, once the cause is fixed."""
    console = Console()
    try:
        region = load_committed(stack).region
    except (ConfigError, StackFileError) as error:
        console.print(str(error), markup=False, highlight=False)
        raise typer.Exit(2) from None
    clients = (
        AwsClients.for_emulator(endpoint_url, region=region) if endpoint_url else AwsClients(region=region)
    )
    try:
        waiting = depth(clients, queue)
        if dry_run:
            sources = ", ".join(source_queues(clients, queue)) or "no source queue"
            console.print(f"dry run: {waiting} messages in {queue} would go back to {sources}")
            return
        with console.status(f"redriving {queue}") as status:
            result = redrive(
                clients,
                queue,
                native=endpoint_url is None,
                on_moved=lambda moved: status.update(f"redriving {queue}: {moved}/{waiting}"),
            )
    except RedriveError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    except (BotoCoreError, ClientError) as error:
        console.print(f"cannot redrive {queue}: {error}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    console.print(f"{result.moved} messages from {queue} → {', '.join(result.sources)} ({result.method})")
