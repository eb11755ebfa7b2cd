"""`dmd sandbox demo`: fans opt in, the window opens, every reminder goes out, and the run is checked.

What it does, on a fresh sandbox (emulator and fake vendors on free ports):

1. **Seed.** The Discovery fake serves five events (Chicago, Montréal in French, Toronto, a Live
   Nation show in Los Angeles, and one by a suppressed artist). Each is looked up once through
   AppSync `eventDetails` as the fan app would, which caches it and requests its short URL (Bitly).
   N fans then opt in to sales of the coming window (demand records): a mix of locales (en-us, en-ca,
   fr-ca), markets (TM_US, TM_CA, LN_US) and contact methods (sms, email, both), with a few invalid
   numbers (malformed, or well-formed but not in service), some fans of the suppressed artist and
   some for a "Verified Fan Registration" sale (both must produce nothing).
2. **Tick.** Once the sandbox is idle, its clock jumps to the next half hour: EventBridge fires the
   scheduler, which finds the window's sales → generation jobs → notifications → the table stream →
   the sender → SMS service / SES → SMS status events → the status consumer.
3. **Run** until every expected notification is terminal or the deadline passes, with a live view.
4. **Report**: a summary table and a JSON report; the exit code says whether the invariants held.

Email is terminal at TRIGGERED here. SES takes the email (SendTemplatedEmail answers a MessageId) and
the product has no SES event stream: nothing ever moves an email notification past TRIGGERED, in AWS
as in the sandbox. The demo therefore counts an email as delivered when SES accepted it, and the
"nothing stuck" invariant treats TRIGGERED email as terminal (TRIGGERED SMS is not: it waits for
the SMS service's status events).

Sandbox overrides (printed at the start): the functions' vendor URLs point at the fakes' free ports,
the send backoff is 2 s instead of the stack's 30 s (the backoff runs on the workers' wall clock,
which the sandbox clock cannot speed up), the demo's suppressed artist is added to the suppression
list (`SUPPRESSED_ARTIST_IDS`), as an operator would, and with `sms-timeout` faults the vendor
timeout is 2 s instead of 10 s (each timeout holds the send shard that long).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TextIO
from urllib.parse import parse_qs

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sandbox.ledger import Progress, is_terminal_status
from sandbox.pipeline import Pipeline, count_calls
from sandbox.vendors import NO_FAULTS, DiscoverySale, DiscoveryVenue, FaultPlan, discovery_event
from workers.shared.models import ContactMethod, DemandRecord, Key, notification_key, notification_reference

DEFAULT_FANS: Final = 300
DEFAULT_SALES: Final = 4
DEFAULT_SPEED: Final = 10.0
DEFAULT_SEED: Final = 7
DEFAULT_DEADLINE_SECONDS: Final = 90.0
DEFAULT_REPORT: Final = Path("build/sandbox/demo-report.json")
DEFAULT_WORKER_LOG: Final = Path("build/sandbox/demo-workers.log")
DEMO_SEND_BACKOFF_SECONDS: Final = 2
DEMO_VENDOR_TIMEOUT_SECONDS: Final = 2  # only when SMS timeouts are injected
SLOT: Final = timedelta(minutes=30)
SEED_LEAD: Final = timedelta(hours=1)  # the sandbox clock starts this long before the tick
MAX_ATTEMPTS_REASON: Final = "MAX_SEND_ATTEMPTS_EXCEEDED"
_REFRESH_SECONDS: Final = 0.5
# Progress comes from the pipeline's ledger (the table's change stream), not from scanning the table;
# the dead-letter depths it also reads are a few emulator calls.
_CHECK_SECONDS: Final = 1.0
_SHARE_SUPPRESSED_ARTIST: Final = 0.05
_SHARE_REGISTRATION: Final = 0.05
_SHARE_SECOND_SALE: Final = 0.10
_SHARE_MALFORMED_NUMBER: Final = 0.02
_SHARE_UNASSIGNED_NUMBER: Final = 0.02


# --------------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DemoEvent:
    """A seeded event: Discovery facts, the market its fans buy in, and how its fans speak."""

    id: str
    name: str
    artist_id: str
    artist: str
    venue: DiscoveryVenue
    locale: str
    market: str
    segment: str = "Music"
    genre: str = "Rock"
    fan_locales: tuple[tuple[str, float], ...] = (("en-us", 1.0),)
    area_codes: tuple[str, ...] = ("312",)
    sales: tuple[str | None, ...] = (None,)  # names in the order the window uses them; None: public


CHICAGO: Final = DiscoveryVenue(
    id="KovZpZAFnIEA",
    name="United Center",
    city="Chicago",
    state_code="IL",
    state="Illinois",
    country_code="US",
    country="United States Of America",
    timezone="America/Chicago",
    postal_code="60612",
)
MONTREAL: Final = DiscoveryVenue(
    id="KovZpZAEAt6A",
    name="Salle Wilfrid-Pelletier",
    city="Montréal",
    state_code="QC",
    state="Québec",
    country_code="CA",
    country="Canada",
    timezone="America/Toronto",
    postal_code="H2X 1Y9",
)
TORONTO: Final = DiscoveryVenue(
    id="KovZpZAFaJeA",
    name="Scotiabank Arena",
    city="Toronto",
    state_code="ON",
    state="Ontario",
    country_code="CA",
    country="Canada",
    timezone="America/Toronto",
    postal_code="M5J 2X2",
)
LOS_ANGELES: Final = DiscoveryVenue(
    id="KovZpZA6AJ6A",
    name="Hollywood Bowl",
    city="Los Angeles",
    state_code="CA",
    state="California",
    country_code="US",
    country="United States Of America",
    timezone="America/Los_Angeles",
    postal_code="90068",
)
NEW_YORK: Final = DiscoveryVenue(
    id="KovZpZA7AAEA",
    name="Madison Square Garden",
    city="New York",
    state_code="NY",
    state="New York",
    country_code="US",
    country="United States Of America",
    timezone="America/New_York",
    postal_code="10001",
)

NOTIFIABLE_EVENTS: Final = (
    DemoEvent(
        id="G5vYZ9dmdChi",
        name="Maren Holloway: Northern Lights Tour",
        artist_id="K8vZ917dmHo",
        artist="Maren Holloway",
        venue=CHICAGO,
        locale="en-us",
        market="TM_US",
        genre="Pop",
        area_codes=("312", "773", "872"),
        sales=("Verified Fan Presale", None, "Citi® Cardmember Presale"),
    ),
    DemoEvent(
        id="Z7r9jZdmdMtl",
        name="Les Misérables",
        artist_id="K8vZ917dmLm",
        artist="Les Misérables (Touring)",
        venue=MONTREAL,
        locale="fr-ca",
        market="TM_CA",
        segment="Arts & Theatre",
        genre="Theatre",
        fan_locales=(("fr-ca", 0.7), ("en-ca", 0.3)),
        area_codes=("514", "438"),
        sales=(None, "Prévente American Express®"),
    ),
    DemoEvent(
        id="G5vYZ9dmdTor",
        name="The Lumineers",
        artist_id="K8vZ917dmLu",
        artist="The Lumineers",
        venue=TORONTO,
        locale="en-ca",
        market="TM_CA",
        genre="Folk",
        fan_locales=(("en-ca", 0.8), ("fr-ca", 0.2)),
        area_codes=("416", "647"),
        sales=("Artist Presale", None),
    ),
    DemoEvent(
        id="G5vYZ9dmdLax",
        name="Luna Vega: Sol y Sombra",
        artist_id="K8vZ917dmLv",
        artist="Luna Vega",
        venue=LOS_ANGELES,
        locale="en-us",
        market="LN_US",
        genre="Latin",
        area_codes=("213", "310", "323"),
        sales=("Live Nation Presale", None),
    ),
)
SUPPRESSED_EVENT: Final = DemoEvent(
    id="G5vYZ9dmdNyc",
    name="Static Prophets",
    artist_id="K8vZ917dmSp",
    artist="Static Prophets",
    venue=NEW_YORK,
    locale="en-us",
    market="TM_US",
    area_codes=("212", "646"),
)
REGISTRATION_SALE: Final = "Verified Fan Registration"
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


# --------------------------------------------------------------------------------------------------
# Options, plan
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    """What `dmd sandbox demo` was asked for."""

    fans: int = DEFAULT_FANS
    sales: int = DEFAULT_SALES
    faults: FaultPlan = NO_FAULTS
    speed: float = DEFAULT_SPEED
    seed: int = DEFAULT_SEED
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    report_path: Path | None = DEFAULT_REPORT
    worker_log: Path = DEFAULT_WORKER_LOG

    def __post_init__(self) -> None:
        if not 1 <= self.fans <= 50_000:
            raise ValueError(f"fans must be from 1 to 50000, got {self.fans}")
        most = sum(len(event.sales) for event in NOTIFIABLE_EVENTS)
        if not 1 <= self.sales <= most:
            raise ValueError(f"sales must be from 1 to {most} (the demo's catalogue), got {self.sales}")
        if self.speed <= 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")


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
            if not sale.notifiable:
                continue
            for method in demand.contact_methods:
                address = demand.phone_number if method is ContactMethod.SMS else demand.email
                if address:
                    key = notification_key(fan_id, demand.event_id, demand.sale_id, method)
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


# --------------------------------------------------------------------------------------------------
# Snapshots and the live view
# --------------------------------------------------------------------------------------------------


def is_terminal(notification: Mapping[str, Any]) -> bool:
    """DELIVERED or FAILED; an email is terminal at TRIGGERED (SES has no status stream, see above)."""
    return is_terminal_status(str(notification["status"]["id"]), str(notification.get("contactMethod", "")))


@dataclass
class Snapshot:
    """The pipeline's state at one moment, for the live view and the completion check."""

    phase: str
    started: float
    sandbox_time: datetime
    counters: dict[str, Any]
    progress: Progress = field(default_factory=Progress)  # the ledger's counts while running
    notifications: list[dict[str, Any]] = field(default_factory=list)  # the final scan, for the report
    dlq: dict[str, int] = field(default_factory=dict)
    sms_accepted: int = 0
    status_pending: int = 0
    pipeline_seconds: float | None = None  # from the scheduler tick until every notification was terminal

    def settle(self, notifications: list[dict[str, Any]]) -> None:
        """The final state read from the table: the report's truth, counted the same way."""
        self.notifications = notifications
        self.progress = Progress.of(
            (str(item["status"]["id"]), str(item.get("contactMethod", ""))) for item in notifications
        )

    @property
    def by_status(self) -> Counter[str]:
        """Notifications per status (email TRIGGERED shown as accepted)."""
        return self.progress.by_status

    @property
    def terminal(self) -> int:
        """How many notifications are terminal."""
        return self.progress.terminal


