"""The Bitly fake: one link per long URL, counted by event, its rate limits and its token check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.vendors import BITLY_TOKEN, Bitly, Effect
from tests.sandbox.vendor_calls import call

AUTH = {"Authorization": f"Bearer {BITLY_TOKEN}"}


@pytest.fixture
def bitly() -> Iterator[Bitly]:
    server = Bitly()
    server.start()
    yield server
    server.stop()


def test_bitly_shortens_once_per_long_url_and_counts_by_event(bitly: Bitly) -> None:
    url = f"{bitly.url}/shorten"
    long_url = "https://www.ticketmaster.com/x/event/G5vYZ9abc?utm_source=dmd"
    created = call("POST", url, {"long_url": long_url, "domain": "bit.ly"}, AUTH)
    again = call("POST", url, {"long_url": long_url, "domain": "bit.ly"}, AUTH)
    assert (created[0], again[0]) == (201, 200)
    assert created[1]["link"] == again[1]["link"] and created[1]["link"].startswith("https://bit.ly/")
    assert bitly.calls_for("G5vYZ9abc") == 2
    bitly.faults.script("G5vYZ9abc", Effect.THROTTLED)
    throttled = call("POST", url, {"long_url": long_url}, AUTH)
    assert throttled == (
        429,
        {"message": "RATE_LIMIT_EXCEEDED", "resource": "bitlinks", "description": "Rate limited"},
    )
    assert call("POST", url, {"long_url": long_url}, {"Authorization": "Bearer nope"})[0] == 403


def test_a_known_long_url_answers_the_link_as_first_created(bitly: Bitly) -> None:
    long_url = "https://www.ticketmaster.com/event/E1"
    first = call("POST", f"{bitly.url}/shorten", {"long_url": long_url}, AUTH)[1]
    again = call("POST", f"{bitly.url}/shorten", {"long_url": long_url}, AUTH)[1]
    assert again == first
    assert [call.path for call in bitly.shorten_calls] == ["/v4/shorten", "/v4/shorten"]


def test_bitlys_rate_limit_is_429_or_its_documented_403_with_a_reason_header() -> None:
    assert Bitly.rate_limited().headers == {}
    limited = Bitly.rate_limited(403)
    assert (limited.status, limited.body["message"]) == (403, "RATE_LIMIT_EXCEEDED")
    assert limited.headers == {"X-Ratelimit-Reason": "per-minute limit"}


def test_a_long_url_that_is_no_url_is_refused_with_bitlys_code(bitly: Bitly) -> None:
    status, body = call("POST", f"{bitly.url}/shorten", {"long_url": "not-a-url"}, AUTH)
    assert (status, body["message"]) == (400, "INVALID_ARG_LONG_URL")
