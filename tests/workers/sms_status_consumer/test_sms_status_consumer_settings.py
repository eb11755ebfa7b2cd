"""The status consumer's settings against the environment the synthesized `local` stack gives its function."""

from __future__ import annotations

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
from status_builders import at, status_record, triggered_notification
from trigger_records import kinesis_event

from workers.shared.errors import SettingsError
from workers.shared.repository import DemandRepository
from workers.shared.settings import clear_settings_cache, load_settings
from workers.shared.statuses import NotificationStatus
from workers.sms_status_consumer.handler import lambda_handler
from workers.sms_status_consumer.settings import StatusConsumerSettings

WORKER = "sms_status_consumer"
pytestmark = [
    pytest.mark.slow,  # the first synth of the stack takes about two seconds
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]


def test_the_settings_read_exactly_the_variables_infra_declares() -> None:
    declared = declared_environment("local", WORKER)
    assert own_variables(StatusConsumerSettings) == declared_own_variables(declared)


def test_the_handler_runs_with_only_the_declared_environment(
    aws: None, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    # Given exactly the declared environment and the table it names
    declared = declared_environment("local", WORKER)
    use_environment(monkeypatch, declared, StatusConsumerSettings)
    create_declared_table(declared["DEMAND_TABLE_NAME"])
    notifications = DemandRepository(
        declared["DEMAND_TABLE_NAME"],
        sales_index=declared["DEMAND_TABLE_SALES_INDEX"],
        demand_index=declared["DEMAND_TABLE_DEMAND_INDEX"],
    )
    key = triggered_notification(notifications, "fan-1")

    # When a status event is handled
    response = lambda_handler(kinesis_event(status_record(1, key, "delivered", at(9))), lambda_context)

    # Then it reached the declared table
    assert response == {"batchItemFailures": []}
    record = notifications.get_notification(key)
    assert record is not None and record.status.id is NotificationStatus.DELIVERED


def test_each_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = declared_environment("local", WORKER)
    required = required_variables(StatusConsumerSettings, declared)
    assert {"DEMAND_TABLE_NAME", "DMD_ENVIRONMENT", "POWERTOOLS_SERVICE_NAME"} <= set(required)
    for missing in required:
        use_environment(
            monkeypatch, {k: v for k, v in declared.items() if k != missing}, StatusConsumerSettings
        )
        with pytest.raises(SettingsError, match=rf"StatusConsumerSettings: {missing} is not set$"):
            load_settings(StatusConsumerSettings)
    clear_settings_cache()
