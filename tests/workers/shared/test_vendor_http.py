"""Vendor HTTP client against a scripted server on 127.0.0.1: retries, errors, signing, secrets."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import boto3
import pytest
from runtime_fakes import Scripted, ScriptedServer

from workers.shared.clients import reset_clients
from workers.shared.errors import AnswerLostError, PermanentVendorError, RetryableVendorError, SecretError
from workers.shared.vendor_http import SigV4Signer, VendorClient, secret_value, vendor_reason


class RecordedSleep:
    """Injected sleep: records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


def client(server: ScriptedServer, sleep: RecordedSleep, **options: Any) -> VendorClient:
    settings: dict[str, Any] = {
        "name": "sms-service",
        "timeout_seconds": 2.0,
        "max_attempts": 3,
        "sleep": sleep,
    }
    return VendorClient(server.url, **{**settings, **options})


def json_body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_success_returns_the_json_body_and_reuses_the_connection(
    vendor_server: ScriptedServer, sleep: RecordedSleep
) -> None:
    # Given a vendor answering twice
    vendor_server.respond(Scripted(body=json_body({"id": "m-1"})), Scripted(body=json_body({"id": "m-2"})))
    vendor = client(vendor_server, sleep, headers_provider=lambda: {"Authorization": "Bearer token-1"})

    # When two requests are sent
    first = vendor.request("POST", "/messages", json={"to": "+15555550123"}, params={"dryRun": "false"})
    second = vendor.request("GET", "messages/m-2")

    # Then both succeed over one kept-alive connection, with JSON and auth headers
    assert (first.status, first.json(), second.json()) == (200, {"id": "m-1"}, {"id": "m-2"})
    posted, fetched = vendor_server.requests
    assert posted.path == "/messages?dryRun=false"
    assert json.loads(posted.body) == {"to": "+15555550123"}
    assert posted.headers["Content-Type"] == "application/json"
    assert posted.headers["Authorization"] == "Bearer token-1"
    assert fetched.path == "/messages/m-2"
    assert posted.client_port == fetched.client_port
    assert sleep.delays == []


def test_5xx_is_retried_with_exponential_backoff_and_full_jitter(
    vendor_server: ScriptedServer, sleep: RecordedSleep
) -> None:
    # Given a vendor failing twice with 503 then answering
    vendor_server.respond(Scripted(status=503), Scripted(status=502), Scripted(body=json_body({"ok": True})))
    vendor = client(vendor_server, sleep, backoff_base=0.5, backoff_cap=10.0, jitter=lambda: 1.0)

    # When the request is sent
    response = vendor.request("GET", "/status")

    # Then it succeeds on the third attempt after delays base*2^(n-1) (jitter at its maximum)
    assert response.json() == {"ok": True}
    assert len(vendor_server.requests) == 3
    assert sleep.delays == [0.5, 1.0]


def test_within_a_retry_window_quick_5xx_answers_are_repeated_at_once(
    vendor_server: ScriptedServer, sleep: RecordedSleep
) -> None:
    # Given a vendor answering 503 twice at once, then taking the message, and a 1 s retry window
    vendor_server.respond(Scripted(status=503), Scripted(status=503), Scripted(body=json_body({"id": "m-1"})))
    vendor = client(vendor_server, sleep, retry_window_seconds=1.0, jitter=lambda: 1.0)

    # When an idempotent POST is sent
    response = vendor.request("POST", "/messages", json={"ref": "r"}, idempotent=True)

    # Then the blips cost two short backoffs in the call, not a failure for the caller to retry
    assert response.json() == {"id": "m-1"}
    assert len(vendor_server.requests) == 3
    assert sleep.delays == [0.2, 0.4]


def test_a_slow_failure_is_not_repeated_beyond_the_retry_window(
    vendor_server: ScriptedServer, sleep: RecordedSleep
) -> None:
    # Given a vendor that lets an idempotent POST time out, and a retry window shorter than the timeout
    vendor_server.respond(Scripted(delay_seconds=1.0), Scripted(body=json_body({"id": "m-1"})))
    vendor = client(vendor_server, sleep, timeout_seconds=0.3, retry_window_seconds=0.25)

    # When the attempt times out, then it fails at once: one attempt fits the caller's budget, two not
    with pytest.raises(AnswerLostError):
        vendor.request("POST", "/messages", json={"ref": "r"}, idempotent=True)
    assert len(vendor_server.requests) == 1
    assert sleep.delays == []


def test_jitter_keeps_every_delay_within_its_exponential_bound(
    vendor_server: ScriptedServer, sleep: RecordedSleep
) -> None:
    # Given a vendor that keeps failing and real random jitter
    vendor = client(vendor_server, sleep, max_attempts=6, backoff_base=0.1, backoff_cap=0.8)

    # When attempts run out
    with pytest.raises(RetryableVendorError) as raised:
        vendor.request("GET", "/status")

    # Then every delay is in [0, min(cap, base*2^(n-1))] and the last error says 5xx
    bounds = [0.1, 0.2, 0.4, 0.8, 0.8]
    assert len(sleep.delays) == 5
    assert all(0.0 <= delay <= bound for delay, bound in zip(sleep.delays, bounds, strict=True))
    assert raised.value.status_code == 500
    assert len(vendor_server.requests) == 6


def test_429_honours_retry_after_seconds(vendor_server: ScriptedServer, sleep: RecordedSleep) -> None:
    # Given a throttled vendor that asks for 3 seconds, even for a POST
    vendor_server.respond(
        Scripted(
            status=429, headers={"Retry-After": "3"}, body=json_body({"message": "RATE_LIMIT_EXCEEDED"})
        ),
        Scripted(status=201, body=json_body({"link": "https://bit.ly/x"})),
    )
    vendor = client(vendor_server, sleep, jitter=lambda: 1.0)

    # When the request is sent
    response = vendor.request("POST", "/v4/shorten", json={"long_url": "https://example.com"})

    # Then it waits what the vendor asked, then succeeds
    assert response.status == 201
    assert sleep.delays == [3.0]


def test_retry_after_as_http_date_is_honoured(vendor_server: ScriptedServer, sleep: RecordedSleep) -> None:
    # Given a Retry-After date 4 seconds after the (injected) clock
    now = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
    retry_at = format_datetime(now + timedelta(seconds=4), usegmt=True)
    vendor_server.respond(Scripted(status=503, headers={"Retry-After": retry_at}), Scripted())
    vendor = client(vendor_server, sleep, clock=now.timestamp, jitter=lambda: 0.0)

    # When the request is retried, then the delay is the time until that date
    vendor.request("GET", "/status")
    assert sleep.delays == [4.0]


def test_retry_after_beyond_the_cap_gives_up_at_once(
    vendor_server: ScriptedServer, sleep: RecordedSleep
) -> None:
    # Given a vendor asking for a pause longer than this invocation should wait
    vendor_server.respond(Scripted(status=429, headers={"Retry-After": "120"}))
    vendor = client(vendor_server, sleep, retry_after_cap=10.0)

    # When the request is sent, then it fails retryable, carrying the vendor's pause
    with pytest.raises(RetryableVendorError) as raised:
        vendor.request("GET", "/status")
    assert raised.value.retry_after == 120.0
    assert sleep.delays == []


def test_4xx_is_permanent_with_the_vendor_reason_and_never_retried(
    vendor_server: ScriptedServer, sleep: RecordedSleep
) -> None:
    # Given a vendor rejecting the recipient (shape of the old SMS client's errors)
    vendor_server.respond(
        Scripted(status=400, body=json_body({"error": {"detail": "INVALID_PHONE_NUMBER"}, "message": "Bad"}))
    )
    vendor = client(vendor_server, sleep)

    # When the request is sent
    with pytest.raises(PermanentVendorError) as raised:
        vendor.request("POST", "/messages", json={"to": "123"})

    # Then one attempt, no sleep, and the reason is the vendor's own
    assert (raised.value.status_code, raised.value.reason) == (400, "INVALID_PHONE_NUMBER")
    assert len(vendor_server.requests) == 1
    assert sleep.delays == []


