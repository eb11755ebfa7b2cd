"""notification_sweeper through lambda_handler, with exactly the environment infra declares for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from deployed_environment import (
    declared_environment,
    declared_own_variables,
    own_variables,
    required_variables,
    use_environment,
)
from sweeper_builders import sms_notification, stored

from workers.notification_sweeper.handler import lambda_handler
from workers.notification_sweeper.settings import SweeperSettings
from workers.shared.errors import SettingsError
from workers.shared.keys import SWEEP_SHARDS, notification_reference
from workers.shared.repository import DemandRepository
from workers.shared.settings import clear_settings_cache, load_settings

WORKER = "notification_sweeper"
pytestmark = [
    pytest.mark.slow,  # the first synth of each stack takes about two seconds
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]


@pytest.mark.parametrize("stack", ["local", "qa1", "prod1"])
def test_the_settings_read_exactly_the_variables_infra_declares(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the worker's function in the synthesized stack
    declared = declared_environment(stack, WORKER)

    # Then the settings read exactly its own variables (the pending index among them), and load
    assert own_variables(SweeperSettings) == declared_own_variables(declared)
    use_environment(monkeypatch, declared, SweeperSettings)
    settings = load_settings(SweeperSettings)
    assert settings.demand_table_pending_index == "pending-notifications"
    assert (settings.release_after, settings.max_releases_per_run) == (
        timedelta(minutes=int(declared["RELEASE_AFTER_MINUTES"])),
        int(declared["MAX_RELEASES_PER_RUN"]),
    )
    clear_settings_cache()


def test_each_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the declared local environment without one of its required variables at a time
    declared = declared_environment("local", WORKER)
    required = required_variables(SweeperSettings, declared)
    assert {"DEMAND_TABLE_PENDING_INDEX", "RELEASE_AFTER_MINUTES", "MAX_RELEASES_PER_RUN"} <= set(required)
    for missing in required:
        use_environment(monkeypatch, {k: v for k, v in declared.items() if k != missing}, SweeperSettings)
        # When the settings load / Then the error names the missing variable
        with pytest.raises(SettingsError, match=rf"SweeperSettings: {missing} is not set$"):
            load_settings(SweeperSettings)


@pytest.mark.parametrize(
    ("variable", "value"), [("RELEASE_AFTER_MINUTES", "0"), ("MAX_RELEASES_PER_RUN", "0")]
)
def test_a_tunable_outside_the_infra_bounds_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    use_environment(monkeypatch, {**declared_environment("local", WORKER), variable: value}, SweeperSettings)
    with pytest.raises(SettingsError, match=f"{variable}='{value}' is invalid"):
        load_settings(SweeperSettings)


@pytest.mark.parametrize("trigger", ["schedule", "operator"])
def test_a_scheduled_run_or_an_operators_run_releases_a_lost_notification(
    *,
    trigger: str,
    monkeypatch: pytest.MonkeyPatch,
    demand_table: str,
    repository: DemandRepository,
    load_event: Callable[[str], dict[str, Any]],
    lambda_context: Any,
) -> None:
    # Given the declared local environment on the moto table, and a notification created ten
    # minutes ago whose stream record was never handled
    use_environment(
        monkeypatch,
        {**declared_environment("local", WORKER), "DEMAND_TABLE_NAME": demand_table},
        SweeperSettings,
    )
    record = sms_notification("lost", created=datetime.now(UTC) - timedelta(minutes=10))
    repository.create_notification(record)
    event = load_event("eventbridge-schedule.json") if trigger == "schedule" else {}

    # When the schedule (or an operator's `aws lambda invoke --payload '{}'`) runs the sweeper
    summary = lambda_handler(event, lambda_context)

    # Then the run released it and answered with its counts
    assert summary == {
        "found": 1,
        "released": 1,
        "skipped": 0,
        "shardsSwept": SWEEP_SHARDS,
        "complete": True,
        "releasedSample": [notification_reference(record.key)],
    }
    assert stored(demand_table, record.key)["status"]["id"] == "RETRY"
    clear_settings_cache()
