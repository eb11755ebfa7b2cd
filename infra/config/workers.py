"""A worker's function settings, declared once; the defaults, overrides and resolved config derive from it."""

from __future__ import annotations

from copy import copy
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field, computed_field, create_model

from infra.config.alarms import AlarmSettings
from infra.config.base import StackModel, known_retention
from infra.config.resolved_triggers import Trigger
from infra.config.triggers import TriggerSettings

Architecture = Literal["arm64", "x86_64"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


# The rules below pass None through: the overrides derived from FunctionSettings make every field optional.
def _reservation(value: int | None) -> int | None:
    if value is not None and value < -1:
        raise ValueError("must be -1 (unreserved) or >= 0 (0 pauses the worker)")
    return value


class FunctionSettings(StackModel):
    """The Lambda function settings of a worker, with their defaults and rules: the one declaration."""

    memory_mb: int = Field(default=1024, ge=128, le=10_240)
    """Function memory (CPU scales with it)."""
    timeout_seconds: int = Field(default=60, ge=1, le=900)
    """Function timeout."""
    architecture: Architecture = "arm64"
    """Instruction set (the layer is built for it)."""
    reserved_concurrency: Annotated[int, AfterValidator(_reservation)] = -1
    """-1 unreserved, 0 paused, N reserved."""
    log_retention_days: Annotated[int, AfterValidator(known_retention)] = 14
    """CloudWatch Logs retention (a value CloudWatch accepts)."""
    log_streaming: bool = True
    """Subscribe the log group to the central log stream."""
    log_level: LogLevel = "INFO"
    """Powertools and Lambda application log level."""
    snap_start: bool = False
    """Lambda SnapStart on published versions: cold starts restore a snapshot taken after init."""


class WorkerDefaults(FunctionSettings):
    """Function settings every worker gets unless it overrides them."""


class _OverridesBase(StackModel):
    """What WorkerOverrides does besides holding keys: hand over the function settings it sets."""

    def function_settings(self) -> dict[str, Any]:
        """The function settings this worker sets; the ones it leaves out come from the defaults."""
        return self.model_dump(include=set(FunctionSettings.model_fields), exclude_none=True)


class WorkerOverrideSections(_OverridesBase):
    """The blocks of a worker's overrides besides its function settings."""

    trigger: dict[str, Any] = Field(default_factory=dict)
    """Trigger settings, validated by the model of the worker's source kind."""
    alarms: dict[str, Any] = Field(default_factory=dict)
    """Alarm thresholds."""
    settings: dict[str, Any] = Field(default_factory=dict)
    """The worker's own settings (its tunables)."""


def _all_optional(model: type[StackModel]) -> dict[str, Any]:
    """Each field of `model` as optional (default None) with the same constraints, rules and docs."""
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        optional: Any = field.annotation | None  # type: ignore[operator]
        if field.metadata:
            optional = Annotated[(optional, *field.metadata)]
        fields[name] = (optional, Field(default=None, description=field.description))
    return fields


# The overrides are derived, not declared: every function setting made optional, then the sections (in
# that order, which is the order of their errors). Type checkers cannot follow create_model, so they see
# the sections; the function settings are read through function_settings().
if TYPE_CHECKING:
    WorkerOverrides = WorkerOverrideSections
else:
    WorkerOverrides = create_model(
        "WorkerOverrides",
        __doc__="Per-worker overrides: every function setting plus trigger, alarms and tunables.",
        __base__=_OverridesBase,
        __module__=__name__,
        **_all_optional(FunctionSettings),
        **{
            name: (field.annotation, copy(field))
            for name, field in WorkerOverrideSections.model_fields.items()
        },
    )


class WorkerConfig(FunctionSettings):
    """A worker's resolved settings: defaults merged with its overrides, its trigger bound to its source."""

    resolved_trigger: Trigger = Field(discriminator="kind", exclude=True)
    """The worker's trigger: its catalog source with the settings the stack file gives it."""
    alarms: AlarmSettings
    """Alarm thresholds."""
    tunables: dict[str, str]
    """The worker's own settings as environment variables."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def trigger(self) -> TriggerSettings:
        """The trigger settings, whichever the source kind."""
        return self.resolved_trigger.settings
