"""`Query.tmAccount`: a member's normalized profile, or a GraphQL error the client can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import ValidationError

from workers.proxy_tm_account_service.models import (
    AccountNotFoundError,
    AccountsUnavailableError,
    InvalidArgumentError,
    TmAccountArguments,
)
from workers.shared.accounts import MEMBER_ID_RULE, InvalidMemberIdError, Member, MemberNotFoundError
from workers.shared.errors import VendorError
from workers.shared.observability import LOGGER

UNAVAILABLE_MESSAGE = (
    "The Ticketmaster accounts service is unavailable; try again shortly (request {request_id})"
)


class MemberDirectory(Protocol):
    """Looks a member up by id (the Accounts API client)."""

    def member(self, member_id: str) -> Member: ...


def resolve_tm_account(
    arguments: Mapping[str, Any], accounts: MemberDirectory, *, request_id: str
) -> dict[str, str | None]:
    """The `TmAccount` of `arguments.memberId`, or a GraphQL error the client can act on."""
    # `request_id` (Lambda's) goes into the unavailable message so support can find the logs.
    try:
        member_id = TmAccountArguments.model_validate(arguments).member_id
    except ValidationError:
        raise InvalidArgumentError(f"memberId is required: {MEMBER_ID_RULE}") from None
    try:
        return accounts.member(member_id).graphql()
    except InvalidMemberIdError as error:
        LOGGER.info("Invalid member id", extra={"reason": str(error)})
        raise InvalidArgumentError(str(error)) from None
    except MemberNotFoundError:
        LOGGER.info("Member not found", extra={"member_id": member_id})
        raise AccountNotFoundError(f"No Ticketmaster account has member id {member_id!r}") from None
    except VendorError as error:
        LOGGER.error(
            "Accounts API failed",
            extra={
                "status_code": error.status_code,
                "reason": error.reason,
                "error_type": type(error).__name__,
            },
        )
        raise AccountsUnavailableError(UNAVAILABLE_MESSAGE.format(request_id=request_id)) from None
    except Exception:  # noqa: BLE001 - the GraphQL boundary: secrets, STS or a bug must not leak internals
        LOGGER.exception("Accounts lookup failed unexpectedly")
        raise AccountsUnavailableError(UNAVAILABLE_MESSAGE.format(request_id=request_id)) from None
