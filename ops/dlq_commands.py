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
from ops.dead_letters import RedriveError, depth, redrive, source_queues

app = typer.Typer(help="Dead-letter queues: depth and redrive.", no_args_is_help=True)


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
