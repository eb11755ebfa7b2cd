"""Vendor HTTP calls: one pooled urllib3 client with bounded retries, SigV4 signing and secrets."""

from __future__ import annotations

import email.utils
import json as jsonlib
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError
from urllib3.exceptions import TimeoutError as UrllibTimeoutError

from workers.shared.clients import http_pool, secrets_provider, sts
from workers.shared.errors import AnswerLostError, PermanentVendorError, RetryableVendorError, SecretError
from workers.shared.observability import LOGGER, span

if TYPE_CHECKING:
    from botocore.credentials import Credentials
    from mypy_boto3_sts import STSClient

MAX_TIMEOUT_SECONDS = 30.0  # one delivery attempt never waits longer
CONNECT_TIMEOUT_SECONDS = 3.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_REASON_KEYS = (
    "reason",
    "error",
    "errors",
    "detail",
    "message",
    "description",
    "fault",
    "faultstring",
    "error_description",
)
_REASON_LENGTH = 200


@dataclass(frozen=True)
class VendorResponse:
    """A successful (2xx) vendor response."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return jsonlib.loads(self.body) if self.body else None


class RequestSigner(Protocol):
    """Adds authentication headers to a request about to be sent."""

    def sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> dict[str, str]: ...


class VendorClient:
    """Calls one vendor API: per-attempt timeout, backoff with full jitter on 5xx/429/timeouts only."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str | None = None,
        timeout_seconds: float = 10.0,
        max_attempts: int = 3,
        backoff_base: float = 0.2,
        backoff_cap: float = 5.0,
        retry_after_cap: float = 10.0,
        signer: RequestSigner | None = None,
        headers_provider: Callable[[], Mapping[str, str]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        pool: urllib3.PoolManager | None = None,
        retry_window_seconds: float | None = None,
    ) -> None:
        """`retry_window_seconds`: a further attempt starts only while the call, its backoff included,
        has taken less than this; it then takes at most its own timeout. A quick answer (a 5xx, a 429)
        is retried at once, a slow one (a timeout) is left to the caller, whose time budget holds one
        attempt (the sender's reserve is one vendor timeout plus its writes)."""
        if not 0 < timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(
                f"timeout_seconds must be in (0, {MAX_TIMEOUT_SECONDS:g}], got {timeout_seconds}"
            )
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if backoff_base < 0 or backoff_cap < 0:
            raise ValueError("backoff_base and backoff_cap must not be negative")
        self.base_url = base_url.rstrip("/")
        self.name = name or (urlsplit(base_url).hostname or base_url)
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self._signer = signer
        self._headers_provider = headers_provider
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._pool = pool
        self.retry_window_seconds = retry_window_seconds

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> VendorResponse:
        """Send a request: 2xx returns, 4xx raises PermanentVendorError, spent retries RetryableVendorError.

        `idempotent` (default: by method) allows repeating a request the vendor may already have
        processed (read timeout, dropped connection, 5xx); POSTs repeat only on connect failures
        and 429 unless the caller vouches for them (e.g. the vendor deduplicates a reference).
        """
        method = method.upper()
        url = self._url(path, params)
        body = jsonlib.dumps(json, separators=(",", ":")).encode() if json is not None else None
        repeatable = idempotent if idempotent is not None else method in IDEMPOTENT_METHODS
        timeout = urllib3.Timeout(
            connect=min(CONNECT_TIMEOUT_SECONDS, self.timeout_seconds), read=self.timeout_seconds
        )
        # Query strings can hold API keys: spans and logs get the path only.
        attributes = {
            "http.request.method": method,
            "server.address": self.name,
            "url.path": urlsplit(url).path,
        }
        started = self._clock()
        with span(f"{self.name} {method}", kind="client", attributes=attributes) as current:
            for attempt in range(1, self.max_attempts + 1):
                current.set_attribute("dmd.attempts", attempt)
                outcome, may_repeat = self._attempt(
                    method, url, body=body, headers=headers, timeout=timeout, repeatable=repeatable
                )
                if isinstance(outcome, VendorResponse):
                    current.set_attribute("http.response.status_code", outcome.status)
                    return outcome
                if attempt == self.max_attempts or not may_repeat:
                    raise outcome
                delay = self._delay(attempt, outcome.retry_after)
                if delay is None:  # the vendor asks for a longer pause than a retry here may take
                    raise outcome
                window = self.retry_window_seconds
                if window is not None and self._clock() - started + delay > window:
                    raise outcome  # no time for another attempt within the caller's budget
                LOGGER.warning(
                    "Vendor call failed; retrying",
                    extra={
                        "vendor": self.name,
                        "status_code": outcome.status_code,
                        "reason": outcome.reason,
                        "attempt": attempt,
                        "delay_seconds": round(delay, 3),
                    },
                )
                self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _attempt(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        timeout: urllib3.Timeout,
        repeatable: bool,
    ) -> tuple[VendorResponse | RetryableVendorError, bool]:
        request_headers = self._request_headers(method, url, body, headers)
        pool = self._pool if self._pool is not None else http_pool()
        try:
            response = pool.request(
                method,
                url,
                body=body,
                headers=request_headers,
                timeout=timeout,
                retries=False,
                redirect=False,
            )
        except ConnectTimeoutError as error:  # also refused / unresolvable: the request never left
            return RetryableVendorError(self.name, f"connection failed ({type(error).__name__})"), True
        except UrllibTimeoutError:
            return AnswerLostError(self.name, f"no response within {self.timeout_seconds:g} s"), repeatable
        except HTTPError as error:
            return AnswerLostError(self.name, f"connection error ({type(error).__name__})"), repeatable
        status = response.status
        if 200 <= status < 300:
            return VendorResponse(status=status, headers=dict(response.headers), body=response.data), False
        reason = vendor_reason(response.data, fallback=response.reason or f"HTTP {status}")
        if status in (408, 429) or status >= 500:
            retry_after = _retry_after(response.headers.get("Retry-After"), self._clock)
            # 429 means "not processed": safe to repeat even for a POST.
            retryable = RetryableVendorError(self.name, reason, status_code=status, retry_after=retry_after)
            return retryable, repeatable or status == 429
        raise PermanentVendorError(self.name, reason, status_code=status)

    def _request_headers(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str] | None
    ) -> dict[str, str]:
        combined = {"Accept": "application/json", "User-Agent": "dmd-workers"}
        if body is not None:
            combined["Content-Type"] = "application/json"
        if self._headers_provider is not None:
            combined.update(self._headers_provider())
        combined.update(headers or {})
        if self._signer is not None:
            # Signed per attempt: X-Amz-Date must be fresh and session credentials may rotate.
            combined = self._signer.sign(method, url, combined, body)
        return combined

    def _delay(self, attempt: int, retry_after: float | None) -> float | None:
        backoff = self._jitter() * min(self.backoff_cap, self.backoff_base * 2.0 ** (attempt - 1))
        if retry_after is None:
            return backoff
        if retry_after > self.retry_after_cap:
            return None
        return max(retry_after, backoff)

    def _url(self, path: str, params: Mapping[str, Any] | None) -> str:
        url = f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        return url


