"""The sender's settings are exactly the environment infra declares for it, in every stack flavour."""

from __future__ import annotations

import pytest
from deployed_environment import (
    declared_environment,
    declared_own_variables,
    own_variables,
    use_environment,
)

from infra.stack_files import load_committed
from workers.notification_send.settings import SendSettings
from workers.shared.errors import SettingsError
from workers.shared.settings import load_settings

pytestmark = pytest.mark.slow  # synthesizes the stacks (about 1.5 s each, once per session)
WORKER = "notification_send"
# Declared only where the SMS service authorizes IAM principals (not on the local stack).
OPTIONAL = frozenset({"SMS_SERVICE_ROLE_ARN", "PARKING_QUEUE_URL"})  # unset: no role; no parking


@pytest.mark.parametrize("stack", ["local", "prod1"])
def test_the_declared_environment_loads(monkeypatch: pytest.MonkeyPatch, stack: str) -> None:
    # Given only what the stack declares for the function (and what Lambda sets itself)
    declared = declared_environment(stack, WORKER)
    use_environment(monkeypatch, declared, SendSettings)

    # When the settings are loaded
    settings = load_settings(SendSettings)

    # Then every worker variable the stack declares is read, and nothing else is required
    assert declared_own_variables(declared) <= own_variables(SendSettings)
    assert own_variables(SendSettings) - OPTIONAL <= set(declared)
    assert settings.max_send_attempts == 3
    assert settings.sms_service_secret_arn == declared["SMS_SERVICE_SECRET_ARN"]
    assert settings.sms_service_role_arn == declared.get("SMS_SERVICE_ROLE_ARN")
    # And the SMS app ids are the stack's, one per notification type
    stack_app_ids = load_committed(stack).vendors.sms_app_ids
    assert settings.sms_app_ids.of_type("notification") == stack_app_ids.notification
    assert settings.sms_app_ids.of_type("notification:asu") == stack_app_ids.asu


def test_production_signs_sms_calls_with_a_role() -> None:
    assert "SMS_SERVICE_ROLE_ARN" in declared_environment("prod1", WORKER)


@pytest.mark.parametrize(
    "variable",
    sorted(
        {
            "DMD_ENVIRONMENT",
            "POWERTOOLS_SERVICE_NAME",
            "POWERTOOLS_METRICS_NAMESPACE",
            *(own_variables(SendSettings) - OPTIONAL),
        }
    ),
)
def test_a_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    # Given the local stack's environment without one required variable
    declared = declared_environment("local", WORKER)
    use_environment(
        monkeypatch, {name: value for name, value in declared.items() if name != variable}, SendSettings
    )
    monkeypatch.delenv(variable, raising=False)

    # When the settings are loaded, then the error names it
    with pytest.raises(SettingsError, match=f"{variable} is not set"):
        load_settings(SendSettings)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MAX_SEND_ATTEMPTS", "0", "MAX_SEND_ATTEMPTS='0' is invalid"),
        ("RETRY_BACKOFF_SECONDS", "901", "RETRY_BACKOFF_SECONDS='901' is invalid"),
        ("VENDOR_TIMEOUT_SECONDS", "31", "VENDOR_TIMEOUT_SECONDS='31' is invalid"),
        ("SMS_SERVICE_URL", "sms.example.com", "SMS_SERVICE_URL='sms.example.com' is invalid"),
        ("SMS_SERVICE_ROLE_ARN", "sms-role", "SMS_SERVICE_ROLE_ARN='sms-role' is invalid"),
        ("SMS_APP_IDS", "dmd-reminders", "SMS_APP_IDS='dmd-reminders' is invalid: Value error, not JSON"),
        (
            "SMS_APP_IDS",
            '{"notification": "dmd-reminders"}',
            "SMS_APP_IDS is invalid: notification:asu: Field required",
        ),
        (
            "SMS_APP_IDS",
            '{"notification": "a b", "notification:asu": "dmd-asu"}',
            "SMS_APP_IDS is invalid: notification: String should match pattern",
        ),
        (
            "SMS_APP_IDS",
            '{"notification": "a", "notification:asu": "b", "test-notification": "c"}',
            "SMS_APP_IDS is invalid: test-notification: Extra inputs are not permitted",
        ),
    ],
)
def test_an_invalid_value_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    use_environment(monkeypatch, {**declared_environment("local", WORKER), variable: value}, SendSettings)
    with pytest.raises(SettingsError, match=message):
        load_settings(SendSettings)
