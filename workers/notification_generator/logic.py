"""One notification per fan, sale and contact method, page by page, resumable through continuation jobs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from workers.notification_generator.models import (
    Brand,
    GenerationJob,
    GenerationOutcome,
    GenerationStatus,
    ReminderUrlSource,
    SaleMessage,
    SkipReason,
    brand_for_market,
    is_public_sale,
)
from workers.notification_generator.render import (
    LocaleCode,
    SmsTooLongError,
    email_template_variables,
    render_sms,
)
from workers.shared.errors import PermanentError, RetryableError
from workers.shared.keys import DEFAULT_RELEASE_AFTER
from workers.shared.models import (
    ContactMethod,
    DemandRecord,
    EventRecord,
    NotificationRecord,
    SaleRecord,
    format_sale_time,
)
from workers.shared.observability import (
    DEMAND_DEVIATIONS,
    LOGGER,
    NOTIFICATIONS_CREATED,
    NOTIFICATIONS_DUPLICATE,
    REMINDER_URL,
    SALES_EXPIRED,
    SALES_WITHOUT_DEMAND,
    count,
    quiet_spans,
    span,
)
from workers.shared.short_links import with_tracking

if TYPE_CHECKING:
    from workers.shared.repository import DemandPage, DemandRepository, SkippedDemand
    from workers.shared.short_links import UrlShortener

# Reminders a fan did not get by one method (dimension `reason`: a SkipReason value).
NOTIFICATIONS_SKIPPED = "NotificationsSkipped"


class InvalidEventError(PermanentError):
    """The cached event cannot be turned into a reminder (e.g. its timezone is unknown)."""


class DemandNotParkedError(RetryableError):
    """A malformed demand item could not be parked: the job fails and comes back (nothing is lost)."""


# Parks one malformed demand item with the job that re-drives it; False when the queue did not take it.
ParkDemand = Callable[["SkippedDemand", GenerationJob], bool]


@dataclass(frozen=True)
class Deadline:
    """The invocation's time budget: stop paging when less than the margin remains."""

    remaining_millis: Callable[[], int]
    margin_seconds: float

    def is_near(self) -> bool:
        """Whether the remaining time has dropped under the margin."""
        return self.remaining_millis() < self.margin_seconds * 1000


def reminder_url(
    event: EventRecord, *, repository: DemandRepository, shortener: UrlShortener
) -> tuple[str, ReminderUrlSource]:
    """The link of a sale's reminders: the cached short URL, else one bounded Bitly call, else the full URL.

    Never raises for Bitly: waiting for a short URL would make the reminders late (NR-004 yields to
    REQ-001). A link shortened here is stored on the event for the sale's continuation jobs and the
    event's other sales; the shortener worker then finds it there.
    """
    if event.short_url:
        return event.short_url, ReminderUrlSource.CACHED_SHORT_URL
    try:
        bitlink = shortener.shorten(with_tracking(event.url))
    except Exception as error:  # noqa: BLE001 - Bitly, its secret or a bad URL: the fans still get the full URL
        LOGGER.warning(
            "Event has no short URL and Bitly gave none in time; the reminders carry the full URL",
            extra={"event_id": event.id, "error_type": type(error).__name__, "reason": str(error)[:300]},
        )
        return event.url, ReminderUrlSource.FULL_URL
    if not repository.set_short_url(event.id, bitlink.link):
        # Bitly keeps one link per long URL, so the one stored meanwhile is this one.
        LOGGER.info(
            "Short URL not stored: the event has one already or is gone", extra={"event_id": event.id}
        )
    return bitlink.link, ReminderUrlSource.SHORTENED_NOW


