"""What every stack-config model shares: the strict camelCase base, the errors, the project namespace."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

PROJECT = "dmd-workers"


class ConfigError(ValueError):
    """A stack file holds a value the program refuses; the message names file, key and rule."""


class KeyRuleError(ValueError):
    """A model-level rule broken by one key; the error is reported at that key with its value."""

    def __init__(self, key: str, message: str, given: Any) -> None:
        super().__init__(message)
        self.key = key
        self.given = given


class StackModel(BaseModel):
    """Stack-config models: camelCase keys as in the YAML, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )
