"""Demand-table data written by the workers' own repository, for the `dmd data` tests.

`seed_test_data` writes fans and events of every item type of the data model (event with a short URL,
sale, demand, notifications of both types, SMS message items with held statuses) and says which
keys clearing `fan-a,evt-1` must delete and which it must keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aws_clients import AwsClients
from infra.table import DEMAND_INDEX, MESSAGE_INDEX, PENDING_INDEX, SALES_INDEX
from workers.shared.keys import SWEEP_SHARDS, Key
from workers.shared.models import (
    ContactMethod,
    DemandRecord,
    EventRecord,
    HeldStatus,
    NotificationRecord,
    SaleRecord,
)
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus

TABLE = "prd3292-local-us-east-1-demand-table"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SALE_START = NOW + timedelta(hours=1)
EXPIRES = int((NOW + timedelta(days=1)).timestamp())


def repository(clients: AwsClients) -> DemandRepository:
    """The workers' own repository on the materialized table: the data is written as the fleet writes it."""
    return DemandRepository(
        TABLE,
        sales_index=SALES_INDEX,
        demand_index=DEMAND_INDEX,
        message_index=MESSAGE_INDEX,
        pending_index=PENDING_INDEX,
        client=clients.client("dynamodb"),
    )


def put_event_with_sale(repo: DemandRepository, event_id: str, sale_id: str = "public") -> None:
    """A cached event with a short URL and one sale (the `sales` index lists it)."""
    repo.put_event(
        EventRecord(
            id=event_id,
            name=f"Concert {event_id}",
            url=f"https://www.ticketmaster.com/event/{event_id}",
            timezone="America/Chicago",
            country_code="US",
            is_suppressed=False,
            expires_at=EXPIRES,
        )
    )
    assert repo.set_short_url(event_id, f"https://bit.ly/{event_id}")
    repo.put_sale(
        SaleRecord(
            id=sale_id,
            event_id=event_id,
            name="Public Onsale",
            sale_start_date_time=SALE_START,
            expires_at=EXPIRES,
        )
    )


def opt_in(repo: DemandRepository, fan_id: str, event_id: str, *, asu: bool = False) -> list[Key]:
    """A fan's demand for an event's public sale and its two notifications (sms and email); their keys."""
    repo.put_demand(
        DemandRecord(
            fan_id=fan_id,
            event_id=event_id,
            sale_id="public",
            phone_number="+13125550100",
            email=f"{fan_id}@example.com",
            contact_method="sms,email",
        )
    )
    sms = NotificationRecord.created(
        at=NOW,
        type="notification:asu" if asu else "notification",
        fan_id=fan_id,
        event_id=event_id,
        sale_id="public",
        contact_method=ContactMethod.SMS,
        phone_number="+13125550100",
        message_body="Your sale starts soon",
        sale_start_date_time=SALE_START,
    )
    email = NotificationRecord.created(
        at=NOW,
        fan_id=fan_id,
        event_id=event_id,
        sale_id="public",
        contact_method=ContactMethod.EMAIL,
        email=f"{fan_id}@example.com",
        template_variables={"eventName": "Concert"},
        sale_start_date_time=SALE_START,
    )
    assert repo.create_notification(sms) and repo.create_notification(email)
    return [sms.key, email.key]


def send_sms(repo: DemandRepository, key: Key, message_id: str) -> None:
    """The sender's TRIGGERED write with the message id, then the message's item naming the notification."""
    assert repo.transition(
        key,
        [NotificationStatus.CREATED],
        NotificationStatus.TRIGGERED,
        at=NOW,
        extra_updates={"messageId": message_id},
    )
    repo.register_message(message_id, f"{key.pk}|{key.sk}", expires_at=EXPIRES)


def hold(repo: DemandRepository, message_id: str) -> None:
    """A DELIVERED status held on a message's item."""
    repo.hold_status(
        message_id,
        NotificationStatus.DELIVERED,
        HeldStatus(vendor_status="DELIVERED", at=NOW),
        expires_at=EXPIRES,
    )


def table_keys(clients: AwsClients) -> set[tuple[str, str]]:
    """Every (PK, SK) of the table."""
    items = clients.client("dynamodb").scan(TableName=TABLE, ProjectionExpression="PK, SK")["Items"]
    return {(item["PK"]["S"], item["SK"]["S"]) for item in items}


def pending_keys(clients: AwsClients) -> set[tuple[str, str]]:
    """Every (PK, SK) the pending-notifications index lists."""
    client = clients.client("dynamodb")
    found = set()
    for shard in range(SWEEP_SHARDS):
        response = client.query(
            TableName=TABLE,
            IndexName=PENDING_INDEX,
            KeyConditionExpression="sweepShard = :shard",
            ExpressionAttributeValues={":shard": {"S": str(shard)}},
        )
        found |= {(item["PK"]["S"], item["SK"]["S"]) for item in response["Items"]}
    return found


@dataclass(frozen=True)
class Seeded:
    """The keys of the seeded data: what clearing `fan-a,evt-1` must delete and what it must keep."""

    cleared: set[tuple[str, str]]
    kept: set[tuple[str, str]]


def seed_test_data(deployed: AwsClients) -> Seeded:
    """fan-a (event evt-1, one sms sent twice, the last one's status held), fan-b (evt-1 and evt-2), evt-1."""
    repo = repository(deployed)
    put_event_with_sale(repo, "evt-1")
    put_event_with_sale(repo, "evt-2")
    fan_a = opt_in(repo, "fan-a", "evt-1", asu=True)
    send_sms(repo, fan_a[0], "SM-first")
    # The service did not de-duplicate a retried send: the notification names the second message only
    assert repo.transition(fan_a[0], [NotificationStatus.TRIGGERED], NotificationStatus.RETRY, at=NOW)
    assert repo.transition(
        fan_a[0],
        [NotificationStatus.RETRY],
        NotificationStatus.TRIGGERED,
        at=NOW,
        extra_updates={"messageId": "SM-last"},
    )
    repo.register_message("SM-last", f"{fan_a[0].pk}|{fan_a[0].sk}", expires_at=EXPIRES)
    hold(repo, "SM-last")
    fan_b_of_evt_1 = opt_in(repo, "fan-b", "evt-1")
    fan_b_of_evt_2 = opt_in(repo, "fan-b", "evt-2")
    send_sms(repo, fan_b_of_evt_2[0], "SM-other")
    hold(repo, "SM-unclaimed")  # names no notification: no fan or event to clear it by
    everything = table_keys(deployed)
    cleared = {
        ("event:evt-1", "event#details"),
        ("event:evt-1", "sale#public"),
        ("fan:fan-a", "demand#evt-1-public"),
        *((key.pk, key.sk) for key in fan_a),
        ("message:SM-first", "sms"),
        ("message:SM-last", "sms"),
        ("fan:fan-b", "demand#evt-1-public"),
        *((key.pk, key.sk) for key in fan_b_of_evt_1),
    }
    assert cleared < everything
    return Seeded(cleared=cleared, kept=everything - cleared)