def sale_message(event: EventRecord, sale: SaleRecord, *, url: str) -> SaleMessage:
    """The reminder facts of a sale, carrying `url` (see `reminder_url`)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(event.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidEventError(f"event {event.id} has an unknown timezone {event.timezone!r}") from None
    attraction = event.attractions[0].name if event.attractions else None
    return SaleMessage(
        event_id=event.id,
        sale_id=sale.id,
        sale_name=sale.name,
        artist_name=event.artist_name or attraction or event.name,
        presale_name=None if is_public_sale(sale) else sale.name,
        venue_name=event.venue_name,
        venue_city=event.venue_city,
        venue_state_code=event.venue_state_code,
        url=url,
        timezone=zone,
        sale_start=sale.sale_start_date_time,
        event_start=event.event_start_date_time,
    )


class SaleReminders:
    """A sale's SMS bodies and email variables, rendered once per locale and brand."""

    def __init__(self, message: SaleMessage) -> None:
        self.message = message
        self._sms: dict[tuple[LocaleCode, Brand], str | None] = {}
        self._email: dict[tuple[LocaleCode, Brand], dict[str, str]] = {}

    def sms_body(self, locale: LocaleCode, brand: Brand) -> str | None:
        """The SMS text, or None when no shortening fits one segment (logged once)."""
        key = (locale, brand)
        if key not in self._sms:
            try:
                self._sms[key] = render_sms(self.message, locale=locale, brand=brand)
            except SmsTooLongError as error:
                LOGGER.warning(
                    "SMS reminder does not fit one segment; no SMS for this locale and brand",
                    extra={
                        "locale": locale,
                        "brand": brand.value,
                        "length": error.length,
                        "encoding": error.encoding.value,
                        "reason": str(error),
                    },
                )
                self._sms[key] = None
        return self._sms[key]

    def email_variables(self, locale: LocaleCode, brand: Brand) -> dict[str, str]:
        """The SES template variables."""
        key = (locale, brand)
        if key not in self._email:
            self._email[key] = email_template_variables(self.message, locale=locale, brand=brand)
        return self._email[key]


def notifications_for(
    demand: DemandRecord,
    *,
    event_locale: LocaleCode,
    reminders: SaleReminders,
    at: datetime,
    outcome: GenerationOutcome,
    release_after: timedelta = DEFAULT_RELEASE_AFTER,
) -> list[NotificationRecord]:
    """The fan's new notifications, one per contact method it can be reached by."""
    # The fan's own locale wins; a demand record written without one, or with one the fleet has no
    # messages for (read_demand leaves it unset), gets the event's.
    locale: LocaleCode = demand.locale if "locale" in demand.model_fields_set else event_locale
    brand = brand_for_market(demand.market_id)
    message = reminders.message
    common = {
        "fan_id": demand.fan_id,
        "event_id": message.event_id,
        "sale_id": message.sale_id,
        "sale_name": message.sale_name,
        "locale": locale,
        "market_id": demand.market_id,
        "sale_start_date_time": message.sale_start,
    }
    records: list[NotificationRecord] = []
    for method in demand.contact_methods:
        if method is ContactMethod.SMS:
            if not demand.phone_number:
                outcome.skip(SkipReason.MISSING_PHONE_NUMBER)
                continue
            body = reminders.sms_body(locale, brand)
            if body is None:
                outcome.skip(SkipReason.SMS_TOO_LONG)
                continue
            records.append(
                NotificationRecord.created(
                    at=at,
                    release_after=release_after,
                    contact_method=method,
                    phone_number=demand.phone_number,
                    message_body=body,
                    **common,
                )
            )
        else:
            if not demand.email:
                outcome.skip(SkipReason.MISSING_EMAIL)
                continue
            records.append(
                NotificationRecord.created(
                    at=at,
                    release_after=release_after,
                    contact_method=method,
                    email=demand.email,
                    template_variables=reminders.email_variables(locale, brand),
                    **common,
                )
            )
    return records


