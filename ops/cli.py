"""`dmd`: the team's runbook tasks as commands."""

from __future__ import annotations

import typer

from ops import (
    aws_commands,
    config_commands,
    dlq_commands,
    packaging_commands,
    sandbox_commands,
    synth_commands,
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
app.add_typer(workers_commands.app, name="workers")
app.add_typer(config_commands.app, name="config")
app.add_typer(aws_commands.app, name="aws")
app.add_typer(dlq_commands.app, name="dlq")
app.add_typer(sandbox_commands.app, name="sandbox")


def main() -> None:
    """Console-script entry point."""
    app()
