"""`dmd`: the operator CLI's command tree and its console-script entry point."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from ops.cli import app, main

COMMAND_TREE = {
    "synth": None,
    "package": None,
    "status": None,
    "capacity": None,
    "replay": None,
    "release": None,
    "scan": None,
    "workers": {"list", "invoke", "create", "remove"},
    "config": {"validate", "docs"},
    "aws": {"check"},
    "dlq": {"list", "show", "redrive"},
    "logs": {"tail", "query"},
    "backup": {"create", "list"},
    "maintenance": {"start", "end", "status"},
    "sandbox": {"demo", "up", "query"},
    "notifications": {"show", "retry"},
    "secrets": {"set", "status"},
    "suppression": {"publish"},
    "data": {"clear"},
}


def test_the_cli_offers_exactly_the_runbook_commands() -> None:
    # Given the `dmd` application
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)

    # When its commands and command groups are listed
    tree = {
        name: set(command.commands) if isinstance(command, TyperGroup) else None
        for name, command in root.commands.items()
    }

    # Then they are the runbook's commands, each group with its subcommands
    assert tree == COMMAND_TREE


@pytest.mark.parametrize("arguments", [[], ["dlq"], ["sandbox"]], ids=["dmd", "dmd dlq", "dmd sandbox"])
def test_a_command_group_without_a_command_shows_its_help(arguments: list[str]) -> None:
    # Given a command group named without a command
    # When it runs
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "200"})

    # Then it prints its usage instead of doing anything, and fails as a usage error
    assert result.exit_code == 2
    assert f"Usage: dmd {' '.join(arguments)}".rstrip() in result.output


def test_the_dmd_console_script_runs_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the installed console script
    (script,) = [
        entry for entry in importlib.metadata.entry_points(group="console_scripts") if entry.name == "dmd"
    ]
    assert script.value == "ops.cli:main"
    monkeypatch.setattr(sys, "argv", ["dmd", "--help"])
    monkeypatch.setenv("COLUMNS", "200")

    # When it is called as the shell would
    with pytest.raises(SystemExit) as exited:
        main()

    # Then the CLI answers, listing its commands
    assert exited.value.code == 0
    output = capsys.readouterr().out
    assert "Usage: dmd" in output
    assert all(name in output for name in COMMAND_TREE)
