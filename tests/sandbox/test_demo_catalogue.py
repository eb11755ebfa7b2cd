"""The demo's catalogue: its venues, events and sales as Discovery will serve them (no sandbox)."""

from __future__ import annotations

from sandbox.demo.catalogue import CHICAGO, MONTREAL, NOTIFIABLE_EVENTS, SUPPRESSED_EVENT, VENUES_BY_CITY


def test_each_venue_carries_its_country_and_state_by_code_and_name() -> None:
    chicago = (CHICAGO.id, CHICAGO.name, CHICAGO.state_code, CHICAGO.state, CHICAGO.country_code)
    assert chicago == ("KovZpZAFnIEA", "United Center", "IL", "Illinois", "US")
    assert (CHICAGO.country, CHICAGO.timezone, CHICAGO.postal_code) == (
        "United States Of America",
        "America/Chicago",
        "60612",
    )
    assert MONTREAL.country_code == "CA" and MONTREAL.country == "Canada" and MONTREAL.state == "Québec"
    countries = {venue.country_code: venue.country for venue in VENUES_BY_CITY.values()}
    assert countries == {"US": "United States Of America", "CA": "Canada"}


def test_the_events_span_every_market_and_venue_and_have_distinct_ids() -> None:
    events = (*NOTIFIABLE_EVENTS, SUPPRESSED_EVENT)
    assert {event.market for event in events} == {"TM_US", "TM_CA", "LN_US"}
    assert {event.venue.city for event in events} == set(VENUES_BY_CITY)
    assert len({event.id for event in events}) == len(events)
    assert all(None in event.sales for event in NOTIFIABLE_EVENTS)  # each has a public sale
