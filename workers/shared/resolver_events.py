"""AppSync direct Lambda resolver events, validated: what the two resolver workers receive.

Apart from `records.py` (stream, queue and schedule records) so that a resolver without a table, the
TM Accounts proxy, builds no demand-table model at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from workers.shared.errors import RecordError, validation_reason

ModelT = TypeVar("ModelT", bound=BaseModel)


def validated(model: type[ModelT], payload: Any) -> ModelT:
    """`payload` validated into `model`; RecordError names what is wrong."""
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise RecordError(f"not a valid {model.__name__}: {validation_reason(error)}") from None


class _Camel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, frozen=True, defer_build=True
    )


class ResolverInfo(_Camel):
    """Which GraphQL field is being resolved."""

    field_name: str
    parent_type_name: str
    variables: dict[str, Any] = Field(default_factory=dict)
    selection_set_list: tuple[str, ...] = ()
    selection_set_graphql: str | None = Field(default=None, alias="selectionSetGraphQL")


class ResolverRequest(_Camel):
    """The HTTP request AppSync received."""

    headers: dict[str, str] = Field(default_factory=dict)
    domain_name: str | None = None


class ResolverEvent(_Camel):
    """An AppSync direct Lambda resolver event (no mapping templates)."""

    arguments: dict[str, Any] = Field(default_factory=dict)
    identity: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    request: ResolverRequest = Field(default_factory=ResolverRequest)
    info: ResolverInfo
    prev: dict[str, Any] | None = None
    stash: dict[str, Any] = Field(default_factory=dict)

    def arguments_as(self, model: type[ModelT]) -> ModelT:
        """The field's arguments validated into `model`; RecordError names the bad argument."""
        return validated(model, self.arguments)


def parse_resolver_event(event: Mapping[str, Any]) -> ResolverEvent:
    """A resolver worker's trigger event; RecordError names what is wrong."""
    return validated(ResolverEvent, event)
