"""SMS and email rendering: locales, brands, presale/public, accents, one-segment fitting."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from generator_builders import SHORT_URL, sale_message
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.notification_generator.models import Brand
from workers.notification_generator.render import (
    SEGMENT_LIMITS,
    SMS_TEMPLATES,
    Encoding,
    LocaleCode,
    SmsTooLongError,
    email_template_variables,
    encoded_length,
    encoding_of,
    fits_one_segment,
    gsm7_spelling,
    render_sms,
    sale_time,
    strip_accents,
)
from workers.shared.errors import PermanentError

TM = Brand.TICKETMASTER
LN = Brand.LIVE_NATION
LOCALES: tuple[LocaleCode, ...] = ("en-us", "en-ca", "fr-ca")
PRESALE = "Verified Fan Presale"


# ------------------------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    ("text", "encoding", "length", "fits"),
    [
        pytest.param("A" * 160, Encoding.GSM_7, 160, True, id="160 GSM-7"),
        pytest.param("A" * 161, Encoding.GSM_7, 161, False, id="161 GSM-7"),
        # é, è, à, Ä, Ñ … are in the default alphabet
        pytest.param("é" * 160, Encoding.GSM_7, 160, True, id="160 accented GSM-7"),
        # extension characters count two
        pytest.param("€" * 80, Encoding.GSM_7, 160, True, id="80 euro signs"),
        pytest.param("€" * 80 + "A", Encoding.GSM_7, 161, False, id="80 euro signs and a letter"),
        pytest.param("^{}\\[~]|", Encoding.GSM_7, 16, True, id="whole extension table"),
        pytest.param("A" * 158 + "[", Encoding.GSM_7, 160, True, id="159 characters, 160 septets"),
        pytest.param("A" * 159 + "[", Encoding.GSM_7, 161, False, id="160 characters, 161 septets"),
        # ê is not GSM-7: the whole text goes UCS-2
        pytest.param("ê" * 70, Encoding.UCS_2, 70, True, id="70 UCS-2"),
        pytest.param("ê" * 71, Encoding.UCS_2, 71, False, id="71 UCS-2"),
        pytest.param("A" * 69 + "ç", Encoding.UCS_2, 70, True, id="one c-cedilla makes UCS-2"),
        # in UCS-2 the euro sign is one unit
        pytest.param("€" * 69 + "ç", Encoding.UCS_2, 70, True, id="euro in UCS-2"),
        # an emoji is two UTF-16 code units
        pytest.param("😀" * 35, Encoding.UCS_2, 70, True, id="35 emoji"),
        pytest.param("😀" * 35 + "a", Encoding.UCS_2, 71, False, id="35 emoji and a letter"),
        pytest.param("…", Encoding.UCS_2, 1, True, id="ellipsis character"),
    ],
)
def test_encoding_and_segment_length_follow_3gpp_23_038(
    text: str, encoding: Encoding, length: int, fits: bool
) -> None:
    # Given a text  # When its encoding and length are measured
    # Then GSM-7 counts septets (extension table 2) and UCS-2 counts UTF-16 code units
    assert encoding_of(text) is encoding
    assert encoded_length(text) == length
    assert fits_one_segment(text) is fits


def test_every_template_text_is_gsm7_so_plain_names_never_force_ucs2() -> None:
    # Given the templates of every locale
    for locale, template in SMS_TEMPLATES.items():
        # When their fixed text is checked  # Then it is all GSM-7
        fixed = template.message + template.presale + template.place
        assert encoding_of(fixed) is Encoding.GSM_7, locale


# ------------------------------------------------------------------------ locale × brand × sale


@pytest.mark.parametrize(
    ("locale", "brand", "presale", "expected"),
    [
        (
            "en-us",
            TM,
            PRESALE,
            "Heads up! Tickets for Celine Dion Verified Fan Presale in Montréal go on sale 10:00 AM EST. "
            "Get tickets with Ticketmaster: https://bit.ly/3xYz12A",
        ),
        (
            "en-us",
            LN,
            None,
            "Heads up! Tickets for Celine Dion in Montréal go on sale 10:00 AM EST. "
            "Get tickets with Live Nation: https://bit.ly/3xYz12A",
        ),
        (
            "en-ca",
            TM,
            None,
            "Heads up! Tickets for Celine Dion in Montréal go on sale 10:00 AM EST. "
            "Get tickets with Ticketmaster: https://bit.ly/3xYz12A",
        ),
        (
            "en-ca",
            LN,
            PRESALE,
            "Heads up! Tickets for Celine Dion Verified Fan Presale in Montréal go on sale 10:00 AM EST. "
            "Get tickets with Live Nation: https://bit.ly/3xYz12A",
        ),
        (
            "fr-ca",
            TM,
            PRESALE,
            "Rappel! Les billets pour Céline Dion Verified Fan Presale à Montréal "
            "seront en vente à 10 h HNE. Obtenez vos billets avec Ticketmaster : https://bit.ly/3xYz12A",
        ),
        (
            "fr-ca",
            LN,
            None,
            "Rappel! Les billets pour Céline Dion à Montréal seront en vente à 10 h HNE. "
            "Obtenez vos billets avec Live Nation : https://bit.ly/3xYz12A",
        ),
    ],
)
def test_the_sms_names_artist_presale_city_time_brand_and_link_in_the_fans_language(
    locale: LocaleCode, brand: Brand, presale: str | None, expected: str
) -> None:
    # Given a sale of Céline Dion in Montréal (a presale, or the public sale without a presale name)
    message = sale_message(presale_name=presale)

    # When the SMS is rendered for a locale and brand
    body = render_sms(message, locale=locale, brand=brand)

    # Then it is the locale's text, in one GSM-7 segment
    assert body == expected
    assert encoding_of(body) is Encoding.GSM_7
    assert encoded_length(body) <= 160


@pytest.mark.parametrize(
    ("artist", "locale", "shown"),
    [
        ("Beyoncé", "en-us", "Beyonce"),
        ("Beyoncé", "en-ca", "Beyonce"),
        ("Beyoncé", "fr-ca", "Beyoncé"),
        ("Mötley Crüe", "en-us", "Motley Crue"),
        ("Mötley Crüe", "fr-ca", "Mötley Crüe"),  # ö and ü are GSM-7: kept
        ("Sigur Rós", "fr-ca", "Sigur Ros"),  # ó is not GSM-7: folded to its letter
        ("Mes Aïeux", "fr-ca", "Mes Aieux"),
        ("Guns N’ Roses", "en-us", "Guns N' Roses"),  # typographic apostrophe → GSM-7 apostrophe
        ("  Arcade\n  Fire ", "en-us", "Arcade Fire"),
    ],
)
def test_english_strips_accents_from_the_artist_and_french_keeps_those_gsm7_can_carry(
    artist: str, locale: LocaleCode, shown: str
) -> None:
    # Given an artist name with accents or typography  # When the public-sale SMS is rendered
    body = render_sms(sale_message(artist_name=artist, presale_name=None), locale=locale, brand=TM)

    # Then the name appears cleaned for the locale and the message stays GSM-7
    opener = "Tickets for " if locale.startswith("en") else "Les billets pour "
    assert f"{opener}{shown} " in body
    assert encoding_of(body) is Encoding.GSM_7


def test_french_folds_a_non_gsm7_letter_rather_than_losing_the_sms_to_ucs2() -> None:
    # Given a Québécois artist whose name has a ç (outside GSM-7)
    message = sale_message(artist_name="François Pérusse", presale_name=None)

    # When the fr-ca SMS is rendered
    body = render_sms(message, locale="fr-ca", brand=TM)

    # Then ç becomes c, é (GSM-7) stays, and the message is one GSM-7 segment
    assert "Francois Pérusse à Montréal" in body
    assert encoding_of(body) is Encoding.GSM_7


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Beyoncé", "Beyonce"), ("Françoise Hardy", "Francoise Hardy"), ("Sigur Rós", "Sigur Ros"), ("Ø", "Ø")],
)
def test_strip_accents_removes_diacritics_only(text: str, expected: str) -> None:
    assert strip_accents(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("é è à ù", "é è à ù"), ("ç ê ô î", "c e o i"), ("“Œuvre” – live…", '"OEuvre" - live...'), ("🌈", "🌈")],
)
def test_gsm7_spelling_folds_only_what_has_a_gsm7_form(text: str, expected: str) -> None:
    assert gsm7_spelling(text) == expected


# ---------------------------------------------------------------------------- the fitting rule


def _public_sms(artist: str, city: str | None = "Austin", presale: str | None = None) -> str:
    message = sale_message(artist_name=artist, venue_city=city, presale_name=presale)
    return render_sms(message, locale="en-us", brand=TM)


def _room() -> int:
    """GSM-7 characters left for the artist in the public-sale en-us SMS with city Austin."""
    return 160 - len(_public_sms(""))


def test_exactly_160_gsm7_characters_are_sent_as_written() -> None:
    # Given an artist name that makes the message exactly 160 characters
    artist = "A" * _room()

    # When it is rendered  # Then nothing is shortened
    body = _public_sms(artist)
    assert len(body) == 160
    assert f"{artist} in Austin go on sale" in body


def test_161_characters_are_shortened_by_dropping_the_city_first() -> None:
    # Given one character more than a segment holds
    artist = "A" * (_room() + 1)

    # When it is rendered
    body = _public_sms(artist)

    # Then the venue city goes and the artist and link stay whole
    assert f"for {artist} go on sale" in body
    assert "Austin" not in body
    assert body.endswith(f": {SHORT_URL}")


def test_extension_characters_count_two_when_fitting() -> None:
    # Given an artist whose one extension character brings the message to exactly 160 septets
    fits = "A" * (_room() - 2) + "["
    too_long = "A" * (_room() - 2) + "[]"

    # When both are rendered
    # Then the first is sent as written and the second (161 septets) loses its city
    assert "in Austin" in _public_sms(fits)
    assert encoded_length(_public_sms(fits)) == 160
    assert "in Austin" not in _public_sms(too_long)


def test_the_presale_name_is_shortened_word_by_word_after_the_city() -> None:
    # Given a presale whose name is too long even without the city
    presale = "Citi Cardmember Preferred Presale Tickets"
    without_city = _room() + len(" in Austin")
    # Room for " Citi Cardmember..." with 2 to spare: one more word (" Preferred") cannot fit.
    artist = "A" * (without_city - len(" Citi Cardmember...") - 2)

    # When it is rendered
    body = _public_sms(artist, presale=presale)

    # Then the city is gone and the presale keeps its leading words with an ellipsis
    assert f"for {artist} Citi Cardmember... go on sale" in body
    assert encoded_length(body) <= 160


def test_the_artist_is_truncated_last_with_a_gsm7_ellipsis() -> None:
    # Given an artist name longer than any segment
    artist = "The " + "Very" * 60 + " Long Band"

    # When it is rendered with a one-word presale
    body = _public_sms(artist, presale="Presale")

    # Then city dropped, presale kept (one word), artist cut with "..." and exactly 160 septets
    assert " in Austin" not in body
    assert "... Presale go on sale" in body
    assert encoded_length(body) == 160
    assert encoding_of(body) is Encoding.GSM_7
    assert body.endswith(SHORT_URL)


def test_an_emoji_makes_the_sms_ucs2_and_truncation_drops_it_to_fit_gsm7() -> None:
    # Given an artist whose name ends with an emoji (UCS-2: 70 units, less than the template)
    full = "Heads up! Tickets for Coldplay 🌈 in Austin go on sale 10:00 AM EST."
    assert encoding_of(full) is Encoding.UCS_2

    # When it is rendered
    body = _public_sms("Coldplay 🌈")

    # Then the emoji is truncated away with a GSM-7 ellipsis and the message is GSM-7 again
    assert "Tickets for Coldplay... go on sale" in body
    assert encoding_of(body) is Encoding.GSM_7


@pytest.mark.parametrize("artist", ["🌈", "嵐", "방탄소년단"])
def test_a_message_that_cannot_fit_any_segment_raises_a_permanent_error(artist: str) -> None:
    # Given an artist with no GSM-7 character at all: every candidate is UCS-2 (limit 70)
    message = sale_message(artist_name=artist)

    # When it is rendered  # Then a permanent, typed error says why
    with pytest.raises(SmsTooLongError) as raised:
        render_sms(message, locale="en-us", brand=TM)
    assert isinstance(raised.value, PermanentError)
    assert raised.value.encoding is Encoding.UCS_2
    assert raised.value.length > SEGMENT_LIMITS[Encoding.UCS_2]
    assert "one segment holds 70" in str(raised.value)


def test_a_message_that_stays_ucs2_is_shortened_with_the_one_unit_ellipsis() -> None:
    # Given an artist of two emoji: every candidate is UCS-2, so "…" (1 unit) beats "..." (3)
    message = sale_message(artist_name="🌈🌈")

    # When it is rendered
    with pytest.raises(SmsTooLongError) as raised:
        render_sms(message, locale="en-us", brand=TM)

    # Then the shortest candidate measured is the one with "…" after the artist and the presale
    shortest = (
        "Heads up! Tickets for 🌈… Verified… go on sale 10:00 AM EST. "
        "Get tickets with Ticketmaster: https://bit.ly/3xYz12A"
    )
    assert raised.value.length == encoded_length(shortest)


# ----------------------------------------------------------------------------- properties

_NAMES = st.text(max_size=120)


@settings(max_examples=300, deadline=None)
@given(
    artist=_NAMES,
    city=st.none() | _NAMES,
    presale=st.none() | _NAMES,
    locale=st.sampled_from(LOCALES),
    brand=st.sampled_from(list(Brand)),
)
def test_any_names_render_to_one_segment_ending_with_the_full_link_or_a_typed_error(
    artist: str, city: str | None, presale: str | None, locale: LocaleCode, brand: Brand
) -> None:
    # Given arbitrary artist, city and presale texts
    message = sale_message(artist_name=artist, venue_city=city, presale_name=presale)

    # When the SMS is rendered
    try:
        body = render_sms(message, locale=locale, brand=brand)
    except SmsTooLongError as error:
        # Then either it says it cannot fit a segment of its encoding
        assert error.length > SEGMENT_LIMITS[error.encoding]
        return

    # Or it fits one segment of its encoding, ends with the whole link and keeps time and brand
    assert encoded_length(body) <= SEGMENT_LIMITS[encoding_of(body)]
    assert body.endswith(" " + SHORT_URL)
    assert body.count(SHORT_URL) >= 1
    assert brand.value in body
    assert sale_time(message.sale_start, message.timezone, locale) in body


@settings(max_examples=200, deadline=None)
@given(
    artist=st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=60),
    locale=st.sampled_from(LOCALES),
)
def test_plain_latin_names_always_produce_an_sms(artist: str, locale: LocaleCode) -> None:
    # Given any plain letters-and-digits artist name  # When rendered with presale and city
    body = render_sms(sale_message(artist_name=artist), locale=locale, brand=TM)

    # Then an SMS always results (truncation at worst), never an error
    assert fits_one_segment(body)
    assert body.endswith(SHORT_URL)


# ------------------------------------------------------------------------------ times


@pytest.mark.parametrize(
    ("at", "zone", "locale", "expected"),
    [
        (datetime(2024, 3, 1, 15, 0, tzinfo=UTC), "America/New_York", "en-us", "10:00 AM EST"),
        (datetime(2024, 7, 1, 23, 30, tzinfo=UTC), "America/Los_Angeles", "en-us", "4:30 PM PDT"),
        (datetime(2024, 1, 15, 6, 0, tzinfo=UTC), "America/Chicago", "en-us", "12:00 AM CST"),
        (datetime(2024, 6, 1, 16, 0, tzinfo=UTC), "America/Toronto", "en-ca", "12:00 PM EDT"),
        (datetime(2024, 1, 15, 17, 0, tzinfo=UTC), "America/Edmonton", "en-ca", "10:00 AM MST"),
        (datetime(2024, 3, 1, 15, 0, tzinfo=UTC), "America/Toronto", "fr-ca", "10 h HNE"),
        (datetime(2024, 7, 1, 23, 30, tzinfo=UTC), "America/Toronto", "fr-ca", "19 h 30 HAE"),
        (datetime(2024, 1, 15, 20, 5, tzinfo=UTC), "America/Vancouver", "fr-ca", "12 h 05 HNP"),
        (datetime(2024, 1, 15, 14, 0, tzinfo=UTC), "America/Halifax", "fr-ca", "10 h HNA"),
    ],
)
def test_the_sale_time_is_the_events_wall_clock_with_its_zone(
    at: datetime, zone: str, locale: LocaleCode, expected: str
) -> None:
    # Given a sale start (UTC) and the event's timezone  # When formatted for a locale
    # Then it reads as fans in that zone and language expect
    assert sale_time(at, ZoneInfo(zone), locale) == expected


# ------------------------------------------------------------------------------ email


@pytest.mark.parametrize(
    ("locale", "presale", "expected"),
    [
        (
            "en-us",
            PRESALE,
            {
                "artistName": "Céline Dion",
                "presaleName": "Verified Fan Presale",
                "saleTime": "10:00 AM EST",
                "eventDay": "FRI",
                "eventDate": "MAR 15",
                "eventTime": "8:00 PM",
                "url": SHORT_URL,
                "venueName": "Centre Bell",
                "venueCity": "Montréal",
                "venueStateCode": "QC",
                "brand": "Live Nation",
            },
        ),
        (
            "fr-ca",
            None,
            {
                "artistName": "Céline Dion",
                "saleTime": "10 h HNE",
                "eventDay": "VEN",
                "eventDate": "15 MARS",
                "eventTime": "20 h",
                "url": SHORT_URL,
                "venueName": "Centre Bell",
                "venueCity": "Montréal",
                "venueStateCode": "QC",
                "brand": "Live Nation",
            },
        ),
    ],
)
def test_email_variables_are_localized_and_name_the_presale_only_for_presales(
    locale: LocaleCode, presale: str | None, expected: dict[str, str]
) -> None:
    # Given the sale (presale or public)  # When the SES template variables are built
    variables = email_template_variables(sale_message(presale_name=presale), locale=locale, brand=LN)

    # Then they are exactly the template's variables, accents kept (email is not SMS)
    assert variables == expected


def test_email_variables_of_an_event_without_a_date_say_it_is_to_be_announced() -> None:
    # Given an event whose start is not announced, with no venue details
    message = sale_message(event_start=None, venue_name=None, venue_city=None, venue_state_code=None)

    # When the variables are built in English and French
    english = email_template_variables(message, locale="en-ca", brand=TM)
    french = email_template_variables(message, locale="fr-ca", brand=TM)

    # Then the date says so, and absent parts are omitted rather than empty
    assert english["eventDate"] == "TBA"
    assert french["eventDate"] == "À CONFIRMER"
    assert not {"eventDay", "eventTime", "venueName", "venueCity", "venueStateCode"} & set(english)
