"""Bitly v4: one long URL in, one short link out; Bitly's rate-limit answers are retryable errors."""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workers.shared.errors import PermanentVendorError, RetryableVendorError, SecretError, validation_reason
from workers.shared.vendor_http import VendorClient, secret_value

VENDOR = "bitly"
# `POST /v4/shorten` takes only long_url, domain and group_guid; `POST /v4/bitlinks` also takes
# tags and a title but has a lower platform rate limit (Bitly's own advice): we shorten, no tags.
SHORTEN_PATH = "/shorten"
DEFAULT_DOMAIN = "bit.ly"
# Bitly's platform limits (per minute, per hour) answer 429, or 403 with this code in `message`
# (its OpenAPI documents 403 with an X-Ratelimit-Reason header, and neither Retry-After nor quotas).
RATE_LIMIT_CODES = frozenset({"RATE_LIMIT_EXCEEDED"})


class Bitlink(BaseModel):
    """A Bitly short link: `link` (https://bit.ly/3xYzAbC) and its id (bit.ly/3xYzAbC)."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    id: str = Field(min_length=1)
    link: str = Field(pattern=r"^https?://\S+$")
    long_url: str | None = None


class BitlyRateLimitedError(RetryableVendorError):
    """Bitly refused the call for its per-minute or per-hour limit; the limit resets, so retry later."""


class BitlyClient:
    """Shortens URLs with Bitly v4 `POST /shorten` on a configured vendor client."""

    def __init__(
        self, vendor: VendorClient, *, group_guid: str | None = None, domain: str = DEFAULT_DOMAIN
    ) -> None:
        self._vendor = vendor
        self.group_guid = group_guid or None
        self.domain = domain

    def shorten(self, long_url: str) -> Bitlink:
        """The Bitlink of `long_url`; RetryableVendorError (incl. rate limits) or PermanentVendorError."""
        body = {"long_url": long_url, "domain": self.domain}
        if self.group_guid:
            body["group_guid"] = self.group_guid
        try:
            # Bitly answers the same long URL in a group with the same Bitlink (200 instead of 201),
            # so repeating a POST after a timeout or a 5xx cannot create a second link.
            response = self._vendor.request("POST", SHORTEN_PATH, json=body, idempotent=True)
        except PermanentVendorError as error:
            if error.status_code == 403 and error.reason in RATE_LIMIT_CODES:
                raise BitlyRateLimitedError(
                    error.vendor, error.reason, status_code=error.status_code, retry_after=error.retry_after
                ) from None
            raise
        except RetryableVendorError as error:
            if error.status_code == 429:
                raise BitlyRateLimitedError(
                    error.vendor, error.reason, status_code=429, retry_after=error.retry_after
                ) from None
            raise
        try:
            return Bitlink.model_validate(response.json())
        except ValueError as error:
            reason = validation_reason(error) if isinstance(error, ValidationError) else str(error)
            # A 2xx without a usable link is Bitly misbehaving, not our input: worth another try.
            raise RetryableVendorError(
                VENDOR, f"unexpected shorten response: {reason}", status_code=response.status
            ) from None


def bitly_token(secret_arn: str) -> str:
    """The access token in the Bitly secret (`{"token": "..."}`)."""
    token = secret_value(secret_arn).get("token")
    if not isinstance(token, str) or not token:
        raise SecretError(f"secret {secret_arn} has no non-empty 'token'")
    return token


def bearer_headers(secret_arn: str) -> Callable[[], dict[str, str]]:
    """A headers provider sending the secret's token as a bearer token (read per call, cached 5 min)."""
    return lambda: {"Authorization": f"Bearer {bitly_token(secret_arn)}"}


def bitly_client(
    base_url: str,
    *,
    secret_arn: str,
    group_guid: str | None = None,
    timeout_seconds: float = 10.0,
    max_attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> BitlyClient:
    """A Bitly client on `base_url` (e.g. https://api-ssl.bitly.com/v4) authenticated from the secret."""
    vendor = VendorClient(
        base_url,
        name=VENDOR,
        timeout_seconds=timeout_seconds,
        max_attempts=max_attempts,
        headers_provider=bearer_headers(secret_arn),
        sleep=sleep,
    )
    return BitlyClient(vendor, group_guid=group_guid)
