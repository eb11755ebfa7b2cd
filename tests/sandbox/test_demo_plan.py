"""The demo's plan: the next tick, the window's sales and the fans' demand (no sandbox)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sandbox.demo.catalogue import REGISTRATION_SALE, SUPPRESSED_EVENT
from sandbox.demo.options import DemoOptions
from sandbox.demo.plan import (
    DemoPlan,
    demand_items,
    discovery_payloads,
    next_tick,
    plan_demand,
    window_sales,
)
from workers.shared.discovery.normalize import normalize_event
from workers.shared.discovery.rules import EventRules

TICK = datetime(2031, 3, 1, 9, 30, tzinfo=UTC)
START, END = TICK + timedelta(minutes=30), TICK + timedelta(minutes=60)


def _plan(fans: int, sales: int = 4) -> DemoPlan:
    options = DemoOptions(fans=fans, sales=sales, report_path=None)
    plan = DemoPlan(
        tick=TICK, window_start=START, window_end=END, window_sales=window_sales(options, START, END)
    )
    ids: dict[tuple[str, str | None], str] = {}
    for payload in discovery_payloads(plan.window_sales, week_later=START + timedelta(days=7)):
        _, sale_records = normalize_event(payload, market_id=None, rules=EventRules(), now=TICK)
        for sale in sale_records:
            ids[(payload["id"], None if sale.id == "public" else sale.name)] = sale.id
    plan_demand(plan, options, ids)
    return plan


def test_the_next_tick_is_the_next_half_hour() -> None:
    assert next_tick(datetime(2031, 3, 1, 9, 12, tzinfo=UTC)) == datetime(2031, 3, 1, 9, 30, tzinfo=UTC)
    assert next_tick(datetime(2031, 3, 1, 9, 30, tzinfo=UTC)) == datetime(2031, 3, 1, 10, 0, tzinfo=UTC)


def test_the_window_holds_the_notifiable_sales_a_registration_and_a_suppressed_artist() -> None:
    sales = window_sales(DemoOptions(sales=5, report_path=None), START, END)
    assert sum(sale.notifiable for sale in sales) == 5
    assert all(START <= sale.starts < END for sale in sales)
    assert [sale.name for sale in sales if not sale.notifiable] == [REGISTRATION_SALE, None]
    assert sales[-1].event is SUPPRESSED_EVENT


def test_the_fans_mix_locales_markets_methods_and_bad_numbers_reproducibly() -> None:
    # Given two plans with the same seed
    plan, again = _plan(600), _plan(600)
    # Then they are the same, and realistic: every locale and market, every method, a few bad numbers
    assert [demand.to_item() for demand in plan.demand] == [demand.to_item() for demand in again.demand]
    assert {demand.locale for demand in plan.demand} == {"en-us", "en-ca", "fr-ca"}
    assert {demand.market_id for demand in plan.demand} == {"TM_US", "TM_CA", "LN_US"}
    assert set(Counter(demand.contact_method for demand in plan.demand)) == {"sms", "email", "sms,email"}
    assert plan.unassigned_numbers
    assert any(demand.phone_number and not demand.phone_number.startswith("+") for demand in plan.demand)
    assert plan.fans_by_kind["suppressed artist"] > 0 and plan.fans_by_kind["registration sale"] > 0
    # And the expected notifications are one per fan, notifiable sale and method with an address
    assert len(plan.expected) == plan.expected_sms + plan.expected_email
    assert not any(key[1].startswith(f"notification#{SUPPRESSED_EVENT.id}") for key in plan.expected)
    assert not any("registration" in key[1] for key in plan.expected)


# The reference's demand record (system-reference.md §2.2/2.3), as the fan-facing system writes it.
WRITER_ATTRIBUTES = frozenset(
    {
        "PK",
        "SK",
        "type",
        "fanId",
        "eventId",
        "saleId",
        "contactMethod",
        "phoneNumber",
        "email",
        "marketId",
        "locale",
    }
)


def test_the_demo_writes_each_opt_in_as_the_fan_facing_system_writes_it() -> None:
    # Given the demo's fans
    plan = _plan(300)

    # When their opt-ins are turned into the items the demo puts into the table
    items = demand_items(plan)

    # Then each carries the writer's attributes only (no index key of the fleet's own), keyed as it keys them
    assert len(items) == len(plan.demand)
    assert set().union(*items) <= WRITER_ATTRIBUTES
    for item in items:
        assert item["type"] == "demand"
        assert item["PK"] == f"fan:{item['fanId']}"
        assert item["SK"] == f"demand#{item['eventId']}-{item['saleId']}"