def live_view(snapshot: Snapshot, expected: int) -> Group:
    """The live view: phase, per-worker counters, notifications by status, DLQ depth."""
    elapsed = time.monotonic() - snapshot.started
    header = Text.assemble(
        ("dmd sandbox demo ", "bold"),
        (f"· {snapshot.phase} ", "cyan"),
        f"· {elapsed:5.1f} s · sandbox clock {snapshot.sandbox_time:%H:%M:%S} UTC",
    )
    workers = Table(title="workers", title_justify="left", expand=False)
    for column in ("worker", "invocations", "processed", "failed", "filtered", "discarded"):
        workers.add_column(column, justify="left" if column == "worker" else "right")
    for worker, counter in snapshot.counters.items():
        workers.add_row(
            worker,
            str(counter.invocations),
            str(counter.records_processed),
            _red_if(counter.records_failed),
            str(counter.records_filtered),
            _red_if(counter.records_discarded),
        )
    statuses = Table(title=f"notifications ({snapshot.progress.seen}/{expected})", title_justify="left")
    statuses.add_column("status")
    statuses.add_column("count", justify="right")
    for status, count in sorted(snapshot.by_status.items()):
        statuses.add_row(status, str(count))
    statuses.add_row("terminal", f"{snapshot.terminal}/{expected}", style="bold")
    queues = Table(title="dead letters", title_justify="left")
    queues.add_column("queue")
    queues.add_column("depth", justify="right")
    for name, depth in snapshot.dlq.items():
        queues.add_row(name.removeprefix("prd3292-local-us-east-1-"), _red_if(depth))
    footer = Text(
        f"SMS accepted {snapshot.sms_accepted} · status events waiting {snapshot.status_pending}", style="dim"
    )
    return Group(header, workers, statuses, queues, footer)


