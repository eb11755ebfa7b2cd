"""Accounts API client against a fake on 127.0.0.1: signing, API key, errors, and normalization rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.vendors import ACCOUNTS_API_KEY as API_KEY
from sandbox.vendors import Accounts, Reply
from workers.shared import clients
from workers.shared.accounts import (
    E164_PATTERN,
    AccountsClient,
    EmailAddress,
    InvalidMemberIdError,
    MemberDocument,
    MemberNotFoundError,
    PhoneNumber,
    accounts_client,
    clean_country,
    clean_locale,
    clean_name,
    e164,
    normalize_member,
    primary_email,
    primary_phone,
)
from workers.shared.errors import PermanentVendorError, RetryableVendorError, SecretError

ROLE_ARN = "arn:aws:iam::123456789012:role/acoe-client-test"
MEMBER = {
    "memberId": "1234567890",
    "firstName": "  Jane  ",
    "lastName": "de la  Cruz",
    "emails": [
        {"address": "jane.old@Example.COM", "primary": False},
        {"address": " Jane.Doe@Example.COM ", "primary": True},
    ],
    "phones": [{"number": "(555) 555-0123", "countryCode": "us", "primary": True}],
    "countryCode": "us",
    "locale": "en_US",
    "dateOfBirth": "1990-01-01",
}


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def accounts() -> Iterator[Accounts]:
    server = Accounts(require_signature=True)
    server.add(MEMBER)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def secret_arn(aws: None) -> str:
    return clients.secretsmanager().create_secret(
        Name="prd3292-test/accounts", SecretString=json.dumps({"apiKey": API_KEY})
    )["ARN"]


def client(accounts: Accounts, secret_arn: str, *, role_arn: str | None = ROLE_ARN) -> AccountsClient:
    return accounts_client(
        accounts.url,
        secret_arn=secret_arn,
        role_arn=role_arn,
        region="us-east-1",
        timeout_seconds=2,
        sleep=Sleeps(),
    )


# ------------------------------------------------------------------------------------ client


def test_a_member_is_fetched_signed_with_the_api_key_and_normalized(
    accounts: Accounts, secret_arn: str
) -> None:
    # When a member is looked up with the role configured
    member = client(accounts, secret_arn).member("1234567890")

    # Then the request was a signed GET with the API key
    [request] = accounts.requests
    assert (request.method, request.path) == ("GET", "/v1/members/1234567890")
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert "/us-east-1/execute-api/aws4_request" in request.headers["Authorization"]
    assert request.headers["X-Amz-Security-Token"]
    # And the profile is normalized
    assert member.graphql() == {
        "memberId": "1234567890",
        "firstName": "Jane",
        "lastName": "de la Cruz",
        "email": "Jane.Doe@example.com",
        "phoneNumber": "+15555550123",
        "countryCode": "US",
        "locale": "en-us",
    }


def test_without_a_role_the_call_carries_the_api_key_only(accounts: Accounts, secret_arn: str) -> None:
    accounts.require_signature = False
    client(accounts, secret_arn, role_arn=None).member("1234567890")
    [request] = accounts.requests
    assert "Authorization" not in request.headers and request.headers["x-api-key"] == API_KEY


@pytest.mark.parametrize("member_id", ["", "12 34", "../admin", "a/b", "x" * 65, "1234?x=1", "é"])
def test_a_malformed_member_id_is_refused_before_any_call(
    accounts: Accounts, secret_arn: str, member_id: str
) -> None:
    with pytest.raises(InvalidMemberIdError, match="is not a valid member id: use 1 to 64 letters"):
        client(accounts, secret_arn).member(member_id)
    assert accounts.requests == []


def test_an_unknown_member_is_not_found(accounts: Accounts, secret_arn: str) -> None:
    with pytest.raises(MemberNotFoundError, match="no member with id '999'"):
        client(accounts, secret_arn).member("999")


def test_a_400_from_the_api_means_an_invalid_member_id(accounts: Accounts, secret_arn: str) -> None:
    accounts.reply_next(Reply(400, {"message": "memberId must be numeric"}))
    with pytest.raises(
        InvalidMemberIdError, match="rejected by the accounts service: memberId must be numeric"
    ):
        client(accounts, secret_arn).member("abc")


def test_5xx_is_retried_then_retryable(accounts: Accounts, secret_arn: str) -> None:
    accounts.reply_next(*[Reply(503, {"message": "Service Unavailable"})] * 3)
    with pytest.raises(RetryableVendorError, match="HTTP 503"):
        client(accounts, secret_arn).member("1234567890")
    assert len(accounts.requests) == 3


def test_an_api_that_never_answers_in_time_is_retried_then_retryable(
    accounts: Accounts, secret_arn: str
) -> None:
    # Given an API slower than the per-attempt timeout, every time
    accounts.reply_next(*[Reply(200, MEMBER, hold_seconds=0.5)] * 3)
    slow = accounts_client(
        accounts.url,
        secret_arn=secret_arn,
        role_arn=ROLE_ARN,
        region="us-east-1",
        timeout_seconds=0.2,
        sleep=Sleeps(),
    )

    # When a member is looked up / Then each GET attempt times out and the error is retryable
    with pytest.raises(RetryableVendorError, match=r"no response within 0\.2 s"):
        slow.member("1234567890")
    assert len(accounts.requests) == 3


def test_a_rejected_signature_is_permanent(accounts: Accounts, secret_arn: str) -> None:
    with pytest.raises(PermanentVendorError, match="Missing Authentication Token"):
        client(accounts, secret_arn, role_arn=None).member("1234567890")


def test_an_unusable_answer_is_retryable(accounts: Accounts, secret_arn: str) -> None:
    accounts.reply_next(Reply(200, ["not", "a", "member"]))
    with pytest.raises(RetryableVendorError, match="unexpected member response"):
        client(accounts, secret_arn).member("1234567890")


def test_a_secret_without_an_api_key_is_a_secret_error(aws: None, accounts: Accounts) -> None:
    arn = clients.secretsmanager().create_secret(Name="x", SecretString='{"token": "t"}')["ARN"]
    with pytest.raises(SecretError, match="has no non-empty 'apiKey'"):
        client(accounts, arn).member("1234567890")


# ----------------------------------------------------------------------------- normalization


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Jane ", "Jane"),
        ("Mary   Ann", "Mary Ann"),
        ("McCartney", "McCartney"),
        ("   ", None),
        (None, None),
    ],
)
def test_names_lose_extra_whitespace_but_keep_their_case(value: str | None, expected: str | None) -> None:
    assert clean_name(value) == expected


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        ([("a@Example.COM", False), ("B@EXAMPLE.com", True)], "B@example.com"),
        ([("a@example.com", False), ("b@example.com", False)], "a@example.com"),
        ([("not-an-email", True), ("c@example.org", False)], "c@example.org"),
        ([], None),
    ],
)
def test_the_primary_valid_email_wins(addresses: list[tuple[str, bool]], expected: str | None) -> None:
    assert primary_email([EmailAddress(address=a, primary=p) for a, p in addresses]) == expected


@pytest.mark.parametrize(
    ("number", "country", "expected"),
    [
        ("(555) 555-0123", "US", "+15555550123"),
        ("555.555.0123", "CA", "+15555550123"),
        ("1-555-555-0123", "US", "+15555550123"),
        ("+44 20 7946 0958", "GB", "+442079460958"),
        ("0044 20 7946 0958", None, "+442079460958"),
        ("020 7946 0958", "GB", None),  # a national number of a country whose rules we do not hold
        ("555-0123", "US", None),
        ("+0 123", None, None),
        ("", "US", None),
        (None, "US", None),
    ],
)
def test_phone_numbers_become_e164_or_none(
    number: str | None, country: str | None, expected: str | None
) -> None:
    assert e164(number, country) == expected


def test_the_primary_phone_uses_its_own_country_before_the_members() -> None:
    phones = [
        PhoneNumber(number="020 7946 0958", primary=True),  # ambiguous for a US member: skipped
        PhoneNumber(number="416 555 0199", country_code="ca"),
    ]
    assert primary_phone(phones, "US") == "+14165550199"


@given(
    number=st.text(alphabet="0123456789+-(). x", max_size=20),
    country=st.sampled_from(["US", "CA", "GB", None]),
)
def test_e164_is_valid_or_none_and_stable(number: str, country: str | None) -> None:
    converted = e164(number, country)
    assert converted is None or E164_PATTERN.fullmatch(converted)
    assert converted is None or e164(converted, country) == converted


@pytest.mark.parametrize(
    ("value", "expected"), [("us", "US"), (" ca ", "CA"), ("USA", None), ("1", None), (None, None)]
)
def test_countries_are_iso_alpha_2_upper_case(value: str | None, expected: str | None) -> None:
    assert clean_country(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("en_US", "en-us"), ("fr-CA", "fr-ca"), ("EN", "en"), ("english please", None), (None, None)],
)
def test_locales_are_lower_case_with_hyphens(value: str | None, expected: str | None) -> None:
    assert clean_locale(value) == expected


def test_a_sparse_member_keeps_the_requested_id_and_nulls() -> None:
    member = normalize_member(MemberDocument.model_validate({"firstName": "Jo"}), requested_id="42")
    expected: dict[str, Any] = {
        "memberId": "42",
        "firstName": "Jo",
        "lastName": None,
        "email": None,
        "phoneNumber": None,
        "countryCode": None,
        "locale": None,
    }
    assert member.graphql() == expected