def test_4xx_without_json_uses_the_http_reason(vendor_server: ScriptedServer, sleep: RecordedSleep) -> None:
    vendor_server.respond(Scripted(status=404, body=b"<html>nope</html>"))
    with pytest.raises(PermanentVendorError) as raised:
        client(vendor_server, sleep).request("GET", "/events/unknown")
    assert (raised.value.status_code, raised.value.reason) == (404, "Not Found")


def test_read_timeout_is_retried_for_idempotent_requests(
    vendor_server: ScriptedServer, sleep: RecordedSleep
) -> None:
    # Given a vendor that is too slow once
    vendor_server.respond(Scripted(delay_seconds=1.0), Scripted(body=json_body({"ok": True})))
    vendor = client(vendor_server, sleep, timeout_seconds=0.2)

    # When a GET is sent, then the timed-out attempt is repeated
    assert vendor.request("GET", "/events/1").json() == {"ok": True}
    assert len(sleep.delays) == 1


def test_read_timeout_is_not_repeated_for_a_post_the_vendor_may_have_processed(
    vendor_server: ScriptedServer, sleep: RecordedSleep
) -> None:
    # Given a slow vendor and a POST nobody vouched for (it might send an SMS twice)
    vendor_server.respond(Scripted(delay_seconds=1.0))
    vendor = client(vendor_server, sleep, timeout_seconds=0.2)

    # When it times out, then it fails retryable at once (the caller retries via RETRY status)
    with pytest.raises(RetryableVendorError, match=r"no response within 0\.2 s") as raised:
        vendor.request("POST", "/messages", json={"to": "+15555550123"})
    assert raised.value.status_code is None
    assert sleep.delays == []
    # And it says the answer was lost: the vendor may have taken the request
    assert isinstance(raised.value, AnswerLostError)

    # And a POST vouched idempotent (the vendor deduplicates a reference) is repeated
    vendor_server.respond(Scripted(delay_seconds=1.0), Scripted(body=json_body({"id": "m-1"})))
    assert vendor.request("POST", "/messages", json={"ref": "r"}, idempotent=True).json() == {"id": "m-1"}


def test_connection_refused_is_retried_then_retryable(sleep: RecordedSleep) -> None:
    # Given a port nobody listens on (the request never reaches a vendor)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    vendor = VendorClient(f"http://127.0.0.1:{port}", name="discovery", max_attempts=3, sleep=sleep)

    # When a POST is sent, then even it is retried (nothing was processed), and fails retryable
    with pytest.raises(RetryableVendorError, match="connection failed") as raised:
        vendor.request("POST", "/x", json={})
    assert raised.value.status_code is None
    assert len(sleep.delays) == 2
    assert not isinstance(raised.value, AnswerLostError)  # the request never left


def test_per_attempt_timeout_is_capped_at_30_seconds() -> None:
    with pytest.raises(ValueError, match="timeout_seconds must be in"):
        VendorClient("http://127.0.0.1:1", timeout_seconds=31)
    with pytest.raises(ValueError, match="max_attempts"):
        VendorClient("http://127.0.0.1:1", max_attempts=0)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b'{"message": "INVALID_ARG_LONG_URL", "description": "The value provided is invalid."}',
            "INVALID_ARG_LONG_URL",
        ),
        (
            b'{"fault": {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "InvalidApiKey"}}}',
            "Invalid ApiKey",
        ),
        (b'{"errors": [{"code": "DIS1004", "detail": "Resource not found"}]}', "Resource not found"),
        (b'{"reason": "BLOCKED_RECIPIENT"}', "BLOCKED_RECIPIENT"),
        (b'{"unrelated": 1}', "fallback"),
        (b"not json", "fallback"),
        (b"", "fallback"),
    ],
)
def test_vendor_reason_is_found_in_common_error_shapes(body: bytes, reason: str) -> None:
    # Then Bitly, Discovery, old SMS and unknown shapes give a useful reason
    assert vendor_reason(body, fallback="fallback") == reason


