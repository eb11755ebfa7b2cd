"""EventBridge schedule (every minute): release waiting notifications whose trigger is gone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from workers.notification_sweeper.logic import sweep
from workers.notification_sweeper.settings import SweeperSettings
from workers.shared.clients import demand_repository
from workers.shared.observability import EVENTBRIDGE_CORRELATION_PATH, instrumented
from workers.shared.settings import load_settings

# Stop releasing this long before the deadline: one conditional write plus the metrics and the span
# flush (≤ 3 s) must still fit. What the run did not reach is found by the next one.
STOP_BEFORE_DEADLINE_MILLIS = 5_000


@instrumented(correlation_id_path=EVENTBRIDGE_CORRELATION_PATH)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001 - Lambda's signature
    """One sweep of the pending index; the run's counts."""
    # No input: the schedule's event and an operator's `{}` (runbook notifications-released) both
    # run the same sweep, so the event is not parsed.
    settings = load_settings(SweeperSettings)
    summary = sweep(
        demand_repository(settings),
        # The wall clock, not the event's time: a retried delivery must not judge leases by the past.
        now=datetime.now(UTC),
        release_after=settings.release_after,
        max_releases=settings.max_releases_per_run,
        out_of_time=lambda: context.get_remaining_time_in_millis() < STOP_BEFORE_DEADLINE_MILLIS,
    )
    return summary.as_dict()
