"""The demo's plan: the scheduler window it seeds, what Discovery serves, the fans' demand and its outcome."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sandbox.demo.catalogue import NOTIFIABLE_EVENTS, REGISTRATION_SALE, SUPPRESSED_EVENT, DemoEvent
from sandbox.demo.options import DemoOptions
from sandbox.vendors import DiscoverySale, discovery_event
from workers.shared.models import ContactMethod, DemandRecord, notification_key

if TYPE_CHECKING:
    from sandbox.demo.poison import PoisonRecord

SLOT: Final = timedelta(minutes=30)
_SHARE_SUPPRESSED_ARTIST: Final = 0.05
_SHARE_REGISTRATION: Final = 0.05
_SHARE_SECOND_SALE: Final = 0.10
_SHARE_MALFORMED_NUMBER: Final = 0.02
_SHARE_UNASSIGNED_NUMBER: Final = 0.02
_FIRST_NAMES: Final = (
    "ava",
    "noah",
    "emma",
    "liam",
    "chloe",
    "lucas",
    "maya",
    "theo",
    "zoe",
    "leo",
    "ines",
    "omar",
)
_LAST_NAMES: Final = (
    "martin",
    "tremblay",
    "nguyen",
    "garcia",
    "roy",
    "smith",
    "gagnon",
    "lee",
    "cote",
    "patel",
)


@dataclass(frozen=True)
class WindowSale:
    """A sale of the scheduler window the demo seeds: its event, Discovery name and start."""

    event: DemoEvent
    name: str | None
    starts: datetime
    notifiable: bool = True


@dataclass
class DemoPlan:
    """The seeded world: events, sales in the window, the fans' demand and what must come of it."""

    tick: datetime
    window_start: datetime
    window_end: datetime
    window_sales: list[WindowSale]
    demand: list[DemandRecord] = field(default_factory=list)
    unassigned_numbers: set[str] = field(default_factory=set)
    expected: set[tuple[str, str]] = field(default_factory=set)  # notification keys
    expected_sms: int = 0
    expected_email: int = 0
    fans_by_kind: Counter[str] = field(default_factory=Counter)
    poison: list[PoisonRecord] = field(default_factory=list)  # the `poison` drill's malformed records


def next_tick(now: datetime) -> datetime:
    """The first half-hour boundary strictly after `now` (UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + SLOT * ((now.astimezone(UTC) - epoch) // SLOT + 1)


def window_sales(options: DemoOptions, start: datetime, end: datetime) -> list[WindowSale]:
    """The window's sales: `options.sales` notifiable ones spread over it, a registration, a suppressed."""
    chosen: list[tuple[DemoEvent, str | None]] = []
    depth = 0
    while len(chosen) < options.sales:
        for event in NOTIFIABLE_EVENTS:
            if depth < len(event.sales) and len(chosen) < options.sales:
                chosen.append((event, event.sales[depth]))
        depth += 1
    step = (end - start) / (len(chosen) + 3)
    sales = [
        WindowSale(event, name, _minute(start + step * (index + 1)))
        for index, (event, name) in enumerate(chosen)
    ]
    sales.append(
        WindowSale(NOTIFIABLE_EVENTS[0], REGISTRATION_SALE, _minute(start + step / 2), notifiable=False)
    )
    sales.append(WindowSale(SUPPRESSED_EVENT, None, _minute(start + step * 2), notifiable=False))
    return sales


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def discovery_payloads(sales: Sequence[WindowSale], *, week_later: datetime) -> list[dict[str, Any]]:
    """Each event's Discovery payload: its window sales, plus its other sales a week later."""
    payloads = []
    for event in (*NOTIFIABLE_EVENTS, SUPPRESSED_EVENT):
        in_window = [sale for sale in sales if sale.event.id == event.id]
        names = {sale.name for sale in in_window}
        later = [
            DiscoverySale(name=name, starts=week_later + timedelta(hours=index))
            for index, name in enumerate(event.sales)
            if name not in names
        ]
        payloads.append(
            discovery_event(
                event_id=event.id,
                name=event.name,
                artist_id=event.artist_id,
                artist=event.artist,
                venue=event.venue,
                starts=week_later + timedelta(days=60),
                sales=[DiscoverySale(name=sale.name, starts=sale.starts) for sale in in_window] + later,
                locale=event.locale,
                segment=event.segment,
                genre=event.genre,
            )
        )
    return payloads


