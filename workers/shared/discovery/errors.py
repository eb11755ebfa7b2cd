"""Errors of Discovery reads: an unknown event, and an event the cache cannot use."""

from __future__ import annotations

from workers.shared.errors import PermanentVendorError

DISCOVERY_VENDOR = "discovery"


class EventNotFoundError(PermanentVendorError):
    """Discovery has no event with this id (HTTP 404)."""

    def __init__(self, event_id: str, reason: str = "Resource not found") -> None:
        super().__init__(DISCOVERY_VENDOR, reason, status_code=404)
        self.event_id = event_id
        # The message is what callers (and AppSync clients) see: say what was not found.
        self.args = (f"event {event_id!r} was not found at Discovery",)


class InvalidEventPayloadError(PermanentVendorError):
    """Discovery answered 2xx with an event that lacks what the cache needs (name, url)."""

    def __init__(self, event_id: str, reason: str) -> None:
        super().__init__(DISCOVERY_VENDOR, reason, status_code=None)
        self.event_id = event_id
        self.args = (f"event {event_id!r} from Discovery is unusable: {reason}",)
