"""Typed worker settings read once from the environment and validated at cold start.

With `observability.py` (Powertools' and OpenTelemetry's own variables), the only place the workers
read the environment: every worker setting is a field of a `WorkerSettings` subclass (here or in the
worker's `settings.py`) loaded through `load_settings`, and logic receives values, never `os.environ`.
Settings are plain pydantic models validated from the environment's variables (`environment_input`):
pydantic-settings did the same, but its import (asyncio, argparse, dotenv, a validator per class)
cost every cold start about a fifth of `import boto3`.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, cast

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from workers.shared.errors import SettingsError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


# Infra renders lists as "a,b,c" (infra/catalog.py WorkerTunables); variables reach the models as
# text, never JSON-decoded, so each complex field says how its text is read.
CommaSeparated = Annotated[tuple[str, ...], BeforeValidator(_split_commas)]


def decoded_json(value: Any) -> Any:
    """A JSON variable's text decoded; ValueError (reported naming the variable) if it is not JSON."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as error:
        raise ValueError(f"not JSON ({error})") from None


class WorkerSettings(BaseModel):
    """What every worker reads from its environment; subclass it to add the worker's own fields.

    A field reads the variable named by its `validation_alias` (each of an AliasChoices, first set
    wins) or else its own name, case-insensitively; unknown variables are ignored.
    """

    # defer_build: only the worker's own class is ever validated, at its first load_settings, so
    # the classes it extends never build a validator.
    model_config = ConfigDict(frozen=True, extra="ignore", validate_default=True, defer_build=True)

    environment: str = Field(validation_alias="DMD_ENVIRONMENT", min_length=1)
    service_name: str = Field(validation_alias="POWERTOOLS_SERVICE_NAME", min_length=1)
    log_level: LogLevel = Field(default="INFO", validation_alias="POWERTOOLS_LOG_LEVEL")
    metrics_namespace: str = Field(
        validation_alias="POWERTOOLS_METRICS_NAMESPACE", pattern=r"^[A-Za-z0-9/_.#:-]{1,255}$"
    )
    aws_region: str = Field(
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$",
    )
    otel_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT", pattern=r"^https?://[^\s/]+(:\d+)?/?$"
    )

    @property
    def is_production(self) -> bool:
        """Production stacks (prod1, ...) never log at DEBUG whatever the configured level."""
        return self.environment.startswith("prod")


class StreamWorkerSettings(WorkerSettings):
    """A worker of a Kinesis stream: where it parks poison records (its on-failure queue; unset: none)."""

    parking_queue_url: str | None = Field(
        default=None, validation_alias="PARKING_QUEUE_URL", pattern=r"^https?://\S+/[^/\s]+$"
    )


class TableSettings(WorkerSettings):
    """A worker of the demand table: the variables its TABLE_READ/TABLE_WRITE/TABLE_UPDATE accesses render."""

    # DynamoDB table names are 3 to 255 characters.
    demand_table_name: str = Field(min_length=3)
    demand_table_sales_index: str = Field(min_length=1)
    demand_table_demand_index: str = Field(min_length=1)
    demand_table_message_index: str = Field(min_length=1)
    demand_table_pending_index: str = Field(min_length=1)


SettingsT = TypeVar("SettingsT", bound=WorkerSettings)


def _variable_names(name: str, field: FieldInfo) -> tuple[str, ...]:
    alias = field.validation_alias
    if isinstance(alias, str):
        return (alias,)
    if isinstance(alias, AliasChoices):
        return tuple(choice for choice in alias.choices if isinstance(choice, str))
    return (name,)


def environment_input(settings_class: type[WorkerSettings], environ: Mapping[str, str]) -> dict[str, str]:
    """The variables `settings_class` reads, keyed by the names its fields validate (lookup ignores case)."""
    by_lower_name = {name.lower(): value for name, value in environ.items()}
    found: dict[str, str] = {}
    for name, field in settings_class.model_fields.items():
        for variable in _variable_names(name, field):
            value = by_lower_name.get(variable.lower())
            if value is not None:
                found[variable] = value
    return found


@functools.cache
def _load(settings_class: type[WorkerSettings]) -> WorkerSettings:
    try:
        return settings_class.model_validate(environment_input(settings_class, os.environ))
    except ValidationError as error:
        raise SettingsError(_describe(settings_class, error)) from None


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """The worker's settings, read and validated once per process (per class)."""
    return cast("SettingsT", _load(settings_class))


def clear_settings_cache() -> None:
    """Forget loaded settings so the next `load_settings` re-reads the environment (tests)."""
    _load.cache_clear()


def _describe(settings_class: type[WorkerSettings], error: ValidationError) -> str:
    problems: list[str] = []
    for item in error.errors(include_url=False):
        variable = str(item["loc"][0]).upper() if item["loc"] else "?"
        # Inside a JSON-valued variable (e.g. SMS_APP_IDS), name the member too.
        member = ".".join(str(part) for part in item["loc"][1:])
        if item["type"] == "missing" and not member:
            problems.append(f"{variable} is not set")
        elif member:
            problems.append(f"{variable} is invalid: {member}: {item['msg']}")
        else:
            # Values are echoed truncated: settings hold names and ARNs, never secrets.
            shown = str(item.get("input"))[:60]
            problems.append(f"{variable}={shown!r} is invalid: {item['msg']}")
    return f"{settings_class.__name__}: " + "; ".join(problems)
