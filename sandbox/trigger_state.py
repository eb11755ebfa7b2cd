"""Whether a trigger is enabled in the emulator right now: an event-source mapping or a schedule rule.

The sandbox's pollers and schedules do what Lambda and EventBridge do with a disabled trigger
(`dmd maintenance start` disables them): nothing, until it is enabled again. They ask before each
round; the answer is read from the emulator (GetEventSourceMapping, DescribeRule) at most once per
`max_age` real seconds, so an idle sandbox spends about one request a second per trigger on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final

from botocore.exceptions import ClientError

MAX_AGE_SECONDS: Final = 1.0
# A mapping in these states does not poll (Lambda's states: Creating, Enabling, Enabled,
# Disabling, Disabled, Updating, Deleting).
MAPPING_NOT_POLLING: Final = frozenset({"Disabling", "Disabled", "Deleting"})
RULE_ENABLED: Final = frozenset({"ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"})


class TriggerState:
    """A trigger's enabled state, read through `read` and kept for `max_age` real seconds."""

    def __init__(
        self,
        read: Callable[[], bool],
        *,
        max_age: float = MAX_AGE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._max_age = max_age
        self._monotonic = monotonic
        self._lock = threading.Lock()  # several poller threads ask at once: one read per expiry
        self._enabled = True
        self._read_at: float | None = None

    def enabled(self) -> bool:
        """Whether the trigger is enabled (as read at most `max_age` seconds ago)."""
        with self._lock:
            now = self._monotonic()
            if self._read_at is None or now - self._read_at >= self._max_age:
                self._enabled = self._read()
                self._read_at = now
            return self._enabled


def mapping_state(lambda_client: Any, uuid: str, *, max_age: float = MAX_AGE_SECONDS) -> TriggerState:
    """An event-source mapping's state by UUID; a deleted mapping reads as disabled (nothing polls)."""

    def read() -> bool:
        try:
            state = str(lambda_client.get_event_source_mapping(UUID=uuid).get("State", "Enabled"))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
        return state not in MAPPING_NOT_POLLING

    return TriggerState(read, max_age=max_age)


def rule_state(events_client: Any, name: str, *, max_age: float = MAX_AGE_SECONDS) -> TriggerState:
    """A rule's state by name; a deleted rule reads as disabled (nothing fires)."""

    def read() -> bool:
        try:
            state = str(events_client.describe_rule(Name=name).get("State", "ENABLED"))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
        return state in RULE_ENABLED

    return TriggerState(read, max_age=max_age)
