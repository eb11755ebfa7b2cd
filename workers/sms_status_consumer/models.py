"""A status record's body before it is read as a status event, and what handling one came to."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict


class StatusRecordBody(BaseModel):
    """Any JSON object on the status stream: read as an `SmsStatusEvent` by the handler, not the parser.

    Data that is not a JSON object stays a parse failure (retried, then the on-failure queue); an
    object that is no status event is counted and dropped, since no retry can change it.
    """

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    @property
    def fields(self) -> dict[str, object]:
        """The object's members as sent."""
        return dict(self.model_extra or {})


class StatusOutcome(enum.StrEnum):
    """What a status event did; each is a success (nothing to retry)."""

    APPLIED = "applied"  # the status moved forward
    ALREADY_APPLIED = "already-applied"  # a replay: the notification is in this status already
    OUT_OF_ORDER = "out-of-order"  # older than the current status: only its timestamp is kept
    HELD = "held"  # no notification names the message yet: kept for the sender to apply
    UNKNOWN_MESSAGE = "unknown-message"  # no notification names the message, and too old to wait for one