def vendor_reason(body: bytes, *, fallback: str) -> str:
    """The vendor's own reason from a JSON error body (reason, error.detail, message, ...), else fallback."""
    try:
        parsed = jsonlib.loads(body) if body else None
    except ValueError:
        parsed = None
    reason = _find_reason(parsed, depth=0)
    return (reason or fallback)[:_REASON_LENGTH]


def _find_reason(value: Any, *, depth: int) -> str | None:
    if depth > 4:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        return next((found for item in value if (found := _find_reason(item, depth=depth + 1))), None)
    if isinstance(value, dict):
        for key in _REASON_KEYS:
            if key in value and (found := _find_reason(value[key], depth=depth + 1)):
                return found
    return None


def _retry_after(value: str | None, clock: Callable[[], float]) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit(), not to float()
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - clock())


class SigV4Signer:
    """Signs requests with SigV4 as an assumed role; credentials are reused until close to expiry."""

    def __init__(
        self,
        role_arn: str,
        region: str,
        service: str = "execute-api",
        *,
        session_name: str = "dmd-workers",
        sts_client: STSClient | None = None,
        refresh_margin_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.role_arn = role_arn
        self.region = region
        self.service = service
        self._session_name = session_name
        self._sts_client = sts_client
        self._refresh_margin = refresh_margin_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._credentials: Credentials | None = None
        self._expires_at = 0.0

    def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> dict[str, str]:
        """The headers plus Authorization, X-Amz-Date and X-Amz-Security-Token."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
        SigV4Auth(self._current_credentials(), self.service, self.region).add_auth(request)
        return dict(request.headers.items())

    def _current_credentials(self) -> Credentials:
        with self._lock:
            if self._credentials is None or self._clock() >= self._expires_at - self._refresh_margin:
                self._credentials, self._expires_at = self._assume()
            return self._credentials

    def _assume(self) -> tuple[Credentials, float]:
        from botocore.credentials import Credentials

        client = self._sts_client if self._sts_client is not None else sts()
        with span("STS.AssumeRole", kind="client", attributes={"aws.role_arn": self.role_arn}):
            response = client.assume_role(RoleArn=self.role_arn, RoleSessionName=self._session_name)
        issued = response["Credentials"]
        credentials = Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])
        return credentials, issued["Expiration"].timestamp()


def secret_value(arn: str, *, max_age: int = 300) -> dict[str, Any]:
    """A vendor secret as a JSON object, cached for `max_age` seconds (Powertools parameters)."""
    from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError

    try:
        value = secrets_provider().get(arn, transform="json", max_age=max_age)
    except TransformParameterError:
        raise SecretError(f"secret {arn} is not valid JSON") from None
    if not isinstance(value, dict):
        raise SecretError(f"secret {arn} is JSON but not an object")
    return value
