"""The scheduler's trigger: any event is a run request in UTC with a bounded window, or a RecordError."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from record_strategies import VALID_SCHEDULE_EVENT, documents, edge_instants, json_values, near_valid

from workers.notification_scheduler.models import MAX_WINDOW, RunRequest, parse_run_request
from workers.shared.errors import RecordError

RECEIVED_AT = datetime(2024, 1, 15, 14, 30, 2, tzinfo=UTC)
window_overrides = st.fixed_dictionaries(
    {}, optional={"startDateTime": edge_instants | json_values, "endDateTime": edge_instants | json_values}
)
run_events = st.one_of(
    documents(VALID_SCHEDULE_EVENT),
    st.builds(lambda event, window: {**event, **window}, near_valid(VALID_SCHEDULE_EVENT), window_overrides),
    st.builds(lambda window: {**VALID_SCHEDULE_EVENT, "detail": window}, window_overrides),
    st.builds(lambda instant: {**VALID_SCHEDULE_EVENT, "time": instant}, edge_instants),
    window_overrides,
)


@given(event=run_events)
def test_any_trigger_is_a_run_request_or_a_record_error(event: Any) -> None:
    # Given a schedule tick or an operator's run, valid, damaged or with windows at the edges of time
    # When the scheduler reads it
    try:
        request = parse_run_request(event, received_at=RECEIVED_AT)
    except RecordError:
        return  # Then either a RecordError naming what is wrong...

    # ... or a run request in UTC whose window, if any, is ordered and at most MAX_WINDOW long
    assert isinstance(request, RunRequest)
    assert request.run_time.utcoffset() is not None
    assert request.run_time == request.run_time.astimezone(UTC)
    if request.window is not None:
        assert request.window.start < request.window.end <= request.window.start + MAX_WINDOW
        assert request.window.describe()["start"].endswith("Z")