def _red_if(value: int) -> Text:
    return Text(str(value), style="bold red" if value else "")


# --------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invariant:
    """One property the run must have."""

    name: str
    ok: bool
    detail: str


@dataclass
class DemoReport:
    """What the run did, as JSON, and whether every invariant held (and the final notifications)."""

    document: dict[str, Any]
    invariants: list[Invariant]
    notifications: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return all(invariant.ok for invariant in self.invariants)

    def as_json(self) -> dict[str, Any]:
        """The JSON report."""
        return {
            **self.document,
            "invariants": [vars(invariant) for invariant in self.invariants],
            "ok": self.ok,
        }


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max (nearest rank), seconds rounded to ms; empty when there are no values."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(share: float) -> float:
        return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 3)

    return {"count": len(ordered), "p50": rank(0.5), "p90": rank(0.9), "p99": rank(0.99), "max": rank(1.0)}


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (_parse_time(end) - _parse_time(start)).total_seconds()


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def failure_reason(notification: Mapping[str, Any], max_attempts: int) -> str:
    """Why a notification failed: the vendor's code, or attempts exhausted on transient errors."""
    from workers.shared.sms_service import PERMANENT_REASONS  # lazily: it sets up the workers' logger

    errors = notification.get("errors") or []
    reason = str(errors[-1].get("reason", "UNKNOWN")) if errors else "UNKNOWN"
    code = reason.split(":", 1)[0].strip().upper()
    if code in PERMANENT_REASONS:
        return code
    if int(notification.get("sendAttempts", 0)) >= max_attempts:
        return MAX_ATTEMPTS_REASON
    return code or "UNKNOWN"