# ------------------------------------------------------------------------------- signing


class CountingSts:
    """An STS client that counts AssumeRole calls (delegating to moto)."""

    def __init__(self) -> None:
        self.client = boto3.client("sts")
        self.calls = 0

    def assume_role(self, **arguments: Any) -> Any:
        self.calls += 1
        return self.client.assume_role(**arguments)


def test_sigv4_signer_signs_with_the_assumed_role(
    aws: None, vendor_server: ScriptedServer, sleep: RecordedSleep
) -> None:
    # Given the SMS service behind IAM and a signer for its role
    sts = CountingSts()
    signer = SigV4Signer(
        "arn:aws:iam::123456789012:role/sms-service-caller",
        "us-east-1",
        sts_client=sts,  # type: ignore[arg-type]
    )
    vendor_server.respond(Scripted(body=json_body({"id": "m-1"})), Scripted(body=json_body({"id": "m-2"})))
    vendor = client(vendor_server, sleep, signer=signer)

    # When two requests are sent
    vendor.request("POST", "/messages", json={"to": "+15555550123"})
    vendor.request("POST", "/messages", json={"to": "+15555550124"})

    # Then each carries a SigV4 signature of the assumed role's session, assumed only once
    for received in vendor_server.requests:
        assert received.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
        assert "/us-east-1/execute-api/aws4_request" in received.headers["Authorization"]
        assert "SignedHeaders=" in received.headers["Authorization"]
        assert received.headers["X-Amz-Date"].endswith("Z")
        assert received.headers["X-Amz-Security-Token"]
    assert sts.calls == 1


def test_sigv4_credentials_are_renewed_near_expiry(aws: None) -> None:
    # Given a signer whose clock moves past the credentials' expiry margin
    sts = CountingSts()
    now = [datetime.now(UTC).timestamp()]
    signer = SigV4Signer(
        "arn:aws:iam::123456789012:role/accounts-caller",
        "us-east-1",
        sts_client=sts,  # type: ignore[arg-type]
        clock=lambda: now[0],
    )

    # When it signs now and again after the credentials' lifetime
    signer.sign("GET", "https://accounts.example.invalid/members/1", {}, None)
    signer.sign("GET", "https://accounts.example.invalid/members/1", {}, None)
    now[0] += 3600 * 12
    headers = signer.sign("GET", "https://accounts.example.invalid/members/1", {}, None)

    # Then the role was assumed again only once it was about to expire
    assert sts.calls == 2
    assert "X-Amz-Security-Token" in headers


# ------------------------------------------------------------------------------- secrets


def test_secret_value_reads_a_json_object_and_caches_it(aws: None) -> None:
    # Given a vendor secret in Secrets Manager
    secrets = boto3.client("secretsmanager")
    arn = secrets.create_secret(Name="prd3292/test/bitly", SecretString='{"token": "t-1"}')["ARN"]

    # When it is read, changed, and read again within max_age
    first = secret_value(arn)
    secrets.put_secret_value(SecretId=arn, SecretString='{"token": "t-2"}')
    second = secret_value(arn)

    # Then the cached value is served (until max_age, or a fresh provider after reset_clients)
    assert first == second == {"token": "t-1"}
    reset_clients()
    assert secret_value(arn) == {"token": "t-2"}


@pytest.mark.parametrize(
    ("value", "message"), [("plain-text", "is not valid JSON"), ("[1, 2]", "not an object")]
)
def test_a_secret_that_is_not_a_json_object_is_a_permanent_error(aws: None, value: str, message: str) -> None:
    arn = boto3.client("secretsmanager").create_secret(Name="prd3292/test/x", SecretString=value)["ARN"]
    with pytest.raises(SecretError, match=message):
        secret_value(arn)
