"""`dmd backup create|list`: confirmation, the tables and JSON, and the refusals (against moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws
from typer.testing import CliRunner

from aws_clients import AwsClients
from infra.stack_files import load_committed
from ops.backup_commands import BACKUP_COLUMNS
from ops.cli import app
from ops.target import Target, resolve_target
from tests.ops.cli_output import flat, run_dmd, table_rows
from tests.ops.test_backup import REGION, TABLE, create_table


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    """A fresh moto that `--stack local` reaches (the table is created by each test that needs it)."""
    with mock_aws():
        clients = AwsClients.for_emulator(None, region=REGION)
        local = Target(stack="local", config=load_committed("local"), clients=clients)

        def resolve(stack: str, **options: str | None) -> Target:
            return local if stack == "local" else resolve_target(stack, **options)

        monkeypatch.setattr("ops.operator_io.resolve_target", resolve)
        yield clients


def _backups(clients: AwsClients) -> list[str]:
    summaries = clients.client("dynamodb").list_backups(TableName=TABLE)["BackupSummaries"]
    return [summary["BackupName"] for summary in summaries]


def test_create_with_yes_backs_up_the_table_and_shows_the_backup(account: AwsClients) -> None:
    # Given the demand table
    create_table(account, recovery=True)

    # When on-call takes a named backup without being asked
    result = run_dmd("backup", "create", "--stack", "local", "--name", "before-cleanup", "--yes")

    # Then the backup exists, and its row shows its name, status and ARN
    assert result.exit_code == 0, result.output
    assert _backups(account) == ["before-cleanup"]
    row = table_rows(result.stdout, BACKUP_COLUMNS)["before-cleanup"]
    assert row["status"] in ("CREATING", "AVAILABLE")
    assert row["arn"].startswith(f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE}/backup/")
    # And the plan was shown first
    assert f"Back up table {TABLE} (local) as before-cleanup." in flat(result.output)


def test_create_asks_first_and_a_no_changes_nothing(account: AwsClients) -> None:
    # Given the demand table
    create_table(account, recovery=True)

    # When on-call answers no to the question
    result = CliRunner().invoke(app, ["backup", "create", "--stack", "local"], input="n\n")

    # Then nothing was backed up, and the command says so with exit 1
    assert result.exit_code == 1
    assert "aborted: nothing changed" in flat(result.output)
    assert _backups(account) == []


def test_create_defaults_the_name_and_answers_json_with_the_documented_keys(account: AwsClients) -> None:
    create_table(account, recovery=True)
    result = run_dmd("backup", "create", "--stack", "local", "--yes", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"name", "arn", "status", "type", "created", "sizeBytes"}
    assert document["name"].startswith(f"{TABLE}-")
    assert _backups(account) == [document["name"]]


def test_list_shows_point_in_time_recovery_and_the_backups(account: AwsClients) -> None:
    # Given the table with point-in-time recovery and two backups
    create_table(account, recovery=True)
    for name in ("first-backup", "second-backup"):
        account.client("dynamodb").create_backup(TableName=TABLE, BackupName=name)

    # When on-call lists them, for people and as JSON
    result = run_dmd("backup", "list", "--stack", "local")
    document = json.loads(run_dmd("backup", "list", "--stack", "local", "--json").stdout)

    # Then recovery is shown enabled with its window, and both backups are listed
    assert result.exit_code == 0, result.output
    assert f"Point-in-time recovery ENABLED on {TABLE}: restorable from" in flat(result.stdout)
    assert set(table_rows(result.stdout, BACKUP_COLUMNS)) == {"first-backup", "second-backup"}
    assert set(document) == {"table", "pointInTimeRecovery", "backups"}
    assert set(document["pointInTimeRecovery"]) == {
        "enabled",
        "status",
        "recoveryPeriodDays",
        "earliestRestorable",
        "latestRestorable",
    }
    assert [set(backup) for backup in document["backups"]] == [
        {"name", "arn", "status", "type", "created", "sizeBytes"}
    ] * 2


def test_list_flags_point_in_time_recovery_turned_off(account: AwsClients) -> None:
    create_table(account, recovery=False)
    result = run_dmd("backup", "list", "--stack", "local")
    assert result.exit_code == 0, result.output
    assert f"Point-in-time recovery DISABLED on {TABLE}" in flat(result.stdout)
    assert "No backups." in result.stdout


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (
            ["create", "--stack", "local", "--name", "before sale", "--yes"],
            "'before sale' is not a backup name",
        ),
        (["create", "--stack", "nope", "--yes"], "unknown stack 'nope'"),
        (["list", "--stack", "nope"], "unknown stack 'nope'"),
        (["create", "--stack", "local", "--yes"], f"cannot back up {TABLE}: TableNotFoundException"),
        (["list", "--stack", "local"], f"cannot read the backups of {TABLE}: TableNotFoundException"),
    ],
    ids=["bad name", "create: unknown stack", "list: unknown stack", "create: no table", "list: no table"],
)
def test_bad_input_or_a_missing_table_exits_2_with_the_reason(
    account: AwsClients, arguments: list[str], reason: str
) -> None:
    # Given an account without the table
    # When the command gets a bad name or stack, or reaches a stack without its table
    result = run_dmd("backup", *arguments)
    # Then it exits 2 with the reason, and backed nothing up
    assert result.exit_code == 2
    assert reason in flat(result.output)
