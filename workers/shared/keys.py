"""Keys of the demand table's items, the SMS reference and the pending index's sweep shards."""

from __future__ import annotations

import zlib
from datetime import timedelta
from typing import NamedTuple

from workers.shared.errors import RecordError

EVENT_DETAILS_SK = "event#details"
REFERENCE_SEPARATOR = "|"


class Key(NamedTuple):
    """The table's primary key of one item."""

    pk: str
    sk: str

    def item(self) -> dict[str, str]:
        """As plain item attributes."""
        return {"PK": self.pk, "SK": self.sk}


def event_key(event_id: str) -> Key:
    """Key of a cached event."""
    return Key(f"event:{event_id}", EVENT_DETAILS_SK)


def sale_key(event_id: str, sale_id: str) -> Key:
    """Key of a cached sale (same partition as its event)."""
    return Key(f"event:{event_id}", f"sale#{sale_id}")


def demand_sort_key(event_id: str, sale_id: str) -> str:
    """SK of every fan's opt-in for a sale: with eventId, the sale's key in the `demand-by-sale` index."""
    return f"demand#{event_id}-{sale_id}"


def demand_key(fan_id: str, event_id: str, sale_id: str) -> Key:
    """Key of a fan's opt-in for a sale."""
    return Key(f"fan:{fan_id}", demand_sort_key(event_id, sale_id))


def notification_reference(key: Key) -> str:
    """The reference the send worker gives the SMS service, echoed back in its status events."""
    return f"{key.pk}{REFERENCE_SEPARATOR}{key.sk}"


def key_from_reference(reference: str) -> Key:
    """The notification key inside a reference made by `notification_reference`."""
    pk, separator, sk = reference.partition(REFERENCE_SEPARATOR)
    if not separator or not pk.startswith("fan:") or not sk.startswith("notification#"):
        raise RecordError(f"{reference!r} is not a notification reference (fan:<id>|notification#...)")
    return Key(pk, sk)


def sms_message_key(message_id: str) -> Key:
    """Key of an SMS message's item: its notification, and statuses that arrived before it was named."""
    return Key(f"message:{message_id}", "sms")


# --------------------------------------------------------------------------------------------
# Pending notifications: the sparse `pending-notifications` index the sweeper reads
# --------------------------------------------------------------------------------------------

PENDING_ATTRIBUTES = ("sweepShard", "sweepAt")
# Fixed: a notification's shard is part of its index entry, so a new count would hide old entries.
SWEEP_SHARDS = 16
# How long past its due time a waiting notification is left to its trigger (stack config
# `releaseAfterMinutes`; this default serves tooling and tests).
DEFAULT_RELEASE_AFTER = timedelta(minutes=5)


def sweep_shard(key: Key) -> str:
    """The notification's partition of the pending index, "0".."15": a stable hash of its key."""
    # crc32, not hash(): the same key must land in the same shard in every process.
    return str(zlib.crc32(f"{key.pk}{REFERENCE_SEPARATOR}{key.sk}".encode()) % SWEEP_SHARDS)
