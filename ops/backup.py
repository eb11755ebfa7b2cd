"""On-demand backups of the demand table and its point-in-time recovery (runbook disaster-recovery).

An on-demand backup (CreateBackup) is kept until deleted, whatever the table's fate; point-in-time
recovery (the stack's `platform.table.pointInTimeRecovery`, on by default) restores any second of
the last 35 days. Both restore into a new table (see docs/runbooks.md, "Disaster recovery").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final

from ops.operator_io import JsonModel
from ops.target import Target

# DynamoDB's rule for backup names.
BACKUP_NAME: Final = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


class BackupNameError(ValueError):
    """The name is not a valid DynamoDB backup name; the message says what is allowed."""


class Backup(JsonModel):
    """One backup of the table."""

    name: str
    arn: str
    status: str  # CREATING | AVAILABLE | DELETED
    type: str  # USER (on demand) | SYSTEM | AWS_BACKUP
    created: datetime | None
    size_bytes: int | None  # DynamoDB reports the size a while after creation


class PointInTimeRecovery(JsonModel):
    """Whether the table can be restored to any second of the recovery period, and which seconds."""

    enabled: bool
    status: str  # ENABLED | DISABLED (DescribeContinuousBackups)
    recovery_period_days: int | None
    earliest_restorable: datetime | None
    latest_restorable: datetime | None


class TableBackups(JsonModel):
    """The table's point-in-time recovery and its backups, newest first."""

    table: str
    point_in_time_recovery: PointInTimeRecovery
    backups: tuple[Backup, ...]


def default_backup_name(table: str, now: datetime | None = None) -> str:
    """`<table>-<UTC timestamp>`, e.g. `prd3292-prod1-us-east-1-demand-table-20261201T081500Z`."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{table}-{moment:%Y%m%dT%H%M%SZ}"


def check_backup_name(name: str) -> str:
    """The name if DynamoDB accepts it; BackupNameError otherwise."""
    if not BACKUP_NAME.match(name):
        raise BackupNameError(
            f"{name!r} is not a backup name: 3 to 255 characters among letters, digits, '_', '-' and '.'"
        )
    return name


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _backup(details: dict[str, Any]) -> Backup:
    size = details.get("BackupSizeBytes")
    return Backup(
        name=details["BackupName"],
        arn=details["BackupArn"],
        status=details.get("BackupStatus", "?"),
        type=details.get("BackupType", "?"),
        created=_utc(details.get("BackupCreationDateTime")),
        size_bytes=int(size) if size is not None else None,
    )


def create_backup(target: Target, name: str) -> Backup:
    """Start an on-demand backup of the stack's table (CreateBackup); returns it as DynamoDB reports it."""
    answer = target.clients.client("dynamodb").create_backup(
        TableName=target.naming.table_name, BackupName=check_backup_name(name)
    )
    return _backup(answer["BackupDetails"])


def list_backups(target: Target) -> list[Backup]:
    """Every backup of the stack's table (ListBackups, all pages), newest first."""
    paginator = target.clients.client("dynamodb").get_paginator("list_backups")
    backups = [
        _backup(summary)
        for page in paginator.paginate(TableName=target.naming.table_name)
        for summary in page.get("BackupSummaries", [])
    ]
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(backups, key=lambda backup: backup.created or oldest, reverse=True)


def point_in_time_recovery(target: Target) -> PointInTimeRecovery:
    """The table's point-in-time recovery (DescribeContinuousBackups)."""
    answer = target.clients.client("dynamodb").describe_continuous_backups(TableName=target.naming.table_name)
    description = answer["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
    status = str(description.get("PointInTimeRecoveryStatus", "DISABLED"))
    period = description.get("RecoveryPeriodInDays")
    return PointInTimeRecovery(
        enabled=status == "ENABLED",
        status=status,
        recovery_period_days=int(period) if period is not None else None,
        earliest_restorable=_utc(description.get("EarliestRestorableDateTime")),
        latest_restorable=_utc(description.get("LatestRestorableDateTime")),
    )


def table_backups(target: Target) -> TableBackups:
    """The table's point-in-time recovery and every backup of it."""
    return TableBackups(
        table=target.naming.table_name,
        point_in_time_recovery=point_in_time_recovery(target),
        backups=tuple(list_backups(target)),
    )
