"""The demo report's arithmetic: terminal statuses, failure reasons, latency percentiles (no sandbox)."""

from __future__ import annotations

import pytest

from sandbox.demo.report import failure_reason, is_terminal, percentiles


@pytest.mark.parametrize(
    ("item", "terminal"),
    [
        ({"status": {"id": "DELIVERED"}, "contactMethod": "sms"}, True),
        ({"status": {"id": "FAILED"}, "contactMethod": "email"}, True),
        ({"status": {"id": "EXPIRED"}, "contactMethod": "sms"}, True),
        ({"status": {"id": "EXPIRED"}, "contactMethod": "email"}, True),
        ({"status": {"id": "TRIGGERED"}, "contactMethod": "email"}, True),
        ({"status": {"id": "TRIGGERED"}, "contactMethod": "sms"}, False),
        ({"status": {"id": "RETRY"}, "contactMethod": "email"}, False),
    ],
)
def test_email_is_terminal_once_ses_accepted_it_and_sms_once_delivered_failed_or_expired(
    item: dict[str, object], terminal: bool
) -> None:
    assert is_terminal(item) is terminal


def test_failure_reasons_name_the_vendor_code_or_exhausted_attempts() -> None:
    assert (
        failure_reason({"errors": [{"reason": "INVALID_NUMBER"}], "sendAttempts": 1}, 3) == "INVALID_NUMBER"
    )
    carrier = {"errors": [{"reason": "BLOCKED: the carrier blocked the message"}], "sendAttempts": 1}
    assert failure_reason(carrier, 3) == "BLOCKED"
    outage = {"errors": [{"reason": "SERVICE_UNAVAILABLE"}] * 3, "sendAttempts": 3}
    assert failure_reason(outage, 3) == "MAX_SEND_ATTEMPTS_EXCEEDED"


def test_percentiles_are_nearest_rank() -> None:
    assert percentiles([]) == {}
    assert percentiles([float(n) for n in range(1, 101)]) == {
        "count": 100,
        "p50": 50.0,
        "p90": 90.0,
        "p99": 99.0,
        "max": 100.0,
    }
