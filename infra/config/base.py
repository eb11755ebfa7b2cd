"""What every stack-config model shares: the strict camelCase base, the errors, the project namespace."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

PROJECT = "dmd-workers"
# The values CloudWatch Logs accepts for retentionInDays.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def known_retention(value: int | None) -> int | None:
    """A retention CloudWatch Logs accepts (None passes: optional overrides)."""
    if value is not None and value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(days) for days in LOG_RETENTION_DAYS)
        raise ValueError(f"{value} is not a CloudWatch Logs retention; use one of {allowed}")
    return value


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
