"""The Discovery API v2 client: one event in every locale, on the shared vendor HTTP client."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from workers.shared.discovery.errors import DISCOVERY_VENDOR, EventNotFoundError, InvalidEventPayloadError
from workers.shared.discovery.rules import is_valid_event_id
from workers.shared.errors import PermanentVendorError, SecretError
from workers.shared.vendor_http import VendorClient, secret_value

if TYPE_CHECKING:
    import urllib3


class EventSource(Protocol):
    """Where event payloads come from (the Discovery client, or a test double)."""

    def event(self, event_id: str) -> Mapping[str, Any]: ...


def api_key_from_secret(secret_arn: str) -> str:
    """The Discovery API key from its secret (`{"apiKey": "..."}`), cached by the secrets provider."""
    api_key = secret_value(secret_arn).get("apiKey")
    if not isinstance(api_key, str) or not api_key:
        raise SecretError(f"secret {secret_arn} has no apiKey string")
    return api_key


class DiscoveryClient:
    """GET {DISCOVERY_URL}/events/{id}.json?apikey=...&locale=* on the shared vendor HTTP client."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: Callable[[], str],
        timeout_seconds: float = 5.0,
        max_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        self._api_key = api_key
        self._vendor = VendorClient(
            base_url,
            name=DISCOVERY_VENDOR,
            timeout_seconds=timeout_seconds,
            max_attempts=max_attempts,
            sleep=sleep,
            pool=pool,
        )

    def event(self, event_id: str) -> Mapping[str, Any]:
        """The event payload in every locale; EventNotFoundError for an unknown id."""
        if not is_valid_event_id(event_id):
            # Never put an unchecked id into the vendor's URL path.
            raise EventNotFoundError(event_id, "malformed event id")
        try:
            response = self._vendor.request(
                "GET", f"events/{event_id}.json", params={"apikey": self._api_key(), "locale": "*"}
            )
        except PermanentVendorError as error:
            if error.status_code == 404:
                raise EventNotFoundError(event_id, error.reason) from None
            raise
        try:
            payload = response.json()
        except ValueError:
            raise InvalidEventPayloadError(event_id, "response is not JSON") from None
        if not isinstance(payload, Mapping):
            raise InvalidEventPayloadError(event_id, "response is not a JSON object")
        return payload
