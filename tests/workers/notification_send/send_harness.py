"""The sender wired to the moto table, a scripted channel and a fake clock (the logic tests' harness)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from send_builders import FakeClock, TableStream

from workers.notification_send.breaker import SendBreaker
from workers.notification_send.logic import NotificationSender
from workers.notification_send.models import Accepted, SendPolicy
from workers.notification_send.pacing import TimeBudget
from workers.shared.models import ContactMethod, NotificationRecord
from workers.shared.records import ChangeRecord, parse_change_record
from workers.shared.repository import DemandRepository

Outcome = Accepted | BaseException  # BaseException: a test may kill the invocation mid-call
LATE_GRACE = timedelta(minutes=5)
RELEASE_AFTER = timedelta(minutes=5)


@dataclass
class ScriptedChannel:
    """A channel answering from a script (accept by default) and noting when it was called."""

    clock: FakeClock
    script: list[Outcome] = field(default_factory=list)
    calls: list[float] = field(default_factory=list)
    preflight_error: Exception | None = None
    on_send: Callable[[NotificationRecord], None] | None = None
    accepted_metric: str = "SmsAccepted"
    failed_metric: str = "SmsFailed"
    confirms_lost_answers: bool = True

    def preflight(self) -> None:
        if self.preflight_error is not None:
            raise self.preflight_error

    def send(self, notification: NotificationRecord) -> Accepted:
        self.calls.append(self.clock.now)
        if self.on_send is not None:
            self.on_send(notification)
        outcome = self.script.pop(0) if self.script else Accepted(f"SM{len(self.calls)}")
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def reason_code(self, error: Any) -> str:
        return str(error.reason)


@dataclass
class Harness:
    """The sender wired to the moto table, a scripted channel and a fake clock."""

    repository: DemandRepository
    stream: TableStream
    clock: FakeClock
    channel: ScriptedChannel

    def sender(
        self,
        *,
        seconds_left: float = 60.0,
        max_attempts: int = 3,
        backoff: float = 30.0,
        breakers: Mapping[ContactMethod, SendBreaker] = MappingProxyType({}),
    ) -> NotificationSender:
        budget = TimeBudget(
            deadline=self.clock.now + seconds_left,
            reserve_seconds=15.0,
            clock=self.clock,
            sleep=self.clock.sleep,
        )
        return NotificationSender(
            self.repository,
            {ContactMethod.SMS: self.channel, ContactMethod.EMAIL: self.channel},
            policy=SendPolicy(max_attempts=max_attempts, backoff_base_seconds=backoff),
            budget=budget,
            late_grace=LATE_GRACE,
            release_after=RELEASE_AFTER,
            breakers=breakers,
        )

    def change(self, notification: NotificationRecord, *, event_name: str = "MODIFY") -> ChangeRecord:
        """The change record of the stored item now."""
        return parse_change_record(self.stream.record(notification.key, event_name=event_name))

    def stored(self, notification: NotificationRecord) -> NotificationRecord:
        return NotificationRecord.from_item(self.stream.item(notification.key))
