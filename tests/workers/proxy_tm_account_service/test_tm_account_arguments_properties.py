"""tmAccount arguments: any resolver event asks the directory for a string member id, or is a client error."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from record_strategies import VALID_RESOLVER_EVENT, documents, near_valid

from workers.proxy_tm_account_service.logic import resolve_tm_account
from workers.proxy_tm_account_service.models import AccountNotFoundError, InvalidArgumentError
from workers.shared.accounts import Member, MemberNotFoundError
from workers.shared.errors import RecordError
from workers.shared.resolver_events import parse_resolver_event

VALID_ARGUMENTS = {"memberId": "1234567890"}
resolver_events = documents({**VALID_RESOLVER_EVENT, "arguments": VALID_ARGUMENTS}) | near_valid(
    VALID_ARGUMENTS
).map(lambda arguments: {**VALID_RESOLVER_EVENT, "arguments": arguments})


class UnknownMembers:
    """A member directory that knows nobody, and notes who was asked for."""

    def __init__(self) -> None:
        self.asked: list[Any] = []

    def member(self, member_id: str) -> Member:
        self.asked.append(member_id)
        raise MemberNotFoundError("accounts", "no such member", status_code=404)


@given(event=resolver_events)
def test_any_resolver_event_looks_up_a_string_member_id_or_is_a_client_error(event: Any) -> None:
    directory = UnknownMembers()
    try:
        resolve_tm_account(parse_resolver_event(event).arguments, directory, request_id="req-1")
    except (RecordError, InvalidArgumentError):
        # Then a malformed event or argument is refused before the Accounts API is asked
        assert directory.asked == []
    except AccountNotFoundError:
        # ... or the directory was asked for exactly one string id
        assert len(directory.asked) == 1
        assert isinstance(directory.asked[0], str)
    else:
        raise AssertionError("an unknown member cannot resolve")
