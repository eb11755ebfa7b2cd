"""Fixtures of the accounts proxy's tests: a fake Accounts API, its secret, a role and the environment."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from account_builders import MEMBER, ROLE_ARN

from sandbox.vendors import ACCOUNTS_API_KEY as API_KEY
from sandbox.vendors import Accounts
from workers.proxy_tm_account_service.handler import accounts_for
from workers.shared import clients


@pytest.fixture(autouse=True)
def fresh_accounts_client() -> Iterator[None]:
    """Each test builds its own client (the handler keeps one per process for its credentials)."""
    accounts_for.cache_clear()
    yield
    accounts_for.cache_clear()


@pytest.fixture
def accounts() -> Iterator[Accounts]:
    """A fake Accounts API requiring the API key and a SigV4 signature, with one member."""
    server = Accounts(require_signature=True)
    server.add(MEMBER)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def proxy_env(aws: None, accounts: Accounts, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's environment (as on qa1/prod1: with a role) pointing at moto and the fake API."""
    arn = clients.secretsmanager().create_secret(
        Name="prd3292-test-us-east-1/accounts", SecretString=json.dumps({"apiKey": API_KEY})
    )["ARN"]
    for name, value in {
        "ACCOUNTS_URL": accounts.url,
        "ACCOUNTS_SECRET_ARN": arn,
        "ACCOUNTS_ROLE_ARN": ROLE_ARN,
        "VENDOR_TIMEOUT_SECONDS": "1",
    }.items():
        monkeypatch.setenv(name, value)
