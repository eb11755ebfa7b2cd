"""SMS status events as the consumer reads them: any JSON object is a status event or dropped.

Never another error: the record would be retried, never parked, and hold its shard.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from record_strategies import VALID_STATUS_EVENT, documents, edge_instants, json_objects, near_valid

from workers.shared.messages import SmsStatusEvent
from workers.shared.models import HeldStatus, StatusStamp, expiry
from workers.shared.sms_status import MESSAGE_RECORD_HOURS
from workers.sms_status_consumer.logic import delivery_update, read_status_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
RECEIVED_AT = datetime(2024, 1, 15, 14, 30, 6, tzinfo=UTC)

# The service's events, valid or damaged, with a timestamp anywhere from year 1 to 9999 (or beyond).
status_events = st.one_of(
    documents(VALID_STATUS_EVENT),
    edge_instants.map(lambda instant: {**VALID_STATUS_EVENT, "timestamp": instant}),
    st.builds(
        lambda event, instant: {**event, "timestamp": instant}, near_valid(VALID_STATUS_EVENT), edge_instants
    ),
    json_objects,
)


@given(fields=status_events)
def test_any_status_record_is_a_status_event_or_dropped(fields: Any) -> None:
    # Given the members of any JSON object on the status stream (the parser keeps only objects)
    if not isinstance(fields, dict):
        fields = {"value": fields}

    # When the consumer reads it, then it is a status event or None (counted, logged, dropped)
    event = read_status_event(fields)
    if event is None:
        return
    assert isinstance(event, SmsStatusEvent)

    # And a status event is one the lifecycle can store: its time exists in UTC, in every form it is written
    update = delivery_update(event, received_at=RECEIVED_AT)
    assert update.at.tzinfo is not None
    stamp = StatusStamp.model_validate({"id": update.status, "date": update.at})
    assert StatusStamp.model_validate(stamp.model_dump(mode="json")) == stamp
    assert HeldStatus.model_validate(update.held().model_dump(mode="json", by_alias=True)) == update.held()
    assert update.error is None or update.error.timestamp == stamp.date
    assert isinstance(expiry(update.at, hours=MESSAGE_RECORD_HOURS), int)
