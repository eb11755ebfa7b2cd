"""Discovery payload → cached event and sale records: sale types, suppression, locale, TTL (tables)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from discovery_payloads import discovery_payload
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workers.shared.discovery.errors import InvalidEventPayloadError
from workers.shared.discovery.normalize import PUBLIC_SALE_ID, normalize_event
from workers.shared.discovery.rules import (
    EventRules,
    SaleType,
    classification_name,
    locale_for,
    sale_slug,
    sale_types,
)
from workers.shared.models import expiry

NOW = datetime(2024, 1, 10, 9, 30, tzinfo=UTC)
RULES = EventRules.of(
    suppressed_artist_ids=["K8vZ9175BhV"],
    allowed_countries=["US", "CA"],
    allowed_classifications=["music", "theatre"],
    cache_ttl_hours=24,
)
T = SaleType
Payload = dict[str, Any]


def normalized(payload: Payload, *, market_id: str | None = None, rules: EventRules = RULES) -> Any:
    return normalize_event(payload, market_id=market_id, rules=rules, now=NOW)


# ------------------------------------------------------------------------------ sale types


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Verified Fan Presale", {T.VF}),
        ("Amex Card Member Presale", {T.CC, T.AMEX}),
        ("American Express® Cardmember Presale", {T.CC, T.AMEX}),
        ("Citi® Cardmember Presale", {T.CC, T.CITI}),
        ("Citi Presale", {T.CC, T.CITI}),
        ("Citizen Cope Presale", set()),
        ("Capital One Cardholder Presale", {T.CC, T.CAPITALONE}),
        ("Chase Sapphire Presale", {T.CC, T.CHASE}),
        ("Credit Card Presale", {T.CC}),
        ("Verizon Up Presale", {T.VERIZON}),
        ("Official Platinum Onsale", {T.PLAT}),
        ("VIP Packages Presale", {T.VIP}),
        ("Live Nation Mobile App Presale", {T.LN}),
        ("LIVE NATION + VIP", {T.LN, T.VIP}),
        ("General Public Onsale", {T.GENERAL, T.PUBLIC}),
        ("Verified Resale Tickets", {T.RESALE}),
        ("Artist Presale", {T.ARTIST_PRESALE}),
        ("Official Fan Club Presale", {T.ARTIST_PRESALE}),
        ("Sign Up Presale", {T.SIGNUP}),
        ("SIGNUP presale", {T.SIGNUP}),
        ("Suppress - Internal Hold", {T.SUPPRESS}),
        ("Spotify Presale", set()),
        ("Prévente American Express", {T.CC, T.AMEX}),
    ],
)
def test_sale_types_are_inferred_from_keywords_in_the_name_case_insensitively(
    name: str, expected: set[SaleType]
) -> None:
    # Given a Discovery sale name / When its types are inferred / Then every matching type, in enum order
    assert sale_types(name) == tuple(kind for kind in SaleType if kind in expected)


def test_the_public_sale_is_always_public_whatever_its_name() -> None:
    # Given the public sale's default name / When typed as the public sale / Then it is PUBLIC
    assert sale_types("Onsale", public=True) == (T.PUBLIC,)


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("Music", "music"),
        ("Arts & Theatre", "theatre"),
        ("Arts and Theater", "theatre"),
        ("theater", "theatre"),
        ("Sports", "sports"),
        ("Film", "film"),
        ("Miscellaneous", "miscellaneous"),
    ],
)
def test_discovery_segments_map_to_the_configured_classification_names(segment: str, expected: str) -> None:
    # Given a Discovery segment name / When mapped / Then it is in ALLOWED_CLASSIFICATIONS vocabulary
    assert classification_name(segment) == expected


@pytest.mark.parametrize(
    ("market", "event_locale", "expected"),
    [
        ("TM_US", "en-us", "en-us"),
        ("TM_US", "fr-ca", "en-us"),
        ("LN_US", None, "en-us"),
        ("TM_CA", "en-us", "en-ca"),
        ("TM_CA", "fr-ca", "fr-ca"),
        ("TM_CA", "FR", "fr-ca"),
        ("LN_CA", "en-ca", "en-ca"),
        ("TM_CA", None, "en-ca"),
    ],
)
def test_locale_comes_from_the_market_with_french_only_for_canadian_french_events(
    market: str, event_locale: str | None, expected: str
) -> None:
    # Given a market and Discovery's event locale / When the locale is chosen / Then per MF-003
    assert locale_for(market, event_locale) == expected


# --------------------------------------------------------------------------- normalization


def test_a_us_music_event_becomes_an_event_record_with_its_public_sale_and_presales() -> None:
    # Given a realistic US music event from Discovery
    payload = discovery_payload("music-us")

    # When it is normalized for the default market
    event, sales = normalized(payload, market_id="TM_US")

    # Then the cached item carries the display fields, market, locale, timezone and TTL
    assert event.model_dump(mode="json", exclude_none=True) == {
        "type": "event",
        "id": "vvG1IZ9KBxv3Tg",
        "name": "Maren Holloway: Northern Lights Tour",
        "url": payload["url"],
        "locale": "en-us",
        "marketId": "TM_US",
        "timezone": "America/Chicago",
        "eventStartDateTime": "2024-03-16T01:00:00.000Z",
        "venueName": "United Center",
        "venueCity": "Chicago",
        "venueStateCode": "IL",
        "attractions": [{"id": "K8vZ917oWOV", "name": "Maren Holloway"}],
        "artistName": "Maren Holloway",
        "artistId": "K8vZ917oWOV",
        "countryCode": "US",
        "classification": "music",
        "isSuppressed": False,
        "expiresAt": expiry(NOW, hours=24),
    }
    # And every sale with a start time, ordered by start, typed and with stable ids
    assert [(sale.id, sale.name, sale.sale_types, sale.is_suppressed) for sale in sales] == [
        ("verified-fan-registration", "Verified Fan Registration", ("VF",), True),
        ("verified-fan-presale", "Verified Fan Presale", ("VF",), False),
        ("citi-cardmember-presale", "Citi® Cardmember Presale", ("CC", "CITI"), False),
        ("live-nation-mobile-app-presale", "Live Nation Mobile App Presale", ("LN",), False),
        ("official-platinum-onsale", "Official Platinum Onsale", ("PLAT",), False),
        (PUBLIC_SALE_ID, "Public Onsale", ("PUBLIC",), False),
    ]
    assert sales[1].sale_start_date_time == datetime(2024, 1, 15, 15, 0, tzinfo=UTC)
    assert {sale.event_id for sale in sales} == {"vvG1IZ9KBxv3Tg"}


def test_accents_are_kept_in_cached_data_and_a_french_canadian_event_gets_fr_ca() -> None:
    # Given a Montréal theatre event whose Discovery locale is fr-ca, no market requested
    payload = discovery_payload("theatre-ca-fr")

    # When it is normalized
    event, sales = normalized(payload)

    # Then names keep their accents, the market follows the venue country and the locale is fr-ca
    assert (event.name, event.venue_city, event.venue_state_code) == ("Les Misérables", "Montréal", "QC")
    assert (event.market_id, event.locale, event.classification) == ("TM_CA", "fr-ca", "theatre")
    assert not event.is_suppressed
    # And sale names keep accents while their ids are plain ASCII slugs
    assert sales[0].name == "Prévente American Express® Card Member Presale"
    assert sales[0].id == "prevente-american-express-card-member-presale"
    assert sales[0].sale_types == ("CC", "AMEX")


def test_an_explicit_market_wins_over_the_venue_country() -> None:
    # Given the French-Canadian event requested for the US market
    event, _ = normalized(discovery_payload("theatre-ca-fr"), market_id="TM_US")
    # Then the US market's locale applies
    assert (event.market_id, event.locale) == ("TM_US", "en-us")


def test_multiple_venues_and_attractions_use_the_first_for_display_and_keep_every_attraction() -> None:
    # Given a festival at two venues with three acts (accented names), a TBD public sale and a
    # presale without a start time
    payload = discovery_payload("festival-multi")

    # When it is normalized with no suppressed artists
    event, sales = normalized(payload, rules=EventRules())

    # Then the first venue and first attraction are displayed, every attraction is kept
    assert (event.venue_name, event.artist_name, event.artist_id) == (
        "Zilker Metropolitan Park",
        "Sigur Rós",
        "K8vZ9171x3f",
    )
    assert [attraction.name for attraction in event.attractions] == [
        "Sigur Rós",
        "Beyoncé Tribute Orchestra",
        "Los Ángeles Azules",
    ]
    assert event.event_start_date_time is None  # time TBA
    # And only sales with a start time exist; a repeated name gets a numbered id
    assert [sale.id for sale in sales] == [
        "verizon-up-presale",
        "capital-one-cardholder-presale",
        "vip-packages-presale",
        "vip-packages-presale-2",
    ]


def test_a_suppressed_artist_anywhere_on_the_bill_suppresses_the_event() -> None:
    # Given the festival whose third act is a suppressed artist id (SR-001)
    event, _ = normalized(discovery_payload("festival-multi"))
    # Then the event is suppressed with that reason
    assert event.is_suppressed
    assert event.suppression_reason == "artist K8vZ9175BhV is suppressed"


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Payload], None]:
    def apply(payload: Payload) -> None:
        target: Any = payload
        for part in path[:-1]:
            target = target[part]
        if value is _DROP:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return apply


_DROP = object()
VENUE = ("_embedded", "venues", 0)
SEGMENT = ("classifications", 0, "segment", "name")


@pytest.mark.parametrize(
    ("change", "rules", "reason"),
    [
        pytest.param(_set(SEGMENT, "Music"), RULES, None, id="music-in-us-is-notified"),
        pytest.param(_set(SEGMENT, "Arts & Theatre"), RULES, None, id="arts-and-theatre-is-theatre"),
        pytest.param(
            _set(SEGMENT, "Arts & Theatre"),
            EventRules.of(
                suppressed_artist_ids=[],
                allowed_countries=["us"],
                allowed_classifications=["Music", "Theater"],
                cache_ttl_hours=1,
            ),
            None,
            id="config-spelled-theater-and-lower-case-country",
        ),
        pytest.param(_set(SEGMENT, "Sports"), RULES, "classification sports is not allowed", id="sports"),
        pytest.param(
            _set(SEGMENT, "Undefined"), RULES, "event has no classification", id="undefined-segment"
        ),
        pytest.param(_set(("classifications",), _DROP), RULES, "event has no classification", id="no-class"),
        pytest.param(
            _set((*VENUE, "country", "countryCode"), "GB"),
            RULES,
            "venue country GB is not allowed",
            id="country-outside-us-ca",
        ),
        pytest.param(
            _set((*VENUE, "country", "countryCode"), "ca"), RULES, None, id="lower-case-canada-is-allowed"
        ),
        pytest.param(_set(("_embedded", "venues"), []), RULES, "venue country is unknown", id="no-venue"),
        pytest.param(
            _set(("_embedded", "attractions", 0, "id"), "K8vZ9175BhV"),
            RULES,
            "artist K8vZ9175BhV is suppressed",
            id="suppressed-artist",
        ),
    ],
)
def test_event_suppression_rules(
    change: Callable[[Payload], None], rules: EventRules, reason: str | None
) -> None:
    # Given the US music event with one detail changed
    payload = discovery_payload("music-us")
    change(payload)

    # When it is normalized
    event, _ = normalized(payload, rules=rules)

    # Then it is suppressed exactly when a rule says so, with that rule as the reason
    assert (event.is_suppressed, event.suppression_reason) == (reason is not None, reason)


def test_every_failed_rule_is_listed_in_the_suppression_reason() -> None:
    # Given a sports event in Great Britain by a suppressed artist
    payload = discovery_payload("music-us")
    for change in (
        _set(SEGMENT, "Sports"),
        _set((*VENUE, "country", "countryCode"), "GB"),
        _set(("_embedded", "attractions", 0, "id"), "K8vZ9175BhV"),
    ):
        change(payload)
    # When normalized / Then all three reasons are given
    event, _ = normalized(payload)
    assert event.suppression_reason == (
        "artist K8vZ9175BhV is suppressed; venue country GB is not allowed; "
        "classification sports is not allowed"
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Verified Fan Registration", "sale name contains 'registration'"),
        ("REGISTRATION - Fan Presale", "sale name contains 'registration'"),
        ("Suppress - Internal Hold", "sale type SUPPRESS"),
        ("Suppressed Registration Window", "sale name contains 'registration'; sale type SUPPRESS"),
        ("Verified Fan Presale", None),
    ],
)
def test_sale_suppression_rules(name: str, reason: str | None) -> None:
    # Given an event with one presale of this name
    payload = discovery_payload("music-us")
    payload["sales"]["presales"] = [{"name": name, "startDateTime": "2024-01-15T15:00:00Z"}]

    # When normalized
    _, sales = normalized(payload)

    # Then the sale (not the event) is suppressed with the rule as reason (ST-003, SR-004)
    presale = next(sale for sale in sales if sale.id != PUBLIC_SALE_ID)
    assert (presale.is_suppressed, presale.suppression_reason) == (reason is not None, reason)


@pytest.mark.parametrize(
    ("public", "presale", "expected_ids"),
    [
        pytest.param({"startDateTime": "2024-01-19T16:00:00Z"}, None, ["public"], id="public-only"),
        pytest.param({"startTBD": True}, None, [], id="public-start-tbd"),
        pytest.param({"startDateTime": "2024-01-19T16:00:00Z", "startTBA": True}, None, [], id="public-tba"),
        pytest.param({}, {"name": "Fan Presale"}, [], id="presale-without-start"),
        pytest.param({}, {"name": "Fan Presale", "startDateTime": "soon"}, [], id="malformed-start"),
        pytest.param({}, {"name": "Fan Presale", "startDateTime": "2024-01-15T10:00:00"}, [], id="no-offset"),
        pytest.param(
            {}, {"startDateTime": "2024-01-15T10:00:00-05:00"}, ["presale"], id="unnamed-with-offset"
        ),
    ],
)
def test_only_sales_with_a_start_time_are_cached(
    public: dict[str, Any], presale: dict[str, Any] | None, expected_ids: list[str]
) -> None:
    # Given an event whose public sale and presale have (or lack) start times
    payload = discovery_payload("music-us")
    payload["sales"] = {"public": public, "presales": [presale] if presale else []}

    # When normalized / Then only schedulable sales become records (in UTC)
    _, sales = normalized(payload)
    assert [sale.id for sale in sales] == expected_ids
    if expected_ids == ["presale"]:
        assert sales[0].sale_start_date_time == datetime(2024, 1, 15, 15, 0, tzinfo=UTC)


def test_the_event_expires_after_the_ttl_and_a_sale_not_before_it_has_started() -> None:
    # Given an event with a sale starting in 30 days and one starting 1 hour from now
    payload = discovery_payload("music-us")
    later, soon = NOW + timedelta(days=30), NOW + timedelta(hours=1)
    payload["sales"] = {
        "public": {"startDateTime": later.isoformat()},
        "presales": [{"name": "Fan Presale", "startDateTime": soon.isoformat()}],
    }

    # When normalized with a 24 h cache TTL
    event, sales = normalized(payload)

    # Then the event cache expires in 24 h, each sale 24 h after the later of now and its start
    assert event.expires_at == expiry(NOW, hours=24)
    assert {sale.id: sale.expires_at for sale in sales} == {
        "fan-presale": expiry(soon, hours=24),
        "public": expiry(later, hours=24),
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", None, "missing name"),
        ("url", "  ", "missing url"),
        ("id", None, "missing or malformed id"),
        ("id", "bad id/../x", "missing or malformed id"),
    ],
)
def test_an_event_without_id_name_or_url_is_an_invalid_payload(field: str, value: Any, message: str) -> None:
    # Given an event lacking a field the cache cannot do without
    payload = discovery_payload("music-us")
    payload[field] = value
    # When normalized / Then a typed permanent error says what is missing
    with pytest.raises(InvalidEventPayloadError, match=message) as raised:
        normalized(payload)
    assert raised.value.status_code is None


def test_sale_slugs_are_stable_ascii_ids() -> None:
    # Given sale names with accents, symbols and nothing usable / Then slugs are stable ASCII ids
    assert sale_slug("Prévente Citi® — Card-Member") == "prevente-citi-card-member"
    assert sale_slug("!!!") == "presale"


# --------------------------------------------------------------------------- robustness


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, child in children:
        path = (*prefix, key)
        found.append(path)
        found.extend(_paths(child, path))
    return found


BASE_PAYLOADS = {name: discovery_payload(name) for name in ("music-us", "theatre-ca-fr", "festival-multi")}
OPTIONAL_PATHS = {
    name: [path for path in _paths(payload) if path not in {("id",), ("name",), ("url",)}]
    for name, payload in BASE_PAYLOADS.items()
}
REPLACEMENTS = st.sampled_from([_DROP, None, "", 0, [], {}, "not a date", True])


@st.composite
def damaged_payloads(draw: st.DrawFn) -> Payload:
    name = draw(st.sampled_from(sorted(BASE_PAYLOADS)))
    payload = copy.deepcopy(BASE_PAYLOADS[name])
    paths = draw(st.lists(st.sampled_from(OPTIONAL_PATHS[name]), max_size=12, unique=True))
    for path in sorted(paths, key=len, reverse=True):
        parent: Any = payload
        try:
            for part in path[:-1]:
                parent = parent[part]
            replacement = draw(REPLACEMENTS)
            if replacement is _DROP:
                if isinstance(parent, list):
                    parent[path[-1]] = {}  # dropping shifts neighbours; an emptied item is the same
                else:
                    del parent[path[-1]]
            else:
                parent[path[-1]] = replacement
        except (KeyError, IndexError, TypeError):
            continue  # an ancestor was already dropped or replaced
    return payload


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_payloads())
def test_normalize_never_fails_on_missing_or_damaged_optional_fields(payload: Payload) -> None:
    # Given a valid Discovery event with arbitrary optional fields dropped or replaced
    try:
        # When it is normalized
        event, sales = normalized(payload)
    except InvalidEventPayloadError:
        return  # Then either the typed permanent error (never a KeyError/TypeError/ValidationError)
    # ... or records that satisfy their own invariants
    assert event.is_suppressed == (event.suppression_reason is not None)
    assert len({sale.id for sale in sales}) == len(sales)
    assert all(sale.event_id == event.id for sale in sales)
