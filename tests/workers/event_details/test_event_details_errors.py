"""Which error an AppSync client sees for each failure (its class name is the GraphQL errorType)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoRegionError, ReadTimeoutError

from workers.event_details.errors import (
    EventDetailsFailedError,
    EventDetailsUnavailableError,
    EventNotFoundError,
    InvalidArgumentError,
    client_error,
)
from workers.shared.discovery.errors import InvalidEventPayloadError
from workers.shared.errors import (
    PermanentVendorError,
    RecordError,
    RetryableVendorError,
    SecretError,
    SettingsError,
)

DYNAMODB = "https://dynamodb.us-east-1.amazonaws.com"


def aws_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "internal detail"}}, "GetItem")


@pytest.mark.parametrize(
    ("failure", "shown"),
    [
        (InvalidArgumentError("eventId '' is not a Discovery event id"), InvalidArgumentError),
        (EventNotFoundError("vvG1IZ9KBxv3Tx"), EventNotFoundError),
        (RecordError("not a valid ResolverEvent: info: Field required"), InvalidArgumentError),
        (RetryableVendorError("discovery", "Unavailable", status_code=503), EventDetailsUnavailableError),
        (aws_error("ProvisionedThroughputExceededException"), EventDetailsUnavailableError),
        (aws_error("ThrottlingException"), EventDetailsUnavailableError),
        (EndpointConnectionError(endpoint_url=DYNAMODB), EventDetailsUnavailableError),
        (ReadTimeoutError(endpoint_url=DYNAMODB), EventDetailsUnavailableError),
        (aws_error("AccessDeniedException"), EventDetailsFailedError),
        (aws_error("ResourceNotFoundException"), EventDetailsFailedError),
        (NoRegionError(), EventDetailsFailedError),
        (PermanentVendorError("discovery", "Invalid ApiKey", status_code=401), EventDetailsFailedError),
        (InvalidEventPayloadError("vvG1IZ9KBxv3Tg", "missing name"), EventDetailsFailedError),
        (SecretError("secret arn:... has no apiKey string"), EventDetailsFailedError),
        (SettingsError("EventDetailsSettings: DISCOVERY_URL is not set"), EventDetailsFailedError),
        (KeyError("sales"), EventDetailsFailedError),
    ],
)
def test_each_failure_is_shown_as_its_graphql_error_type(failure: Exception, shown: type[Exception]) -> None:
    # Given a failure inside the resolver / When translated for the client
    error = client_error(failure, request_id="req-1")

    # Then the client sees the typed error; internal failures say nothing but the request id
    assert type(error) is shown
    if shown in (EventDetailsFailedError, EventDetailsUnavailableError):
        assert "req-1" in str(error)
        assert "internal detail" not in str(error) and "arn:" not in str(error)
