"""Error types of the workers: whether a failure is worth retrying is a class, never a message."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class WorkerError(Exception):
    """Base of every error the workers raise on purpose."""


class RetryableError(WorkerError):
    """A transient failure: the same input may succeed later (throttling, 5xx, timeouts)."""


class PermanentError(WorkerError):
    """A failure that repeating the same input will not fix (bad input, 4xx, invalid number)."""


class SettingsError(PermanentError):
    """The worker's environment is missing or has invalid variables; raised at cold start."""


class RecordError(PermanentError):
    """A trigger record (stream, queue, schedule or resolver payload) could not be parsed."""


class SecretError(PermanentError):
    """A vendor secret exists but is not the JSON object the worker expects."""


class VendorError(WorkerError):
    """A vendor API call failed; `status_code` is None when no HTTP response arrived."""

    def __init__(
        self, vendor: str, reason: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        self.vendor = vendor
        self.reason = reason
        self.status_code = status_code
        self.retry_after = retry_after
        status = f"HTTP {status_code}" if status_code is not None else "no response"
        super().__init__(f"{vendor}: {status}: {reason}")


class RetryableVendorError(VendorError, RetryableError):
    """The vendor failed transiently (5xx, 429, timeout, connection) and attempts ran out."""


class AnswerLostError(RetryableVendorError):
    """The request left but no answer arrived (read timeout, dropped connection): it may have been taken."""


class PermanentVendorError(VendorError, PermanentError):
    """The vendor rejected the request (4xx other than 408/429): retrying cannot help."""


def validation_reason(error: ValidationError) -> str:
    """A one-line account of what failed validation, naming each field (`status.id: ...`)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'value'}: {item['msg']}"
        for item in error.errors(include_url=False)
    )
