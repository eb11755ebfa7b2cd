"""One notification per fan, sale and contact method, page by page, resumable through continuation jobs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from workers.notification_generator.models import (
    Brand,
    GenerationJob,
    GenerationOutcome,
    GenerationStatus,
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
from workers.shared.models import (
    ContactMethod,
    DemandRecord,
    EventRecord,
    NotificationRecord,
    SaleRecord,
    format_sale_time,
)
from workers.shared.observability import (
    LOGGER,
    NOTIFICATIONS_CREATED,
    NOTIFICATIONS_DUPLICATE,
    count,
    quiet_spans,
    span,
)

if TYPE_CHECKING:
    from workers.shared.repository import DemandRepository

# Reminders a fan did not get by one method (dimension `reason`: a SkipReason value).
NOTIFICATIONS_SKIPPED = "NotificationsSkipped"


class ShortUrlMissingError(RetryableError):
    """The event has no short URL yet: the queue redelivers the job once it may have one."""


class InvalidEventError(PermanentError):
    """The cached event cannot be turned into a reminder (e.g. its timezone is unknown)."""


@dataclass(frozen=True)
class Deadline:
    """The invocation's time budget: stop paging when less than the margin remains."""

    remaining_millis: Callable[[], int]
    margin_seconds: float

    def is_near(self) -> bool:
        """Whether the remaining time has dropped under the margin."""
        return self.remaining_millis() < self.margin_seconds * 1000


def sale_message(event: EventRecord, sale: SaleRecord) -> SaleMessage:
    """The reminder facts of a sale; the event must already have its short URL (reminders carry it)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not event.short_url:
        raise ShortUrlMissingError(f"event {event.id} has no short URL yet; generation waits for it")
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
        short_url=event.short_url,
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
) -> list[NotificationRecord]:
    """The fan's new notifications, one per contact method it can be reached by."""
    # The fan's own locale wins; a demand record written without one gets the event's.
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


def generate(
    job: GenerationJob,
    repository: DemandRepository,
    *,
    page_size: int,
    write_parallelism: int,
    deadline: Deadline,
    continue_with: Callable[[GenerationJob], None],
    now: Callable[[], datetime] = _utc_now,
) -> GenerationOutcome:
    """Create the sale's notifications from `job.cursor` on; hand the rest to a continuation job in time.

    Conditional creates make a redelivered job or a re-run window create nothing twice.
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
    reminders = SaleReminders(sale_message(event, sale))
    outcome = GenerationOutcome(status=GenerationStatus.COMPLETED)
    cursor = job.cursor
    try:
        while True:
            demands, cursor = repository.demand_for_sale(
                job.event_id, job.sale_id, page_size=page_size, cursor=cursor
            )
            outcome.pages += 1
            at = now()
            records = [
                record
                for demand in demands
                for record in notifications_for(
                    demand, event_locale=event.locale, reminders=reminders, at=at, outcome=outcome
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
        },
    )
    return outcome
