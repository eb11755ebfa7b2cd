"""The internal SMS service client: one signed, idempotent POST per message, failures typed by reason.

The wire contract (request, answers, reasons, status events, idempotency) is docs/contracts/sms.md.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import urllib3
from pydantic import ValidationError

from workers.shared.errors import PermanentVendorError, RetryableVendorError, SecretError, VendorError
from workers.shared.messages import SmsSendAccepted, SmsSendRequest
from workers.shared.vendor_http import RequestSigner, SigV4Signer, VendorClient, secret_value

SMS_SERVICE = "sms-service"
MESSAGES_PATH = "/v1/messages"
API_KEY_HEADER = "x-api-key"
API_KEY_FIELD = "apiKey"
SIGNING_SERVICE = "execute-api"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
# Fixed forever: a new namespace gives every notification a new key, so the service would send again
# what it accepted before the change.
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0c3f7e-8d6a-4f4e-9c1d-2a7e6b9d0c41")

# Error contract of the service: a 4xx body `{"reason": "<CODE>", "message": "<text>"}`. Codes are
# compared whole (after trimming and upper-casing), never by substring.
PERMANENT_REASONS = frozenset({"INVALID_NUMBER", "BLOCKED", "OPTED_OUT"})
"""The recipient cannot be reached by this message: retrying the same request cannot help."""
RETRYABLE_REASONS = frozenset(
    {"RATE_LIMITED", "THROTTLED", "CARRIER_UNAVAILABLE", "SERVICE_UNAVAILABLE", "TEMPORARILY_UNAVAILABLE"}
)
"""4xx reasons that mean "not now" rather than "never": the send is retried like a 5xx."""
NO_RESPONSE_REASON = "NO_RESPONSE"


# Neither retryable nor permanent on purpose: the SMS is on its way, so the caller keeps its send
# claim (no redelivery re-sends) and lets the service's status events move the notification on.
# Once the claim's lease ends the sweeper releases it; the re-send's Idempotency-Key makes the
# service answer with this same message.
class UnreadableAcceptanceError(VendorError):
    """The service accepted the message (2xx) but its answer has no readable messageId."""


def idempotency_key(reference: str) -> str:
    """The notification's de-duplication key at the service: the same for every attempt (UUIDv5)."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, reference))


def normalized_reason(reason: str) -> str:
    """The service's reason as a comparable code (`" invalid_number "` → `"INVALID_NUMBER"`)."""
    return reason.strip().upper()


def reason_code(error: VendorError) -> str:
    """A metric-safe code from a fixed vocabulary: a known reason, else `HTTP_<status>` or NO_RESPONSE."""
    reason = normalized_reason(error.reason)
    if reason in PERMANENT_REASONS or reason in RETRYABLE_REASONS:
        return reason
    if error.status_code is not None:
        return f"HTTP_{error.status_code}"
    return NO_RESPONSE_REASON


class SmsServiceClient:
    """Sends SMS through the internal service: SigV4 as the configured role (if any) plus an API key."""

    def __init__(
        self,
        base_url: str,
        *,
        secret_arn: str,
        region: str,
        role_arn: str | None = None,
        timeout_seconds: float = 10.0,
        max_attempts: int = 1,
        backoff_base: float = 0.2,
        retry_window_seconds: float | None = None,
        signer: RequestSigner | None = None,
        pool: urllib3.PoolManager | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.secret_arn = secret_arn
        self._signer = signer
        if self._signer is None and role_arn:
            self._signer = SigV4Signer(role_arn, region, SIGNING_SERVICE)
        # One request per attempt by default: the notification's RETRY status paces the retries.
        # The service deduplicates on the Idempotency-Key header, so extra attempts are safe;
        # `retry_window_seconds` keeps them to quick answers (see VendorClient).
        self._vendor = VendorClient(
            base_url,
            name=SMS_SERVICE,
            timeout_seconds=timeout_seconds,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            retry_window_seconds=retry_window_seconds,
            signer=self._signer,
            headers_provider=self._api_key_header,
            pool=pool,
            sleep=sleep,
        )
        self.messages_url = f"{self._vendor.base_url}{MESSAGES_PATH}"

    def preflight(self) -> None:
        """Resolve the API key and the signing role now, so a broken secret or role fails early."""
        self._api_key_header()
        if self._signer is not None:
            self._signer.sign("POST", self.messages_url, {}, None)

    def send(self, request: SmsSendRequest) -> SmsSendAccepted:
        """Submit one SMS; RetryableVendorError (429, 5xx, timeouts) or PermanentVendorError if not taken.

        Every attempt for a notification carries the same Idempotency-Key (from its reference): a
        retry of a request whose answer was lost gets the first request's messageId, not a second SMS.
        """
        payload = request.model_dump(mode="json", by_alias=True, exclude_none=True)
        headers = {IDEMPOTENCY_KEY_HEADER: idempotency_key(request.reference)}
        try:
            response = self._vendor.request(
                "POST", MESSAGES_PATH, json=payload, headers=headers, idempotent=True
            )
        except PermanentVendorError as error:
            if normalized_reason(error.reason) in RETRYABLE_REASONS:
                raise RetryableVendorError(
                    error.vendor, error.reason, status_code=error.status_code
                ) from error
            raise
        try:
            return SmsSendAccepted.model_validate(response.json())
        except (ValueError, ValidationError):
            raise UnreadableAcceptanceError(
                SMS_SERVICE,
                f"accepted without a readable messageId: {response.text[:120]!r}",
                status_code=response.status,
            ) from None

    def _api_key_header(self) -> dict[str, str]:
        api_key = secret_value(self.secret_arn).get(API_KEY_FIELD)
        if not isinstance(api_key, str) or not api_key:
            raise SecretError(f"secret {self.secret_arn} has no {API_KEY_FIELD!r} string")
        return {API_KEY_HEADER: api_key}
