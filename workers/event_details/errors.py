"""Errors the resolver raises to AppSync: the class name becomes the GraphQL `errorType`, the text `message`.

A direct Lambda resolver (no mapping templates, see infra/triggers.py) turns a function error into
a GraphQL error from the Lambda error payload's `errorMessage` and `errorType`; the Python runtime
sets `errorType` to the exception's class name (AppSync docs, "Direct Lambda resolvers"; reports
of a constant `Lambda:Unhandled` come from setups with VTL response templates, which infra does not
declare). So these names are the resolver's public error vocabulary, ending in `Error` like every
error of the house, and their messages are written for API clients: no internals, no stack trace
(the runtime's `stackTrace` field is not part of the GraphQL error).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as AwsConnectionError

from workers.shared.discovery.errors import EventNotFoundError
from workers.shared.errors import PermanentError, RecordError, RetryableError, WorkerError
from workers.shared.observability import LOGGER

__all__ = [
    "EventDetailsFailedError",
    "EventDetailsUnavailableError",
    "EventNotFoundError",
    "InvalidArgumentError",
    "graphql_errors",
]


class InvalidArgumentError(PermanentError):
    """An argument of Query.eventDetails is malformed (empty or malformed eventId, unknown tmMarketId)."""


class EventDetailsUnavailableError(RetryableError):
    """Discovery or the cache failed transiently; the same query may succeed shortly."""


class EventDetailsFailedError(PermanentError):
    """An unexpected failure; the message carries the request id to find the logs."""


# Throttling-like codes after botocore's own retries: the caller may try again shortly.
_RETRYABLE_AWS_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
_CLIENT_ERRORS = (InvalidArgumentError, EventNotFoundError)


def client_error(error: Exception, *, request_id: str) -> WorkerError:
    """The error an AppSync client sees for `error`: typed, with a message fit for an API client."""
    if isinstance(error, _CLIENT_ERRORS):
        return error
    if isinstance(error, RecordError):
        return InvalidArgumentError(str(error))
    retryable_aws = isinstance(error, ClientError) and (
        error.response.get("Error", {}).get("Code") in _RETRYABLE_AWS_CODES
    )
    # Connection failures and timeouts only: other botocore errors (no region, no credentials) are
    # deployment problems that a retry will not fix.
    if isinstance(error, RetryableError | AwsConnectionError | HTTPClientError) or retryable_aws:
        return EventDetailsUnavailableError(
            f"event details are temporarily unavailable; retry in a few seconds (request {request_id})"
        )
    return EventDetailsFailedError(f"event details could not be loaded (request {request_id})")


@contextmanager
def graphql_errors(*, request_id: str) -> Iterator[None]:
    """Re-raise any failure inside the block as the typed error its GraphQL client should see."""
    try:
        yield
    except Exception as error:
        shown = client_error(error, request_id=request_id)
        if isinstance(shown, _CLIENT_ERRORS):
            LOGGER.info(
                "Event details request rejected",
                extra={"error_type": type(shown).__name__, "reason": str(shown)},
            )
        else:
            LOGGER.exception("Event details request failed", extra={"error_type": type(shown).__name__})
        if shown is error:
            raise
        # `from None`: the Lambda error payload carries this error alone, not the internal cause.
        raise shown from None
