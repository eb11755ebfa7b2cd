"""One scheduler run: the window's sales → fresh event details → one generation job per notifiable sale.

Window rule (every 30 minutes on the half hour; lead and width are stack config): the
run's time is snapped to the NEAREST half-hour boundary (the "slot"), and the run notifies sales
starting in [slot + lead, slot + lead + width). A tick at 09:30 with lead 30 and width 30 covers
[10:00, 10:30); the 10:00 tick covers [10:30, 11:00), so consecutive ticks tile the timeline when
the width equals the schedule period. Nearest rather than "round up": a tick delivered at 09:30:01
must still mean the 09:30 slot, not skip to 10:00 and leave [10:00, 10:30) unnotified.

Idempotency: a re-run of the same window enqueues the same jobs again (a standard queue does not
deduplicate), and the generator's conditional creates turn them into nothing new; each job's
`deduplication_id` (sale + window + part) is its correlation id, so duplicates are recognisable.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from workers.notification_scheduler.models import RunSummary, ScheduleWindow
from workers.shared.discovery.cache import CachedEvent, get_and_cache_event_details
from workers.shared.discovery.client import EventSource
from workers.shared.discovery.rules import EventRules
from workers.shared.errors import PermanentError, RetryableError
from workers.shared.messages import GenerationJob
from workers.shared.models import SaleRecord
from workers.shared.observability import LOGGER
from workers.shared.queue_sender import OutgoingMessage, QueueSender
from workers.shared.repository import DemandRepository

SLOT = timedelta(minutes=30)
# The generator reads the cached event after this run: one about to expire (and be deleted by TTL)
# is refreshed now rather than served from the cache.
EVENT_FRESH_FOR = timedelta(hours=2)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def schedule_window(run_time: datetime, *, lead_minutes: int, window_minutes: int) -> ScheduleWindow:
    """[slot + lead, slot + lead + width) where slot is the half-hour boundary nearest to `run_time`."""
    # Half a slot added, then floored: exactly a quarter past rounds up to the next half hour.
    slot = _EPOCH + SLOT * ((run_time.astimezone(UTC) - _EPOCH + SLOT / 2) // SLOT)
    start = slot + timedelta(minutes=lead_minutes)
    return ScheduleWindow(start=start, end=start + timedelta(minutes=window_minutes))


class GenerationEnqueueError(RetryableError):
    """The generation queue rejected jobs even after one retry: the run failed."""


def enqueue_generation_jobs(jobs: Sequence[GenerationJob], queue: QueueSender) -> int:
    """Enqueue the jobs, re-sending once what the queue refuses; GenerationEnqueueError if any stays out."""
    failures = queue.send_batch(
        [OutgoingMessage(job, correlation_id=job.deduplication_id) for job in jobs], resend_rejected=True
    )
    if not failures:
        return len(jobs)
    rejected = [(jobs[index], failures[index]) for index in sorted(failures)]
    for job, failure in rejected:
        LOGGER.error(
            "Generation job rejected by the queue",
            extra={
                "event_id": job.event_id,
                "sale_id": job.sale_id,
                "reason": f"{failure.code}: {failure.message}",
            },
        )
    raise GenerationEnqueueError(
        f"{len(rejected)} of {len(jobs)} generation jobs were rejected by the queue twice: "
        + ", ".join(f"{job.event_id}/{job.sale_id}" for job, _ in rejected[:20])
    )


def _fetch_all(
    event_ids: Sequence[str], fetch: Callable[[str], CachedEvent], *, parallelism: int
) -> dict[str, CachedEvent | Exception]:
    """Each event fetched once, at most `parallelism` at a time; a failure is that event's outcome."""
    from concurrent.futures import ThreadPoolExecutor

    if not event_ids:
        return {}

    def attempt(event_id: str) -> CachedEvent | Exception:
        try:
            return fetch(event_id)
        except Exception as error:  # noqa: BLE001 - one event's failure must not cost the others
            return error

    with ThreadPoolExecutor(
        max_workers=min(parallelism, len(event_ids)), thread_name_prefix="dmd-event"
    ) as pool:
        # Each task runs in a copy of this context: log keys (correlation id) carry over.
        futures = {
            event_id: pool.submit(contextvars.copy_context().run, attempt, event_id) for event_id in event_ids
        }
    return {event_id: future.result() for event_id, future in futures.items()}