def email_sends(bodies: Iterable[str]) -> Counter[tuple[str, str, str]]:
    """SendTemplatedEmail request bodies kept by the emulator, by (recipient, template, template data)."""
    sends: Counter[tuple[str, str, str]] = Counter()
    for text in bodies:
        form = parse_qs(text)
        if form.get("Action") != ["SendTemplatedEmail"]:
            continue
        recipient = (form.get("Destination.ToAddresses.member.1") or [""])[0]
        sends[(recipient, (form.get("Template") or [""])[0], (form.get("TemplateData") or [""])[0])] += 1
    return sends


def build_report(
    pipeline: Pipeline, plan: DemoPlan, options: DemoOptions, snapshot: Snapshot, wall_seconds: float
) -> DemoReport:
    """The JSON report of a finished (or timed-out) run, and its invariants."""
    notifications = snapshot.notifications
    max_attempts = int(pipeline.function_variable("notification_send", "MAX_SEND_ATTEMPTS"))
    keys = {(str(item["PK"]), str(item["SK"])) for item in notifications}
    missing, unexpected = plan.expected - keys, keys - plan.expected
    non_terminal = [item for item in notifications if not is_terminal(item)]
    sent = [item for item in notifications if item.get("messageId")]
    sms_delivered = [item for item in notifications if item["status"]["id"] == "DELIVERED"]
    email_accepted = [
        item
        for item in notifications
        if item["contactMethod"] == "email" and item["status"]["id"] == "TRIGGERED"
    ]
    failed = [item for item in notifications if item["status"]["id"] == "FAILED"]
    calls = pipeline.api_calls()
    sms_duplicates = pipeline.vendors.sms.duplicates()
    email_duplicates = {key: count - 1 for key, count in email_sends(calls.email_bodies).items() if count > 1}
    latency_sms = [
        seconds
        for item in sms_delivered
        if (seconds := _seconds_between(item["date"].get("created"), item["date"].get("delivered")))
        is not None
    ]
    latency_email = [
        seconds
        for item in email_accepted
        if (seconds := _seconds_between(item["date"].get("created"), item["date"].get("triggered")))
        is not None
    ]
    worker_calls = calls.total(by_workers=True)
    delivered = len(sms_delivered) + len(email_accepted)
    discarded = {worker: counter.records_discarded for worker, counter in snapshot.counters.items()}
    dlq_total = sum(snapshot.dlq.values())
    accepted_references = set(pipeline.vendors.sms.accepted)
    tracked_references = {
        notification_reference(Key(str(item["PK"]), str(item["SK"])))
        for item in notifications
        if item["contactMethod"] == "sms" and item.get("messageId")
    }
    document: dict[str, Any] = {
        "run": {
            "fans": options.fans,
            "sales": options.sales,
            "faults": str(options.faults),
            "speed": options.speed,
            "seed": options.seed,
            "tick": plan.tick.isoformat(),
            "window": [plan.window_start.isoformat(), plan.window_end.isoformat()],
            "wallSeconds": round(wall_seconds, 2),
            "pipelineSeconds": round(snapshot.pipeline_seconds, 2) if snapshot.pipeline_seconds else None,
            "fansByKind": dict(plan.fans_by_kind),
            "demandRecords": len(plan.demand),
        },
        "notifications": {
            "expected": len(plan.expected),
            "expectedSms": plan.expected_sms,
            "expectedEmail": plan.expected_email,
            "created": len(notifications),
            "sent": len(sent),
            "delivered": delivered,
            "smsDelivered": len(sms_delivered),
            "emailAcceptedBySes": len(email_accepted),
            "failed": len(failed),
            "failedByReason": dict(Counter(failure_reason(item, max_attempts) for item in failed)),
            "byStatus": dict(snapshot.by_status),
            "nonTerminal": len(non_terminal),
            "missing": len(missing),
            "unexpected": len(unexpected),
        },
        "duplicatesSent": {
            "sms": sum(sms_duplicates.values()),
            "email": sum(email_duplicates.values()),
            "total": sum(sms_duplicates.values()) + sum(email_duplicates.values()),
        },
        "deadLetters": {"total": dlq_total, "byQueue": snapshot.dlq, "discardedByPollers": discarded},
        "latencySeconds": {
            "endToEndSms": percentiles(latency_sms),
            "endToEndEmail": percentiles(latency_email),
            "all": percentiles(latency_sms + latency_email),
        },
        "awsApiCalls": {
            "byWorkers": worker_calls,
            "perDeliveredNotification": round(worker_calls / delivered, 2) if delivered else None,
            "byOperation": dict(count_calls(calls.of_workers()).most_common()),
            "bySandbox": calls.total(by_workers=False),
            "sandboxByOperation": dict(count_calls(calls.of_sandbox()).most_common()),
            "counted": "every AWS call from the scheduler tick to the end (counted by the emulator's server)",
        },
        "workers": {worker: vars(counter) for worker, counter in snapshot.counters.items()},
        "vendors": pipeline.vendors.counters(),
        "sandboxBackgroundErrors": pipeline.background_errors(),
    }
    invariants = [
        Invariant(
            "no duplicate sends",
            not sms_duplicates and not email_duplicates,
            f"{sum(sms_duplicates.values())} SMS and {sum(email_duplicates.values())} emails sent twice",
        ),
        Invariant(
            "every notification terminal",
            not non_terminal and not missing,
            f"{len(non_terminal)} not terminal"
            + (
                f" (e.g. {non_terminal[0]['SK']} in {non_terminal[0]['status']['id']})"
                if non_terminal
                else ""
            ),
        ),
        Invariant(
            "nothing lost",
            not missing and not unexpected and dlq_total == 0 and not any(discarded.values()),
            f"{len(missing)} expected notifications missing, {len(unexpected)} unexpected, "
            f"{dlq_total} records in dead-letter queues, {sum(discarded.values())} discarded by pollers",
        ),
        Invariant(
            "every accepted SMS tracked",
            accepted_references <= tracked_references,
            f"{len(accepted_references - tracked_references)} SMS accepted by the vendor without a messageId "
            "on their notification",
        ),
    ]
    return DemoReport(document, invariants, notifications)


