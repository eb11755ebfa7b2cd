"""The internal SMS service fake: `POST /v1/messages`, 202 + messageId, de-duplicated on `Idempotency-Key`.

It speaks the contract of docs/contracts/sms.md (the workers' side is `workers/shared/sms_service.py`):
an `x-api-key` header (and, behind API Gateway's IAM auth, a SigV4 signature when
`require_signature`), a 4xx body `{"reason", "message"}`, one message per Idempotency-Key within the
de-duplication window however often it is posted (`deduplicate=False` shows what a service without
that guarantee would send), and status events in the service's shape, without `reference` unless
`echo_reference`.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

from sandbox.clock import SandboxClock
from sandbox.vendors.faults import Effect, VendorFaults, seeded_draw
from sandbox.vendors.server import Reply, Route, VendorRequest, VendorServer, is_sigv4_signed
from sandbox.vendors.status_events import DEFAULT_DELAYS, SmsStatusDelays, StatusPublisher, status_event

SMS_API_KEY: Final = "sandbox-sms-api-key"
SMS_MESSAGES_PATH: Final = "/v1/messages"
IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
DEDUPLICATION_WINDOW_SECONDS: Final = 24 * 3600.0  # the documented window (sandbox seconds)
DEFAULT_HANG_SECONDS: Final = 11.0  # longer than the workers' default vendor timeout (10 s)
_COPY_AFTER_SECONDS: Final = 0.001  # a duplicated status's copy: just after the status that follows it
_E164: Final = re.compile(r"^\+[1-9]\d{6,14}$")
_CARRIER_FAILURES: Final[Mapping[Effect, tuple[str, str]]] = {
    Effect.INVALID: ("INVALID_NUMBER", "the number is not in service"),
    Effect.BLOCKED: ("BLOCKED", "the carrier blocked the message"),
}


@dataclass(frozen=True)
class _Remembered:
    """A message taken under an Idempotency-Key: what a retry with the key gets back."""

    message_id: str
    accepted_at: float


class SmsService(VendorServer):
    """The internal SMS service: `POST /v1/messages` (x-api-key), 202 + messageId, status events later."""

    vendor = "sms"

    def __init__(
        self,
        *,
        port: int = 0,
        faults: VendorFaults | None = None,
        clock: SandboxClock | None = None,
        publisher: StatusPublisher | None = None,
        api_key: str = SMS_API_KEY,
        require_signature: bool = False,
        delays: SmsStatusDelays = DEFAULT_DELAYS,
        hang_seconds: float = DEFAULT_HANG_SECONDS,
        seed: int = 0,
        deduplicate: bool = True,
        echo_reference: bool = False,
    ) -> None:
        self._clock = clock if clock is not None else SandboxClock()
        super().__init__(
            port=port, faults=faults if faults is not None else VendorFaults(self.vendor, clock=self._clock)
        )
        self.api_key = api_key
        self.require_signature = require_signature
        self.delays = delays
        self.hang_seconds = hang_seconds
        self.publisher = publisher if publisher is not None else StatusPublisher(self._clock)
        self.deduplicate = deduplicate  # False: every accepted POST is a new SMS, whatever its key
        self.echo_reference = echo_reference  # True: status events carry the request's `reference`
        self.unassigned_numbers: set[str] = set()
        self._seed = seed
        self._state = threading.Lock()
        self._by_key: dict[str, _Remembered] = {}
        self._message_numbers = itertools.count(1)
        self.message_ids: dict[str, str] = {}  # reference → the id of its first message
        self.accepted: Counter[str] = Counter()  # requests taken per reference (new or de-duplicated)
        self.sends: Counter[str] = Counter()  # SMS actually sent per reference
        self.messages: dict[str, dict[str, Any]] = {}  # reference → the request of its first message

    @staticmethod
    def failure(status: int, reason: str | None = None, message: str | None = None) -> Reply:
        """An error reply in the service's shape: `{"reason": CODE, "message": …}`, or a message alone."""
        text = message or reason or HTTPStatus(status).phrase
        return Reply(status, {"message": text} if reason is None else {"reason": reason, "message": text})

    @property
    def sent(self) -> list[VendorRequest]:
        """The logged requests to the messages endpoint, oldest first."""
        return [request for request in self.requests if request.path == SMS_MESSAGES_PATH]

    def accepted_for(self, reference: str) -> int:
        """How many POSTs of this reference the service took (answered 202, or taken and the answer lost)."""
        with self._state:
            return self.accepted[reference]

    def sends_for(self, reference: str) -> int:
        """How many SMS the service sent for this reference (1 however often a de-duplicated POST came)."""
        with self._state:
            return self.sends[reference]

    def requests_for(self, reference: str) -> int:
        """How many POSTs named this reference, whatever the answer."""
        return self.counters.of_key(SMS_MESSAGES_PATH, reference)

    def duplicates(self) -> dict[str, int]:
        """References sent as SMS more than once, with how many extra SMS the fan got."""
        with self._state:
            return {reference: count - 1 for reference, count in self.sends.items() if count > 1}

    def route(self, request: VendorRequest) -> Route | Reply:
        if request.method != "POST" or request.path != SMS_MESSAGES_PATH:
            return Reply(404, {"reason": "NOT_FOUND", "message": f"no route {request.method} {request.path}"})
        body = request.json()
        reference = body.get("reference") if isinstance(body, dict) else None
        return Route(SMS_MESSAGES_PATH, reference if isinstance(reference, str) and reference else None)

    def decide(self, request: VendorRequest, key: str | None) -> tuple[Reply, Effect | None]:
        if request.headers.get("x-api-key") != self.api_key:
            return self.failure(403, "FORBIDDEN", "Invalid API key"), None
        if self.require_signature and not is_sigv4_signed(request.headers):
            return self.failure(403, "FORBIDDEN", "Missing Authentication Token"), None
        body = request.json()
        body = body if isinstance(body, dict) else {}
        to, text = body.get("to"), body.get("body")
        if key is None or not isinstance(text, str) or not text:
            return self.failure(400, "INVALID_REQUEST", "to, body and reference are required"), None
        self._latency()
        fault = self.faults.decide(key)
        if fault in (Effect.SERVER_ERROR, Effect.THROTTLED) and self._taken(
            request.headers.get(IDEMPOTENCY_KEY_HEADER)
        ):
            # The contract (docs/contracts/sms.md, Idempotency): a key the service has taken a message
            # for is answered with that message, whatever the earlier answers were.
            fault = None
        if fault is Effect.SERVER_ERROR:
            return self.failure(503, "SERVICE_UNAVAILABLE", "Service Unavailable"), fault
        if fault is Effect.THROTTLED:
            return self.failure(429, "RATE_LIMITED", "Too many requests"), fault
        if fault is Effect.TIMEOUT:
            return Reply(504, {"message": "Gateway Timeout"}, hold_seconds=self.hang_seconds), fault
        if not isinstance(to, str) or not _E164.match(to) or to in self.unassigned_numbers:
            return self.failure(400, "INVALID_NUMBER", f"{to!r} is not a valid, assigned number"), None
        message_id = self._accept(key, request.headers.get(IDEMPOTENCY_KEY_HEADER), body, fault)
        if fault is Effect.LOST_ANSWER:  # taken and sent, but the answer never reaches the client
            return Reply(504, {"message": "Gateway Timeout"}, hold_seconds=self.hang_seconds), fault
        return Reply(202, {"messageId": message_id}), fault

    def _taken(self, idempotency_key: str | None) -> bool:
        """Whether a message was taken under this key within the de-duplication window."""
        if not idempotency_key or not self.deduplicate:
            return False
        with self._state:
            remembered = self._by_key.get(idempotency_key)
        return (
            remembered is not None
            and self._clock.now() - remembered.accepted_at <= DEDUPLICATION_WINDOW_SECONDS
        )

    def _accept(
        self, reference: str, idempotency_key: str | None, body: Mapping[str, Any], fault: Effect | None
    ) -> str:
        now = self._clock.now()
        with self._state:
            self.accepted[reference] += 1
            remembered = self._by_key.get(idempotency_key) if idempotency_key and self.deduplicate else None
            if remembered is not None and now - remembered.accepted_at <= DEDUPLICATION_WINDOW_SECONDS:
                return remembered.message_id  # the same message again: no second SMS, no new statuses
            message_id = f"SM{next(self._message_numbers):010d}"
            self.sends[reference] += 1
            self.message_ids.setdefault(reference, message_id)
            self.messages.setdefault(reference, dict(body))
            if idempotency_key:
                self._by_key[idempotency_key] = _Remembered(message_id, now)
        failure = _CARRIER_FAILURES.get(fault) if fault else None
        self._schedule_statuses(reference, message_id, failure, reverse=fault is Effect.OUT_OF_ORDER)
        return message_id

    def _schedule_statuses(
        self, reference: str, message_id: str, failure: tuple[str, str] | None, *, reverse: bool = False
    ) -> None:
        accepted_at = self._clock.now()
        jitter = 0.75 + 0.5 * seeded_draw(self._seed, "sms-status", reference, 0)
        steps: list[tuple[str, float, tuple[str, str] | None]] = [("QUEUED", self.delays.queued, None)]
        if failure is None:
            steps += [("SENT", self.delays.sent, None), ("DELIVERED", self.delays.delivered, None)]
        else:
            steps.append(("FAILED", self.delays.sent, failure))
        delays = [delay for _, delay, _ in steps]
        if reverse:  # the last status is published first, the first last
            steps = [
                (status, delay, error)
                for (status, _, error), delay in zip(reversed(steps), delays, strict=True)
            ]
        duplicated = self.faults.status_fault(Effect.DUPLICATE_STATUS, reference)
        if duplicated:
            self.counters.injected(Effect.DUPLICATE_STATUS)
        dues = [accepted_at + delay * jitter for delay in delays]
        for index, (status, _, error) in enumerate(steps):
            due = dues[index]
            # The copy comes late: after the next status (the last status's, one status gap later).
            following = dues[index + 1] if index + 1 < len(dues) else due + self.delays.queued * jitter
            again_at = following + _COPY_AFTER_SECONDS
            # Stamped when published, with the vendor's wall clock (the workers' clock too).
            self.publisher.schedule(
                due,
                status_event(
                    message_id=message_id,
                    status=status,
                    at=None,
                    reference=reference if self.echo_reference else None,
                    error_code=error[0] if error else None,
                    error_reason=error[1] if error else None,
                ),
                key=reference,
                again_at=again_at if duplicated else None,
            )
