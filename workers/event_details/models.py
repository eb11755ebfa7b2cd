"""Query.eventDetails: its arguments and the EventDetails / Sale shapes of infra/schema.graphql."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, ValidationError
from pydantic.alias_generators import to_camel

from workers.event_details.errors import InvalidArgumentError
from workers.shared.discovery.rules import DEFAULT_MARKET_ID, EVENT_ID_PATTERN, MARKET_ID_PATTERN
from workers.shared.errors import RetryableError
from workers.shared.models import format_timestamp

# AWSDateTime: ISO-8601 with an offset; the cache's UTC milliseconds form qualifies.
GraphQLDateTime = Annotated[AwareDatetime, PlainSerializer(format_timestamp, return_type=str)]


class _GraphQL(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        frozen=True,
        defer_build=True,
    )


class ErrorMode(enum.StrEnum):
    """How a failure reaches the client: an `error` object in the answer (default) or a GraphQL error."""

    OBJECT = "OBJECT"
    GRAPHQL = "GRAPHQL"


def error_mode(arguments: Mapping[str, Any]) -> ErrorMode:
    """The requested error mode, read before any other argument (a bad eventId is answered in it too).

    AppSync validates the enum, so anything else only reaches a direct invocation: OBJECT then.
    """
    value = arguments.get("errorMode")
    return ErrorMode.GRAPHQL if value == ErrorMode.GRAPHQL.value else ErrorMode.OBJECT


class EventDetailsArguments(_GraphQL):
    """eventDetails(eventId: ID!, tmMarketId: String): a Discovery id and an optional market."""

    model_config = ConfigDict(str_strip_whitespace=True)

    event_id: str = Field(pattern=EVENT_ID_PATTERN, description="Discovery event id, e.g. vvG1IZ9KBxv3Tg")
    tm_market_id: str | None = Field(default=None, pattern=MARKET_ID_PATTERN)
    error_mode: ErrorMode = ErrorMode.OBJECT

    @property
    def market_id(self) -> str:
        """The requested market, TM_US when the argument is absent or null."""
        return self.tm_market_id or DEFAULT_MARKET_ID


# What a client is told about each argument it got wrong (GraphQL names, not python ones).
_ARGUMENT_PROBLEMS = {
    "eventId": "eventId {value!r} is not a Discovery event id (1 to 64 letters, digits, '-' or '_')",
    "tmMarketId": "tmMarketId {value!r} is not a market id such as TM_US, TM_CA or LN_US",
    "errorMode": "errorMode {value!r} is not OBJECT or GRAPHQL",
}


def parse_arguments(arguments: Mapping[str, Any]) -> EventDetailsArguments:
    """The field's arguments; InvalidArgumentError names each bad argument in GraphQL terms."""
    try:
        return EventDetailsArguments.model_validate(arguments)
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            field = to_camel(str(item["loc"][0])) if item["loc"] else "arguments"
            value = arguments.get(field)
            template = _ARGUMENT_PROBLEMS.get(field, f"{field}: {{value!r}} is invalid")
            problems.append(template.format(value="" if value is None else value))
        raise InvalidArgumentError("; ".join(problems)) from None


class SaleDetails(_GraphQL):
    """GraphQL `Sale`."""

    id: str
    name: str
    sale_start_date_time: GraphQLDateTime | None
    sale_types: tuple[str, ...]
    is_suppressed: bool


class EventDetailsError(_GraphQL):
    """GraphQL `EventDetailsError`: the typed failure an OBJECT-mode client reads."""

    type: str
    message: str
    retryable: bool


def error_answer(event_id: object, error: Exception) -> dict[str, Any]:
    """The OBJECT-mode answer to a failed query: the asked eventId, `error` set, every detail null."""
    failure = EventDetailsError(
        type=type(error).__name__, message=str(error), retryable=isinstance(error, RetryableError)
    )
    details = dict.fromkeys(EventDetails.model_fields, None)
    answer = {to_camel(name): value for name, value in details.items()}
    return {**answer, "eventId": str(event_id or ""), "error": failure.model_dump(mode="json")}


class EventDetails(_GraphQL):
    """GraphQL `EventDetails` of a successful query (`error` is null)."""

    event_id: str
    event_name: str
    artist: str | None
    venue_name: str | None
    venue_city: str | None
    venue_state_code: str | None
    event_start_date_time: GraphQLDateTime | None
    timezone: str | None
    locale: str | None
    url: str | None
    short_url: str | None
    is_suppressed: bool
    sales: tuple[SaleDetails, ...]

    def as_graphql(self) -> dict[str, Any]:
        """The resolver's return value: every schema field, nulls included."""
        return {**self.model_dump(mode="json", by_alias=True), "error": None}
