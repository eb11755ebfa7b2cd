"""Loading a stack's configuration: validate the stack file, resolve every worker, report every problem."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from infra.catalog import CATALOG, WorkerSpec
from infra.config.alarms import AlarmSettings
from infra.config.base import PROJECT, ConfigError, KeyRuleError
from infra.config.cross_resource_rules import cross_resource_rules
from infra.config.platform import UNION_TAGS
from infra.config.resolved_triggers import resolve_trigger
from infra.config.stack import RawStackConfig, StackConfig
from infra.config.workers import WorkerConfig, WorkerOverrides


def load_stack_config(
    stack: str, values: Mapping[str, Any], catalog: tuple[WorkerSpec, ...] = CATALOG
) -> StackConfig:
    """Validate the `dmd-workers:*` values of `Pulumi.<stack>.yaml` and resolve every worker."""
    stack_file = f"Pulumi.{stack}.yaml"
    problems: list[str] = []
    try:
        raw = RawStackConfig.model_validate(values)
    except ValidationError as error:
        raise ConfigError("\n".join(_format_errors(stack_file, error, ()))) from None

    known = {spec.name for spec in catalog}
    for name in raw.workers:
        if name not in known:
            problems.append(
                f"{stack_file}: {PROJECT}:workers.{name}: no such worker; the catalog has "
                + ", ".join(sorted(known))
            )

    resolved: dict[str, WorkerConfig] = {}
    defaults = raw.defaults.model_dump()
    for spec in catalog:
        overrides = raw.workers.get(spec.name, WorkerOverrides())
        prefix: tuple[str | int, ...] = ("workers", spec.name)
        try:
            trigger = resolve_trigger(spec.source, overrides.trigger)
        except ValidationError as error:
            problems += _format_errors(stack_file, error, (*prefix, "trigger"))
            continue
        try:
            alarms = AlarmSettings.model_validate(overrides.alarms)
        except ValidationError as error:
            problems += _format_errors(stack_file, error, (*prefix, "alarms"))
            continue
        problems += _unknown_metric_thresholds(stack_file, spec, alarms)
        try:
            tunables = spec.tunables.model_validate(overrides.settings).environment()
        except ValidationError as error:
            problems += _format_errors(stack_file, error, (*prefix, "settings"))
            continue
        resolved[spec.name] = WorkerConfig.model_validate(
            {
                **defaults,
                **overrides.function_settings(),
                "resolved_trigger": trigger,
                "alarms": alarms,
                "tunables": tunables,
            }
        )

    problems += cross_resource_rules(stack_file, raw, resolved)
    if problems:
        raise ConfigError("\n".join(problems))
    return StackConfig(
        stack=stack,
        environment=raw.environment,
        region=raw.region,
        account_id=raw.account_id,
        production=raw.production,
        workers=resolved,
        platform=raw.platform,
        vendors=raw.vendors,
        email=raw.email,
        business=raw.business,
        observability=raw.observability,
    )


def _unknown_metric_thresholds(stack_file: str, spec: WorkerSpec, alarms: AlarmSettings) -> list[str]:
    """A threshold for a metric the worker has no alarm on would be silently ignored: refuse it."""
    alarmed = sorted(alarm.metric for alarm in spec.metric_alarms)
    return [
        f"{stack_file}: {PROJECT}:workers.{spec.name}.alarms.metricThresholds.{metric}: "
        f"{spec.name} has no alarm on this metric; "
        + (f"its alarmed metrics are {', '.join(alarmed)}" if alarmed else "it has no metric alarms")
        for metric in sorted(alarms.metric_thresholds)
        if metric not in alarmed
    ]


def _format_location(location: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in location if part not in UNION_TAGS)


def _format_errors(stack_file: str, error: ValidationError, prefix: tuple[str | int, ...]) -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        where, given = (*prefix, *item["loc"]), item.get("input")
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, KeyRuleError):
            where, given = (*where, cause.key), cause.given
        location = _format_location(where)
        key = "aws:region" if location == "region" else f"{PROJECT}:{location}"
        message = item["msg"].removeprefix("Value error, ")
        shown = "" if isinstance(given, dict | list) or given is None else f" (got {given!r})"
        lines.append(f"{stack_file}: {key}: {message}{shown}")
    return lines


class _ConfigReader(Protocol):
    def get(self, key: str) -> str | None: ...


def stack_values(
    project_config: _ConfigReader, aws_config: _ConfigReader, *, present_keys: Iterable[str] = ()
) -> dict[str, Any]:
    """The `dmd-workers:*` keys (objects decoded from the CLI's JSON) plus `aws:region`.

    `present_keys` (every configured key, when the caller can list them) lets a misspelt
    top-level key fail instead of being ignored.
    """
    known = {to_camel(key) for key in RawStackConfig.model_fields if key != "region"}
    unknown = sorted(
        key.split(":", 1)[1]
        for key in present_keys
        if key.startswith(f"{PROJECT}:") and key.split(":", 1)[1] not in known
    )
    if unknown:
        raise ConfigError(
            "\n".join(
                f"{PROJECT}:{key}: unknown key; the keys are {', '.join(sorted(known))}"
                + (" (the region is aws:region)" if key == "region" else "")
                for key in unknown
            )
        )
    values: dict[str, Any] = {}
    for alias in sorted(known):
        raw = project_config.get(alias)
        if raw is None:
            continue
        if raw.startswith(("{", "[")):
            try:
                values[alias] = json.loads(raw)
            except json.JSONDecodeError as error:
                raise ConfigError(f"{PROJECT}:{alias}: not valid JSON: {error.msg}") from None
        else:
            values[alias] = raw
    region = aws_config.get("region")
    if region is not None:
        values["region"] = region
    return values


def stack_from_pulumi() -> StackConfig:
    """Read and validate the running Pulumi program's stack configuration."""
    # Imported here: the CLI and the tests load stack files without the Pulumi runtime.
    import pulumi

    from infra import pulumi_runtime

    values = stack_values(
        pulumi.Config(), pulumi.Config("aws"), present_keys=pulumi_runtime.configured_keys()
    )
    return load_stack_config(pulumi.get_stack(), values)
