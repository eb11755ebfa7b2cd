"""SMS service client against a behavioural fake on 127.0.0.1: auth, idempotent POST, error typing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sandbox.vendors import SMS_API_KEY as API_KEY
from sandbox.vendors import Effect, Reply, SmsService
from workers.shared.errors import (
    PermanentError,
    PermanentVendorError,
    RetryableError,
    RetryableVendorError,
    SecretError,
    VendorError,
)
from workers.shared.messages import SmsSendRequest
from workers.shared.sms_service import (
    RETRYABLE_REASONS,
    SmsServiceClient,
    UnreadableAcceptanceError,
    idempotency_key,
    reason_code,
)
from workers.shared.vendor_http import SigV4Signer

REFERENCE = "fan:a1b2c3d4e5|notification#evt-1-sale-1#sms"
ROLE_ARN = "arn:aws:iam::123456789012:role/sms-service-client-test"


@pytest.fixture
def sms_service() -> Iterator[SmsService]:
    service = SmsService()
    service.start()
    yield service
    service.stop()


@pytest.fixture
def api_key_secret(aws: None) -> str:
    """The sms-service secret as infra creates it: `{"apiKey": ...}`."""
    secrets = boto3.client("secretsmanager")
    return secrets.create_secret(
        Name="prd3292-test/sms-service", SecretString=json.dumps({"apiKey": API_KEY})
    )["ARN"]


def client(service: SmsService, secret_arn: str, **options: object) -> SmsServiceClient:
    settings: dict[str, object] = {"secret_arn": secret_arn, "region": "us-east-1", "timeout_seconds": 2.0}
    return SmsServiceClient(service.url, **{**settings, **options})  # type: ignore[arg-type]


def message(to: str = "+15555550123") -> SmsSendRequest:
    return SmsSendRequest(
        to=to, body="Reminder! Tickets on sale at 10:00 AM.", reference=REFERENCE, app_id="dmd"
    )


def test_a_message_is_posted_with_the_api_key_and_its_reference(
    sms_service: SmsService, api_key_secret: str
) -> None:
    # Given a stack without a signing role (local)
    sms = client(sms_service, api_key_secret)

    # When a message is sent
    accepted = sms.send(message())

    # Then the service got the wire request with the API key, unsigned, and its messageId comes back
    (request,) = sms_service.sent
    assert request.json() == {
        "to": "+15555550123",
        "body": "Reminder! Tickets on sale at 10:00 AM.",
        "reference": REFERENCE,
        "appId": "dmd",
    }
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["x-api-key"] == API_KEY
    assert "authorization" not in headers
    assert accepted.message_id == sms_service.message_ids[REFERENCE]


def test_with_a_role_every_request_is_sigv4_signed_for_execute_api(api_key_secret: str) -> None:
    # Given a service that only accepts SigV4-signed calls and a client configured with the role
    service = SmsService(require_signature=True)
    service.start()
    try:
        sms = client(service, api_key_secret, role_arn=ROLE_ARN)

        # When a message is sent
        sms.send(message())
    finally:
        service.stop()

    # Then it was signed as the assumed role for execute-api, the API key among the signed headers
    (request,) = service.sent
    authorization = {name.lower(): value for name, value in request.headers.items()}["authorization"]
    assert "/us-east-1/execute-api/aws4_request" in authorization
    assert "x-api-key" in authorization.split("SignedHeaders=")[1].split(",")[0]


@pytest.mark.parametrize(
    ("answer", "error_type", "code"),
    [
        (SmsService.failure(400, "INVALID_NUMBER"), PermanentVendorError, "INVALID_NUMBER"),
        (SmsService.failure(422, "BLOCKED"), PermanentVendorError, "BLOCKED"),
        (SmsService.failure(422, "OPTED_OUT"), PermanentVendorError, "OPTED_OUT"),
        (SmsService.failure(400, "invalid_number"), PermanentVendorError, "INVALID_NUMBER"),
        (SmsService.failure(404, "NOT_FOUND"), PermanentVendorError, "HTTP_404"),
        (SmsService.failure(400, "CARRIER_UNAVAILABLE_PERMANENTLY"), PermanentVendorError, "HTTP_400"),
        (SmsService.failure(422, "RATE_LIMITED"), RetryableVendorError, "RATE_LIMITED"),
        (SmsService.failure(400, "CARRIER_UNAVAILABLE"), RetryableVendorError, "CARRIER_UNAVAILABLE"),
        (SmsService.failure(429, "THROTTLED"), RetryableVendorError, "THROTTLED"),
        (SmsService.failure(429), RetryableVendorError, "HTTP_429"),
        (SmsService.failure(500), RetryableVendorError, "HTTP_500"),
        (SmsService.failure(503), RetryableVendorError, "HTTP_503"),
    ],
)
def test_failures_are_typed_by_status_and_whole_reason_code(
    sms_service: SmsService,
    api_key_secret: str,
    answer: Reply,
    error_type: type[VendorError],
    code: str,
) -> None:
    # Given the service answers with this failure
    sms_service.reply_next(answer)

    # When a message is sent
    with pytest.raises(VendorError) as raised:
        client(sms_service, api_key_secret).send(message())

    # Then the error class says whether to retry, with a metric-safe code, after exactly one request
    assert type(raised.value) is error_type
    assert reason_code(raised.value) == code
    assert raised.value.status_code == answer.status
    assert len(sms_service.sent) == 1


def test_the_retryable_reasons_are_a_fixed_vocabulary() -> None:
    assert isinstance(RETRYABLE_REASONS, frozenset)
    assert all(reason == reason.strip().upper() for reason in RETRYABLE_REASONS)


def test_no_answer_within_the_timeout_is_retryable_without_a_status(
    sms_service: SmsService, api_key_secret: str
) -> None:
    # Given a service slower than the client's timeout
    sms_service.reply_next(Reply(202, {"messageId": "SM-late"}, hold_seconds=0.6))

    # When a message is sent
    with pytest.raises(RetryableVendorError) as raised:
        client(sms_service, api_key_secret, timeout_seconds=0.2).send(message())

    # Then it is retryable and reported as NO_RESPONSE
    assert raised.value.status_code is None
    assert reason_code(raised.value) == "NO_RESPONSE"


def test_extra_attempts_repeat_the_post_because_the_service_deduplicates(
    sms_service: SmsService, api_key_secret: str
) -> None:
    # Given a client allowed two attempts and a service failing once
    sms_service.reply_next(SmsService.failure(503))
    sms = client(sms_service, api_key_secret, max_attempts=2, sleep=lambda _: None)

    # When a message is sent
    accepted = sms.send(message())

    # Then the same reference was posted twice and accepted once
    assert sms_service.requests_for(REFERENCE) == 2
    assert sms_service.accepted_for(REFERENCE) == 1
    assert accepted.message_id == sms_service.message_ids[REFERENCE]


def test_every_request_of_a_reference_carries_the_same_idempotency_key(
    sms_service: SmsService, api_key_secret: str
) -> None:
    # Given a message sent twice (a retry), and another notification's message
    sms = client(sms_service, api_key_secret)
    sms.send(message())
    sms.send(message())
    other = SmsSendRequest(to="+15555550123", body="Reminder!", reference="fan:z9|notification#e-s#sms")
    sms.send(other)

    # Then the two attempts share one key, a UUID derived from the reference; the other has its own
    keys = [request.headers["Idempotency-Key"] for request in sms_service.sent]
    assert keys[0] == keys[1] == idempotency_key(REFERENCE) != keys[2]
    assert uuid.UUID(keys[0]).version == 5
    # And the reference stays in the body, for services that echo it in their status events
    assert all(request.json()["reference"] for request in sms_service.sent)


@pytest.mark.parametrize(("deduplicating", "sms_sent"), [(True, 1), (False, 2)])
def test_a_retry_after_a_lost_answer_is_one_sms_only_if_the_service_deduplicates(
    api_key_secret: str, deduplicating: bool, sms_sent: int
) -> None:
    # Given a service that takes the first message but whose answer never arrives in time
    service = SmsService(hang_seconds=0.4, deduplicate=deduplicating)
    service.faults.script(REFERENCE, Effect.LOST_ANSWER)
    service.start()
    try:
        sms = client(service, api_key_secret, timeout_seconds=0.2)

        # When the send times out and is retried with the same key
        with pytest.raises(RetryableVendorError) as lost:
            sms.send(message())
        accepted = sms.send(message())
    finally:
        service.stop()

    # Then the timeout was retryable, both requests were taken, and the fan got one SMS with the
    # first message's id (a service without de-duplication would have sent a second one)
    assert reason_code(lost.value) == "NO_RESPONSE"
    assert service.accepted_for(REFERENCE) == 2
    assert service.sends_for(REFERENCE) == sms_sent
    assert (accepted.message_id == service.message_ids[REFERENCE]) is deduplicating
    assert service.duplicates() == ({} if deduplicating else {REFERENCE: 1})


def test_an_acceptance_without_message_id_is_neither_retryable_nor_permanent(
    sms_service: SmsService, api_key_secret: str
) -> None:
    # Given a service answering 202 with an unexpected body
    sms_service.reply_next(Reply(202, {"id": "SM-1"}))

    # When a message is sent
    with pytest.raises(UnreadableAcceptanceError) as raised:
        client(sms_service, api_key_secret).send(message())

    # Then the caller cannot mistake it for "send again" or "never sent"
    assert not isinstance(raised.value, RetryableError | PermanentError)
    assert raised.value.status_code == 202


@pytest.mark.parametrize("secret", ['{"token": "x"}', '{"apiKey": ""}', '{"apiKey": 42}'])
def test_preflight_fails_on_a_secret_without_an_api_key_before_any_request(
    sms_service: SmsService, aws: None, secret: str
) -> None:
    # Given a secret that lacks a usable apiKey
    arn = boto3.client("secretsmanager").create_secret(Name="prd3292-test/sms-bad", SecretString=secret)[
        "ARN"
    ]

    # When the client is checked before a send
    with pytest.raises(SecretError, match="has no 'apiKey' string"):
        client(sms_service, arn).preflight()

    # Then nothing reached the service
    assert sms_service.requests == []


class CountingSts:
    """An STS client that counts AssumeRole calls (delegating to moto)."""

    def __init__(self) -> None:
        self.client = boto3.client("sts")
        self.calls = 0

    def assume_role(self, **arguments: Any) -> Any:
        self.calls += 1
        return self.client.assume_role(**arguments)


def test_preflight_assumes_the_signing_role_that_later_sends_reuse(
    sms_service: SmsService, api_key_secret: str
) -> None:
    # Given a client signing as a role
    sts = CountingSts()
    signer = SigV4Signer(ROLE_ARN, "us-east-1", sts_client=sts)  # type: ignore[arg-type]
    sms = client(sms_service, api_key_secret, signer=signer)

    # When it is checked, then used twice
    sms.preflight()
    sms.send(message())
    sms.send(message())

    # Then the role was assumed by the check only, and the check itself sent nothing
    assert sts.calls == 1
    assert len(sms_service.sent) == 2
