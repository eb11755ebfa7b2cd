"""event_details runs with exactly the environment infra declares for it (synthesized stacks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from deployed_environment import (
    declared_environment,
    declared_own_variables,
    own_variables,
    required_variables,
    use_environment,
)

from sandbox.vendors import Discovery
from workers.event_details.handler import lambda_handler
from workers.event_details.settings import EventDetailsSettings
from workers.shared.errors import SettingsError
from workers.shared.settings import clear_settings_cache, load_settings

WORKER = "event_details"
pytestmark = [
    pytest.mark.slow,  # the first synth of each stack takes about two seconds
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]


@pytest.mark.parametrize("stack", ["local", "qa1"])
def test_the_settings_read_exactly_the_variables_infra_declares(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the worker's function in the synthesized stack
    declared = declared_environment(stack, WORKER)

    # Then the settings read exactly its own variables, and load from them
    assert own_variables(EventDetailsSettings) == declared_own_variables(declared)
    use_environment(monkeypatch, declared, EventDetailsSettings)
    settings = load_settings(EventDetailsSettings)
    assert settings.service_name == WORKER
    assert settings.allowed_countries == tuple(declared["ALLOWED_COUNTRIES"].split(","))
    assert settings.event_rules().allowed_classifications == frozenset({"music", "theatre"})
    assert settings.vendor_timeout_seconds == int(declared["VENDOR_TIMEOUT_SECONDS"])
    clear_settings_cache()


def test_each_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the declared local environment without one of its required variables at a time
    declared = declared_environment("local", WORKER)
    required = required_variables(EventDetailsSettings, declared)
    assert {
        "DISCOVERY_URL",
        "DISCOVERY_SECRET_ARN",
        "SHORT_URL_QUEUE_URL",
        "SUPPRESSED_ARTIST_IDS",
        "VENDOR_TIMEOUT_SECONDS",
    } <= set(required)
    for missing in required:
        use_environment(
            monkeypatch, {k: v for k, v in declared.items() if k != missing}, EventDetailsSettings
        )
        # When the settings load / Then the error names the missing variable
        with pytest.raises(SettingsError, match=rf"EventDetailsSettings: {missing} is not set$"):
            load_settings(EventDetailsSettings)


def test_the_handler_resolves_with_the_declared_local_environment(
    *,
    monkeypatch: pytest.MonkeyPatch,
    demand_table: str,
    discovery: Discovery,
    discovery_secret_arn: str,
    short_url_queue_url: str,
    resolver_event: Callable[..., dict[str, Any]],
    lambda_context: Any,
) -> None:
    # Given the declared local environment, with only the endpoints and names that moto and the
    # fake Discovery API make for this test swapped in
    use_environment(
        monkeypatch,
        {
            **declared_environment("local", WORKER),
            "DEMAND_TABLE_NAME": demand_table,
            "DISCOVERY_URL": discovery.url,
            "DISCOVERY_SECRET_ARN": discovery_secret_arn,
            "SHORT_URL_QUEUE_URL": short_url_queue_url,
        },
        EventDetailsSettings,
    )

    # When eventDetails is resolved / Then it answers
    details = lambda_handler(resolver_event(eventId="vvG1IZ9KBxv3Tg"), lambda_context)
    assert details["eventId"] == "vvG1IZ9KBxv3Tg"
