"""The Bitly v4 fake: `POST /v4/shorten` behind a bearer token, one link per (group, long URL).

It speaks the contract of `workers/shared/bitly.py`: 201 for a new link, 200 and the same link (with
its original creation time) for a long URL seen before, Bitly's `{"message", "resource",
"description"}` error bodies, and its rate limit as 429 or as the documented 403 with a reason header.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from sandbox.vendors.faults import Effect, VendorFaults
from sandbox.vendors.server import Reply, Route, VendorRequest, VendorServer

BITLY_TOKEN: Final = "sandbox-bitly-token"  # noqa: S105 - a sandbox fake's credential
BITLY_BASE_PATH: Final = "/v4"


def bitly_key(long_url: str) -> str:
    """What Bitly requests are counted and faulted by: the long URL's last path segment (the event id)."""
    return urlsplit(long_url).path.rstrip("/").rsplit("/", 1)[-1] or long_url


class Bitly(VendorServer):
    """Bitly v4 `POST /v4/shorten` (bearer token): 201 for a new link, 200 and the same link after."""

    vendor = "bitly"
    shorten_path: ClassVar[str] = f"{BITLY_BASE_PATH}/shorten"

    def __init__(
        self, *, port: int = 0, faults: VendorFaults | None = None, token: str = BITLY_TOKEN
    ) -> None:
        super().__init__(port=port, faults=faults)
        self.token = token
        # (group, long URL) → (the link's hash, when it was created)
        self.links: dict[tuple[str | None, str], tuple[str, str]] = {}
        self._state = threading.Lock()

    @property
    def url(self) -> str:
        return f"{self.origin}{BITLY_BASE_PATH}"

    @property
    def shorten_calls(self) -> list[VendorRequest]:
        """The logged shorten requests, oldest first."""
        return [request for request in self.requests if request.path == self.shorten_path]

    @staticmethod
    def rate_limited(status: int = 429) -> Reply:
        """Bitly's rate-limit answer: 429, or its documented 403 with X-Ratelimit-Reason (no Retry-After)."""
        body = {"message": "RATE_LIMIT_EXCEEDED", "resource": "bitlinks", "description": "Rate limited"}
        return Reply(
            status, body, headers={"X-Ratelimit-Reason": "per-minute limit"} if status == 403 else {}
        )

    def calls_for(self, event_id: str) -> int:
        """How many shorten calls named this event (see `bitly_key`)."""
        return self.counters.of_key(self.shorten_path, event_id)

    def route(self, request: VendorRequest) -> Route | Reply:
        if request.method != "POST" or request.path != self.shorten_path:
            return Reply(404, {"message": "NOT_FOUND", "resource": "bitlinks", "description": "Not found"})
        body = request.json()
        long_url = body.get("long_url") if isinstance(body, dict) else None
        return Route(self.shorten_path, bitly_key(long_url) if isinstance(long_url, str) else None)

    def decide(self, request: VendorRequest, key: str | None) -> tuple[Reply, Effect | None]:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(
                403, {"message": "FORBIDDEN", "resource": "bitlinks", "description": "Forbidden"}
            ), None
        body = request.json()
        body = body if isinstance(body, dict) else {}
        long_url = body.get("long_url")
        if not isinstance(long_url, str) or not long_url.startswith(("http://", "https://")) or key is None:
            invalid = {
                "message": "INVALID_ARG_LONG_URL",
                "resource": "bitlinks",
                "description": "The value provided is invalid.",
                "errors": [{"field": "long_url", "error_code": "invalid"}],
            }
            return Reply(400, invalid), None
        self._latency()
        fault = self.faults.decide(key)
        if fault is Effect.THROTTLED:
            return self.rate_limited(429), fault
        if fault is not None:
            return Reply(503, {"message": "TEMPORARILY_UNAVAILABLE", "resource": "bitlinks"}), fault
        return self._shorten(body, long_url), None

    def _shorten(self, body: Mapping[str, Any], long_url: str) -> Reply:
        domain = str(body.get("domain") or "bit.ly")
        group = body.get("group_guid") if isinstance(body.get("group_guid"), str) else None
        with self._state:
            existing = (group, long_url) in self.links
            if not existing:
                digest = hashlib.sha256(f"{group}|{long_url}".encode()).hexdigest()[:7]
                created_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
                self.links[(group, long_url)] = (digest, created_at)
            digest, created_at = self.links[(group, long_url)]
        bitlink_id = f"{domain}/{digest}"
        link = {
            "created_at": created_at,
            "id": bitlink_id,
            "link": f"https://{bitlink_id}",
            "custom_bitlinks": [],
            "long_url": long_url,
            "archived": False,
            "tags": [],
            "deeplinks": [],
            "references": {"group": f"https://api-ssl.bitly.com/v4/groups/{group or 'Bsandbox'}"},
        }
        return Reply(200 if existing else 201, link)
