"""AppSync `Query.tmAccount` → the TM Accounts API, signed and normalized."""

from __future__ import annotations

import functools
from typing import Any

from workers.proxy_tm_account_service.logic import resolve_tm_account
from workers.proxy_tm_account_service.settings import AccountsProxySettings
from workers.shared.accounts import AccountsClient, accounts_client
from workers.shared.observability import APPSYNC_CORRELATION_PATH, instrumented
from workers.shared.resolver_events import parse_resolver_event
from workers.shared.settings import load_settings


@functools.cache
def accounts_for(settings: AccountsProxySettings) -> AccountsClient:
    """One client per process: its signer keeps the assumed role's credentials until near expiry."""
    return accounts_client(
        settings.accounts_url,
        secret_arn=settings.accounts_secret_arn,
        role_arn=settings.accounts_role_arn,
        region=settings.aws_region,
        timeout_seconds=settings.vendor_timeout_seconds,
    )


@instrumented(correlation_id_path=APPSYNC_CORRELATION_PATH)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str | None]:
    """The TmAccount of the requested member, or a GraphQL error (errorType = the exception's class)."""
    settings = load_settings(AccountsProxySettings)
    request = parse_resolver_event(event)
    return resolve_tm_account(
        request.arguments, accounts_for(settings), request_id=str(getattr(context, "aws_request_id", ""))
    )
