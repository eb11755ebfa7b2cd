"""Settings: read once, validated at cold start, errors that name the variable."""

from __future__ import annotations

import pytest
from pydantic import Field

from workers.shared.errors import PermanentError, SettingsError
from workers.shared.settings import CommaSeparated, WorkerSettings, clear_settings_cache, load_settings


class SendSettings(WorkerSettings):
    """A worker's own settings, the way a worker package declares them."""

    demand_table_name: str = Field(min_length=1)
    max_send_attempts: int = Field(default=3, ge=1, le=10)
    suppressed_artist_ids: CommaSeparated = ()


@pytest.fixture
def base_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("DMD_ENVIRONMENT", "qa1")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "notification_send")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "DmdWorkers")
    monkeypatch.setenv("DEMAND_TABLE_NAME", "prd3292-qa1-us-east-1-demand-table")
    return monkeypatch


def test_valid_environment_loads_typed_settings(base_env: pytest.MonkeyPatch) -> None:
    # Given the environment infra/worker.py and infra/access.py render
    base_env.setenv("MAX_SEND_ATTEMPTS", "5")
    base_env.setenv("SUPPRESSED_ARTIST_IDS", "K8vZ9171ob7, K8vZ917Gku7,")
    base_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")

    # When the worker loads its settings
    settings = load_settings(SendSettings)

    # Then every value is typed, lists are split on commas
    assert settings.environment == "qa1"
    assert settings.service_name == "notification_send"
    assert settings.metrics_namespace == "DmdWorkers"
    assert settings.aws_region == "us-east-1"
    assert settings.demand_table_name == "prd3292-qa1-us-east-1-demand-table"
    assert settings.max_send_attempts == 5
    assert settings.suppressed_artist_ids == ("K8vZ9171ob7", "K8vZ917Gku7")
    assert settings.otel_endpoint == "http://collector:4318"
    assert settings.is_production is False


def test_missing_variable_is_named_in_upper_case(base_env: pytest.MonkeyPatch) -> None:
    # Given a worker whose table variable is not set
    base_env.delenv("DEMAND_TABLE_NAME")

    # When settings load at cold start
    with pytest.raises(SettingsError) as raised:
        load_settings(SendSettings)

    # Then the error names the variable and is permanent
    assert "DEMAND_TABLE_NAME is not set" in str(raised.value)
    assert str(raised.value).startswith("SendSettings: ")
    assert isinstance(raised.value, PermanentError)


def test_every_invalid_and_missing_variable_is_named_in_one_error(base_env: pytest.MonkeyPatch) -> None:
    # Given three problems at once
    base_env.delenv("DMD_ENVIRONMENT")
    base_env.setenv("POWERTOOLS_LOG_LEVEL", "TRACE")
    base_env.setenv("MAX_SEND_ATTEMPTS", "99")

    # When settings load
    with pytest.raises(SettingsError) as raised:
        load_settings(SendSettings)

    # Then one message lists all of them, with the rejected values
    message = str(raised.value)
    assert "DMD_ENVIRONMENT is not set" in message
    assert "POWERTOOLS_LOG_LEVEL='TRACE' is invalid" in message
    assert "MAX_SEND_ATTEMPTS='99' is invalid: Input should be less than or equal to 10" in message


def test_settings_are_read_once_until_the_cache_is_cleared(base_env: pytest.MonkeyPatch) -> None:
    # Given settings already loaded
    first = load_settings(SendSettings)

    # When the environment changes afterwards
    base_env.setenv("MAX_SEND_ATTEMPTS", "7")

    # Then the process keeps the first reading, and a cleared cache reads again
    assert load_settings(SendSettings) is first
    clear_settings_cache()
    assert load_settings(SendSettings).max_send_attempts == 7


def test_production_environment_is_recognized(base_env: pytest.MonkeyPatch) -> None:
    # Given the prod1 stack
    base_env.setenv("DMD_ENVIRONMENT", "prod1")

    # When settings load
    settings = load_settings(SendSettings)

    # Then it is production (debug logging is off there)
    assert settings.is_production is True


def test_malformed_collector_endpoint_is_rejected(base_env: pytest.MonkeyPatch) -> None:
    # Given an endpoint with a path (the exporter appends /v1/traces itself)
    base_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318/v1/traces")

    # When settings load, then the variable is named
    with pytest.raises(SettingsError, match="OTEL_EXPORTER_OTLP_ENDPOINT="):
        load_settings(SendSettings)