def _reason_to_skip(job: GenerationJob, event: EventRecord | None, sale: SaleRecord | None) -> str | None:
    if event is None:
        return "event is not cached"
    if sale is None:
        return "sale is not cached"
    if event.is_suppressed:
        return f"event is suppressed ({event.suppression_reason or 'no reason recorded'})"
    if sale.is_suppressed:
        return f"sale is suppressed ({sale.suppression_reason or 'no reason recorded'})"
    if sale.sale_start_date_time != job.sale_start_date_time.replace(microsecond=0):
        # Reminding now would be early; the scheduler enqueues the sale again in its new window.
        return f"sale was rescheduled to {format_sale_time(sale.sale_start_date_time)}"
    return None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _too_late(sale: SaleRecord, at: datetime, late_grace: timedelta) -> str | None:
    """Why no reminder of the sale may be created at `at` (its start plus the grace has passed), else None."""
    if at <= sale.sale_start_date_time + late_grace:
        return None
    minutes = late_grace.total_seconds() / 60
    return f"sale started at {format_sale_time(sale.sale_start_date_time)}, more than {minutes:g} min ago"


def _sale_reminders(
    event: EventRecord, sale: SaleRecord, *, repository: DemandRepository, shortener: UrlShortener
) -> SaleReminders:
    url, source = reminder_url(event, repository=repository, shortener=shortener)
    count(REMINDER_URL, source=source.value)
    LOGGER.info("Reminder link chosen", extra={"event_id": event.id, "url": url, "source": source.value})
    return SaleReminders(sale_message(event, sale, url=url))


def _expired(job: GenerationJob, reason: str, outcome: GenerationOutcome) -> GenerationOutcome:
    # A fan must not get "on sale at 10:00" at 11:00; the alarm on SalesExpired makes it visible.
    count(SALES_EXPIRED)
    LOGGER.warning(
        "Sale already started; no more reminders are created for it",
        extra={"event_id": job.event_id, "sale_id": job.sale_id, "part": job.part, "reason": reason},
    )
    outcome.status = GenerationStatus.EXPIRED
    outcome.reason = reason
    return outcome


def _take_page(
    outcome: GenerationOutcome, page: DemandPage, park: ParkDemand | None, job: GenerationJob
) -> None:
    """Count a page read and park its skipped demand items (DemandNotParkedError at the first refused)."""
    outcome.pages += 1
    outcome.demand_items += page.items
    outcome.add_deviations(page.deviations)
    if park is None:
        return
    for item in page.skipped:
        if not park(item, job):
            raise DemandNotParkedError(f"demand item {' '.join(item.key.values())} could not be parked")
        outcome.parked += 1


