"""eventDetails arguments: any resolver event is valid arguments or the client's InvalidArgumentError."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from record_strategies import VALID_RESOLVER_EVENT, documents, json_values, near_valid

from workers.event_details.errors import InvalidArgumentError
from workers.event_details.models import (
    ErrorMode,
    EventDetailsArguments,
    error_answer,
    error_mode,
    parse_arguments,
)
from workers.shared.errors import RecordError
from workers.shared.resolver_events import parse_resolver_event

VALID_ARGUMENTS = {"eventId": "vvG1IZ9KBxv3Tg", "tmMarketId": "TM_US", "errorMode": "GRAPHQL"}
resolver_events = documents(VALID_RESOLVER_EVENT) | near_valid(VALID_ARGUMENTS).map(
    lambda arguments: {**VALID_RESOLVER_EVENT, "arguments": arguments}
)


@given(event=resolver_events)
def test_any_resolver_event_is_arguments_or_an_invalid_argument_error(event: Any) -> None:
    # Given any direct resolver event for Query.eventDetails
    try:
        arguments = parse_arguments(parse_resolver_event(event).arguments)
    except (RecordError, InvalidArgumentError) as error:
        # Then a malformed event or argument is a typed client error (graphql_errors maps RecordError
        # to InvalidArgumentError) with a message for the client
        assert str(error)
        return
    # ... or typed arguments
    assert isinstance(arguments, EventDetailsArguments)
    assert arguments.market_id


@given(arguments=st.dictionaries(st.sampled_from(["eventId", "errorMode", "tmMarketId"]), json_values))
def test_any_arguments_choose_an_error_mode_and_answer_it(arguments: dict[str, Any]) -> None:
    # Given any arguments, the error mode is read before anything else could fail
    mode = error_mode(arguments)
    assert mode in ErrorMode

    # And an OBJECT-mode answer can always be built around whatever eventId was asked for
    answer = error_answer(arguments.get("eventId"), InvalidArgumentError("eventId is invalid"))
    assert isinstance(answer["eventId"], str)
    assert answer["error"]["type"] == "InvalidArgumentError"
