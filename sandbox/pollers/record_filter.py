"""An event-source mapping's FilterCriteria, matched with moto's EventBridge pattern implementation."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from moto.events.models import EventPattern


class RecordFilter:
    """Lambda's event filtering: a record passes when any of the mapping's patterns matches it."""

    # Patterns use EventBridge syntax (`exists`, `anything-but`, `prefix`, numeric …); moto's
    # `EventPattern` evaluates them rather than a home-made subset. No patterns: everything passes.

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        self.patterns = tuple(patterns)
        self._compiled = [EventPattern.load(pattern) for pattern in self.patterns]

    @classmethod
    def of_mapping(cls, request: Mapping[str, Any]) -> RecordFilter:
        """The filter of a CreateEventSourceMapping request (`FilterCriteria.Filters[].Pattern`)."""
        filters = (request.get("FilterCriteria") or {}).get("Filters") or []
        return cls([item["Pattern"] for item in filters])

    def matches(self, subject: Mapping[str, Any]) -> bool:
        """Whether the record (in the shape Lambda filters: see the pollers) passes."""
        # moto types its argument as an EventBridge event; any JSON object is matched the same way.
        event: Any = dict(subject)
        return not self._compiled or any(pattern.matches_event(event) for pattern in self._compiled)


def json_or_text(text: str) -> Any:
    """A payload as Lambda's filtering sees it: parsed when it is a JSON object, else the plain text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text