def generate(
    job: GenerationJob,
    repository: DemandRepository,
    *,
    page_size: int,
    write_parallelism: int,
    deadline: Deadline,
    continue_with: Callable[[GenerationJob], None],
    shortener: UrlShortener,
    late_grace: timedelta,
    release_after: timedelta = DEFAULT_RELEASE_AFTER,
    now: Callable[[], datetime] = _utc_now,
    park: ParkDemand | None = None,
) -> GenerationOutcome:
    """Create the sale's notifications from `job.cursor` on; hand the rest to a continuation job in time.

    Conditional creates make a redelivered job or a re-run window create nothing twice. Nothing is
    created once the sale started more than `late_grace` ago. Each notification is listed as pending
    until `release_after` after its creation (the sweeper's bound, docs/notification-send.md).
    With `park`, each demand item no reminder can come from (malformed, no supported contact method)
    is parked as its page is read, with this job from that page on (re-sending it re-drives the item
    once fixed); one not parked fails the job (DemandNotParkedError: it comes back, nothing is lost).
    """
    event = repository.get_event(job.event_id)
    sale = repository.get_sale(job.event_id, job.sale_id)
    reason = _reason_to_skip(job, event, sale)
    if reason is not None or event is None or sale is None:
        # Succeeding here is deliberate: a deleted or suppressed event must not loop on the queue.
        # A missing cache entry is unexpected (warning); suppression and reschedules are routine.
        log = LOGGER.warning if event is None or sale is None else LOGGER.info
        log(
            "Nothing to generate for this sale",
            extra={"event_id": job.event_id, "sale_id": job.sale_id, "part": job.part, "reason": reason},
        )
        return GenerationOutcome(status=GenerationStatus.SKIPPED, reason=reason)
    outcome = GenerationOutcome(status=GenerationStatus.COMPLETED)
    late = _too_late(sale, now(), late_grace)
    if late is not None:
        return _expired(job, late, outcome)
    reminders = _sale_reminders(event, sale, repository=repository, shortener=shortener)
    cursor = job.cursor
    try:
        while True:
            page = repository.demand_for_sale(job.event_id, job.sale_id, page_size=page_size, cursor=cursor)
            # The job from this page on re-drives a parked item (parked first: the page's writes are
            # idempotent, so a job failed by a refused park redoes nothing twice).
            _take_page(outcome, page, park, job.model_copy(update={"cursor": cursor}))
            cursor = page.cursor
            at = now()
            # A long sale (or a slow table) can cross the sale's start mid-job.
            late = _too_late(sale, at, late_grace)
            if late is not None:
                _expired(job, late, outcome)
                break
            records = [
                record
                for demand in page.records
                for record in notifications_for(
                    demand,
                    event_locale=event.locale,
                    reminders=reminders,
                    at=at,
                    outcome=outcome,
                    release_after=release_after,
                )
            ]
            with span("create notifications", attributes={"dmd.items": len(records)}) as page_span:
                with quiet_spans():  # one span per page, not one per conditional write
                    counts = repository.create_notifications(records, parallelism=write_parallelism)
                page_span.set_attribute("dmd.created", counts.created)
                page_span.set_attribute("dmd.duplicates", counts.duplicates)
            outcome.created += counts.created
            outcome.duplicates += counts.duplicates
            if cursor is None:
                break
            # Checked after a page, never before the first: every job makes progress.
            if deadline.is_near():
                continuation = job.model_copy(update={"cursor": cursor, "part": job.part + 1})
                continue_with(continuation)
                outcome.status = GenerationStatus.CONTINUED
                outcome.continuation = continuation
                break
    finally:
        # Emitted even when a page fails: what was written is counted.
        count(NOTIFICATIONS_CREATED, outcome.created)
        count(NOTIFICATIONS_DUPLICATE, outcome.duplicates)
        for skip_reason, skipped in sorted(outcome.skipped.items()):
            count(NOTIFICATIONS_SKIPPED, skipped, reason=skip_reason.value)
        for deviation, found in sorted(outcome.deviations.items()):
            count(DEMAND_DEVIATIONS, found, reason=deviation.value)
    if job.cursor is None and outcome.status is GenerationStatus.COMPLETED and outcome.demand_items == 0:
        # Every page of a notifiable sale and not one opt-in: a sale nobody wants is possible, but
        # so is demand the index cannot see (the writer changed its keys, a renamed presale), and
        # 0 reminders must never be silent.
        count(SALES_WITHOUT_DEMAND)
        LOGGER.warning(
            "Notifiable sale found no demand",
            extra={"event_id": job.event_id, "sale_id": job.sale_id, "sale_name": sale.name},
        )
    LOGGER.info(
        "Generation finished",
        extra={
            "event_id": job.event_id,
            "sale_id": job.sale_id,
            "part": job.part,
            "status": outcome.status.value,
            "pages": outcome.pages,
            "notifications_created": outcome.created,
            "notifications_duplicate": outcome.duplicates,
            "notifications_skipped": {
                skip_reason.value: skipped for skip_reason, skipped in outcome.skipped.items()
            },
            "demand_items": outcome.demand_items,
            "demand_parked": outcome.parked,
            "demand_deviations": {deviation.value: found for deviation, found in outcome.deviations.items()},
        },
    )
    return outcome
