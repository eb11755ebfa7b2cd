"""The internal SMS service fake: `POST /v1/messages`, 202 + messageId, deduplicated on `reference`.

It speaks the contract of `workers/shared/sms_service.py`: an `x-api-key` header (and, behind API
Gateway's IAM auth, a SigV4 signature when `require_signature`), a 4xx body `{"reason", "message"}`,
one message and one status history per reference however often it is posted.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

from sandbox.clock import SandboxClock
from sandbox.vendors.faults import Effect, VendorFaults, seeded_draw
from sandbox.vendors.server import Reply, Route, VendorRequest, VendorServer, is_sigv4_signed
from sandbox.vendors.status_events import DEFAULT_DELAYS, SmsStatusDelays, StatusPublisher, status_event

SMS_API_KEY: Final = "sandbox-sms-api-key"
SMS_MESSAGES_PATH: Final = "/v1/messages"
DEFAULT_HANG_SECONDS: Final = 11.0  # longer than the workers' default vendor timeout (10 s)
_E164: Final = re.compile(r"^\+[1-9]\d{6,14}$")
_CARRIER_FAILURES: Final[Mapping[Effect, tuple[str, str]]] = {
    Effect.INVALID: ("INVALID_NUMBER", "the number is not in service"),
    Effect.BLOCKED: ("BLOCKED", "the carrier blocked the message"),
}


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
        self.unassigned_numbers: set[str] = set()
        self._seed = seed
        self._state = threading.Lock()
        self.message_ids: dict[str, str] = {}
        self.accepted: Counter[str] = Counter()  # 202 answers per reference
        self.messages: dict[str, dict[str, Any]] = {}  # reference → the request it first accepted

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
        """How many POSTs of this reference were answered 202 (what a vendor without dedup would send)."""
        with self._state:
            return self.accepted[reference]

    def requests_for(self, reference: str) -> int:
        """How many POSTs named this reference, whatever the answer."""
        return self.counters.of_key(SMS_MESSAGES_PATH, reference)

    def duplicates(self) -> dict[str, int]:
        """References accepted more than once, with how many extra times."""
        with self._state:
            return {reference: count - 1 for reference, count in self.accepted.items() if count > 1}

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
        if fault is Effect.SERVER_ERROR:
            return self.failure(503, "SERVICE_UNAVAILABLE", "Service Unavailable"), fault
        if fault is Effect.THROTTLED:
            return self.failure(429, "RATE_LIMITED", "Too many requests"), fault
        if fault is Effect.TIMEOUT:
            return Reply(504, {"message": "Gateway Timeout"}, hold_seconds=self.hang_seconds), fault
        if not isinstance(to, str) or not _E164.match(to) or to in self.unassigned_numbers:
            return self.failure(400, "INVALID_NUMBER", f"{to!r} is not a valid, assigned number"), None
        return Reply(202, {"messageId": self._accept(key, body, fault)}), fault

    def _accept(self, reference: str, body: Mapping[str, Any], fault: Effect | None) -> str:
        with self._state:
            self.accepted[reference] += 1
            first = reference not in self.message_ids
            if first:
                self.message_ids[reference] = f"SM{len(self.message_ids) + 1:010d}"
                self.messages[reference] = dict(body)
            message_id = self.message_ids[reference]
        if first:  # the service deduplicates on reference: one message, one status history
            failure = _CARRIER_FAILURES.get(fault) if fault else None
            self._schedule_statuses(reference, message_id, failure, reverse=fault is Effect.OUT_OF_ORDER)
        return message_id

    def _schedule_statuses(
        self, reference: str, message_id: str, failure: tuple[str, str] | None, *, reverse: bool = False
    ) -> None:
        accepted_at = self._clock.now()
        jitter = 0.75 + 0.5 * seeded_draw(self._seed, "sms-status", reference, 0)
        steps: list[tuple[str, float, tuple[str, str] | None]] = [("queued", self.delays.queued, None)]
        if failure is None:
            steps += [("sent", self.delays.sent, None), ("delivered", self.delays.delivered, None)]
        else:
            steps.append(("failed", self.delays.sent, failure))
        delays = [delay for _, delay, _ in steps]
        if reverse:  # the last status is published first, the first last
            steps = [
                (status, delay, error)
                for (status, _, error), delay in zip(reversed(steps), delays, strict=True)
            ]
        for status, delay, error in steps:
            due = accepted_at + delay * jitter
            # Stamped when published, with the vendor's wall clock (the workers' clock too).
            self.publisher.schedule(
                due,
                status_event(
                    message_id=message_id,
                    reference=reference,
                    status=status,
                    at=None,
                    error_code=error[0] if error else None,
                    error_reason=error[1] if error else None,
                ),
            )
