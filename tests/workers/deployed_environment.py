"""Each worker's environment as the synthesized stack declares it, for the settings contract tests."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from pydantic import AliasChoices

from workers.shared.settings import WorkerSettings

# Set by the Lambda runtime itself, not by the stack.
LAMBDA_RUNTIME = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
# Declared by infra/worker.py for Powertools and OpenTelemetry themselves, not for settings.
LIBRARY_VARIABLES = frozenset(
    {
        "POWERTOOLS_LOGGER_LOG_EVENT",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    }
)


def declared_environment(stack: str, worker: str) -> dict[str, str]:
    """The `environment.variables` of the worker's function in the synthesized stack (once per process)."""
    from tests.infra.graphs import stack_graph

    graph = stack_graph(stack)
    variables = graph.named(f"{worker}-function").inputs["environment"]["variables"]
    return {name: str(value) for name, value in variables.items()}


def settings_variables(settings_class: type[WorkerSettings]) -> frozenset[str]:
    """Every environment variable a settings class reads (aliases included)."""
    names: set[str] = set()
    for name, field in settings_class.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(name.upper())
    return frozenset(names)


def own_variables(settings_class: type[WorkerSettings]) -> frozenset[str]:
    """The variables a worker's settings read beyond the fleet-wide WorkerSettings ones."""
    return settings_variables(settings_class) - settings_variables(WorkerSettings)


def declared_own_variables(declared: Mapping[str, str]) -> frozenset[str]:
    """The declared variables that are the worker's own (not fleet-wide, not for libraries)."""
    return frozenset(declared) - settings_variables(WorkerSettings) - LIBRARY_VARIABLES


def use_environment(
    monkeypatch: pytest.MonkeyPatch, variables: Mapping[str, str], settings_class: type[WorkerSettings]
) -> None:
    """Exactly `variables` (plus Lambda's own) as far as `settings_class` can tell."""
    from workers.shared.settings import clear_settings_cache

    for name in settings_variables(settings_class) | set(variables):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**LAMBDA_RUNTIME, **variables}.items():
        monkeypatch.setenv(name, value)
    clear_settings_cache()


def required_variables(settings_class: type[WorkerSettings], declared: Mapping[str, str]) -> list[str]:
    """The declared variables whose absence the settings must refuse (fields without a default)."""
    required: set[str] = set()
    for name, field in settings_class.model_fields.items():
        if not field.is_required():
            continue
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            required.update(str(choice).upper() for choice in alias.choices)
        else:
            required.add(alias.upper() if isinstance(alias, str) else name.upper())
    return sorted(required & set(declared))


def create_declared_table(name: str) -> None:
    """A (moto) table with the demand table's keys under the declared name (indexes are not needed)."""
    from workers.shared import clients

    clients.dynamodb().create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
    )
