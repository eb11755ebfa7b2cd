"""The fake vendors: their wire contracts (as the workers' clients speak them), counts and faults."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.clock import SandboxClock
from sandbox.vendors import (
    BITLY_TOKEN,
    DISCOVERY_API_KEY,
    SMS_API_KEY,
    DiscoverySale,
    DiscoveryVenue,
    Effect,
    FaultPlan,
    FaultSpecError,
    SmsStatusDelays,
    VendorFakes,
    Window,
    discovery_event,
    parse_faults,
)
from workers.shared.discovery import EventRules, normalize_event
from workers.shared.messages import SmsStatus, SmsStatusEvent

REFERENCE = "fan:f1|notification#e1-public#sms"
VENUE = DiscoveryVenue(
    id="KovZpZA7AAEA",
    name="United Center",
    city="Chicago",
    state_code="IL",
    state="Illinois",
    country_code="US",
    country="United States Of America",
    timezone="America/Chicago",
)


# --------------------------------------------------------------------------------------------------
# parse_faults
# --------------------------------------------------------------------------------------------------


def test_a_fault_spec_reads_rates_latency_and_outage_windows() -> None:
    plan = parse_faults("sms=0.3, bitly-429=0.2,sms-latency=0.05,sms-outage=10-70s")
    assert plan.rates == {"sms": 0.3, "bitly-429": 0.2}
    assert plan.latency == {"sms": 0.05}
    assert plan.outages == {"sms": (Window(10, 70),)}
    assert str(plan) == "sms=0.3,bitly-429=0.2,sms-latency=0.05,sms-outage=10-70"
    assert parse_faults("").empty and parse_faults("none").empty


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("sms-500=0.1", "unknown fault 'sms-500'; known kinds: sms, sms-429"),
        ("sms=1.5", "fault rate of 'sms' must be a number from 0 to 1, got '1.5'"),
        ("sms=lots", "fault rate of 'sms' must be a number from 0 to 1, got 'lots'"),
        ("sms", "fault 'sms' needs a value"),
        ("sms=0.1,sms-5xx=0.2", "fault 'sms' is given twice"),
        ("sms=0.6,sms-429=0.5", "the sms fault rates add up to 1.1 (> 1): sms=0.6, sms-429=0.5"),
        ("bitly-outage=90-10", "bitly-outage must be START-END in seconds with START < END"),
        ("discovery-latency=-1", "discovery-latency must be a number of seconds from 0 to 60"),
    ],
)
def test_a_bad_fault_spec_is_refused_with_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError) as refused:
        parse_faults(spec)
    assert message in str(refused.value)


# --------------------------------------------------------------------------------------------------
# The fakes over HTTP
# --------------------------------------------------------------------------------------------------


class Published:
    """A status sink that keeps what it was given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.events.extend(dict(event) for event in events)


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock(speed=100.0)


@pytest.fixture
def fakes(clock: SandboxClock) -> Iterator[VendorFakes]:
    with VendorFakes(clock=clock, seed=11, delays=SmsStatusDelays(1, 2, 3), hang_seconds=0.3) as running:
        yield running


