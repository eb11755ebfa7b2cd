"""The SMS service fake: its wire contract, deduplication, status history, faults and signature check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.clock import SandboxClock
from sandbox.vendors import (
    SMS_API_KEY,
    Effect,
    FaultPlan,
    SmsService,
    SmsStatusDelays,
    VendorFakes,
    Window,
    parse_faults,
)
from tests.sandbox.vendor_calls import Published, call
from workers.shared.messages import SmsStatus, SmsStatusEvent

REFERENCE = "fan:f1|notification#e1-public#sms"


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock(speed=100.0)


@pytest.fixture
def fakes(clock: SandboxClock) -> Iterator[VendorFakes]:
    with VendorFakes(clock=clock, seed=11, delays=SmsStatusDelays(1, 2, 3), hang_seconds=0.3) as running:
        yield running


def send_sms(
    fakes: VendorFakes, to: str = "+13125550142", reference: str = REFERENCE, **headers: str
) -> tuple[int, Any]:
    message = {"to": to, "body": "Presale starts 10:00 AM CT", "reference": reference}
    return call("POST", f"{fakes.sms.url}/v1/messages", message, {"x-api-key": SMS_API_KEY, **headers})


def test_the_sms_service_accepts_once_per_reference_and_publishes_the_statuses_in_order(
    fakes: VendorFakes, clock: SandboxClock
) -> None:
    # Given a sink for the status stream
    sink = Published()
    fakes.publisher.attach(sink)
    # When the same reference is posted twice (a retry of an accepted message)
    first, second = send_sms(fakes), send_sms(fakes)
    # Then both are accepted with the same id, and counted as two acceptances (one duplicate)
    assert first == (202, {"messageId": "SM0000000001"}) and second == first
    assert fakes.sms.accepted_for(REFERENCE) == 2
    assert fakes.sms.duplicates() == {REFERENCE: 1}
    # And one status history is published once the sandbox clock passes the delays
    clock.advance(10)
    fakes.publisher.publish_due()
    events = [SmsStatusEvent.model_validate(event) for event in sink.events]
    assert [event.status for event in events] == [SmsStatus.QUEUED, SmsStatus.SENT, SmsStatus.DELIVERED]
    assert {event.reference for event in events} == {REFERENCE}
    assert {event.message_id for event in events} == {"SM0000000001"}
    assert fakes.counters()["sms"]["statusEventsPublished"] == {"queued": 1, "sent": 1, "delivered": 1}


def test_the_sms_service_refuses_bad_keys_numbers_and_requests(fakes: VendorFakes) -> None:
    fakes.sms.unassigned_numbers.add("+13125550199")
    assert call("POST", f"{fakes.sms.url}/v1/messages", {}, {"x-api-key": "wrong"})[0] == 403
    assert send_sms(fakes, to="312-555-0142")[1]["reason"] == "INVALID_NUMBER"
    assert send_sms(fakes, to="+13125550199") == (
        400,
        {"reason": "INVALID_NUMBER", "message": "'+13125550199' is not a valid, assigned number"},
    )
    assert send_sms(fakes, reference="")[1]["reason"] == "INVALID_REQUEST"
    assert sum(fakes.sms.accepted.values()) == 0


def test_scripted_sms_faults_answer_as_the_service_would(fakes: VendorFakes, clock: SandboxClock) -> None:
    # Given scripted faults for one reference: 503, 429, a timeout, then a carrier block
    fakes.faults["sms"].script(
        REFERENCE, Effect.SERVER_ERROR, Effect.THROTTLED, Effect.TIMEOUT, Effect.BLOCKED
    )
    sink = Published()
    fakes.publisher.attach(sink)
    # When it is posted four times
    answers = [send_sms(fakes)[0] for _ in range(3)]
    accepted = send_sms(fakes)
    # Then the errors come first, then the message is accepted and later fails BLOCKED
    assert answers == [503, 429, 504] and accepted[0] == 202
    assert fakes.sms.requests_for(REFERENCE) == 4 and fakes.sms.accepted_for(REFERENCE) == 1
    clock.advance(10)
    fakes.publisher.publish_due()
    assert [(event["status"], event.get("errorCode")) for event in sink.events] == [
        ("queued", None),
        ("failed", "BLOCKED"),
    ]
    assert fakes.counters()["sms"]["faultsInjected"] == {"5xx": 1, "429": 1, "timeout": 1, "blocked": 1}


def test_seeded_fault_rates_fail_the_same_requests_every_run(clock: SandboxClock) -> None:
    # Given two fakes with the same seed and plan
    outcomes = []
    for _ in range(2):
        with VendorFakes(clock=clock, seed=3, faults=parse_faults("sms=0.5")) as fakes:
            outcomes.append(
                [send_sms(fakes, reference=f"fan:f{n}|notification#e-s#sms")[0] for n in range(40)]
            )
    # Then they fail the same requests, about half of them
    assert outcomes[0] == outcomes[1]
    assert 10 < outcomes[0].count(503) < 30


def test_an_outage_window_on_the_sandbox_clock_answers_503_until_it_ends(
    fakes: VendorFakes, clock: SandboxClock
) -> None:
    fakes.configure_faults(FaultPlan(outages={"sms": (Window(0, 60),)}), anchor=clock.now())
    assert send_sms(fakes)[0] == 503
    clock.advance(61)
    assert send_sms(fakes)[0] == 202


def test_behind_iam_auth_an_unsigned_message_is_refused_before_it_is_read() -> None:
    # Given the service behind API Gateway's IAM auth
    service = SmsService(require_signature=True)
    service.start()
    try:
        # When a message comes with the API key but no signature
        status, body = call(
            "POST",
            f"{service.url}/v1/messages",
            {"to": "+13125550142", "body": "hi", "reference": REFERENCE},
            {"x-api-key": SMS_API_KEY},
        )
    finally:
        service.stop()

    # Then it is refused as API Gateway does, logged, and neither accepted nor faulted
    assert (status, body) == (403, {"reason": "FORBIDDEN", "message": "Missing Authentication Token"})
    assert [request.path for request in service.sent] == ["/v1/messages"]
    assert service.accepted_for(REFERENCE) == 0


@pytest.mark.parametrize(
    ("status", "reason", "body"),
    [
        (400, "INVALID_NUMBER", {"reason": "INVALID_NUMBER", "message": "INVALID_NUMBER"}),
        (503, None, {"message": "Service Unavailable"}),
        (429, None, {"message": "Too Many Requests"}),
    ],
)
def test_a_failure_reply_has_the_services_error_shape(status: int, reason: str | None, body: object) -> None:
    reply = SmsService.failure(status, reason)
    assert (reply.status, reply.body) == (status, body)
