"""The `Query.tmAccount` arguments and the GraphQL errors the resolver answers with."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from workers.shared.errors import PermanentError, RetryableError, WorkerError


class TmAccountArguments(BaseModel):
    """Arguments of `tmAccount(memberId: ID!)` (the id's format is checked by the Accounts client)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, frozen=True, defer_build=True)

    member_id: str


# Raised from the handler, these reach the GraphQL client as `errorType` = the class name and
# `message` = the text: the names are the API's error vocabulary, hence no "Error" suffix.
class GraphQLError(WorkerError):
    """An error the resolver reports to the GraphQL client (message written for the client)."""

    @property
    def error_type(self) -> str:
        """The GraphQL `errorType` (the class name, which Lambda reports as the error type)."""
        return type(self).__name__


class InvalidArgumentError(GraphQLError, PermanentError):
    """The memberId argument is missing or malformed; checked before any call."""


class AccountNotFoundError(GraphQLError, PermanentError):
    """No Ticketmaster account has this member id."""


class AccountsUnavailableError(GraphQLError, RetryableError):
    """The Accounts API did not answer usefully (5xx, timeouts after retries, misconfiguration)."""
