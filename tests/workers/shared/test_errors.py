"""Errors: retryable vs permanent is a class, and vendor errors carry status and reason."""

from __future__ import annotations

import pytest

from workers.shared.errors import (
    PermanentError,
    PermanentVendorError,
    RecordError,
    RetryableError,
    RetryableVendorError,
    SecretError,
    SettingsError,
    VendorError,
    WorkerError,
)


@pytest.mark.parametrize(
    ("error_type", "retryable"),
    [
        (RetryableVendorError, True),
        (PermanentVendorError, False),
    ],
)
def test_vendor_errors_are_retryable_or_permanent_by_class(
    error_type: type[VendorError], *, retryable: bool
) -> None:
    # Given a vendor failure of either kind
    error = error_type("sms-service", "throttled", status_code=503, retry_after=2.0)

    # Then the class alone tells whether to retry, and the details are kept
    assert isinstance(error, VendorError)
    assert isinstance(error, WorkerError)
    assert isinstance(error, RetryableError) is retryable
    assert isinstance(error, PermanentError) is not retryable
    assert (error.vendor, error.status_code, error.reason, error.retry_after) == (
        "sms-service",
        503,
        "throttled",
        2.0,
    )
    assert str(error) == "sms-service: HTTP 503: throttled"


def test_vendor_error_without_response_says_so() -> None:
    # Given a timeout (no HTTP status)
    error = RetryableVendorError("bitly", "no response within 10 s")

    # Then the message says no response arrived
    assert error.status_code is None
    assert str(error) == "bitly: no response: no response within 10 s"


@pytest.mark.parametrize("error_type", [RecordError, SettingsError, SecretError])
def test_input_and_configuration_errors_are_permanent(error_type: type[WorkerError]) -> None:
    # Given an unparseable record, a bad environment or a malformed secret
    error = error_type("what was wrong")

    # Then retrying the same input cannot help
    assert isinstance(error, PermanentError)
    assert not isinstance(error, RetryableError)
