"""Finding notifications in the demand table: by key, a fan's, a sale's (by index), read in batches."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from infra.table import DEMAND_INDEX, MESSAGE_INDEX, PENDING_INDEX, SALES_INDEX
from ops.target import Target
from workers.shared.keys import Key
from workers.shared.models import (
    ContactMethod,
    deserialize_item,
    serialize_item,
)
from workers.shared.repository import DemandRepository

NOTIFICATION_PREFIX: Final = "notification#"
_BATCH_GET_LIMIT: Final = 100  # BatchGetItem's maximum keys per request
_BATCH_GET_ATTEMPTS: Final = 8
_KEY_PATTERN: Final = re.compile(r"^(fan:[^#|\s]+)[/|](notification#[^#|\s]+#(?:sms|email))$")


class UnreadNotificationsError(Exception):
    """DynamoDB kept leaving some notifications unread (throttled); the message says how many."""


class NotificationKeyError(ValueError):
    """A `--key` that is not a notification's `PK/SK` (or `PK|SK`); the message says what is expected."""


def parse_notification_key(text: str) -> Key:
    """`fan:F/notification#E-S#sms` or the reference form `fan:F|notification#E-S#sms` → the Key."""
    match = _KEY_PATTERN.match(text.strip())
    if match is None:
        raise NotificationKeyError(
            f"{text!r} is not a notification key: expected PK/SK such as "
            "fan:123/notification#vvG1-public#sms (or PK|SK, as the sweeper logs it)"
        )
    return Key(match.group(1), match.group(2))


def notification_repository(target: Target) -> DemandRepository:
    """The stack's demand table through the workers' repository, on the target's DynamoDB client."""
    return DemandRepository(
        target.naming.table_name,
        sales_index=SALES_INDEX,
        demand_index=DEMAND_INDEX,
        message_index=MESSAGE_INDEX,
        pending_index=PENDING_INDEX,
        client=target.clients.client("dynamodb"),
    )


def fan_notification_items(
    repository: DemandRepository,
    fan_id: str,
    *,
    sale_id: str | None = None,
    event_id: str | None = None,
    method: ContactMethod | None = None,
) -> list[dict[str, Any]]:
    """The fan's notification items (a strongly consistent Query of its partition), narrowed as asked."""
    pages = repository.client.get_paginator("query").paginate(
        TableName=repository.table_name,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues=serialize_item({":pk": f"fan:{fan_id}", ":prefix": NOTIFICATION_PREFIX}),
        ConsistentRead=True,
    )
    items = [deserialize_item(item) for page in pages for item in page.get("Items", [])]
    return [
        item
        for item in items
        if (sale_id is None or item.get("saleId") == sale_id)
        and (event_id is None or item.get("eventId") == event_id)
        and (method is None or item.get("contactMethod") == method.value)
    ]


def notification_item(repository: DemandRepository, key: Key) -> dict[str, Any] | None:
    """The item at `key` (a strongly consistent read), or None."""
    answer = repository.client.get_item(
        TableName=repository.table_name, Key=serialize_item(key.item()), ConsistentRead=True
    )
    item = answer.get("Item")
    return deserialize_item(item) if item else None


def sale_notification_keys(
    repository: DemandRepository, event_id: str, sale_id: str, *, method: ContactMethod | None = None
) -> Iterator[Key]:
    """Every notification key of a sale: a Query of the `demand-by-sale` index, every page.

    Notifications carry `eventId` and an SK that starts `notification#{eventId}-{saleId}#`, so the
    index that finds a sale's demand also lists its notifications: no Scan. The index does not
    project `status`, so the caller reads the items (`read_items`) to see which are FAILED.
    """
    prefix = f"{NOTIFICATION_PREFIX}{event_id}-{sale_id}#{method.value if method else ''}"
    pages = repository.client.get_paginator("query").paginate(
        TableName=repository.table_name,
        IndexName=repository.demand_index,
        KeyConditionExpression="eventId = :event AND begins_with(SK, :prefix)",
        ExpressionAttributeValues=serialize_item({":event": event_id, ":prefix": prefix}),
    )
    for page in pages:
        for item in map(deserialize_item, page.get("Items", [])):
            if item.get("saleId") == sale_id:  # ids may hold '-': the attribute settles it
                yield Key(str(item["PK"]), str(item["SK"]))


def read_items(
    repository: DemandRepository,
    keys: Sequence[Key],
    *,
    on_read: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """The items at `keys` (strongly consistent BatchGetItem, 100 keys a request, unprocessed retried)."""
    found: list[dict[str, Any]] = []
    client = repository.client
    for start in range(0, len(keys), _BATCH_GET_LIMIT):
        chunk = keys[start : start + _BATCH_GET_LIMIT]
        request: dict[str, Any] = {
            repository.table_name: {
                "Keys": [serialize_item(key.item()) for key in chunk],
                "ConsistentRead": True,
            }
        }
        for attempt in range(_BATCH_GET_ATTEMPTS):
            answer = client.batch_get_item(RequestItems=request)
            found += [
                deserialize_item(item) for item in answer.get("Responses", {}).get(repository.table_name, [])
            ]
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            sleep(min(0.05 * 2**attempt, 2.0))  # throttled: back off before asking for the rest
        else:
            unread = len(request[repository.table_name]["Keys"])
            raise UnreadNotificationsError(
                f"{unread} notifications stayed unread after {_BATCH_GET_ATTEMPTS} tries"
            )
        if on_read is not None:
            on_read(len(chunk))
    return found
