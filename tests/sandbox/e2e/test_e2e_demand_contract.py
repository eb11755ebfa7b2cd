"""End to end, the demand contract: opt-ins written as the fan-facing system writes them get their reminders.

The fan-facing system owns the demand records (docs/contracts/demand.md). Here they are put into the
table as plain items with the reference's attributes only (system-reference.md §2.2/2.3): no
attribute of this repository's own, some deviations the fleet must live with.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.pipeline import Pipeline
from tests.sandbox.e2e.flows import (
    Fan,
    e2e_marks,
    far_sale_time,
    notification,
    run_window,
    seed_event,
    wait_done,
)
from workers.shared.models import serialize_item

pytestmark = e2e_marks("e2e-demand-contract")

EVENT_ID = "E2eWriterDemand"
PRESALE = "Verified Fan Presale"


def put_as_the_writer(pipeline: Pipeline, fan_id: str, sale_id: str, **attributes: str) -> None:
    """One PutItem of a demand record as the fan-facing system writes it."""
    item: dict[str, Any] = {
        "PK": f"fan:{fan_id}",
        "SK": f"demand#{EVENT_ID}-{sale_id}",
        "type": "demand",
        "fanId": fan_id,
        "eventId": EVENT_ID,
        "saleId": sale_id,
        "marketId": "TM_US",
        **attributes,
    }
    pipeline.clients.client("dynamodb").put_item(TableName=pipeline.table_name, Item=serialize_item(item))


def test_demand_written_as_the_fan_facing_system_writes_it_gets_every_supported_reminder(
    pipeline: Pipeline,
) -> None:
    # Given an event with a public sale and two presales of the same name (ids "verified-fan-presale"
    # and "verified-fan-presale-2": one a prefix of the other), all opening together
    starts = far_sale_time(pipeline)
    seed_event(
        pipeline,
        EVENT_ID,
        sales=[
            (None, starts),
            (PRESALE, starts + timedelta(seconds=5)),
            (PRESALE, starts + timedelta(seconds=10)),
        ],
    )
    public, first, second = "public", "verified-fan-presale", "verified-fan-presale-2"
    assert all(pipeline.item(f"event:{EVENT_ID}", f"sale#{sale_id}") for sale_id in (public, first, second))
    # And opt-ins put as plain items: a plain SMS fan; a fan without a locale; a fan with push
    # besides email and a locale the fleet has no messages for; a fan in other case with a fax
    put_as_the_writer(
        pipeline, "e2e-writer-1", public, contactMethod="sms", phoneNumber="+13125550111", locale="en-us"
    )
    put_as_the_writer(
        pipeline,
        "e2e-writer-2",
        first,
        contactMethod="sms,email",
        phoneNumber="+13125550112",
        email="w2@fans.example.com",
    )
    put_as_the_writer(
        pipeline,
        "e2e-writer-3",
        second,
        contactMethod="email,push",
        email="w3@fans.example.com",
        locale="de-de",
    )
    put_as_the_writer(
        pipeline, "e2e-writer-4", public, contactMethod="SMS,Fax", phoneNumber="+13125550114", locale="EN-US"
    )
    assert pipeline.sandbox.wait_until_idle(deadline=20)

    # When the scheduler runs for the window of the three sales
    run_window(pipeline, starts + timedelta(seconds=5))

    # Then every fan gets each reminder it can receive, for its own sale only
    fans = {
        ("e2e-writer-1", public): ["sms"],
        ("e2e-writer-2", first): ["sms", "email"],
        ("e2e-writer-3", second): ["email"],
        ("e2e-writer-4", public): ["sms"],
    }
    keys = [
        Fan(fan_id, EVENT_ID, sale_id).key(method)
        for (fan_id, sale_id), methods in fans.items()
        for method in methods
    ]
    items = wait_done(pipeline, keys)
    assert {items[key]["status"]["id"] for key in keys if key.sk.endswith("#sms")} == {"DELIVERED"}
    assert {items[key]["status"]["id"] for key in keys if key.sk.endswith("#email")} == {"TRIGGERED"}
    # And the unknown locale gave way to the event's
    assert items[Fan("e2e-writer-3", EVENT_ID, second).key("email")]["locale"] == "en-us"
    # And no fan got a reminder of a sale it did not opt in to (exact sale ids, no prefix match)
    for fan_id, sale_id in (("e2e-writer-2", second), ("e2e-writer-3", first), ("e2e-writer-1", first)):
        for method in ("sms", "email"):
            assert notification(pipeline, Fan(fan_id, EVENT_ID, sale_id).key(method)) is None
    # And each SMS reminder reached the SMS service exactly once
    sms_fans = [
        Fan(fan_id, EVENT_ID, sale_id) for (fan_id, sale_id), methods in fans.items() if "sms" in methods
    ]
    assert [pipeline.vendors.sms.accepted_for(fan.reference()) for fan in sms_fans] == [1, 1, 1]
