"""The forwarder's batch parse: any table stream batch gives each record its change or a RecordError."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from record_strategies import VALID_EVENT, VALID_NOTIFICATION, change_payload, documents, kinesis_records

from workers.demand_stream_to_sqs.batch import ParsedChanges
from workers.demand_stream_to_sqs.logic import pending_events, short_url_job
from workers.shared.errors import RecordError
from workers.shared.records import ChangeRecord, parse_change_record

payloads = st.sampled_from([VALID_EVENT, VALID_NOTIFICATION]).flatmap(
    lambda item: documents(change_payload(item))
)


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [draw(kinesis_records(payloads, index=index)) for index in range(draw(st.integers(1, 4)))]


def parsed_or_none(parse: Any, record: dict[str, Any]) -> ChangeRecord | None:
    try:
        change = parse(record)
    except RecordError:
        return None
    assert isinstance(change, ChangeRecord)
    return change


@given(records=batches())
def test_any_batch_gives_each_record_what_parsing_it_alone_gives(records: list[dict[str, Any]]) -> None:
    # Given any table stream batch, parsed once for the whole batch
    batch = ParsedChanges(records)

    # When process_batch asks for each record, then it gets what parsing that record alone gives
    # (the change, or a RecordError), whatever its envelope holds
    for record in records:
        alone = parsed_or_none(parse_change_record, record)
        from_batch = parsed_or_none(batch.parse, record)
        assert (from_batch is None) == (alone is None)

    # And the batch's events needing a short URL each become a job or a RecordError
    for pending in pending_events(batch.changes):
        assert pending.job.event_id
    for change in batch.changes:
        with contextlib.suppress(RecordError):
            assert short_url_job(change).event_id