def summary_table(report: DemoReport) -> Table:
    """The end-of-run summary."""
    document = report.document
    notes = document["notifications"]
    table = Table(title="dmd sandbox demo: summary", title_justify="left", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    run = document["run"]
    table.add_row("fans / demand records", f"{run['fans']} / {run['demandRecords']}")
    table.add_row("faults", run["faults"])
    table.add_row("notifications expected / created", f"{notes['expected']} / {notes['created']}")
    table.add_row("sent (vendor accepted)", str(notes["sent"]))
    table.add_row(
        "delivered (SMS delivered + email accepted by SES)",
        f"{notes['delivered']} ({notes['smsDelivered']} + {notes['emailAcceptedBySes']})",
    )
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(notes["failedByReason"].items()))
    table.add_row("failed", f"{notes['failed']}" + (f" ({reasons})" if reasons else ""))
    table.add_row("not terminal", str(notes["nonTerminal"]))
    table.add_row("duplicates sent", str(document["duplicatesSent"]["total"]))
    table.add_row("records in dead-letter queues", str(document["deadLetters"]["total"]))
    latency = document["latencySeconds"]["all"]
    if latency:
        table.add_row(
            "end-to-end latency p50 / p90 / p99 / max (s)",
            f"{latency['p50']} / {latency['p90']} / {latency['p99']} / {latency['max']}",
        )
    calls = document["awsApiCalls"]
    table.add_row(
        "AWS API calls by workers (per delivered)",
        f"{calls['byWorkers']} ({calls['perDeliveredNotification']})",
    )
    if run.get("pipelineSeconds"):
        table.add_row("tick → every notification terminal (s)", str(run["pipelineSeconds"]))
    table.add_row("wall time (s)", str(run["wallSeconds"]))
    for invariant in report.invariants:
        mark = Text("✓ ", style="green") if invariant.ok else Text("✗ ", style="bold red")
        table.add_row(Text.assemble(mark, invariant.name), invariant.detail if not invariant.ok else "ok")
    return table


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def worker_output(path: Path) -> Iterator[TextIO]:
    """Send the workers' JSON logs, metrics and the sandbox's own logs to a file for the run."""
    # The workers' logger writes to the sys.stdout of the moment it is created (first import of
    # their observability module, normally inside the first invocation, so inside the redirect);
    # if it already exists, its handler is pointed at the file for the run.
    path.parent.mkdir(parents=True, exist_ok=True)
    sandbox_logger = logging.getLogger("sandbox")
    observability = sys.modules.get("workers.shared.observability")
    worker_handler = getattr(getattr(observability, "LOGGER", None), "registered_handler", None)
    with path.open("w", encoding="utf-8") as log:
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        sandbox_logger.addHandler(handler)
        propagate, sandbox_logger.propagate = sandbox_logger.propagate, False
        previous = (
            worker_handler.setStream(log) if isinstance(worker_handler, logging.StreamHandler) else None
        )
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield log
        finally:
            if previous is not None and isinstance(worker_handler, logging.StreamHandler):
                worker_handler.setStream(previous)
            sandbox_logger.removeHandler(handler)
            sandbox_logger.propagate = propagate


