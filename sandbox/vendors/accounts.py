"""The TM Accounts API fake: `GET /v1/members/{id}` behind an API key (and SigV4 when required).

It speaks the contract of `workers/shared/accounts.py`: the `x-api-key` header, API Gateway's 403
"Missing Authentication Token" when a signature is required and absent, the member document as
seeded (two sample members by default), 404 for an unknown member.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Mapping
from typing import Any, Final

from sandbox.vendors.faults import Effect, VendorFaults
from sandbox.vendors.server import Reply, Route, VendorRequest, VendorServer, is_sigv4_signed

ACCOUNTS_API_KEY: Final = "sandbox-accounts-api-key"
_MEMBER_PATH: Final = re.compile(r"^/v1/members/(?P<member_id>[^/?]+)$")
_MEMBERS_ENDPOINT: Final = "members"

SAMPLE_MEMBERS: Final[tuple[dict[str, Any], ...]] = (
    {
        "memberId": "sandbox-member-1",
        "firstName": "Ava",
        "lastName": "Martin",
        "emails": [{"address": "ava.martin@sandbox.example.com", "primary": True}],
        "phones": [{"number": "(312) 555-0142", "countryCode": "US", "primary": True}],
        "countryCode": "US",
        "locale": "en_US",
    },
    {
        "memberId": "sandbox-member-2",
        "firstName": "Élodie",
        "lastName": "Tremblay",
        "emails": [{"address": "Elodie.Tremblay@Sandbox.Example.com", "primary": True}],
        "phones": [{"number": "+1 514 555 0199", "primary": True}],
        "countryCode": "CA",
        "locale": "fr_CA",
    },
)


class Accounts(VendorServer):
    """TM Accounts `GET /v1/members/{id}` behind an API key: the seeded member documents, 404 otherwise."""

    vendor = "accounts"

    def __init__(
        self,
        *,
        port: int = 0,
        faults: VendorFaults | None = None,
        api_key: str = ACCOUNTS_API_KEY,
        require_signature: bool = False,
    ) -> None:
        super().__init__(port=port, faults=faults)
        self.api_key = api_key
        self.require_signature = require_signature
        self._members: dict[str, dict[str, Any]] = {}
        self._state = threading.Lock()
        for member in SAMPLE_MEMBERS:
            self.add(member)

    def add(self, document: Mapping[str, Any]) -> None:
        """Serve this member document under its `memberId`."""
        with self._state:
            self._members[str(document["memberId"])] = copy.deepcopy(dict(document))

    def route(self, request: VendorRequest) -> Route | Reply:
        match = _MEMBER_PATH.match(request.path)
        if request.method != "GET" or match is None:
            return Reply(404, {"message": "Not Found"})
        return Route(_MEMBERS_ENDPOINT, match["member_id"])

    def decide(self, request: VendorRequest, key: str | None) -> tuple[Reply, Effect | None]:
        if request.headers.get("x-api-key") != self.api_key:
            return Reply(403, {"message": "Forbidden"}), None
        if self.require_signature and not is_sigv4_signed(request.headers):
            return Reply(403, {"message": "Missing Authentication Token"}), None
        member_id = key or ""
        self._latency()
        fault = self.faults.decide(member_id)
        if fault is not None:
            return Reply(503, {"message": "Service Unavailable"}), fault
        with self._state:
            member = copy.deepcopy(self._members.get(member_id))
        if member is None:
            return Reply(404, {"message": f"member {member_id} not found"}), None
        return Reply(200, member), None
