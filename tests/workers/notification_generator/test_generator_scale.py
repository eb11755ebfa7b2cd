"""50,000 fans for one sale: every invocation stays inside the timeout, every reminder exists once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest
from generator_builders import demand_record, event_record, generation_job, sale_record

from workers.notification_generator.logic import Deadline, generate
from workers.notification_generator.models import GenerationJob, GenerationStatus
from workers.shared.keys import Key
from workers.shared.models import DemandRecord, EventRecord, NotificationRecord, SaleRecord
from workers.shared.notification_store import CreateCounts
from workers.shared.repository import DemandPage, DemandRepository

pytestmark = [
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
    # 50,000 passes through code the generator's other tests already cover: tracing them for
    # coverage would triple this test's time and add nothing to the figure.
    pytest.mark.no_cover,
]

FANS = 50_000
PAGE_SIZE = 1_000  # the stack default (DEMAND_PAGE_SIZE)
PARALLELISM = 16  # the stack default (WRITE_PARALLELISM)
TIMEOUT_SECONDS = 300  # the generator's Lambda timeout in every stack
MARGIN_SECONDS = 20  # the stack default (CONTINUATION_MARGIN_SECONDS)
# A throttled table: 50 ms per conditional put (p50 is ~5-10 ms) makes one pass longer than the timeout.
SECONDS_PER_WRITE = 0.05


class CachedShortUrlOnly:
    """The event has its short URL: Bitly is never asked."""

    def shorten(self, long_url: str) -> Any:
        raise AssertionError(f"Bitly asked to shorten {long_url}")


class SimulatedInvocation:
    """Lambda's clock for one invocation: time passes only when the table is written."""

    def __init__(self) -> None:
        self.elapsed = 0.0

    def remaining_millis(self) -> int:
        return int((TIMEOUT_SECONDS - self.elapsed) * 1000)


class InMemoryDemandTable(DemandRepository):
    """The generator's access patterns in memory, with conditional creates and a write-time cost."""

    def __init__(self, event: EventRecord, sale: SaleRecord, demand: list[DemandRecord]) -> None:
        super().__init__("in-memory", sales_index="sales", demand_index="demand-by-sale")
        self.event = event
        self.sale = sale
        self.demand = demand
        self.notifications: dict[Key, NotificationRecord] = {}
        self.invocation = SimulatedInvocation()

    def get_event(self, event_id: str) -> EventRecord | None:
        return self.event if event_id == self.event.id else None

    def get_sale(self, event_id: str, sale_id: str) -> SaleRecord | None:
        return self.sale if (event_id, sale_id) == (self.sale.event_id, self.sale.id) else None

    def demand_for_sale(
        self, event_id: str, sale_id: str, *, page_size: int = 1000, cursor: str | None = None
    ) -> DemandPage:
        start = int(cursor or 0)
        end = start + page_size
        records = self.demand[start:end]
        return DemandPage(
            records=records, cursor=str(end) if end < len(self.demand) else None, items=len(records)
        )

    def create_notifications(
        self, records: Iterable[NotificationRecord], *, parallelism: int = 16
    ) -> CreateCounts:
        pending = list(records)
        created = 0
        for record in pending:
            if record.key not in self.notifications:
                self.notifications[record.key] = record
                created += 1
        self.invocation.elapsed += len(pending) * SECONDS_PER_WRITE / parallelism
        return CreateCounts(created, len(pending) - created)


@pytest.mark.slow
def test_fifty_thousand_fans_finish_through_continuations_each_inside_the_timeout() -> None:
    # Given a sale with 50,000 "sms,email" fans on a table slow enough that one pass overruns 300 s
    demand = [demand_record(f"fan-{number:05d}", "sms,email") for number in range(FANS)]
    table = InMemoryDemandTable(event_record(), sale_record(), demand)
    queue: list[GenerationJob] = [generation_job()]
    parts: list[tuple[int, float, GenerationStatus]] = []
    created = duplicates = 0

    # When each job runs in its own invocation until no continuation is left
    while queue:
        job = queue.pop(0)
        table.invocation = SimulatedInvocation()
        outcome = generate(
            job,
            table,
            page_size=PAGE_SIZE,
            write_parallelism=PARALLELISM,
            deadline=Deadline(table.invocation.remaining_millis, MARGIN_SECONDS),
            continue_with=queue.append,
            shortener=CachedShortUrlOnly(),
            late_grace=timedelta(minutes=5),
        )
        parts.append((job.part, table.invocation.elapsed, outcome.status))
        created, duplicates = created + outcome.created, duplicates + outcome.duplicates

    # Then the work was split into parts that each ended before the timeout
    assert [part for part, _, _ in parts] == [0, 1]
    assert [status for _, _, status in parts] == [GenerationStatus.CONTINUED, GenerationStatus.COMPLETED]
    assert all(elapsed < TIMEOUT_SECONDS for _, elapsed, _ in parts)
    # And every fan has exactly one SMS and one email, none attempted twice
    assert (created, duplicates) == (2 * FANS, 0)
    assert len(table.notifications) == 2 * FANS
    assert {key.pk for key in table.notifications} == {f"fan:fan-{number:05d}" for number in range(FANS)}
