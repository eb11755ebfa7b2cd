"""The SMS service fake: its wire contract, deduplication, status history, faults and signature check."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.clock import SandboxClock
from sandbox.vendors import (
    IDEMPOTENCY_KEY_HEADER,
    SMS_API_KEY,
    Effect,
    FaultPlan,
    SmsService,
    SmsStatusDelays,
    StatusPublisher,
    VendorFakes,
    VendorFaults,
    Window,
    parse_faults,
)
from sandbox.vendors.sms import DEDUPLICATION_WINDOW_SECONDS
from tests.sandbox.vendor_calls import Published, call
from workers.shared.messages import SmsStatus, SmsStatusEvent
from workers.shared.sms_service import idempotency_key

REFERENCE = "fan:f1|notification#e1-public#sms"


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock(speed=100.0)


@pytest.fixture
def fakes(clock: SandboxClock) -> Iterator[VendorFakes]:
    with VendorFakes(clock=clock, seed=11, delays=SmsStatusDelays(1, 2, 3), hang_seconds=0.3) as running:
        yield running


def send_sms(
    fakes: VendorFakes,
    to: str = "+13125550142",
    reference: str = REFERENCE,
    key: str | None = None,
    **headers: str,
) -> tuple[int, Any]:
    """POST one message as the workers do: the API key and the notification's Idempotency-Key."""
    message = {"to": to, "body": "Presale starts 10:00 AM CT", "reference": reference}
    request_headers = {
        "x-api-key": SMS_API_KEY,
        IDEMPOTENCY_KEY_HEADER: key if key is not None else idempotency_key(reference),
        **headers,
    }
    return call("POST", f"{fakes.sms.url}/v1/messages", message, request_headers)


def test_the_sms_service_sends_once_per_idempotency_key_and_publishes_the_statuses_in_order(
    fakes: VendorFakes, clock: SandboxClock
) -> None:
    # Given a sink for the status stream
    sink = Published()
    fakes.publisher.attach(sink)
    # When the same message is posted twice with its key (a retry of an accepted message)
    first, second = send_sms(fakes), send_sms(fakes)
    # Then both are answered with the same id: two requests taken, one SMS sent, no duplicate
    assert first == (202, {"messageId": "SM0000000001"}) and second == first
    assert fakes.sms.accepted_for(REFERENCE) == 2
    assert fakes.sms.sends_for(REFERENCE) == 1
    assert fakes.sms.duplicates() == {}
    # And one status history is published, in the service's shape: upper case, no reference
    clock.advance(10)
    fakes.publisher.publish_due()
    assert [set(event) for event in sink.events] == [{"messageId", "status", "timestamp"}] * 3
    events = [SmsStatusEvent.model_validate(event) for event in sink.events]
    assert [event.status for event in events] == [SmsStatus.QUEUED, SmsStatus.SENT, SmsStatus.DELIVERED]
    assert [event["status"] for event in sink.events] == ["QUEUED", "SENT", "DELIVERED"]
    assert {event.message_id for event in events} == {"SM0000000001"}
    assert fakes.counters()["sms"]["statusEventsPublished"] == {"QUEUED": 1, "SENT": 1, "DELIVERED": 1}
    assert fakes.publisher.history[REFERENCE] == ["QUEUED", "SENT", "DELIVERED"]


def test_without_deduplication_every_post_is_a_new_sms_with_its_own_statuses(
    fakes: VendorFakes, clock: SandboxClock
) -> None:
    # Given a service that does not honour Idempotency-Key
    fakes.sms.deduplicate = False
    sink = Published()
    fakes.publisher.attach(sink)
    # When the same message is posted twice with the same key
    first, second = send_sms(fakes), send_sms(fakes)
    # Then the fan gets two SMS, each with its statuses: what the fleet's retry would cost
    assert (first[1]["messageId"], second[1]["messageId"]) == ("SM0000000001", "SM0000000002")
    assert fakes.sms.sends_for(REFERENCE) == 2 and fakes.sms.duplicates() == {REFERENCE: 1}
    clock.advance(10)
    fakes.publisher.publish_due()
    assert Counter(event["messageId"] for event in sink.events) == {"SM0000000001": 3, "SM0000000002": 3}
    assert fakes.counters()["sms"]["duplicateSends"] == 1


def test_deduplication_is_by_idempotency_key_not_by_reference(fakes: VendorFakes) -> None:
    # Given two posts of one reference under different keys, and one post without a key
    first = send_sms(fakes, key="key-1")
    second = send_sms(fakes, key="key-2")
    keyless = call(
        "POST",
        f"{fakes.sms.url}/v1/messages",
        {"to": "+13125550142", "body": "hi", "reference": REFERENCE},
        {"x-api-key": SMS_API_KEY},
    )
    # Then each is a message of its own: the service compares the key and nothing else
    assert len({first[1]["messageId"], second[1]["messageId"], keyless[1]["messageId"]}) == 3
    assert fakes.sms.sends_for(REFERENCE) == 3


def test_a_key_reused_after_the_deduplication_window_is_a_new_message(
    fakes: VendorFakes, clock: SandboxClock
) -> None:
    first = send_sms(fakes)
    clock.advance(DEDUPLICATION_WINDOW_SECONDS + 1)
    assert send_sms(fakes)[1]["messageId"] != first[1]["messageId"]


def test_status_events_echo_the_reference_only_when_asked(fakes: VendorFakes, clock: SandboxClock) -> None:
    # Given a service configured to echo the request's reference
    fakes.sms.echo_reference = True
    sink = Published()
    fakes.publisher.attach(sink)
    # When a message is sent and its statuses published
    send_sms(fakes)
    clock.advance(10)
    fakes.publisher.publish_due()
    # Then every event carries it
    assert {event["reference"] for event in sink.events} == {REFERENCE}


