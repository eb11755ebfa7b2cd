"""A member of the fake Accounts API and AppSync `tmAccount` events for the proxy's tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events"
ROLE_ARN = "arn:aws:iam::123456789012:role/acoe-client-test"
MEMBER_ID = "1234567890"
MEMBER: dict[str, Any] = {
    "memberId": MEMBER_ID,
    "firstName": " Jane ",
    "lastName": "Doe",
    "emails": [{"address": "Jane.Doe@Example.COM", "primary": True}],
    "phones": [{"number": "(555) 555-0123", "countryCode": "US", "primary": True}],
    "countryCode": "us",
    "locale": "en_US",
}


def tm_account_event(**arguments: Any) -> dict[str, Any]:
    """The realistic AppSync direct-resolver event of `tmAccount`, with these arguments."""
    event: dict[str, Any] = json.loads((EVENTS / "proxy_tm_account_service-appsync.json").read_text())
    event["arguments"] = copy.deepcopy(arguments)
    return event