def run_demo(options: DemoOptions, console: Console) -> DemoReport:
    """Seed, tick, run until every notification is terminal (or the deadline), report."""
    started = time.monotonic()
    screen = Console(file=console.file, force_terminal=console.is_terminal, width=console.width)
    tick = next_tick(datetime.now(UTC))
    overrides = {
        "RETRY_BACKOFF_SECONDS": str(DEMO_SEND_BACKOFF_SECONDS),
        "SUPPRESSED_ARTIST_IDS": SUPPRESSED_EVENT.artist_id,
    }
    if options.faults.rates.get("sms-timeout"):
        # Each injected timeout holds the send shard for the whole vendor timeout (stack: 10 s).
        overrides["VENDOR_TIMEOUT_SECONDS"] = str(DEMO_VENDOR_TIMEOUT_SECONDS)
    screen.print(
        f"[bold]dmd sandbox demo[/]: {options.fans} fans, {options.sales} sales, faults {options.faults}, "
        f"speed ×{options.speed:g}, seed {options.seed}"
    )
    screen.print(
        "[dim]sandbox overrides: vendor URLs → fakes on free ports; "
        f"RETRY_BACKOFF_SECONDS={DEMO_SEND_BACKOFF_SECONDS} (stack: 30); "
        f"SUPPRESSED_ARTIST_IDS={SUPPRESSED_EVENT.artist_id} ({SUPPRESSED_EVENT.artist})"
        + (
            f"; VENDOR_TIMEOUT_SECONDS={DEMO_VENDOR_TIMEOUT_SECONDS}"
            if "VENDOR_TIMEOUT_SECONDS" in overrides
            else ""
        )
        + ". "
        f"Worker logs: {options.worker_log}[/]"
    )
    pipeline = Pipeline(
        port=0,
        stack_vendor_ports=False,
        speed=options.speed,
        start_time=tick - SEED_LEAD,
        faults=NO_FAULTS,  # faults start at the tick (seeding looks events up without them)
        seed=options.seed,
        environment_overrides=overrides,
        configure_environment=False,
    )
    with worker_output(options.worker_log), pipeline:
        snapshot = _run(pipeline, options, tick, screen, started)
        report = build_report(pipeline, snapshot.plan, options, snapshot.state, time.monotonic() - started)
    screen.print()
    screen.print(summary_table(report))
    if options.report_path is not None:
        options.report_path.parent.mkdir(parents=True, exist_ok=True)
        options.report_path.write_text(json.dumps(report.as_json(), indent=2, default=str) + "\n")
        screen.print(f"[dim]JSON report: {options.report_path}[/]")
    return report


