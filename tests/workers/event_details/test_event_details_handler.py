"""Query.eventDetails end to end: AppSync event → handler → moto table/queue and a fake Discovery API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic.alias_generators import to_camel

from sandbox.vendors import Discovery
from workers.event_details.errors import (
    EventDetailsFailedError,
    EventDetailsUnavailableError,
    EventNotFoundError,
    InvalidArgumentError,
)
from workers.event_details.handler import RESOLVER_FAILURES, lambda_handler
from workers.event_details.models import EventDetails

EventBuilder = Callable[..., dict[str, Any]]
Jobs = Callable[[], list[dict[str, Any]]]
# Handlers that emit no metric of their own make Powertools warn on every flush.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
US_EVENT = "vvG1IZ9KBxv3Tg"


def lambda_error_payload(error: BaseException) -> dict[str, str]:
    """What the Python runtime hands AppSync for a raised error (AppSync shows message and type)."""
    return {"errorMessage": str(error), "errorType": type(error).__name__}


@pytest.mark.usefixtures("worker_env")
def test_a_miss_fetches_caches_and_answers_and_the_next_query_is_served_from_the_cache(
    resolver_event: EventBuilder, lambda_context: Any, discovery: Discovery, short_url_jobs: Jobs
) -> None:
    # Given an event nobody has asked about yet
    event = resolver_event(eventId=US_EVENT, tmMarketId="TM_US")

    # When eventDetails is resolved twice
    first = lambda_handler(event, lambda_context)
    second = lambda_handler(event, lambda_context)

    # Then the GraphQL EventDetails shape is returned, the same both times
    assert (
        first
        == second
        == {
            "eventId": US_EVENT,
            "eventName": "Maren Holloway: Northern Lights Tour",
            "artist": "Maren Holloway",
            "venueName": "United Center",
            "venueCity": "Chicago",
            "venueStateCode": "IL",
            "eventStartDateTime": "2024-03-16T01:00:00.000Z",
            "timezone": "America/Chicago",
            "locale": "en-us",
            "url": "https://www.ticketmaster.com/maren-holloway-northern-lights-tour-chicago-illinois-03-15-2024/event/04005F3CA1B26E4D",
            "shortUrl": None,
            "isSuppressed": False,
            "sales": [
                {
                    "id": "verified-fan-registration",
                    "name": "Verified Fan Registration",
                    "saleStartDateTime": "2024-01-08T15:00:00.000Z",
                    "saleTypes": ["VF"],
                    "isSuppressed": True,
                },
                {
                    "id": "verified-fan-presale",
                    "name": "Verified Fan Presale",
                    "saleStartDateTime": "2024-01-15T15:00:00.000Z",
                    "saleTypes": ["VF"],
                    "isSuppressed": False,
                },
                {
                    "id": "citi-cardmember-presale",
                    "name": "Citi® Cardmember Presale",
                    "saleStartDateTime": "2024-01-16T15:00:00.000Z",
                    "saleTypes": ["CC", "CITI"],
                    "isSuppressed": False,
                },
                {
                    "id": "live-nation-mobile-app-presale",
                    "name": "Live Nation Mobile App Presale",
                    "saleStartDateTime": "2024-01-17T15:00:00.000Z",
                    "saleTypes": ["LN"],
                    "isSuppressed": False,
                },
                {
                    "id": "official-platinum-onsale",
                    "name": "Official Platinum Onsale",
                    "saleStartDateTime": "2024-01-19T16:00:00.000Z",
                    "saleTypes": ["PLAT"],
                    "isSuppressed": False,
                },
                {
                    "id": "public",
                    "name": "Public Onsale",
                    "saleStartDateTime": "2024-01-19T16:00:00.000Z",
                    "saleTypes": ["PUBLIC"],
                    "isSuppressed": False,
                },
            ],
            "error": None,
        }
    )
    # And Discovery was called only on the miss, which also queued one short-url job
    assert discovery.calls == {US_EVENT: 1}
    assert short_url_jobs() == [{"eventId": US_EVENT}]


@pytest.mark.usefixtures("worker_env")
@pytest.mark.parametrize("arguments", [{"eventId": US_EVENT}, {"eventId": US_EVENT, "tmMarketId": None}])
def test_the_market_defaults_to_tm_us(
    resolver_event: EventBuilder, lambda_context: Any, arguments: dict[str, Any]
) -> None:
    # Given no market (absent or null) / When resolved / Then the TM_US locale applies
    assert lambda_handler(resolver_event(**arguments), lambda_context)["locale"] == "en-us"


@pytest.mark.usefixtures("worker_env")
def test_a_french_canadian_event_in_the_canadian_market_is_fr_ca_with_accents_kept(
    resolver_event: EventBuilder, lambda_context: Any
) -> None:
    # Given the Montréal event requested for TM_CA / When resolved
    details = lambda_handler(resolver_event(eventId="Z7r9jZ1A7jvFk", tmMarketId="TM_CA"), lambda_context)
    # Then its locale is fr-ca and names keep their accents
    assert (details["locale"], details["eventName"], details["venueCity"]) == (
        "fr-ca",
        "Les Misérables",
        "Montréal",
    )


@pytest.mark.usefixtures("worker_env")
def test_a_suppressed_event_is_answered_suppressed_and_never_queued_for_a_short_url(
    resolver_event: EventBuilder, lambda_context: Any, short_url_jobs: Jobs
) -> None:
    # Given the festival billing a suppressed artist (SUPPRESSED_ARTIST_IDS)
    details = lambda_handler(resolver_event(eventId="G5vYZ9hBFkAtn"), lambda_context)

    # Then the event and each of its sales are reported suppressed, and no short URL is requested
    assert details["isSuppressed"] is True
    assert {sale["isSuppressed"] for sale in details["sales"]} == {True}
    assert short_url_jobs() == []


BAD_ARGUMENTS = [
    (
        {"eventId": ""},
        InvalidArgumentError,
        "eventId '' is not a Discovery event id (1 to 64 letters, digits, '-' or '_')",
    ),
    (
        {"eventId": "vvG1 IZ9K/../x"},
        InvalidArgumentError,
        "eventId 'vvG1 IZ9K/../x' is not a Discovery event id (1 to 64 letters, digits, '-' or '_')",
    ),
    (
        {"eventId": US_EVENT, "tmMarketId": "US"},
        InvalidArgumentError,
        "tmMarketId 'US' is not a market id such as TM_US, TM_CA or LN_US",
    ),
    (
        {},
        InvalidArgumentError,
        "eventId '' is not a Discovery event id (1 to 64 letters, digits, '-' or '_')",
    ),
    (
        {"eventId": "vvG1IZ9KBxv3Tx"},
        EventNotFoundError,
        "event 'vvG1IZ9KBxv3Tx' was not found at Discovery",
    ),
]


@pytest.mark.usefixtures("worker_env")
@pytest.mark.parametrize(("arguments", "error_type", "message"), BAD_ARGUMENTS)
def test_bad_ids_are_graphql_errors_with_a_clear_message_and_type(
    *,
    resolver_event: EventBuilder,
    lambda_context: Any,
    discovery: Discovery,
    arguments: dict[str, Any],
    error_type: type[Exception],
    message: str,
) -> None:
    # Given a query with a bad argument, asking for GraphQL errors / When resolved
    with pytest.raises(error_type) as raised:
        lambda_handler(resolver_event(**arguments, errorMode="GRAPHQL"), lambda_context)

    # Then AppSync gets that message and error type, and only a well-formed id reached Discovery
    assert lambda_error_payload(raised.value) == {"errorMessage": message, "errorType": error_type.__name__}
    assert set(discovery.calls) <= {"vvG1IZ9KBxv3Tx"}


@pytest.mark.usefixtures("worker_env")
@pytest.mark.parametrize(("arguments", "error_type", "message"), BAD_ARGUMENTS)
def test_by_default_bad_ids_are_answered_as_an_error_object_as_the_original_resolver_did(
    *,
    resolver_event: EventBuilder,
    lambda_context: Any,
    discovery: Discovery,
    arguments: dict[str, Any],
    error_type: type[Exception],
    message: str,
) -> None:
    # Given a query with a bad argument and no errorMode (existing clients) / When resolved
    answer = lambda_handler(resolver_event(**arguments), lambda_context)

    # Then the answer is the asked id with a typed `error` object and every detail null
    assert answer["eventId"] == arguments.get("eventId", "")
    assert answer["error"] == {"type": error_type.__name__, "message": message, "retryable": False}
    assert {key for key, value in answer.items() if value is not None} == {"eventId", "error"}
    # And it has every field of a successful answer (the schema's EventDetails), so clients parse it
    assert set(answer) == {to_camel(name) for name in EventDetails.model_fields} | {"error"}
    assert set(discovery.calls) <= {"vvG1IZ9KBxv3Tx"}


@pytest.mark.usefixtures("worker_env")
def test_a_discovery_outage_is_a_retryable_error_for_the_client(
    resolver_event: EventBuilder,
    lambda_context: Any,
    discovery: Discovery,
    emf_blobs: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given Discovery answers 503
    discovery.reply_for(US_EVENT, Discovery.unavailable())

    # When resolved for a client asking for GraphQL errors
    with pytest.raises(EventDetailsUnavailableError) as raised:
        lambda_handler(resolver_event(eventId=US_EVENT, errorMode="GRAPHQL"), lambda_context)

    # Then the client is told to retry, with the request id and nothing internal
    assert lambda_error_payload(raised.value) == {
        "errorMessage": "event details are temporarily unavailable; retry in a few seconds "
        f"(request {lambda_context.aws_request_id})",
        "errorType": "EventDetailsUnavailableError",
    }
    assert raised.value.__cause__ is None and raised.value.__suppress_context__

    # And a client in the default mode gets the same as a retryable error object, counted as ours
    emf_blobs()  # what the first query emitted
    answer = lambda_handler(resolver_event(eventId=US_EVENT), lambda_context)
    assert answer["error"] == {
        "type": "EventDetailsUnavailableError",
        "message": "event details are temporarily unavailable; retry in a few seconds "
        f"(request {lambda_context.aws_request_id})",
        "retryable": True,
    }
    assert [blob[RESOLVER_FAILURES] for blob in emf_blobs() if RESOLVER_FAILURES in blob] == [[1.0]]


@pytest.mark.usefixtures("worker_env")
def test_an_unexpected_failure_is_logged_and_shown_without_internals(
    resolver_event: EventBuilder,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given a secret ARN that does not exist (a deploy problem, not the client's)
    monkeypatch.setenv(
        "DISCOVERY_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    )

    # When resolved for a client asking for GraphQL errors
    with pytest.raises(EventDetailsFailedError) as raised:
        lambda_handler(resolver_event(eventId=US_EVENT, errorMode="GRAPHQL"), lambda_context)

    # Then the client sees a generic message with the request id, nothing internal, no stack trace
    payload = lambda_error_payload(raised.value)
    assert payload == {
        "errorMessage": f"event details could not be loaded (request {lambda_context.aws_request_id})",
        "errorType": "EventDetailsFailedError",
    }
    # And the log has the real failure with its traceback for the operator
    failure = next(line for line in log_lines() if line["message"] == "Event details request failed")
    assert failure["level"] == "ERROR" and "ResourceNotFoundException" in failure["exception"]


def test_a_missing_setting_fails_without_naming_variables_to_the_client(
    resolver_event: EventBuilder,
    lambda_context: Any,
    worker_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given a deployment missing DISCOVERY_URL
    monkeypatch.delenv("DISCOVERY_URL")

    # When resolved / Then the client gets the generic error and the log names the variable
    with pytest.raises(EventDetailsFailedError) as raised:
        lambda_handler(resolver_event(eventId=US_EVENT, errorMode="GRAPHQL"), lambda_context)
    assert "DISCOVERY_URL" not in str(raised.value)
    # And in the default mode the same failure is an error object that names no variable either
    answer = lambda_handler(resolver_event(eventId=US_EVENT), lambda_context)
    assert answer["error"]["type"] == "EventDetailsFailedError" and answer["error"]["retryable"] is False
    assert "DISCOVERY_URL" not in answer["error"]["message"]
    assert any("DISCOVERY_URL is not set" in line.get("exception", "") for line in log_lines())
