"""A behavioural Bitly v4 on 127.0.0.1: bearer token, `POST /v4/shorten`, one link per long URL."""

from __future__ import annotations

import hashlib
from typing import Any

from loopback_http import Answer, LoopbackServer, Request

TOKEN = "bitly-test-token"


class FakeBitly(LoopbackServer):
    """Shortens like Bitly: 201 for a new link, 200 with the same link for a long URL seen before."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.links: dict[tuple[str | None, str], str] = {}
        self.failing: dict[str, Answer] = {}

    def fail_long_urls_containing(self, fragment: str, answer: Answer) -> None:
        """Answer every shorten call whose long URL contains `fragment` with `answer`."""
        self.failing[fragment] = answer

    @property
    def url(self) -> str:
        """The API base URL (BITLY_URL)."""
        return f"{self.origin}/v4"

    @property
    def shorten_calls(self) -> list[Request]:
        return [request for request in self.requests if request.path == "/v4/shorten"]

    @staticmethod
    def rate_limited(status: int = 429) -> Answer:
        """Bitly's platform-limit answer (no Retry-After: Bitly documents none)."""
        return Answer(
            status,
            {"message": "RATE_LIMIT_EXCEEDED", "resource": "bitlinks", "description": "Rate limit exceeded"},
            headers={"X-Ratelimit-Reason": "per-minute limit"} if status == 403 else {},
        )

    def route(self, request: Request) -> Answer:
        if request.method != "POST" or request.path != "/v4/shorten":
            return Answer(404, {"message": "NOT_FOUND", "resource": "bitlinks", "description": "Not found"})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Answer(403, {"message": "FORBIDDEN", "resource": "bitlinks", "description": "Forbidden"})
        body: dict[str, Any] = request.json() or {}
        long_url = body.get("long_url")
        if not isinstance(long_url, str) or not long_url.startswith(("http://", "https://")):
            return Answer(
                400,
                {
                    "message": "INVALID_ARG_LONG_URL",
                    "resource": "bitlinks",
                    "description": "The value provided is invalid.",
                    "errors": [{"field": "long_url", "error_code": "invalid"}],
                },
            )
        for fragment, answer in self.failing.items():
            if fragment in long_url:
                return answer
        domain = body.get("domain") or "bit.ly"
        group = body.get("group_guid")
        key = (group, long_url)
        existing = key in self.links
        if not existing:
            self.links[key] = hashlib.sha256(f"{group}|{long_url}".encode()).hexdigest()[:7]
        bitlink_id = f"{domain}/{self.links[key]}"
        return Answer(
            200 if existing else 201,
            {
                "created_at": "2024-01-15T09:30:00+0000",
                "id": bitlink_id,
                "link": f"https://{bitlink_id}",
                "custom_bitlinks": [],
                "long_url": long_url,
                "archived": False,
                "tags": [],
                "deeplinks": [],
                "references": {"group": f"https://api-ssl.bitly.com/v4/groups/{group or 'Bdefault'}"},
            },
        )