def _sleep_showing(show: Any, phase: str, seconds: float) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        time.sleep(_REFRESH_SECONDS)
        show(phase)


@dataclass
class _Finished:
    plan: DemoPlan
    state: Snapshot


def _run(
    pipeline: Pipeline, options: DemoOptions, tick: datetime, screen: Console, started: float
) -> _Finished:
    lead = timedelta(minutes=int(pipeline.function_variable("notification_scheduler", "LEAD_MINUTES")))
    width = timedelta(minutes=int(pipeline.function_variable("notification_scheduler", "WINDOW_MINUTES")))
    start = tick + lead
    plan = DemoPlan(
        tick=tick,
        window_start=start,
        window_end=start + width,
        window_sales=window_sales(options, start, start + width),
    )
    state = Snapshot("seeding", started, pipeline.clock.now_datetime(), pipeline.sandbox.counters())
    # No stdout/stderr redirect: on a terminal Live would route them (the workers' logs, redirected
    # to the log file by `worker_output`) back onto the screen.
    live = Live(
        live_view(state, len(plan.expected)),
        console=screen,
        refresh_per_second=4,
        transient=False,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with live:

        def show(phase: str, *, check: bool = False) -> None:
            state.phase = phase
            state.sandbox_time = pipeline.clock.now_datetime()
            state.counters = pipeline.sandbox.counters()
            state.sms_accepted = sum(pipeline.vendors.sms.accepted.values())
            state.status_pending = pipeline.vendors.publisher.pending
            if check:
                state.progress = pipeline.ledger.progress()
                state.dlq = pipeline.dlq_depths()
            live.update(live_view(state, len(plan.expected)))

        # 1. Seed: events looked up as the fan app would (cache + short URL), then the fans' demand.
        _seed(pipeline, plan, options, show)

        # 2. The tick: the scheduler's window opens; faults and API-call counting start with it.
        pipeline.start_counting_api_calls()
        pipeline.vendors.configure_faults(options.faults, anchor=tick.timestamp())
        pipeline.clock.advance_to(tick)
        ticked = time.monotonic()
        give_up = ticked + options.deadline_seconds
        if not plan.expected:
            # Nothing should come out: give the scheduler and generator the time to prove it.
            pipeline.sandbox.wait_until_idle(stable_for=2.0, deadline=options.deadline_seconds)
        while True:
            show("sending", check=True)
            seen = state.progress.seen
            done = seen >= len(plan.expected) and state.terminal == seen
            if done:
                state.pipeline_seconds = time.monotonic() - ticked
            if done or time.monotonic() >= give_up:
                break
            _sleep_showing(show, "sending", _CHECK_SECONDS)
        # Let the stragglers (late status events, filtered change records) reach the counters.
        pipeline.sandbox.wait_until_idle(stable_for=0.5, deadline=5.0)
        show("done" if done else "deadline passed", check=True)
        state.settle(pipeline.notifications())  # everything, for the report
    return _Finished(plan, state)


def _seed(pipeline: Pipeline, plan: DemoPlan, options: DemoOptions, show: Callable[[str], None]) -> None:
    """Discovery serves the window's events; each is looked up through AppSync; the fans opt in."""
    tick = plan.tick
    for payload in discovery_payloads(plan.window_sales, week_later=tick + timedelta(days=7)):
        pipeline.vendors.discovery.add(payload)
    sale_ids: dict[tuple[str, str | None], str] = {}
    for event in (*NOTIFIABLE_EVENTS, SUPPRESSED_EVENT):
        answer = pipeline.sandbox.query(
            "eventDetails", {"eventId": event.id, "tmMarketId": event.market}, selection_set=["eventId"]
        )
        details = (answer.get("data") or {}).get("eventDetails")
        if details is None:
            raise RuntimeError(f"eventDetails failed for {event.id}: {answer.get('errors')}")
        for sale in details["sales"]:
            name = None if sale["id"] == "public" else sale["name"]
            sale_ids[(event.id, name)] = sale["id"]
    show("shortening event URLs")
    notifiable_events = {sale.event.id for sale in plan.window_sales if sale.notifiable}
    shortened = pipeline.sandbox.run_until(
        lambda: all(
            (pipeline.item(f"event:{event_id}", "event#details") or {}).get("shortUrl")
            for event_id in notifiable_events
        ),
        deadline=options.deadline_seconds,
    )
    if not shortened:
        raise RuntimeError(f"the events' short URLs were not there within {options.deadline_seconds:g} s")
    plan_demand(plan, options, sale_ids)
    pipeline.vendors.sms.unassigned_numbers |= plan.unassigned_numbers
    pipeline.put_items(demand.to_item() for demand in plan.demand)
    show("waiting for the sandbox to settle")
    if not pipeline.sandbox.wait_until_idle(deadline=options.deadline_seconds):
        raise RuntimeError(f"the sandbox did not settle within {options.deadline_seconds:g} s of seeding")
