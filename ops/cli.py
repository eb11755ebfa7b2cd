"""`dmd`: the team's runbook tasks as commands."""

from __future__ import annotations

import typer

from ops import (
    aws_commands,
    backup_commands,
    capacity_commands,
    config_commands,
    data_commands,
    dlq_commands,
    logs_commands,
    maintenance_commands,
    notifications_commands,
    packaging_commands,
    release_commands,
    replay_commands,
    sandbox_commands,
    scan_commands,
    secrets_commands,
    status_commands,
    suppression_commands,
    synth_commands,
    worker_scaffold_commands,
    workers_commands,
)

app = typer.Typer(
    name="dmd",
    help="dmd-workers operator CLI: synthesize stacks, package code, inspect the fleet, check AWS, sandbox.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("synth")(synth_commands.synth)
app.command("package")(packaging_commands.package)
app.command("status")(status_commands.status)
app.command("capacity")(capacity_commands.capacity)
app.command("replay")(replay_commands.replay)
app.command("release")(release_commands.release)
app.command("scan")(scan_commands.scan_command)
workers_commands.app.command("create")(worker_scaffold_commands.create)
workers_commands.app.command("remove")(worker_scaffold_commands.remove)
app.add_typer(workers_commands.app, name="workers")
app.add_typer(config_commands.app, name="config")
app.add_typer(aws_commands.app, name="aws")
app.add_typer(dlq_commands.app, name="dlq")
app.add_typer(logs_commands.app, name="logs")
app.add_typer(backup_commands.app, name="backup")
app.add_typer(sandbox_commands.app, name="sandbox")
app.add_typer(data_commands.app, name="data")
app.add_typer(notifications_commands.app, name="notifications")
app.add_typer(maintenance_commands.app, name="maintenance")
app.add_typer(secrets_commands.app, name="secrets")
app.add_typer(suppression_commands.app, name="suppression")


def main() -> None:
    """Console-script entry point."""
    app()
