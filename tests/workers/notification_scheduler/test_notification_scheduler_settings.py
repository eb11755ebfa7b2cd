"""notification_scheduler runs with exactly the environment infra declares for it (synthesized stacks)."""

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
from workers.notification_scheduler.handler import lambda_handler
from workers.notification_scheduler.settings import SchedulerSettings
from workers.shared.errors import SettingsError
from workers.shared.settings import clear_settings_cache, load_settings

WORKER = "notification_scheduler"
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
    assert own_variables(SchedulerSettings) == declared_own_variables(declared)
    use_environment(monkeypatch, declared, SchedulerSettings)
    settings = load_settings(SchedulerSettings)
    assert (settings.lead_minutes, settings.window_minutes, settings.event_fetch_parallelism) == (
        int(declared["LEAD_MINUTES"]),
        int(declared["WINDOW_MINUTES"]),
        int(declared["EVENT_FETCH_PARALLELISM"]),
    )
    clear_settings_cache()


def test_each_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the declared local environment without one of its required variables at a time
    declared = declared_environment("local", WORKER)
    required = required_variables(SchedulerSettings, declared)
    assert {
        "DISCOVERY_URL",
        "GENERATION_QUEUE_URL",
        "SUPPRESSED_ARTIST_IDS",
        "LEAD_MINUTES",
        "EVENT_FETCH_PARALLELISM",
    } <= set(required)
    for missing in required:
        use_environment(monkeypatch, {k: v for k, v in declared.items() if k != missing}, SchedulerSettings)
        # When the settings load / Then the error names the missing variable
        with pytest.raises(SettingsError, match=rf"SchedulerSettings: {missing} is not set$"):
            load_settings(SchedulerSettings)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LEAD_MINUTES", "-5"), ("WINDOW_MINUTES", "2"), ("EVENT_FETCH_PARALLELISM", "26")],
)
def test_a_tunable_outside_the_infra_bounds_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    use_environment(
        monkeypatch, {**declared_environment("local", WORKER), variable: value}, SchedulerSettings
    )
    with pytest.raises(SettingsError, match=f"{variable}='{value}' is invalid"):
        load_settings(SchedulerSettings)


def test_the_handler_runs_with_the_declared_local_environment(
    *,
    monkeypatch: pytest.MonkeyPatch,
    demand_table: str,
    discovery: Discovery,
    discovery_secret_arn: str,
    generation_queue_url: str,
    load_event: Callable[[str], dict[str, Any]],
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
            "GENERATION_QUEUE_URL": generation_queue_url,
        },
        SchedulerSettings,
    )

    # When the scheduled tick runs / Then it completes its (empty) window
    summary = lambda_handler(load_event("eventbridge-schedule.json"), lambda_context)
    assert summary["window"] == {"start": "2024-01-15T15:00:00Z", "end": "2024-01-15T15:30:00Z"}
