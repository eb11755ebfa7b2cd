"""A behavioural internal SMS service on 127.0.0.1: API key, optional SigV4, dedup on `reference`."""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

from loopback_http import Answer, LoopbackServer, Request

API_KEY = "sms-test-api-key"
MESSAGES_PATH = "/v1/messages"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class FakeSmsService(LoopbackServer):
    """Accepts like the SMS service: 202 + messageId, the same id again for a reference it has seen."""

    def __init__(self, api_key: str = API_KEY, *, signed: bool = False) -> None:
        super().__init__()
        self.api_key = api_key
        self.signed = signed
        self.rejected_numbers: dict[str, tuple[int, str]] = {}
        self.message_ids: dict[str, str] = {}
        self._accepted: Counter[str] = Counter()
        self._outage: Answer | None = None
        self._state = threading.Lock()

    @property
    def url(self) -> str:
        """The service base URL (SMS_SERVICE_URL)."""
        return self.origin

    @staticmethod
    def failure(status: int, reason: str | None = None) -> Answer:
        """An error answer in the service's shape (`reason` code + message)."""
        body = (
            {"reason": reason, "message": f"{reason} (test)"}
            if reason
            else {"message": "Service Unavailable"}
        )
        return Answer(status, body)

    def reject_number(self, number: str, reason: str = "INVALID_NUMBER", status: int = 400) -> None:
        """Answer every message to `number` with this rejection."""
        self.rejected_numbers[number] = (status, reason)

    def start_outage(self, answer: Answer | None = None) -> None:
        """Answer every request with `answer` (default 503) until `end_outage`."""
        self._outage = answer or self.failure(503)

    def end_outage(self) -> None:
        self._outage = None

    def requests_for(self, reference: str) -> int:
        """How many POSTs named this reference."""
        return sum(1 for request in self.sent if (request.json() or {}).get("reference") == reference)

    def accepted_for(self, reference: str) -> int:
        """How many POSTs of this reference were answered 202 (what a non-deduplicating vendor would send)."""
        with self._state:
            return self._accepted[reference]

    @property
    def sent(self) -> list[Request]:
        return [request for request in self.requests if request.path == MESSAGES_PATH]

    def route(self, request: Request) -> Answer:
        if request.method != "POST" or request.path != MESSAGES_PATH:
            return Answer(404, {"reason": "NOT_FOUND", "message": "No such route"})
        headers = {name.lower(): value for name, value in request.headers.items()}
        if headers.get("x-api-key") != self.api_key:
            return Answer(403, {"reason": "FORBIDDEN", "message": "Invalid API key"})
        if self.signed and not _is_sigv4(headers.get("authorization", "")):
            return Answer(403, {"reason": "FORBIDDEN", "message": "Missing Authentication Token"})
        if self._outage is not None:
            return self._outage
        body: dict[str, Any] = request.json() or {}
        to, reference = body.get("to"), body.get("reference")
        if not isinstance(reference, str) or not reference or not body.get("body"):
            return Answer(
                400, {"reason": "INVALID_REQUEST", "message": "to, body and reference are required"}
            )
        if not isinstance(to, str) or not E164.match(to):
            return Answer(400, {"reason": "INVALID_NUMBER", "message": f"{to!r} is not an E.164 number"})
        if to in self.rejected_numbers:
            status, reason = self.rejected_numbers[to]
            return self.failure(status, reason)
        with self._state:
            message_id = self.message_ids.setdefault(reference, f"SM{len(self.message_ids) + 1:08d}")
            self._accepted[reference] += 1
        return Answer(202, {"messageId": message_id})


def _is_sigv4(authorization: str) -> bool:
    return authorization.startswith("AWS4-HMAC-SHA256 Credential=") and "/execute-api/aws4_request" in (
        authorization
    )
