"""`dmd config`: validate stack files and render their reference."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra import config_docs
from infra.config import (
    ConfigError,
    QueueTriggerSettings,
    ScheduleTriggerSettings,
    StreamTriggerSettings,
    TriggerSettings,
)
from infra.stack_files import load_committed

app = typer.Typer(help="Validate stack configuration and render its reference.", no_args_is_help=True)


def trigger_summary(trigger: TriggerSettings) -> str:
    """A short human summary of a worker's trigger settings."""
    state = "" if getattr(trigger, "enabled", True) else "DISABLED "
    match trigger:
        case StreamTriggerSettings():
            filters = f" · {len(trigger.filter_patterns)} filter(s)" if trigger.filter_patterns else ""
            return (
                f"{state}batch {trigger.batch_size} · window {trigger.maximum_batching_window_seconds}s · "
                f"x{trigger.parallelization_factor} · retries {trigger.maximum_retry_attempts} · "
                f"age {trigger.maximum_record_age_seconds}s{filters}"
            )
        case QueueTriggerSettings():
            concurrency = f" · max {trigger.maximum_concurrency}" if trigger.maximum_concurrency else ""
            window = trigger.maximum_batching_window_seconds
            return f"{state}batch {trigger.batch_size} · window {window}s{concurrency}"
        case ScheduleTriggerSettings():
            return f"{state}{trigger.schedule_expression}"
        case _:
            return "AppSync resolver"


@app.command()
def validate(stack: Annotated[str, typer.Option(help="Stack to validate (Pulumi.<stack>.yaml).")]) -> None:
    """Validate a stack file and show every worker's resolved settings."""
    console = Console()
    try:
        config = load_committed(stack)
    except ConfigError as error:
        Console(stderr=True).print(str(error), markup=False, highlight=False)
        raise typer.Exit(2) from None
    table = Table(title=f"{stack}: resolved worker settings")
    for column in ("worker", "memory", "timeout", "arch", "reserved", "logs", "trigger"):
        table.add_column(column)
    for name, worker in config.workers.items():
        table.add_row(
            name,
            f"{worker.memory_mb} MB",
            f"{worker.timeout_seconds} s",
            worker.architecture,
            str(worker.reserved_concurrency),
            f"{worker.log_retention_days} d" + (" + stream" if worker.log_streaming else ""),
            trigger_summary(worker.trigger),
        )
    console.print(table)


@app.command()
def docs(
    check: Annotated[bool, typer.Option(help="Exit 1 if docs/configuration.md is stale.")] = False,
) -> None:
    """Render docs/configuration.md from the config models."""
    if check:
        current = config_docs.DOC_PATH.read_text(encoding="utf-8") if config_docs.DOC_PATH.exists() else ""
        if current != config_docs.render():
            typer.echo("docs/configuration.md is stale: run `dmd config docs`", err=True)
            raise typer.Exit(1)
        return
    changed = config_docs.write()
    typer.echo(f"docs/configuration.md {'updated' if changed else 'already up to date'}")
