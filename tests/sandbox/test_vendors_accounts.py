"""The TM Accounts fake: sample members behind the API key, and the signature API Gateway requires."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.vendors import Accounts
from tests.sandbox.vendor_calls import call


@pytest.fixture
def accounts() -> Iterator[Accounts]:
    server = Accounts()
    server.start()
    yield server
    server.stop()


def test_accounts_serves_the_sample_members_behind_the_api_key(accounts: Accounts) -> None:
    url = f"{accounts.url}/v1/members/sandbox-member-1"
    status, member = call("GET", url, headers={"x-api-key": accounts.api_key})
    assert status == 200 and member["firstName"] == "Ava"
    assert call("GET", url)[0] == 403
    assert call("GET", url.replace("member-1", "member-9"), headers={"x-api-key": accounts.api_key})[0] == 404


def test_an_added_member_is_served_as_a_copy(accounts: Accounts) -> None:
    member = {"memberId": "1234567890", "firstName": "Jane"}
    accounts.add(member)
    member["firstName"] = "changed later"
    status, served = call(
        "GET", f"{accounts.url}/v1/members/1234567890", headers={"x-api-key": accounts.api_key}
    )
    assert (status, served) == (200, {"memberId": "1234567890", "firstName": "Jane"})


def test_when_a_signature_is_required_an_unsigned_call_is_refused_as_api_gateway_does(
    accounts: Accounts,
) -> None:
    accounts.require_signature = True
    url = f"{accounts.url}/v1/members/sandbox-member-1"
    assert call("GET", url, headers={"x-api-key": accounts.api_key}) == (
        403,
        {"message": "Missing Authentication Token"},
    )
    assert accounts.counters.of_key("members", "sandbox-member-1") == 1
