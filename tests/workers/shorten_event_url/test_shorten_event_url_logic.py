"""Tracking parameters on the event URL, and when Bitly is (not) called."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shortener_builders import cached_event

from workers.shared.bitly import Bitlink
from workers.shared.errors import PermanentVendorError
from workers.shared.messages import ShortUrlJob
from workers.shared.repository import DemandRepository
from workers.shared.short_links import TRACKING_PARAMETERS, InvalidEventUrlError, with_tracking
from workers.shorten_event_url.logic import shorten_event_url
from workers.shorten_event_url.models import ShortenOutcome

TRACKING = "utm_source=dmd&utm_medium=sms&utm_campaign=sale-reminder"


class RecordingShortener:
    """A shortener that records the long URLs it was asked for (or fails with `error`)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.long_urls: list[str] = []
        self.error = error

    def shorten(self, long_url: str) -> Bitlink:
        self.long_urls.append(long_url)
        if self.error is not None:
            raise self.error
        return Bitlink(id="bit.ly/3xYzAbC", link="https://bit.ly/3xYzAbC", long_url=long_url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://www.ticketmaster.com/event/E1",
            f"https://www.ticketmaster.com/event/E1?{TRACKING}",
            id="no query",
        ),
        pytest.param(
            "https://www.ticketmaster.com/event/E1?lang=en-us&_ga=2.1",
            f"https://www.ticketmaster.com/event/E1?lang=en-us&_ga=2.1&{TRACKING}",
            id="existing parameters kept first",
        ),
        pytest.param(
            "https://www.ticketmaster.com/event/E1?utm_source=tm&lang=en-us&utm_campaign=x",
            f"https://www.ticketmaster.com/event/E1?lang=en-us&{TRACKING}",
            id="same-named tracking parameters replaced",
        ),
        pytest.param(
            "https://www.ticketmaster.com/event/E1?q=a%20b+c&flag#tickets",
            f"https://www.ticketmaster.com/event/E1?q=a%20b+c&flag&{TRACKING}#tickets",
            id="encoding, bare flags and fragment kept as written",
        ),
        pytest.param(
            "http://www.livenation.com/event/E1?",
            f"http://www.livenation.com/event/E1?{TRACKING}",
            id="empty query",
        ),
    ],
)
def test_tracking_parameters_are_added_and_the_rest_of_the_url_is_kept(url: str, expected: str) -> None:
    assert with_tracking(url) == expected


@pytest.mark.parametrize(
    "url", ["", "www.ticketmaster.com/event/E1", "ftp://example.com/e", "https:///nohost"]
)
def test_a_url_bitly_cannot_shorten_is_refused_naming_it(url: str) -> None:
    with pytest.raises(InvalidEventUrlError, match="is not an absolute http"):
        with_tracking(url)


query_values = st.text(alphabet="abcXYZ019-_.~ %+=&é", max_size=6)
parameter_names = st.sampled_from(["lang", "_ga", "utm_source", "utm_medium", "utm_term", "q", "id"])


@settings(max_examples=200)
@given(
    parameters=st.lists(st.tuples(parameter_names, query_values), max_size=6),
    fragment=st.sampled_from(["", "#tickets"]),
)
def test_tracking_keeps_every_other_parameter_in_order_and_is_idempotent(
    parameters: list[tuple[str, str]], fragment: str
) -> None:
    # Given an event URL with any query parameters (percent-encoded)
    from urllib.parse import urlencode

    url = f"https://www.ticketmaster.com/event/E1?{urlencode(parameters)}{fragment}"

    # When tracking is added (once, and again)
    tracked = with_tracking(url)

    # Then the other parameters keep their order and values, ours appear once each, at the end
    ours = dict(TRACKING_PARAMETERS)
    before = [pair for pair in parse_qsl(urlsplit(url).query, keep_blank_values=True) if pair[0] not in ours]
    after = parse_qsl(urlsplit(tracked).query, keep_blank_values=True)
    assert after == [*before, *TRACKING_PARAMETERS]
    assert urlsplit(tracked).fragment == urlsplit(url).fragment
    assert with_tracking(tracked) == tracked


def test_an_event_without_a_short_url_is_shortened_with_tracking_and_stored(events: DemandRepository) -> None:
    # Given a cached event without a short URL
    events.put_event(cached_event("E1"))
    shortener = RecordingShortener()

    # When its job is handled
    outcome = shorten_event_url(ShortUrlJob(event_id="E1"), events=events, shortener=shortener)

    # Then Bitly got the tracked URL and the event stores the link
    assert outcome is ShortenOutcome.SHORTENED
    assert shortener.long_urls == [f"https://www.ticketmaster.com/event/E1?{TRACKING}"]
    stored = events.get_event("E1")
    assert stored is not None and stored.short_url == "https://bit.ly/3xYzAbC"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(None, ShortenOutcome.NOT_CACHED, id="event not cached"),
        pytest.param(
            cached_event("E1", short_url="https://bit.ly/old"),
            ShortenOutcome.ALREADY_SHORTENED,
            id="has a short URL",
        ),
        pytest.param(cached_event("E1", is_suppressed=True), ShortenOutcome.SUPPRESSED, id="suppressed"),
    ],
)
def test_bitly_is_not_called_when_there_is_nothing_to_shorten(
    events: DemandRepository, event: object, expected: ShortenOutcome
) -> None:
    if event is not None:
        events.put_event(event)  # type: ignore[arg-type]
    shortener = RecordingShortener()
    assert shorten_event_url(ShortUrlJob(event_id="E1"), events=events, shortener=shortener) is expected
    assert shortener.long_urls == []


def test_a_link_stored_meanwhile_by_another_invocation_is_kept(events: DemandRepository) -> None:
    # Given an event whose short URL another invocation stores while Bitly is being called
    events.put_event(cached_event("E1"))

    class RacingShortener(RecordingShortener):
        def shorten(self, long_url: str) -> Bitlink:
            events.set_short_url("E1", "https://bit.ly/first")
            return super().shorten(long_url)

    # When this invocation finishes
    outcome = shorten_event_url(ShortUrlJob(event_id="E1"), events=events, shortener=RacingShortener())

    # Then the first stored link stays
    assert outcome is ShortenOutcome.NOT_STORED
    stored = events.get_event("E1")
    assert stored is not None and stored.short_url == "https://bit.ly/first"


def test_a_bitly_failure_propagates_and_leaves_the_event_without_a_link(events: DemandRepository) -> None:
    events.put_event(cached_event("E1"))
    shortener = RecordingShortener(PermanentVendorError("bitly", "INVALID_ARG_LONG_URL", status_code=400))
    with pytest.raises(PermanentVendorError):
        shorten_event_url(ShortUrlJob(event_id="E1"), events=events, shortener=shortener)
    stored = events.get_event("E1")
    assert stored is not None and stored.short_url is None