def call(
    method: str, url: str, body: Any = None, headers: Mapping[str, str] | None = None, timeout: float = 5
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def send_sms(fakes: VendorFakes, to: str = "+13125550142", reference: str = REFERENCE) -> tuple[int, Any]:
    message = {"to": to, "body": "Presale starts 10:00 AM CT", "reference": reference}
    return call("POST", f"{fakes.sms.url}/v1/messages", message, {"x-api-key": SMS_API_KEY})


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


def test_bitly_shortens_once_per_long_url_and_counts_by_event(fakes: VendorFakes) -> None:
    url = f"{fakes.bitly.url}/shorten"
    long_url = "https://www.ticketmaster.com/x/event/G5vYZ9abc?utm_source=dmd"
    auth = {"Authorization": f"Bearer {BITLY_TOKEN}"}
    created = call("POST", url, {"long_url": long_url, "domain": "bit.ly"}, auth)
    again = call("POST", url, {"long_url": long_url, "domain": "bit.ly"}, auth)
    assert (created[0], again[0]) == (201, 200)
    assert created[1]["link"] == again[1]["link"] and created[1]["link"].startswith("https://bit.ly/")
    assert fakes.bitly.calls_for("G5vYZ9abc") == 2
    fakes.faults["bitly"].script("G5vYZ9abc", Effect.THROTTLED)
    throttled = call("POST", url, {"long_url": long_url}, auth)
    assert throttled == (
        429,
        {"message": "RATE_LIMIT_EXCEEDED", "resource": "bitlinks", "description": "Rate limited"},
    )
    assert call("POST", url, {"long_url": long_url}, {"Authorization": "Bearer nope"})[0] == 403


def test_discovery_serves_seeded_events_that_the_workers_normalize(fakes: VendorFakes) -> None:
    # Given a seeded event with a public sale, a presale and a registration
    starts = datetime(2031, 5, 1, 1, 0, tzinfo=UTC)
    payload = discovery_event(
        event_id="G5vYZ9abc",
        name="Maren Holloway: Northern Lights Tour",
        artist_id="K8vZ917abc",
        artist="Maren Holloway",
        venue=VENUE,
        starts=starts,
        sales=[
            DiscoverySale(starts=datetime(2031, 2, 1, 16, tzinfo=UTC)),
            DiscoverySale(name="Citi® Cardmember Presale", starts=datetime(2031, 1, 30, 15, tzinfo=UTC)),
            DiscoverySale(name="Verified Fan Registration", starts=datetime(2031, 1, 20, 15, tzinfo=UTC)),
        ],
    )
    fakes.discovery.add(payload)
    # When it is fetched as the Discovery client does
    status, body = call(
        "GET", f"{fakes.discovery.url}/events/G5vYZ9abc.json?apikey={DISCOVERY_API_KEY}&locale=*"
    )
    # Then the workers' normalization reads it: venue, artist, sales and their suppression
    assert status == 200
    event, sales = normalize_event(body, market_id=None, rules=EventRules(), now=starts)
    assert (event.venue_city, event.artist_name, event.market_id, event.is_suppressed) == (
        "Chicago",
        "Maren Holloway",
        "TM_US",
        False,
    )
    assert {sale.id: sale.is_suppressed for sale in sales} == {
        "public": False,
        "citi-cardmember-presale": False,
        "verified-fan-registration": True,
    }
    # And unknown ids, bad keys and faults answer as Discovery does
    assert call("GET", f"{fakes.discovery.url}/events/nope.json?apikey={DISCOVERY_API_KEY}")[0] == 404
    assert call("GET", f"{fakes.discovery.url}/events/G5vYZ9abc.json?apikey=wrong")[0] == 401
    fakes.faults["discovery"].script("G5vYZ9abc", Effect.SERVER_ERROR)
    assert call("GET", f"{fakes.discovery.url}/events/G5vYZ9abc.json?apikey={DISCOVERY_API_KEY}")[0] == 503
    assert fakes.discovery.calls_for("G5vYZ9abc") == 3


def test_accounts_serves_the_sample_members_behind_the_api_key(fakes: VendorFakes) -> None:
    url = f"{fakes.accounts.url}/v1/members/sandbox-member-1"
    status, member = call("GET", url, headers={"x-api-key": fakes.accounts.api_key})
    assert status == 200 and member["firstName"] == "Ava"
    assert call("GET", url)[0] == 403
    assert (
        call("GET", url.replace("member-1", "member-9"), headers={"x-api-key": fakes.accounts.api_key})[0]
        == 404
    )


def test_the_fakes_point_the_functions_and_secrets_at_themselves(fakes: VendorFakes) -> None:
    overrides = fakes.environment_overrides()
    assert overrides["SMS_SERVICE_URL"] == fakes.sms.url
    assert overrides["BITLY_URL"].endswith("/v4") and overrides["DISCOVERY_URL"].endswith("/discovery/v2")
    assert fakes.secret_values()["sms-service"] == {"apiKey": SMS_API_KEY}
