"""The generator's settings are exactly the environment the Pulumi program gives its function."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from generator_builders import EVENT_ID, PRESALE_ID, demand_record, event_record, sale_record

from infra.synth import ResourceGraph
from workers.notification_generator.settings import GeneratorSettings
from workers.shared.errors import SettingsError
from workers.shared.repository import DemandRepository
from workers.shared.settings import clear_settings_cache, load_settings

pytestmark = pytest.mark.slow  # the local stack is synthesized (and materialized) once per module

FUNCTION = "notification_generator-function"
# Set by the Lambda runtime, not by our program.
LAMBDA_RUNTIME_VARIABLES = frozenset(
    {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
)
# Read by libraries straight from the environment (Powertools, the OpenTelemetry SDK), not by settings.
LIBRARY_VARIABLES = frozenset(
    {"POWERTOOLS_LOGGER_LOG_EVENT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"}
)
REQUIRED_VARIABLES = (
    "DMD_ENVIRONMENT",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "DEMAND_TABLE_NAME",
    "DEMAND_TABLE_SALES_INDEX",
    "DEMAND_TABLE_DEMAND_INDEX",
    "DEMAND_TABLE_MESSAGE_INDEX",
    "DEMAND_TABLE_PENDING_INDEX",
    "GENERATION_QUEUE_URL",
    "BITLY_URL",
    "BITLY_SECRET_ARN",
    "BITLY_GROUP_GUID",
    "WRITE_PARALLELISM",
    "DEMAND_PAGE_SIZE",
    "CONTINUATION_MARGIN_SECONDS",
    "SHORT_URL_TIMEOUT_SECONDS",
    "LATE_GRACE_MINUTES",
    "RELEASE_AFTER_MINUTES",
)


@pytest.fixture(scope="module")
def local_graph() -> ResourceGraph:
    """The local stack as the Pulumi program declares it."""
    from infra.offline import synthesize_stack

    return synthesize_stack("local")


@pytest.fixture(scope="module")
def declared_env(local_graph: ResourceGraph) -> dict[str, str]:
    """The generator function's `environment.variables` in the local stack."""
    variables: dict[str, Any] = local_graph.named(FUNCTION).inputs["environment"]["variables"]
    return {name: str(value) for name, value in variables.items()}


def _settings_variables() -> set[str]:
    names: set[str] = set()
    for name, field in GeneratorSettings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        if choices is not None:
            names.update(str(choice).upper() for choice in choices)
        else:
            names.add(str(alias or name).upper())
    return names


def only(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    """Make the process environment exactly `variables` plus what the Lambda runtime provides."""
    for name in list(os.environ):
        if name not in LAMBDA_RUNTIME_VARIABLES and not name.startswith(
            ("AWS_CONFIG", "AWS_SHARED", "AWS_EC2")
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    clear_settings_cache()


def test_the_settings_read_exactly_the_variables_infra_declares(declared_env: dict[str, str]) -> None:
    # Given the function's environment in the synthesized local stack
    # When it is compared with what the settings read
    read = _settings_variables() - LAMBDA_RUNTIME_VARIABLES - {"OTEL_EXPORTER_OTLP_ENDPOINT"}

    # Then every variable is either read by the settings or by a library, and nothing else is needed
    assert read == set(declared_env) - LIBRARY_VARIABLES
    assert set(REQUIRED_VARIABLES) <= read


def test_the_declared_environment_loads(
    monkeypatch: pytest.MonkeyPatch, declared_env: dict[str, str]
) -> None:
    # Given only the declared environment (and Lambda's own variables)
    only(monkeypatch, declared_env)

    # When the settings load  # Then they hold the stack's values
    settings = load_settings(GeneratorSettings)
    assert settings.demand_table_name == "prd3292-local-us-east-1-demand-table"
    assert settings.generation_queue_url.endswith("/prd3292-local-us-east-1-generation-jobs")
    assert (settings.demand_page_size, settings.write_parallelism, settings.continuation_margin_seconds) == (
        1000,
        16,
        20,
    )
    # And Bitly is one bounded call away (the stack's fake in local), the grace five minutes
    assert settings.bitly_url == "http://127.0.0.1:4572/v4"
    assert ":secret:prd3292-local-us-east-1/bitly-" in settings.bitly_secret_arn
    assert (settings.short_url_timeout_seconds, settings.late_grace.total_seconds()) == (3, 300)


@pytest.mark.parametrize("variable", REQUIRED_VARIABLES)
def test_a_missing_variable_fails_at_cold_start_naming_it(
    monkeypatch: pytest.MonkeyPatch, declared_env: dict[str, str], variable: str
) -> None:
    # Given the declared environment without one variable
    only(monkeypatch, {name: value for name, value in declared_env.items() if name != variable})

    # When the settings load  # Then a permanent settings error names the variable
    with pytest.raises(SettingsError, match=f"{variable} is not set"):
        load_settings(GeneratorSettings)


@pytest.fixture
def materialized_stack(local_graph: ResourceGraph, aws: None) -> Iterator[None]:
    """The local stack's resources created in moto from the graph, as the sandbox does."""
    from aws_clients import AwsClients
    from sandbox.materialize import materialize

    materialize(
        local_graph, AwsClients.for_emulator(None, region="us-east-1"), register_event_source_mappings=False
    )
    yield


def test_the_handler_runs_with_only_its_declared_environment(
    monkeypatch: pytest.MonkeyPatch,
    declared_env: dict[str, str],
    materialized_stack: None,
    load_event: Any,
    lambda_context: Any,
) -> None:
    # Given the materialized local stack with a presale and one fan, and only the declared environment
    table = DemandRepository(
        declared_env["DEMAND_TABLE_NAME"],
        sales_index=declared_env["DEMAND_TABLE_SALES_INDEX"],
        demand_index=declared_env["DEMAND_TABLE_DEMAND_INDEX"],
    )
    table.put_event(event_record())
    table.put_sale(sale_record())
    table.put_demand(demand_record("fan-1", "sms,email"))
    event = {"Records": load_event("notification-generator-sqs-jobs.json")["Records"][:1]}
    only(monkeypatch, declared_env)

    # When the handler runs
    from workers.notification_generator.handler import lambda_handler

    response = lambda_handler(event, lambda_context)

    # Then the job succeeds against the stack's own table
    assert response == {"batchItemFailures": []}
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = client.query(
        TableName=declared_env["DEMAND_TABLE_NAME"],
        KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues={":pk": {"S": "fan:fan-1"}, ":prefix": {"S": "notification#"}},
    )["Items"]
    assert sorted(item["SK"]["S"] for item in items) == [
        f"notification#{EVENT_ID}-{PRESALE_ID}#email",
        f"notification#{EVENT_ID}-{PRESALE_ID}#sms",
    ]
