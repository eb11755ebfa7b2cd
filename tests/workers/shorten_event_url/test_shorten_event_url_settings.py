"""The shortener's settings against the environment the synthesized `local` stack gives its function."""

from __future__ import annotations

import json
from typing import Any

import pytest
from deployed_environment import (
    create_declared_table,
    declared_environment,
    declared_own_variables,
    own_variables,
    required_variables,
    use_environment,
)
from shortener_builders import cached_event, job_record, sqs_event

from sandbox.vendors import BITLY_TOKEN as TOKEN
from sandbox.vendors import Bitly
from workers.shared import clients
from workers.shared.errors import SettingsError
from workers.shared.repository import DemandRepository
from workers.shared.settings import clear_settings_cache, load_settings
from workers.shorten_event_url.handler import lambda_handler
from workers.shorten_event_url.settings import ShortenSettings

WORKER = "shorten_event_url"
pytestmark = [
    pytest.mark.slow,  # the first synth of the stack takes about two seconds
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]


def test_the_settings_read_exactly_the_variables_infra_declares() -> None:
    declared = declared_environment("local", WORKER)
    assert own_variables(ShortenSettings) == declared_own_variables(declared)
    assert declared["BITLY_GROUP_GUID"] == ""  # rendered even when empty: required, may be blank


def test_the_handler_runs_with_the_declared_environment(
    aws: None, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    # Given the declared environment, where only the vendor endpoint and the secret's ARN (moto
    # makes its own) point at this test's fakes, and the table it names
    declared = declared_environment("local", WORKER)
    bitly = Bitly()
    bitly.start()
    secret_arn = clients.secretsmanager().create_secret(
        Name="prd3292-local-us-east-1/bitly", SecretString=json.dumps({"token": TOKEN})
    )["ARN"]
    use_environment(
        monkeypatch, {**declared, "BITLY_URL": bitly.url, "BITLY_SECRET_ARN": secret_arn}, ShortenSettings
    )
    table = declared["DEMAND_TABLE_NAME"]
    create_declared_table(table)
    events = DemandRepository(table, sales_index="sales", demand_index="demand-by-sale")
    events.put_event(cached_event("E1"))

    # When a job is handled
    try:
        response = lambda_handler(sqs_event(job_record("m-1", "E1")), lambda_context)
    finally:
        bitly.stop()

    # Then the declared settings drove it: the link is on the declared table's event
    assert response == {"batchItemFailures": []}
    stored = events.get_event("E1")
    assert stored is not None and stored.short_url is not None
    assert load_settings(ShortenSettings).vendor_timeout_seconds == int(declared["VENDOR_TIMEOUT_SECONDS"])


def test_each_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = declared_environment("local", WORKER)
    required = required_variables(ShortenSettings, declared)
    assert {"BITLY_URL", "BITLY_SECRET_ARN", "BITLY_GROUP_GUID", "VENDOR_TIMEOUT_SECONDS"} <= set(required)
    for missing in required:
        use_environment(monkeypatch, {k: v for k, v in declared.items() if k != missing}, ShortenSettings)
        with pytest.raises(SettingsError, match=rf"ShortenSettings: {missing} is not set$"):
            load_settings(ShortenSettings)
    clear_settings_cache()
