"""A behavioural TM Accounts API on 127.0.0.1: `GET /v1/members/{id}` behind an API key and SigV4."""

from __future__ import annotations

import re
from typing import Any

from loopback_http import Answer, LoopbackServer, Request

API_KEY = "accounts-test-key"
MEMBER_PATH = re.compile(r"^/v1/members/(?P<member_id>[^/?]+)$")


class FakeAccounts(LoopbackServer):
    """Serves member documents; 403 without the API key (or without a SigV4 signature when required)."""

    def __init__(self, *, api_key: str = API_KEY, require_signature: bool = False) -> None:
        super().__init__()
        self.api_key = api_key
        self.require_signature = require_signature
        self.members: dict[str, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        """The API base URL (ACCOUNTS_URL)."""
        return self.origin

    def route(self, request: Request) -> Answer:
        match = MEMBER_PATH.match(request.path)
        if request.method != "GET" or match is None:
            return Answer(404, {"message": "Not Found"})
        headers = {name.lower(): value for name, value in request.headers.items()}
        if headers.get("x-api-key") != self.api_key:
            return Answer(403, {"message": "Forbidden"})
        if self.require_signature and not is_sigv4_signed(headers):
            return Answer(403, {"message": "Missing Authentication Token"})
        member = self.members.get(match["member_id"])
        if member is None:
            return Answer(404, {"message": f"member {match['member_id']} not found"})
        return Answer(200, member)


def is_sigv4_signed(headers: dict[str, str]) -> bool:
    """Whether lower-cased `headers` carry an execute-api SigV4 signature of session credentials."""
    authorization = headers.get("authorization", "")
    return (
        authorization.startswith("AWS4-HMAC-SHA256 Credential=")
        and "/execute-api/aws4_request" in authorization
        and "SignedHeaders=" in authorization
        and "x-api-key" in authorization  # the key is part of what is signed
        and bool(headers.get("x-amz-date"))
        and bool(headers.get("x-amz-security-token"))
    )
