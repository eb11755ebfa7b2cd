"""The demo run: seed the window, tick the sandbox clock, follow the pipeline to the end, report."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from rich.console import Console
from rich.live import Live

from infra.naming import Naming
from sandbox.demo.catalogue import NOTIFIABLE_EVENTS, SUPPRESSED_EVENT
from sandbox.demo.display import live_view, summary_table
from sandbox.demo.drills import apply_drills
from sandbox.demo.options import DemoOptions
from sandbox.demo.plan import (
    DemoPlan,
    demand_items,
    discovery_payloads,
    next_tick,
    plan_demand,
    window_sales,
)
from sandbox.demo.poison import poison_demand
from sandbox.demo.report import DemoReport, build_report
from sandbox.demo.restart_drill import RestartDrill, extend_report
from sandbox.demo.snapshot import Snapshot
from sandbox.drill_faults import POISON
from sandbox.pipeline import Pipeline, PipelineMode
from sandbox.vendors import NO_FAULTS
from sandbox.worker_log import worker_output

DEMO_SEND_BACKOFF_SECONDS: Final = 2
DEMO_BREAKER_COOLDOWN_SECONDS: Final = 2  # scaled down with the backoff (stack: 10)
DEMO_VENDOR_TIMEOUT_SECONDS: Final = 2  # only when SMS timeouts are injected
SEED_LEAD: Final = timedelta(hours=1)  # the sandbox clock starts this long before the tick
# No notification exists before the tick, so the sweeper's runs in the hour the clock jumps over would
# find nothing; replayed back to back at the tick they would take turns with the sale's first seconds
# (on sale day the sweeper runs once a minute). The demo starts its schedule at the tick instead.
SWEEPER: Final = "notification_sweeper"
_REFRESH_SECONDS: Final = 0.5
# Progress comes from the pipeline's ledger (the table's change stream), not from scanning the table;
# the dead-letter depths it also reads are a few emulator calls.
_CHECK_SECONDS: Final = 1.0


def run_demo(options: DemoOptions, console: Console) -> DemoReport:
    """Seed, tick, run until every notification is terminal (or the deadline), report."""
    started = time.monotonic()
    screen = Console(file=console.file, force_terminal=console.is_terminal, width=console.width)
    tick = next_tick(datetime.now(UTC))
    overrides = {
        "RETRY_BACKOFF_SECONDS": str(DEMO_SEND_BACKOFF_SECONDS),
        "BREAKER_COOLDOWN_SECONDS": str(DEMO_BREAKER_COOLDOWN_SECONDS),
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
        f"BREAKER_COOLDOWN_SECONDS={DEMO_BREAKER_COOLDOWN_SECONDS} (stack: 10); "
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
        mode=PipelineMode.PRIVATE,
        speed=options.speed,
        start_time=tick - SEED_LEAD,
        faults=NO_FAULTS,  # faults start at the tick (seeding looks events up without them)
        seed=options.seed,
        environment_overrides=overrides,
        ship_logs=options.ship_logs,
    )
    with worker_output(options.worker_log) as worker_log, pipeline:
        snapshot = _run(pipeline, options, tick, screen, started)
        worker_log.flush()  # the report reads the generator's skipped-record lines back (poison drill)
        report = build_report(pipeline, snapshot.plan, options, snapshot.state, time.monotonic() - started)
        extend_report(report, pipeline, options.faults, snapshot.restart, snapshot.state.counters)
    screen.print()
    screen.print(summary_table(report))
    if options.report_path is not None:
        options.report_path.parent.mkdir(parents=True, exist_ok=True)
        options.report_path.write_text(json.dumps(report.as_json(), indent=2, default=str) + "\n")
        screen.print(f"[dim]JSON report: {options.report_path}[/]")
    return report


def _sleep_showing(show: Callable[[str], None], phase: str, seconds: float) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        time.sleep(min(_REFRESH_SECONDS, max(0.0, until - time.monotonic())))
        show(phase)


@dataclass
class _Finished:
    plan: DemoPlan
    state: Snapshot
    restart: RestartDrill | None = None


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
    state.name_prefix = (
        f"{Naming(environment=pipeline.stack.environment, region=pipeline.stack.region).prefix}-"
    )
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
        apply_drills(pipeline, options.faults, seed=options.seed)  # ddb-throttle, timeout
        restart = RestartDrill.planned(options.faults, tick)  # emulator-restart
        for schedule in pipeline.sandbox.schedules_of(SWEEPER):
            schedule.pass_over(tick)
        pipeline.clock.advance_to(tick)
        ticked = time.monotonic()
        give_up = ticked + options.deadline_seconds
        if not plan.expected:
            # Nothing should come out: give the scheduler and generator the time to prove it.
            pipeline.sandbox.wait_until_idle(stable_for=2.0, deadline=options.deadline_seconds)
        while True:
            show("sending", check=True)
            seen = state.progress.seen
            notified = seen >= len(plan.expected) and state.terminal == seen
            if notified and state.pipeline_seconds is None:
                state.pipeline_seconds = time.monotonic() - ticked
            if restart is not None and restart.due(pipeline.clock.now()):
                show("emulator restarting")  # from this thread: it started the emulator
                restart.run(pipeline)
                continue
            done = notified and (restart is None or restart.finished)
            if done or time.monotonic() >= give_up:
                break
            pause = _CHECK_SECONDS
            if restart is not None and not restart.finished:  # on time, not up to a check late
                until = pipeline.clock.real_seconds(restart.due_at - pipeline.clock.now())
                pause = min(pause, max(until, _REFRESH_SECONDS / 10))
            _sleep_showing(show, "sending", pause)
        # Let the stragglers (late status events, filtered change records) reach the counters.
        pipeline.sandbox.wait_until_idle(stable_for=0.5, deadline=5.0)
        show("done" if done else "deadline passed", check=True)
        state.settle(pipeline.notifications())  # everything, for the report
    return _Finished(plan, state, restart)


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
        if details is None or details.get("error"):
            failure = details["error"] if details else answer.get("errors")
            raise RuntimeError(f"eventDetails failed for {event.id}: {failure}")
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
    poison_demand(plan, rate=options.faults.rates.get(POISON, 0.0), seed=options.seed)
    pipeline.vendors.sms.unassigned_numbers |= plan.unassigned_numbers
    pipeline.put_items(demand_items(plan))
    show("waiting for the sandbox to settle")
    if not pipeline.sandbox.wait_until_idle(deadline=options.deadline_seconds):
        raise RuntimeError(f"the sandbox did not settle within {options.deadline_seconds:g} s of seeding")
