"""A fake TM Publish on loopback, and the local stack's demand table and publish secret in moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_clients import AwsClients
from infra.stack_files import load_committed
from infra.synth import ResourceGraph
from infra.table import DEMAND_INDEX, MESSAGE_INDEX, PENDING_INDEX, SALES_INDEX
from ops.target import Target
from sandbox.vendors import Effect, Reply, Route, VendorRequest, VendorServer
from workers.shared.models import EventRecord
from workers.shared.publish import EXTENSION
from workers.shared.repository import DemandRepository

TABLE = "prd3292-local-us-east-1-demand-table"
PUBLISH_SECRET = "prd3292-local-us-east-1/publish"  # a secret's name, not a value
API_KEY = "publish-key-7c1d"
EXPIRES = int((datetime(2026, 12, 1, tzinfo=UTC) + timedelta(days=1)).timestamp())


class FakePublish(VendorServer):
    """TM Publish: accepts a PUT of the product's extension, keyed by event id (scripted replies aside)."""

    vendor = "tm-publish"

    def route(self, request: VendorRequest) -> Route | Reply:
        parts = request.path.strip("/").split("/")  # events/{id}/extensions/{name}
        if request.method != "PUT" or len(parts) != 4 or parts[0] != "events" or parts[3] != EXTENSION:
            return Reply(404, {"message": f"no route {request.method} {request.path}"})
        return Route("extension", parts[1])

    def __init__(self) -> None:
        super().__init__()
        self._accepted: dict[str, Any] = {}

    def decide(self, request: VendorRequest, key: str | None) -> tuple[Reply, Effect | None]:
        if request.headers.get("x-api-key") != API_KEY:
            return Reply(403, {"message": "Forbidden"}), None
        assert key is not None
        self._accepted[key] = request.json()  # one handler thread per request, one key each
        return Reply(200, {"status": "ok"}), None

    def published(self) -> dict[str, Any]:
        """The extension body accepted per event id (scripted refusals are not)."""
        return dict(self._accepted)


def create_stack(clients: AwsClients, graph: ResourceGraph, *, api_key: str | None = API_KEY) -> Target:
    """The local stack's demand table (keys only) and publish secret (with `api_key`, if any) in moto."""
    clients.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    secret = {"SecretString": f'{{"apiKey": "{api_key}"}}'} if api_key else {}
    clients.client("secretsmanager").create_secret(Name=PUBLISH_SECRET, **secret)
    target = Target(stack="local", config=load_committed("local"), clients=clients)
    target.graph = graph  # the cached property's value, set ahead (not synthesized again)
    return target


def repository(clients: AwsClients) -> DemandRepository:
    """The workers' own repository: events are written as the fleet caches them."""
    return DemandRepository(
        TABLE,
        sales_index=SALES_INDEX,
        demand_index=DEMAND_INDEX,
        message_index=MESSAGE_INDEX,
        pending_index=PENDING_INDEX,
        client=clients.client("dynamodb"),
    )


def cached_event(event_id: str, *, suppressed: bool = False, reason: str | None = None) -> EventRecord:
    """An event as event_details or the scheduler caches it."""
    return EventRecord(
        id=event_id,
        name=f"Concert {event_id}",
        url=f"https://www.ticketmaster.com/event/{event_id}",
        timezone="America/Chicago",
        country_code="US" if not suppressed else "GB",
        is_suppressed=suppressed,
        suppression_reason=reason,
        expires_at=EXPIRES,
    )
