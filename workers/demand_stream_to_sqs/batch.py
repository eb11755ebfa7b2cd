"""The whole batch parsed once, so deduplication can span it before `process_batch` answers per record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workers.shared.errors import RecordError
from workers.shared.records import ChangeRecord, parse_change_record


class ParsedChanges:
    """Every record of a Kinesis batch parsed once; `parse` replays the result for `process_batch`."""

    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        self._by_sequence: dict[str, ChangeRecord] = {}
        for record in records:
            try:
                change = parse_change_record(record)
            except RecordError:
                # Left out here; `parse` re-parses it, so process_batch rejects it with its usual
                # "Record rejected: cannot parse" line and batch-item failure.
                continue
            self._by_sequence[change.sequence_number] = change

    @property
    def changes(self) -> list[ChangeRecord]:
        """The records that parsed, in batch order."""
        return list(self._by_sequence.values())

    def parse(self, record: Mapping[str, Any]) -> ChangeRecord:
        """The record's change from the first pass (a parser for `process_batch`)."""
        try:
            cached = self._by_sequence.get(record["kinesis"]["sequenceNumber"])
        except (KeyError, TypeError):
            cached = None
        return cached if cached is not None else parse_change_record(record)
