"""The Discovery fake: seeded events the workers normalize, Discovery's errors, counts by event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.vendors import (
    DISCOVERY_API_KEY,
    Discovery,
    DiscoverySale,
    DiscoveryVenue,
    Effect,
    discovery_event,
)
from tests.sandbox.vendor_calls import call
from workers.shared.discovery.normalize import normalize_event
from workers.shared.discovery.rules import EventRules

EVENTS = Path(__file__).resolve().parents[1] / "events"
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


@pytest.fixture
def discovery() -> Iterator[Discovery]:
    server = Discovery()
    server.start()
    yield server
    server.stop()


def test_discovery_serves_seeded_events_that_the_workers_normalize(discovery: Discovery) -> None:
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
    discovery.add(payload)
    # When it is fetched as the Discovery client does
    status, body = call("GET", f"{discovery.url}/events/G5vYZ9abc.json?apikey={DISCOVERY_API_KEY}&locale=*")
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
    assert call("GET", f"{discovery.url}/events/nope.json?apikey={DISCOVERY_API_KEY}")[0] == 404
    assert call("GET", f"{discovery.url}/events/G5vYZ9abc.json?apikey=wrong")[0] == 401
    discovery.faults.script("G5vYZ9abc", Effect.SERVER_ERROR)
    assert call("GET", f"{discovery.url}/events/G5vYZ9abc.json?apikey={DISCOVERY_API_KEY}")[0] == 503
    assert discovery.calls_for("G5vYZ9abc") == 3


def test_an_unknown_event_gets_discoverys_recorded_not_found_body(discovery: Discovery) -> None:
    # Given the 404 Discovery answered for an unknown id (tests/events/discovery-event-not-found.json)
    recorded = json.loads((EVENTS / "discovery-event-not-found.json").read_text())

    # When the fake is asked for that id in every locale, as the client asks
    status, body = call(
        "GET", f"{discovery.url}/events/vvG1IZ9KBxv3Tx.json?apikey={DISCOVERY_API_KEY}&locale=*"
    )

    # Then it answers the same body
    assert (status, body) == (404, recorded)


def test_an_event_can_be_served_under_another_id_and_calls_are_counted_per_id(discovery: Discovery) -> None:
    # Given an event served under a legacy id too
    payload = {"id": "vvG1IZ9KBxv3Tg", "name": "Tour"}
    assert discovery.add(payload) is payload
    discovery.add(payload, event_id="04005F3CA1B26E4D")

    # When both ids are fetched
    legacy = call("GET", f"{discovery.url}/events/04005F3CA1B26E4D.json?apikey={DISCOVERY_API_KEY}")

    # Then the legacy id answers the canonical payload, and each id's calls are counted
    assert legacy == (200, payload)
    call("GET", f"{discovery.url}/events/vvG1IZ9KBxv3Tg.json?apikey={DISCOVERY_API_KEY}")
    assert discovery.calls == {"04005F3CA1B26E4D": 1, "vvG1IZ9KBxv3Tg": 1}
    assert sorted(discovery.event_ids()) == ["04005F3CA1B26E4D", "vvG1IZ9KBxv3Tg"]
