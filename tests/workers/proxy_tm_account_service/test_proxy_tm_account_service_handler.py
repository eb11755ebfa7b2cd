"""`Query.tmAccount` end to end: AppSync events, a signed fake Accounts API, profiles or GraphQL errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from account_builders import MEMBER_ID, tm_account_event

from sandbox.vendors import ACCOUNTS_API_KEY as API_KEY
from sandbox.vendors import Accounts, Reply, is_sigv4_signed
from workers.proxy_tm_account_service.handler import lambda_handler
from workers.proxy_tm_account_service.models import (
    AccountNotFoundError,
    AccountsUnavailableError,
    GraphQLError,
    InvalidArgumentError,
)
from workers.shared.clients import sts

Lines = Callable[[], list[dict[str, Any]]]
pytestmark = [
    pytest.mark.usefixtures("proxy_env"),
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]


class AssumeRoleCalls(list[str]):
    """The roles the worker's STS client assumed."""

    def __init__(self) -> None:
        super().__init__()
        sts().meta.events.register("provide-client-params.sts.AssumeRole", self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.append(params["RoleArn"])


def lambda_error(error: GraphQLError) -> dict[str, str]:
    """What the Lambda runtime reports for an exception, which AppSync turns into the GraphQL error."""
    return {"errorType": type(error).__name__, "errorMessage": str(error)}


def test_a_member_is_returned_normalized_from_a_signed_call(accounts: Accounts, lambda_context: Any) -> None:
    # Given the realistic AppSync event of tmAccount(memberId: "1234567890")
    assumed = AssumeRoleCalls()

    # When it is resolved twice
    first = lambda_handler(tm_account_event(memberId=MEMBER_ID), lambda_context)
    second = lambda_handler(tm_account_event(memberId=MEMBER_ID), lambda_context)

    # Then the TmAccount is normalized
    assert (
        first
        == second
        == {
            "memberId": MEMBER_ID,
            "firstName": "Jane",
            "lastName": "Doe",
            "email": "Jane.Doe@example.com",
            "phoneNumber": "+15555550123",
            "countryCode": "US",
            "locale": "en-us",
        }
    )
    # And each call carried the API key and a SigV4 signature of the role, assumed once
    for request in accounts.requests:
        headers = {name.lower(): value for name, value in request.headers.items()}
        assert headers["x-api-key"] == API_KEY
        assert is_sigv4_signed(headers)
    assert assumed == ["arn:aws:iam::123456789012:role/acoe-client-test"]


def test_an_unknown_member_is_a_member_not_found_error(accounts: Accounts, lambda_context: Any) -> None:
    with pytest.raises(AccountNotFoundError) as raised:
        lambda_handler(tm_account_event(memberId="999"), lambda_context)
    assert lambda_error(raised.value) == {
        "errorType": "AccountNotFoundError",
        "errorMessage": "No Ticketmaster account has member id '999'",
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"memberId": "../admin"}, "memberId '../admin' is not a valid member id: use 1 to 64 letters"),
        ({"memberId": ""}, "memberId '' is not a valid member id"),
        ({}, "memberId is required: 1 to 64 letters"),
        ({"memberId": None}, "memberId is required"),
    ],
)
def test_a_malformed_member_id_is_refused_before_any_call(
    accounts: Accounts, lambda_context: Any, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as raised:
        lambda_handler(tm_account_event(**arguments), lambda_context)
    assert raised.value.error_type == "InvalidArgumentError"
    assert accounts.requests == []


def test_a_failing_accounts_api_is_unavailable_after_retries_without_leaking_internals(
    accounts: Accounts, lambda_context: Any, log_lines: Lines
) -> None:
    # Given an Accounts API answering 503 every time
    accounts.reply_next(*[Reply(503, {"message": "upstream db01.internal down"})] * 3)

    # When a member is resolved
    with pytest.raises(AccountsUnavailableError) as raised:
        lambda_handler(tm_account_event(memberId=MEMBER_ID), lambda_context)

    # Then three attempts were made and the client sees a plain message, no cause or internals
    assert len(accounts.requests) == 3
    assert lambda_error(raised.value) == {
        "errorType": "AccountsUnavailableError",
        "errorMessage": "The Ticketmaster accounts service is unavailable; try again shortly"
        " (request 6f3f8a4e-0d47-4e0e-9b4f-1a2b3c4d5e6f)",
    }
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    # And the operators' log has the vendor's status and reason, correlated by AppSync's trace id
    [failure] = [line for line in log_lines() if line["message"] == "Accounts API failed"]
    assert (failure["status_code"], failure["reason"]) == (503, "upstream db01.internal down")
    assert failure["correlation_id"] == "Root=1-65a4f0a0-7c1d2e3f4a5b6c7d8e9f0a1b"


def test_a_broken_secret_is_unavailable_and_logged_for_operators(
    accounts: Accounts, lambda_context: Any, monkeypatch: pytest.MonkeyPatch, log_lines: Lines
) -> None:
    # Given a secret ARN that names no secret
    monkeypatch.setenv(
        "ACCOUNTS_SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:prd3292-test/missing-AbCdEf",
    )

    # When a member is resolved / Then the client sees AccountsUnavailableError, operators the detail
    with pytest.raises(AccountsUnavailableError, match="unavailable; try again shortly"):
        lambda_handler(tm_account_event(memberId=MEMBER_ID), lambda_context)
    assert accounts.requests == []
    [failure] = [line for line in log_lines() if line["message"] == "Accounts lookup failed unexpectedly"]
    assert "exception" in failure
