"""AppSync direct Lambda resolvers: the event the handler gets and the GraphQL answer it becomes."""

from __future__ import annotations

from typing import Any

from sandbox.appsync import AppSyncResolver
from tests.sandbox.conftest import FunctionFactory
from workers.shared.resolver_events import parse_resolver_event


def _resolver(make_function: FunctionFactory) -> AppSyncResolver:
    function = make_function("resolve_event", worker="event_details")
    return AppSyncResolver(
        type_name="Query",
        field_name="eventDetails",
        invoke=function.invoke,
        account_id="123456789012",
        region="us-east-1",
    )


def test_the_resolver_gets_an_appsync_event_and_its_result_becomes_the_field(
    make_function: FunctionFactory, handlers: Any
) -> None:
    # Given the eventDetails field resolved by a handler
    resolver = _resolver(make_function)
    # When the field is queried with arguments
    answer = resolver.resolve({"eventId": "vvG1IZ9KBxv3Tg"}, selection_set=["eventId", "sales", "sales/id"])
    # Then the handler got a direct-resolver event the workers' parser accepts (IAM identity, no source)
    event = handlers.invocations("resolve_event")[0].event
    parsed = parse_resolver_event(event)
    assert parsed.arguments == {"eventId": "vvG1IZ9KBxv3Tg"}
    assert (parsed.info.field_name, parsed.info.parent_type_name) == ("eventDetails", "Query")
    assert parsed.info.selection_set_list == ("eventId", "sales", "sales/id")
    assert event["source"] is None and event["prev"] is None and event["stash"] == {}
    assert event["identity"]["accountId"] == "123456789012"
    assert event["identity"]["userArn"].startswith("arn:aws:sts::123456789012:assumed-role/")
    assert event["request"]["headers"]["host"].endswith(".appsync-api.us-east-1.amazonaws.com")
    # And the answer is the GraphQL data of the field
    assert answer == {"data": {"eventDetails": {"eventId": "vvG1IZ9KBxv3Tg", "field": "eventDetails"}}}


def test_a_handler_exception_becomes_a_graphql_error_named_after_its_class(
    make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a resolver whose handler raises for an unknown event
    resolver = _resolver(make_function)
    # When the field is queried
    answer = resolver.resolve({"eventId": "missing"})
    # Then AppSync's error shape comes back: no data, the message and the exception's class as errorType
    assert answer["data"] is None
    [error] = answer["errors"]
    assert (error["message"], error["errorType"], error["path"]) == (
        "no event missing",
        "EventNotFoundError",
        ["eventDetails"],
    )
