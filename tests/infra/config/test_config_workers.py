"""Function settings are declared once: the overrides and the resolved config are derived from them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from infra.config import FunctionSettings, StreamTriggerSettings, WorkerDefaults, WorkerOverrides
from infra.stack_files import load_committed

SECTIONS = {"trigger", "alarms", "settings"}
OUT_OF_RANGE: dict[str, list[Any]] = {
    "memoryMb": [64, 10_241, "lots"],
    "timeoutSeconds": [0, 901],
    "architecture": ["arm", 3],
    "reservedConcurrency": [-2, "x"],
    "logRetentionDays": [2, 0],
    "logStreaming": ["maybe"],
    "logLevel": ["TRACE"],
    "snapStart": ["x"],
}


def _errors(model: type[Any], values: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(values)
    return [(error["loc"], error["msg"]) for error in raised.value.errors(include_url=False)]


def test_overrides_accept_exactly_the_function_settings_plus_the_sections() -> None:
    # Given the function settings and the overrides derived from them
    function_keys = {field.alias for field in FunctionSettings.model_fields.values()}

    # When their keys are compared
    override_keys = {field.alias for field in WorkerOverrides.model_fields.values()}

    # Then an override can set every function setting, and besides them only the three sections
    assert override_keys == function_keys | SECTIONS
    assert OUT_OF_RANGE.keys() == function_keys


@pytest.mark.parametrize(
    ("key", "value"), [(key, value) for key, values in OUT_OF_RANGE.items() for value in values]
)
def test_an_override_is_refused_exactly_as_the_default_would_be(key: str, value: Any) -> None:
    # Given a value outside a function setting's range or rules
    # When it is given as a default and as an override
    as_default = _errors(WorkerDefaults, {key: value})
    as_override = _errors(WorkerOverrides, {key: value})

    # Then both refuse it at that key with the same message
    assert as_override == as_default
    assert as_default[0][0] == (key,)


def test_an_override_may_leave_any_function_setting_unset() -> None:
    # Given overrides that set nothing, and overrides that set two keys and null a third
    empty = WorkerOverrides()
    some = WorkerOverrides.model_validate({"memoryMb": 2048, "logLevel": "DEBUG", "snapStart": None})

    # When the function settings they set are read
    # Then only the keys actually given a value are there, in field names
    assert empty.function_settings() == {}
    assert some.function_settings() == {"memory_mb": 2048, "log_level": "DEBUG"}


def test_overrides_and_defaults_document_each_function_setting_alike() -> None:
    # Given both models
    # When their field docs are compared
    # Then every function setting means the same in both
    for name, field in FunctionSettings.model_fields.items():
        assert field.description, name
        assert WorkerOverrides.model_fields[name].description == field.description


def test_the_resolved_config_exposes_its_trigger_settings_and_dumps_them_as_before() -> None:
    # Given notification_send as qa1 resolves it
    worker = load_committed("qa1").worker("notification_send")

    # When its trigger is read and the config is dumped
    dumped = worker.model_dump()

    # Then `trigger` is the settings of the resolved trigger, dumped under that key alone
    assert worker.trigger is worker.resolved_trigger.settings
    assert isinstance(worker.trigger, StreamTriggerSettings)
    assert dumped["trigger"] == worker.trigger.model_dump()
    assert "resolved_trigger" not in dumped