def demo_catalogue(now: datetime, *, lead: timedelta = SLOT, width: timedelta = SLOT) -> list[dict[str, Any]]:
    """The demo's Discovery events, with sales in the scheduler window after the next half hour."""
    start = next_tick(now) + lead
    sales = window_sales(DemoOptions(report_path=None), start, start + width)
    return discovery_payloads(sales, week_later=start + timedelta(days=7))


def plan_demand(plan: DemoPlan, options: DemoOptions, sale_ids: Mapping[tuple[str, str | None], str]) -> None:
    """N fans' opt-ins (seeded RNG), and the notification keys they must produce."""
    rng = random.Random(options.seed)  # noqa: S311 - reproducible test data, not secrets
    notifiable = [sale for sale in plan.window_sales if sale.notifiable]
    registration = next(sale for sale in plan.window_sales if sale.name == REGISTRATION_SALE)
    suppressed = next(sale for sale in plan.window_sales if sale.event is SUPPRESSED_EVENT)
    for number in range(1, options.fans + 1):
        fan_id = f"fan-{number:05d}"
        draw = rng.random()
        if draw < _SHARE_SUPPRESSED_ARTIST:
            sales, kind = [suppressed], "suppressed artist"
        elif draw < _SHARE_SUPPRESSED_ARTIST + _SHARE_REGISTRATION:
            sales, kind = [registration], "registration sale"
        else:
            sales = [rng.choice(notifiable)]
            kind = "notifiable sale"
            if len(notifiable) > 1 and rng.random() < _SHARE_SECOND_SALE:
                sales.append(rng.choice([sale for sale in notifiable if sale is not sales[0]]))
                kind = "two notifiable sales"
        plan.fans_by_kind[kind] += 1
        contact = _contact(rng, fan_id, sales[0].event, plan)
        for sale in sales:
            demand = DemandRecord(
                fan_id=fan_id,
                event_id=sale.event.id,
                sale_id=sale_ids[(sale.event.id, sale.name)],
                market_id=sale.event.market,
                locale=_weighted(rng, sale.event.fan_locales),
                **contact,
            )
            plan.demand.append(demand)
            if sale.notifiable:
                _expect(plan, demand)


def demand_items(plan: DemoPlan) -> list[dict[str, Any]]:
    """The fans' opt-ins as plain items, as the fan-facing system writes them (docs/contracts/demand.md)."""
    # DemandRecord writes the reference's attributes only (PK, SK, type, fanId, eventId, saleId,
    # contactMethod, phoneNumber?, email?, marketId, locale): nothing the fan-facing system would not.
    return [demand.to_item() for demand in plan.demand] + [record.item for record in plan.poison]


def _expect(plan: DemoPlan, demand: DemandRecord) -> None:
    """Count the notifications a notifiable opt-in must produce: one per method with an address."""
    for method in demand.contact_methods:
        address = demand.phone_number if method is ContactMethod.SMS else demand.email
        if address:
            key = notification_key(demand.fan_id, demand.event_id, demand.sale_id, method)
            plan.expected.add((key.pk, key.sk))
            if method is ContactMethod.SMS:
                plan.expected_sms += 1
            else:
                plan.expected_email += 1


def _contact(rng: random.Random, fan_id: str, event: DemoEvent, plan: DemoPlan) -> dict[str, Any]:
    draw = rng.random()
    methods = "sms" if draw < 0.45 else "email" if draw < 0.70 else "sms,email"
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    contact: dict[str, Any] = {"contact_method": methods}
    if "email" in methods:
        contact["email"] = f"{first}.{last}.{fan_id[-5:]}@fans.example.com"
    if "sms" in methods:
        area, exchange, line = rng.choice(event.area_codes), rng.randint(201, 989), rng.randint(0, 9999)
        exchange = 556 if exchange == 555 else exchange
        number = f"+1{area}{exchange}{line:04d}"
        kind = rng.random()
        if kind < _SHARE_MALFORMED_NUMBER:
            number = f"({area}) {exchange}-{line:04d}"  # entered without country code: not E.164
        elif kind < _SHARE_MALFORMED_NUMBER + _SHARE_UNASSIGNED_NUMBER:
            number = f"+1{area}5550{rng.randint(100, 199)}"  # well-formed, not in service
            plan.unassigned_numbers.add(number)
        contact["phone_number"] = number
    return contact


def _weighted(rng: random.Random, choices: Sequence[tuple[str, float]]) -> str:
    draw, threshold = rng.random() * sum(weight for _, weight in choices), 0.0
    for value, weight in choices:
        threshold += weight
        if draw < threshold:
            return value
    return choices[-1][0]
