"""On-demand backups of the demand table and its point-in-time recovery (against moto)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from aws_clients import AwsClients
from infra.stack_files import load_committed
from ops.backup import (
    BackupNameError,
    check_backup_name,
    create_backup,
    default_backup_name,
    list_backups,
    point_in_time_recovery,
    table_backups,
)
from ops.target import Target

REGION = "us-east-1"
TABLE = "prd3292-local-us-east-1-demand-table"


def create_table(clients: AwsClients, *, recovery: bool) -> None:
    """The local stack's demand table (its key only), with point-in-time recovery on or off."""
    dynamodb = clients.client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_continuous_backups(
        TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": recovery}
    )


@pytest.fixture
def target() -> Iterator[Target]:
    """The local stack's target on a fresh moto holding only its table (point-in-time recovery on)."""
    with mock_aws():
        clients = AwsClients.for_emulator(None, region=REGION)
        create_table(clients, recovery=True)
        yield Target(stack="local", config=load_committed("local"), clients=clients)


def test_the_default_name_is_the_table_and_the_utc_time() -> None:
    moment = datetime(2026, 12, 1, 8, 15, 30, tzinfo=UTC)
    name = default_backup_name(TABLE, moment)
    assert name == f"{TABLE}-20261201T081530Z"
    # And DynamoDB accepts it
    assert check_backup_name(name) == name


@pytest.mark.parametrize(
    "name", ["ab", "before sale", "backup/1", "x" * 256], ids=["short", "space", "slash", "long"]
)
def test_a_name_dynamodb_refuses_is_refused_with_what_is_allowed(name: str) -> None:
    with pytest.raises(BackupNameError, match="3 to 255 characters among letters, digits"):
        check_backup_name(name)


def test_a_backup_is_created_and_listed_newest_first(target: Target) -> None:
    # Given a table
    # When two backups are taken
    first = create_backup(target, "before-cleanup")
    second = create_backup(target, "after-cleanup")

    # Then each is reported with its ARN on the table, and both are listed, newest first
    assert (first.name, first.type) == ("before-cleanup", "USER")
    assert first.arn.startswith(f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE}/backup/")
    assert first.status in ("CREATING", "AVAILABLE")
    assert first.created is not None and first.created.tzinfo is UTC
    assert [backup.name for backup in list_backups(target)] == [second.name, first.name]


def test_point_in_time_recovery_reports_its_restorable_window(target: Target) -> None:
    recovery = point_in_time_recovery(target)
    assert (recovery.enabled, recovery.status) == (True, "ENABLED")
    assert recovery.earliest_restorable is not None and recovery.latest_restorable is not None
    assert recovery.earliest_restorable <= recovery.latest_restorable


def test_point_in_time_recovery_turned_off_reads_disabled_without_a_window(target: Target) -> None:
    # Given point-in-time recovery turned off
    target.clients.client("dynamodb").update_continuous_backups(
        TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    # Then it reads disabled, and the table's backups still list (none)
    found = table_backups(target)
    assert found.point_in_time_recovery.model_dump() == {
        "enabled": False,
        "status": "DISABLED",
        "recoveryPeriodDays": None,
        "earliestRestorable": None,
        "latestRestorable": None,
    }
    assert (found.table, found.backups) == (TABLE, ())


def test_a_backup_of_a_missing_table_is_refused_by_dynamodb() -> None:
    with mock_aws():
        target = Target(
            stack="local",
            config=load_committed("local"),
            clients=AwsClients.for_emulator(None, region=REGION),
        )
        with pytest.raises(ClientError, match="TableNotFoundException"):
            create_backup(target, "before-cleanup")