@dataclass
class _Tally:
    events_from_cache: int = 0
    events_suppressed: int = 0
    sales_suppressed: int = 0
    sales_withdrawn: int = 0


def _notifiable_sales(
    cached: CachedEvent, found: Iterable[SaleRecord], window: ScheduleWindow, tally: _Tally
) -> list[SaleRecord]:
    """The event's current sales in the window that may be notified; every drop is logged with its reason."""
    event = cached.event
    if event.is_suppressed:
        tally.events_suppressed += 1
        LOGGER.info(
            "Event suppressed; its sales are not notified",
            extra={"event_id": event.id, "reason": event.suppression_reason},
        )
        return []
    current = {sale.id for sale in cached.sales}
    for sale in found:
        if sale.id not in current:
            tally.sales_withdrawn += 1
            LOGGER.info(
                "Sale no longer listed for its event; not notified",
                extra={"event_id": event.id, "sale_id": sale.id},
            )
    notifiable: list[SaleRecord] = []
    for sale in cached.sales:
        if not window.contains(sale.sale_start_date_time):
            continue
        if sale.is_suppressed:
            tally.sales_suppressed += 1
            LOGGER.info(
                "Sale suppressed; not notified",
                extra={"event_id": event.id, "sale_id": sale.id, "reason": sale.suppression_reason},
            )
            continue
        notifiable.append(sale)
    return notifiable


def schedule_notifications(
    window: ScheduleWindow,
    *,
    repository: DemandRepository,
    discovery: EventSource,
    rules: EventRules,
    queue: QueueSender,
    parallelism: int,
    now: datetime,
) -> RunSummary:
    """Enqueue one generation job per notifiable sale starting in the window; summarize the run."""
    # Each distinct event is fetched once (cache-first). A failed fetch drops only that event's
    # sales (logged at ERROR, listed in the summary): raising would make Lambda re-run the whole
    # window, re-sending every other sale's job to the generator for nothing. A queue that keeps
    # rejecting jobs does fail the run (GenerationEnqueueError).
    found = repository.sales_in_window(window.start, window.end)
    by_event: dict[str, list[SaleRecord]] = {}
    for sale in found:
        by_event.setdefault(sale.event_id, []).append(sale)
    LOGGER.info(
        "Sales found in window",
        extra={"window": window.describe(), "sales": len(found), "events": len(by_event)},
    )

    def fetch(event_id: str) -> CachedEvent:
        return get_and_cache_event_details(
            event_id,
            market_id=None,
            repository=repository,
            discovery=discovery,
            rules=rules,
            now=now,
            fresh_for=EVENT_FRESH_FOR,
        )

    outcomes = _fetch_all(sorted(by_event), fetch, parallelism=parallelism)
    tally = _Tally()
    failed: list[str] = []
    jobs: list[GenerationJob] = []
    for event_id, outcome in outcomes.items():
        if isinstance(outcome, Exception):
            failed.append(event_id)
            LOGGER.error(
                "Event details unavailable; its sales are not notified this run",
                extra={
                    "event_id": event_id,
                    "sale_ids": [sale.id for sale in by_event[event_id]],
                    "error_type": type(outcome).__name__,
                    "retryable": not isinstance(outcome, PermanentError),
                    "reason": str(outcome),
                },
            )
            continue
        tally.events_from_cache += outcome.from_cache
        jobs.extend(
            GenerationJob(
                event_id=event_id,
                sale_id=sale.id,
                sale_start_date_time=sale.sale_start_date_time,
                window_start=window.start,
                window_end=window.end,
            )
            for sale in _notifiable_sales(outcome, by_event[event_id], window, tally)
        )

    summary = RunSummary(
        window=window,
        sales_found=len(found),
        events=len(outcomes),
        events_from_cache=tally.events_from_cache,
        events_failed=tuple(failed),
        events_suppressed=tally.events_suppressed,
        sales_suppressed=tally.sales_suppressed,
        sales_withdrawn=tally.sales_withdrawn,
        jobs_enqueued=enqueue_generation_jobs(jobs, queue) if jobs else 0,
    )
    LOGGER.info("Scheduled run finished", extra={"summary": summary.as_dict()})
    return summary
