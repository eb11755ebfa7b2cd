"""Builders of the notification command tests: reminders as the generator writes them, the sender's writes.

`Sender` makes a reminder RETRY or FAILED as the send worker does: a claim, then a transition under it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws

from aws_clients import AwsClients
from infra.stack_files import load_committed
from ops.notifications import notification_repository
from ops.target import Target
from sandbox.materialize import CdcRoute, materialize
from tests.infra.graphs import stack_graph
from workers.shared.keys import Key
from workers.shared.models import NotificationRecord, SendError, StatusStamp, pending_marks
from workers.shared.repository import DemandRepository
from workers.shared.statuses import PENDING_STATUSES
from workers.shared.statuses import NotificationStatus as S

CREATED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SALE_START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
EVENT = "vvG1IZ9KBxv3Tg"
SALE = "public"
BODY = "Heads up! Tickets for Aya go on sale 10:00 AM CST. Get tickets: https://bit.ly/x"


def sms(
    fan_id: str = "4412",
    *,
    event_id: str = EVENT,
    sale_id: str = SALE,
    created: datetime = CREATED,
    **fields: Any,
) -> NotificationRecord:
    """A CREATED SMS reminder as the generator writes it at `created`, its sale two hours later."""
    values: dict[str, Any] = {
        "fan_id": fan_id,
        "event_id": event_id,
        "sale_id": sale_id,
        "contact_method": "sms",
        "phone_number": "+13125550181",
        "message_body": BODY,
        "sale_start_date_time": created + (SALE_START - CREATED),
    }
    return NotificationRecord.created(at=created, **{**values, **fields})


def email(fan_id: str = "4412", *, created: datetime = CREATED, **fields: Any) -> NotificationRecord:
    """A CREATED email reminder as the generator writes it at `created`, its sale two hours later."""
    values: dict[str, Any] = {
        "fan_id": fan_id,
        "event_id": EVENT,
        "sale_id": SALE,
        "contact_method": "email",
        "email": "mia@fans.example.com",
        "template_variables": {"url": "https://bit.ly/x"},
        "sale_start_date_time": created + (SALE_START - CREATED),
    }
    return NotificationRecord.created(at=created, **{**values, **fields})


def in_status(record: NotificationRecord, status: S, **fields: Any) -> dict[str, Any]:
    """The record's item in `status` (reached 10 minutes after its creation)."""
    reached = record.date.created + timedelta(minutes=10)
    # Only a waiting notification is on the pending index (the repository's transitions see to it).
    listed = {} if status in PENDING_STATUSES else {"sweep_shard": None, "sweep_at": None}
    return record.model_copy(
        update={"status": StatusStamp(id=status, date=reached), **listed, **fields}
    ).to_item()


@dataclass
class Sender:
    """Writes a notification's send outcomes as the sender does: claim, then a transition under it."""

    repository: DemandRepository
    at: datetime = CREATED

    def attempt(self, key: Key, outcome: S, error: SendError | None = None, *, lost: bool = False) -> None:
        """One claimed attempt ending in `outcome` (RETRY or FAILED) with `error`."""
        self.at += timedelta(seconds=30)
        claim = f"claim-{self.at.timestamp():.0f}"
        claimed = self.repository.claim_notification(
            key,
            claim,
            from_statuses={S.CREATED, S.RETRY},
            at=self.at,
            lease_expires_at=self.at + timedelta(seconds=90),
        )
        assert claimed is not None
        failure = error or SendError(
            status_code=None if lost else 503,
            reason="no response within 10 s" if lost else "Service Unavailable",
            timestamp=self.at,
            answer_lost=lost or None,
        )
        updates = (
            {
                "nextAttemptAt": self.at + timedelta(seconds=30),
                **pending_marks(key, self.at + timedelta(minutes=5)),
            }
            if outcome is S.RETRY
            else {}
        )
        assert self.repository.transition(
            key,
            {S.CREATED, S.RETRY},
            outcome,
            at=self.at,
            extra_updates=updates,
            remove=("claimId", "claimExpiresAt") + (() if outcome is S.RETRY else ("nextAttemptAt",)),
            increment_attempts=True,
            error=failure,
            expected_claim=claim,
        )

    def exhaust(self, key: Key, *, lost_answers: int = 0) -> None:
        """Lost answers first (unspent for SMS), then three 503s: FAILED, attempts exhausted."""
        for _ in range(lost_answers):
            self.attempt(key, S.RETRY, lost=True)
        self.attempt(key, S.RETRY)
        self.attempt(key, S.RETRY)
        self.attempt(key, S.FAILED)

    def carrier_failure(self, key: Key, message_id: str) -> None:
        """Accepted (TRIGGERED with the message's id), then failed by the carrier (the status consumer)."""
        self.at += timedelta(seconds=30)
        assert self.repository.claim_notification(
            key,
            "claim-sent",
            from_statuses={S.CREATED},
            at=self.at,
            lease_expires_at=self.at + timedelta(minutes=1),
        )
        assert self.repository.transition(
            key,
            {S.CREATED},
            S.TRIGGERED,
            at=self.at,
            extra_updates={"messageId": message_id, "appId": "dmd-reminders"},
            remove=("claimId", "claimExpiresAt", "nextAttemptAt"),
            increment_attempts=True,
            expected_claim="claim-sent",
        )
        assert self.repository.transition(
            key,
            {S.TRIGGERED},
            S.FAILED,
            at=self.at + timedelta(seconds=5),
            extra_updates={"messageId": message_id},
            error=SendError(reason="30003: Unreachable destination handset", timestamp=self.at),
        )


@dataclass(frozen=True)
class MotoStack:
    """The local stack in an in-process moto: the operator's target, and the table's CDC route."""

    target: Target
    cdc_route: CdcRoute


@contextmanager
def local_stack_in_moto() -> Iterator[MotoStack]:
    """The local stack materialized once into an in-process moto: a module's tests share it.

    Without event-source mappings: the Kinesis stream must accept the CDC's writes (stock moto would
    try to run the functions in Docker).
    """
    with mock_aws():
        clients = AwsClients.for_emulator(None, region="us-east-1")
        materialized = materialize(stack_graph("local"), clients, register_event_source_mappings=False)
        yield MotoStack(
            target=Target(stack="local", config=load_committed("local"), clients=clients),
            cdc_route=materialized.cdc_routes[0],
        )


def emptied(target: Target) -> DemandRepository:
    """The stack's demand table with every item deleted (a test starts from an empty table)."""
    repository = notification_repository(target)
    client = repository.client
    for page in client.get_paginator("scan").paginate(
        TableName=repository.table_name, ProjectionExpression="PK, SK"
    ):
        for item in page.get("Items", []):
            client.delete_item(TableName=repository.table_name, Key={"PK": item["PK"], "SK": item["SK"]})
    return repository
