"""The UpdateItem expressions of a notification's moves: status transitions and send claims."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from workers.shared.keys import PENDING_ATTRIBUTES, Key, sweep_shard
from workers.shared.models import SendError, format_timestamp
from workers.shared.statuses import PENDING_STATUSES, NotificationStatus, can_transition

CLAIM_LEASE = "claimExpiresAt"  # when a send claim's holder can no longer be running


def transition_expression(
    from_statuses: Iterable[NotificationStatus],
    to_status: NotificationStatus,
    *,
    at: datetime,
    extra_updates: Mapping[str, Any] | None = None,
    remove: Sequence[str] = (),
    increment_attempts: bool = False,
    error: SendError | None = None,
    expected_claim: str | None = None,
    unclaimed: bool = False,
    override: bool = False,
    stamps: Mapping[NotificationStatus, datetime] = MappingProxyType({}),
) -> dict[str, Any]:
    """The conditional UpdateItem of a status move (see `NotificationLifecycle.transition`)."""
    if unclaimed and expected_claim is not None:
        raise ValueError("a transition cannot both expect a claim and require none")
    sources = frozenset(from_statuses)
    illegal = sorted(status for status in sources if not can_transition(status, to_status))
    if illegal and not override:
        raise ValueError(f"{', '.join(illegal)} -> {to_status} moves a notification backwards")
    stamp = format_timestamp(at)
    names = {"#status": "status", "#id": "id", "#date": "date", "#stamp": to_status.date_attribute}
    values: dict[str, Any] = {":status": {"id": to_status.value, "date": stamp}, ":at": stamp}
    sets = ["#status = :status", "#date.#stamp = :at"]
    # Other statuses' dates (e.g. the earlier statuses of one batch): the first stamp of each wins.
    for index, (status, moment) in enumerate(
        (status, moment) for status, moment in stamps.items() if status is not to_status
    ):
        names[f"#d{index}"] = status.date_attribute
        values[f":d{index}"] = format_timestamp(moment)
        sets.append(f"#date.#d{index} = if_not_exists(#date.#d{index}, :d{index})")
    for index, (attribute, value) in enumerate((extra_updates or {}).items()):
        names[f"#x{index}"] = attribute
        values[f":x{index}"] = attribute_value(value)
        sets.append(f"#x{index} = :x{index}")
    if increment_attempts:
        names["#attempts"] = "sendAttempts"
        values.update({":zero": 0, ":one": 1})
        sets.append("#attempts = if_not_exists(#attempts, :zero) + :one")
    if error is not None:
        names["#errors"] = "errors"
        values.update({":empty": [], ":error": [error.model_dump(mode="json", exclude_none=True)]})
        sets.append("#errors = list_append(if_not_exists(#errors, :empty), :error)")
    update = "SET " + ", ".join(sets)
    removed = list(dict.fromkeys(remove))  # a path named twice would be refused by DynamoDB
    if to_status not in PENDING_STATUSES:
        # No longer waiting to be sent: nothing for the sweeper to find, no lease to expire.
        removed += [name for name in (*PENDING_ATTRIBUTES, CLAIM_LEASE) if name not in removed]
    if removed:
        names.update({f"#r{index}": attribute for index, attribute in enumerate(removed)})
        update += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(removed)))
    status_values = status_condition_values(sources)
    condition = f"#status.#id IN ({', '.join(status_values)})"
    if expected_claim is not None:
        names["#claim"] = "claimId"
        values[":claim"] = expected_claim
        condition += " AND #claim = :claim"
    if unclaimed:
        names["#claim"] = "claimId"
        condition += " AND attribute_not_exists(#claim)"
    return {"update": update, "condition": condition, "names": names, "values": {**values, **status_values}}


def claim_expression(
    key: Key, claim_id: str, from_statuses: Iterable[NotificationStatus], at: datetime, lease: datetime
) -> dict[str, Any]:
    status_values = status_condition_values(from_statuses)
    # The lease doubles as the pending index's sweepAt: a claim nobody finishes is found once it
    # ends. The shard is written again so that a notification created without one is listed too.
    return {
        "update": (
            "SET #claim = :claim, #claimedAt = :at, #lease = :lease, #shard = :shard, #sweepAt = :lease"
        ),
        "condition": f"attribute_not_exists(#claim) AND #status.#id IN ({', '.join(status_values)})",
        "names": {
            "#claim": "claimId",
            "#claimedAt": "claimedAt",
            "#lease": CLAIM_LEASE,
            "#shard": "sweepShard",
            "#sweepAt": "sweepAt",
            "#status": "status",
            "#id": "id",
        },
        "values": {
            ":claim": claim_id,
            ":at": format_timestamp(at),
            ":lease": format_timestamp(lease),
            ":shard": sweep_shard(key),
            **status_values,
        },
    }


def status_condition_values(statuses: Iterable[NotificationStatus]) -> dict[str, str]:
    """`:from<n>` expression values of the statuses, sorted (a condition's `IN` list)."""
    ordered = sorted(NotificationStatus(status).value for status in statuses)
    if not ordered:
        raise ValueError("at least one source status is required")
    return {f":from{index}": value for index, value in enumerate(ordered)}


def attribute_value(value: Any) -> Any:
    """A python value as the table stores it (datetimes as text, models as maps)."""
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value
