"""The accounts proxy's settings against the environment the synthesized stacks give its function."""

from __future__ import annotations

import json
from typing import Any

import pytest
from account_builders import MEMBER, MEMBER_ID, tm_account_event
from deployed_environment import (
    declared_environment,
    declared_own_variables,
    own_variables,
    required_variables,
    use_environment,
)

from sandbox.vendors import ACCOUNTS_API_KEY as API_KEY
from sandbox.vendors import Accounts
from workers.proxy_tm_account_service.handler import lambda_handler
from workers.proxy_tm_account_service.settings import AccountsProxySettings
from workers.shared import clients
from workers.shared.errors import SettingsError
from workers.shared.settings import clear_settings_cache, load_settings

WORKER = "proxy_tm_account_service"
pytestmark = [
    pytest.mark.slow,  # the first synth of each stack takes about two seconds
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]


@pytest.mark.parametrize(
    ("stack", "role_declared"), [("local", False), ("qa1", True)], ids=["local (no role)", "qa1 (role)"]
)
def test_the_settings_read_exactly_the_variables_infra_declares(
    stack: str, role_declared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the worker's function in the synthesized stack
    declared = declared_environment(stack, WORKER)

    # Then the settings read its variables, the role only where the stack names one
    assert ("ACCOUNTS_ROLE_ARN" in declared) is role_declared
    assert own_variables(AccountsProxySettings) == declared_own_variables(declared) | {"ACCOUNTS_ROLE_ARN"}
    # And they load from it
    use_environment(monkeypatch, declared, AccountsProxySettings)
    settings = load_settings(AccountsProxySettings)
    assert settings.accounts_role_arn == declared.get("ACCOUNTS_ROLE_ARN")
    assert settings.vendor_timeout_seconds == int(declared["VENDOR_TIMEOUT_SECONDS"])
    clear_settings_cache()


def test_the_handler_runs_with_the_declared_local_environment(
    aws: None, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    # Given the declared local environment, where only the vendor endpoint and the secret's ARN
    # (moto makes its own) point at this test's fakes; local names no role, so calls are unsigned
    declared = declared_environment("local", WORKER)
    accounts = Accounts(require_signature=False)
    accounts.add(MEMBER)
    accounts.start()
    secret_arn = clients.secretsmanager().create_secret(
        Name="prd3292-local-us-east-1/accounts", SecretString=json.dumps({"apiKey": API_KEY})
    )["ARN"]
    use_environment(
        monkeypatch,
        {**declared, "ACCOUNTS_URL": accounts.url, "ACCOUNTS_SECRET_ARN": secret_arn},
        AccountsProxySettings,
    )

    # When tmAccount is resolved
    try:
        account = lambda_handler(tm_account_event(memberId=MEMBER_ID), lambda_context)
    finally:
        accounts.stop()

    # Then the member came back
    assert account["memberId"] == MEMBER_ID and account["email"] == "Jane.Doe@example.com"


def test_each_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = declared_environment("local", WORKER)
    required = required_variables(AccountsProxySettings, declared)
    assert {"ACCOUNTS_URL", "ACCOUNTS_SECRET_ARN", "VENDOR_TIMEOUT_SECONDS"} <= set(required)
    for missing in required:
        use_environment(
            monkeypatch, {k: v for k, v in declared.items() if k != missing}, AccountsProxySettings
        )
        with pytest.raises(SettingsError, match=rf"AccountsProxySettings: {missing} is not set$"):
            load_settings(AccountsProxySettings)
    clear_settings_cache()
