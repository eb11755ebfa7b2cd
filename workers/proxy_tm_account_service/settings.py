"""The accounts proxy's environment: exactly what infra declares for it (Accounts API, ResolverTunables)."""

from __future__ import annotations

from pydantic import Field

from workers.shared.settings import WorkerSettings


class AccountsProxySettings(WorkerSettings):
    """ACCOUNTS variables plus the resolver's vendor timeout."""

    accounts_url: str = Field(pattern=r"^https?://\S+$")
    accounts_secret_arn: str = Field(pattern=r"^arn:aws[a-z-]*:secretsmanager:\S+$")
    # Declared only by stacks whose Accounts API authorizes IAM callers (qa1, prod1); the local
    # sandbox's fake API takes the API key alone.
    accounts_role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")
    vendor_timeout_seconds: int = Field(ge=1, le=30)
