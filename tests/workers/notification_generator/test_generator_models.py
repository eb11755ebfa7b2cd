"""Brand from market (MF-002) and public sale vs presale (ST-001/ST-002)."""

from __future__ import annotations

import pytest
from generator_builders import sale_record

from workers.notification_generator.models import Brand, brand_for_market, is_public_sale


@pytest.mark.parametrize(
    ("market_id", "brand"),
    [
        ("TM_US", Brand.TICKETMASTER),
        ("TM_CA", Brand.TICKETMASTER),
        ("LN_US", Brand.LIVE_NATION),
        ("LN_CA", Brand.LIVE_NATION),
        ("ln_us", Brand.LIVE_NATION),
        ("XX_US", Brand.TICKETMASTER),  # unknown market: the demand default (TM_US) brand
        (None, Brand.TICKETMASTER),
    ],
)
def test_the_brand_comes_from_the_market_prefix(market_id: str | None, brand: Brand) -> None:
    # Given a fan's market  # When the brand is chosen  # Then TM_* is Ticketmaster and LN_* Live Nation
    assert brand_for_market(market_id) is brand


@pytest.mark.parametrize(
    ("name", "sale_types", "public"),
    [
        ("Public Onsale", ("PUBLIC",), True),
        ("General Public", ("GENERAL",), True),
        ("Ticketmaster Onsale", ("public",), True),
        ("Verified Fan Presale", ("VF",), False),
        ("Citi Cardmember Presale", ("CC", "CITI"), False),
        ("Public Onsale", ("VF",), False),  # the types decide when there are any
        ("Public Onsale", (), True),  # without types the name decides
        ("General Onsale", (), True),
        ("Amex Presale", (), False),
    ],
)
def test_a_sale_is_public_by_its_types_else_by_its_name(
    name: str, sale_types: tuple[str, ...], public: bool
) -> None:
    # Given a sale  # When classified  # Then public sales omit the presale name from reminders
    assert is_public_sale(sale_record(name=name, sale_types=sale_types)) is public