def test_a_lost_answer_takes_and_sends_the_message_then_answers_too_late(
    fakes: VendorFakes, clock: SandboxClock
) -> None:
    # Given the service's answer to the first request is lost
    fakes.faults["sms"].script(REFERENCE, Effect.LOST_ANSWER)
    sink = Published()
    fakes.publisher.attach(sink)
    # When the message is posted (the fake holds its 504 past the client's patience), then retried
    lost = send_sms(fakes)
    retried = send_sms(fakes)
    # Then the message went out once, and the retry learns its id
    assert lost[0] == 504 and retried == (202, {"messageId": "SM0000000001"})
    assert fakes.sms.sends_for(REFERENCE) == 1 and fakes.sms.accepted_for(REFERENCE) == 2
    clock.advance(10)
    fakes.publisher.publish_due()
    assert [event["status"] for event in sink.events] == ["QUEUED", "SENT", "DELIVERED"]
    assert fakes.counters()["sms"]["faultsInjected"] == {"lost-answer": 1}


def test_a_key_the_service_took_is_answered_with_its_message_whatever_errors_are_drawn(
    fakes: VendorFakes,
) -> None:
    # Given a message taken under its key whose answer was lost, and 503 and 429 drawn for the repeats
    fakes.faults["sms"].script(REFERENCE, Effect.LOST_ANSWER, Effect.SERVER_ERROR, Effect.THROTTLED)
    assert send_sms(fakes)[0] == 504
    # When the same key is posted again twice
    repeats = [send_sms(fakes), send_sms(fakes)]
    # Then both get the message (the contract's idempotency guarantee): one SMS, no error injected
    assert repeats == [(202, {"messageId": "SM0000000001"})] * 2
    assert fakes.sms.sends_for(REFERENCE) == 1
    assert fakes.counters()["sms"]["faultsInjected"] == {"lost-answer": 1}


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
        ("QUEUED", None),
        ("FAILED", "BLOCKED"),
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


@pytest.fixture
def manual_sms() -> Iterator[tuple[SmsService, SandboxClock, Published]]:
    """An SMS service whose statuses are published only when the test asks (no publishing thread)."""
    clock = SandboxClock(speed=0.000_001)
    sink = Published()
    publisher = StatusPublisher(clock, sink)
    service = SmsService(
        clock=clock,
        publisher=publisher,
        faults=VendorFaults("sms", clock=clock, seed=2),
        delays=SmsStatusDelays(1, 2, 3),
        seed=2,
    )
    service.start()
    try:
        yield service, clock, sink
    finally:
        service.stop()


def post(service: SmsService, reference: str = REFERENCE) -> tuple[int, Any]:
    """One message posted to the service as the workers post it."""
    message = {"to": "+13125550142", "body": "Presale starts 10:00 AM CT", "reference": reference}
    headers = {"x-api-key": SMS_API_KEY, IDEMPOTENCY_KEY_HEADER: idempotency_key(reference)}
    return call("POST", f"{service.url}/v1/messages", message, headers)


def publish_for(clock: SandboxClock, publisher: StatusPublisher, seconds: float) -> None:
    """Move the clock in small steps, publishing what falls due at each (copies included)."""
    for _ in range(int(seconds * 10)):
        clock.advance(0.1)
        publisher.publish_due()


def test_duplicated_statuses_are_each_published_again_after_the_next_one_with_the_same_timestamp(
    manual_sms: tuple[SmsService, SandboxClock, Published],
) -> None:
    # Given an SMS service duplicating every message's status events
    service, clock, sink = manual_sms
    service.faults.configure(parse_faults("sms-duplicate-status=1"))
    # When a message is accepted and its statuses fall due
    assert post(service)[0] == 202
    publish_for(clock, service.publisher, 10)
    # Then each status is published twice, the copy late (after the next status), same timestamp
    assert [event["status"] for event in sink.events] == [
        "QUEUED",
        "SENT",
        "QUEUED",
        "DELIVERED",
        "SENT",
        "DELIVERED",
    ]
    stamps: dict[str, set[str]] = {}
    for event in sink.events:
        stamps.setdefault(event["status"], set()).add(event["timestamp"])
    assert all(len(times) == 1 for times in stamps.values())
    # And the copies are counted as injected faults and as published duplicates
    assert service.counters.snapshot()["faultsInjected"] == {"duplicate-status": 1}
    assert service.publisher.duplicated == Counter({"QUEUED": 1, "SENT": 1, "DELIVERED": 1})
    assert service.sends_for(REFERENCE) == 1


def test_out_of_order_and_duplicated_statuses_combine_on_one_message(
    manual_sms: tuple[SmsService, SandboxClock, Published],
) -> None:
    # Given a service reversing and duplicating every message's statuses
    service, clock, sink = manual_sms
    service.faults.configure(parse_faults("sms-out-of-order=1,sms-duplicate-status=1"))
    # When a message is accepted
    assert post(service)[0] == 202
    publish_for(clock, service.publisher, 10)
    # Then the last status comes first, and each comes again after the one that follows it
    assert [event["status"] for event in sink.events] == [
        "DELIVERED",
        "SENT",
        "DELIVERED",
        "QUEUED",
        "SENT",
        "QUEUED",
    ]
    assert service.counters.snapshot()["faultsInjected"] == {"out-of-order": 1, "duplicate-status": 1}


def test_without_status_faults_no_status_is_published_twice(
    manual_sms: tuple[SmsService, SandboxClock, Published],
) -> None:
    service, clock, sink = manual_sms
    assert post(service)[0] == 202
    publish_for(clock, service.publisher, 10)
    assert [event["status"] for event in sink.events] == ["QUEUED", "SENT", "DELIVERED"]
    assert not service.publisher.duplicated
