"""Cached boto3 clients for one region, against AWS or an emulator endpoint.

The bottom layer that ops/ (operator commands) and sandbox/ (the emulator) share: it imports nothing
of the project, so neither depends on the other for it.
"""

from __future__ import annotations

from typing import Any, Final

import boto3
from botocore.config import Config

# What an emulator on loopback accepts; real credentials must never be sent to (or needed by) it.
EMULATOR_ACCESS_KEY: Final = "testing"
EMULATOR_SECRET_KEY: Final = "testing"  # noqa: S105 - the emulator's well-known fake


class AwsClients:
    """One boto3 session and one cached client per service, for a region and an optional endpoint."""

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None = None,
        max_attempts: int = 5,
        fake_credentials: bool = False,
        user_agent_appid: str | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self._session = boto3.session.Session(
            region_name=region,
            aws_access_key_id=EMULATOR_ACCESS_KEY if fake_credentials else None,
            aws_secret_access_key=EMULATOR_SECRET_KEY if fake_credentials else None,
        )
        # Account-id endpoints (DynamoDB) are not routed by emulators, and AWS needs none for reads.
        self._config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            account_id_endpoint_mode="disabled",
            # Lets a recording of the emulator's requests tell these callers apart (`app/<id>`).
            user_agent_extra=f"app/{user_agent_appid}" if user_agent_appid else None,
        )
        self._clients: dict[str, Any] = {}

    @classmethod
    def for_emulator(
        cls, endpoint_url: str | None, *, region: str, user_agent_appid: str | None = None
    ) -> AwsClients:
        """Clients for an emulator (HTTP endpoint, or in-process when None): fake credentials, no retries."""
        return cls(
            region=region,
            endpoint_url=endpoint_url,
            max_attempts=1,
            fake_credentials=True,
            user_agent_appid=user_agent_appid,
        )

    def client(self, service: str) -> Any:
        """The client for one service (`"lambda"`, `"sqs"`, …), created once."""
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.endpoint_url,
                config=self._config,
            )
        return self._clients[service]

    def unretried_client(self, service: str, *, read_timeout_seconds: float) -> Any:
        """A fresh client whose calls wait this long for an answer and are never repeated."""
        # For calls that may run long and are not safe to send twice, such as a synchronous Lambda
        # invoke: a read timeout retried by botocore would invoke the function a second time.
        config = self._config.merge(
            Config(read_timeout=read_timeout_seconds, retries={"mode": "standard", "total_max_attempts": 1})
        )
        return self._session.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            config=config,
        )
