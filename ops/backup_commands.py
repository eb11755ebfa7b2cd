"""`dmd backup`: on-demand backups of the demand table and its point-in-time recovery (disaster recovery)."""

from __future__ import annotations

from typing import Annotated

import typer

from ops.backup import (
    Backup,
    BackupNameError,
    check_backup_name,
    create_backup,
    default_backup_name,
    table_backups,
)
from ops.operator_io import (
    EXIT_BAD_INPUT,
    JsonOption,
    StackOption,
    YesOption,
    aws_errors,
    confirm,
    errors_console,
    fail,
    print_json,
    show,
    table,
    target_for,
)

app = typer.Typer(
    help="On-demand backups of the demand table, and its point-in-time recovery.", no_args_is_help=True
)

BACKUP_COLUMNS = ("name", "created", "status", "type", "size", "arn")


def _size(size_bytes: int | None) -> str:
    if size_bytes is None:
        return "-"
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    value, unit = float(size_bytes), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    return f"{size_bytes} B" if unit == 0 else f"{value:.1f} {units[unit]}"


def _row(backup: Backup) -> tuple[str, str, str, str, str, str]:
    created = f"{backup.created:%Y-%m-%d %H:%M:%S} UTC" if backup.created else "-"
    return (backup.name, created, backup.status, backup.type, _size(backup.size_bytes), backup.arn)


@app.command("create")
def create(
    stack: StackOption,
    name: Annotated[
        str | None,
        typer.Option(help="Backup name (letters, digits, _ - .); default: <table>-<UTC timestamp>."),
    ] = None,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Start an on-demand backup of the stack's demand table (DynamoDB CreateBackup).

    The backup is kept until someone deletes it, independently of point-in-time recovery; take one
    before any risky change to the table or its data. Restoring goes into a new table (runbook
    "Disaster recovery").

    JSON keys: name, arn, status, type, created, sizeBytes.

    Example: dmd backup create --stack prod1 --name before-sale-cleanup --yes
    """
    target = target_for(stack)
    table_name = target.naming.table_name
    try:
        backup_name = check_backup_name(name) if name is not None else default_backup_name(table_name)
    except BackupNameError as error:
        fail(str(error), code=EXIT_BAD_INPUT)
    confirm([f"Back up table {table_name} ({stack}) as {backup_name}."], yes=yes)
    with aws_errors(f"back up {table_name}"):
        backup = create_backup(target, backup_name)
    if json_output:
        print_json(backup.model_dump())
        return
    show(table(f"{stack}: backup of {table_name}", BACKUP_COLUMNS, [_row(backup)]))
    if backup.status != "AVAILABLE":
        errors_console().print(
            f"Backup {backup.name} is {backup.status}; "
            f"`dmd backup list --stack {stack}` shows when it is AVAILABLE.",
            markup=False,
            highlight=False,
        )


@app.command("list")
def list_command(stack: StackOption, json_output: JsonOption = False) -> None:
    """The table's point-in-time recovery (enabled? restorable from/to) and its backups, newest first.

    JSON keys: table, pointInTimeRecovery {enabled, status, recoveryPeriodDays, earliestRestorable,
    latestRestorable}, backups [{name, arn, status, type, created, sizeBytes}].

    Example: dmd backup list --stack prod1
    """
    target = target_for(stack)
    with aws_errors(f"read the backups of {target.naming.table_name}"):
        found = table_backups(target)
    if json_output:
        print_json(found.model_dump())
        return
    recovery = found.point_in_time_recovery
    if recovery.enabled:
        window = (
            f"restorable from {recovery.earliest_restorable:%Y-%m-%d %H:%M:%S} "
            f"to {recovery.latest_restorable:%Y-%m-%d %H:%M:%S} UTC"
            if recovery.earliest_restorable and recovery.latest_restorable
            else "restorable window not reported"
        )
        show(f"[green]Point-in-time recovery ENABLED[/green] on {found.table}: {window}")
    else:
        show(f"[bold red]Point-in-time recovery {recovery.status}[/bold red] on {found.table}")
    show(
        table(
            f"{stack}: backups of {found.table}", BACKUP_COLUMNS, [_row(backup) for backup in found.backups]
        )
    )
    if not found.backups:
        show("No backups.")
