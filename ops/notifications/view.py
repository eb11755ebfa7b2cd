"""A notification as on-call reads it: status, attempts, vendor ids, last error, status history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ops.operator_io import JsonModel
from workers.shared.keys import Key
from workers.shared.models import ContactMethod
from workers.shared.notification_store import CLAIM_LEASE
from workers.shared.statuses import NotificationStatus


class HistoryEntry(JsonModel):
    """One status the notification reached, and when (the last time, for a status reached twice)."""

    status: str
    at: str


class ErrorEntry(JsonModel):
    """One entry of the notification's error history."""

    status_code: int | None = None
    reason: str
    timestamp: str | None = None
    answer_lost: bool | None = None


class NotificationView(JsonModel):
    """What on-call needs of one notification: status, attempts, vendor ids, last error, history."""

    pk: str
    sk: str
    fan_id: str | None
    event_id: str | None
    sale_id: str | None
    sale_name: str | None
    contact_method: str | None
    type: str | None
    status: str | None
    status_at: str | None
    send_attempts: int
    sms_message_id: str | None  # the SMS service's messageId
    ses_message_id: str | None  # SES's MessageId of an email
    app_id: str | None
    recipient: str | None  # masked: enough to recognise, not to copy
    sale_start_date_time: str | None
    next_attempt_at: str | None
    claim_id: str | None
    claimed_at: str | None
    claim_expires_at: str | None
    sweep_at: str | None  # on the pending index: when the sweeper may hand it back to the sender
    last_error: ErrorEntry | None
    history: tuple[HistoryEntry, ...]
    errors: tuple[ErrorEntry, ...]

    @property
    def key(self) -> Key:
        """Its table key."""
        return Key(self.pk, self.sk)


def notification_view(item: Mapping[str, Any]) -> NotificationView:
    """A notification item as on-call reads it; lenient, so that a malformed item can still be looked at."""
    status = _mapping(item.get("status"))
    method = _text(item.get("contactMethod"))
    message_id = _text(item.get("messageId"))
    errors = tuple(_error_entry(entry) for entry in item.get("errors") or [] if isinstance(entry, dict))
    return NotificationView(
        pk=str(item.get("PK")),
        sk=str(item.get("SK")),
        fan_id=_text(item.get("fanId")),
        event_id=_text(item.get("eventId")),
        sale_id=_text(item.get("saleId")),
        sale_name=_text(item.get("saleName")),
        contact_method=method,
        type=_text(item.get("type")),
        status=_text(status.get("id")),
        status_at=_text(status.get("date")),
        send_attempts=int(item.get("sendAttempts") or 0),
        sms_message_id=message_id if method == ContactMethod.SMS.value else None,
        ses_message_id=message_id if method == ContactMethod.EMAIL.value else None,
        app_id=_text(item.get("appId")),
        recipient=mask_recipient(_text(item.get("phoneNumber")) or _text(item.get("email"))),
        sale_start_date_time=_text(item.get("saleStartDateTime")),
        next_attempt_at=_text(item.get("nextAttemptAt")),
        claim_id=_text(item.get("claimId")),
        claimed_at=_text(item.get("claimedAt")),
        claim_expires_at=_text(item.get(CLAIM_LEASE)),
        sweep_at=_text(item.get("sweepAt")),
        last_error=errors[-1] if errors else None,
        history=status_history(_mapping(item.get("date"))),
        errors=errors,
    )


def status_history(dates: Mapping[str, Any]) -> tuple[HistoryEntry, ...]:
    """The `date` map as a timeline: oldest first, lifecycle order between equal times."""
    order = {status.date_attribute: index for index, status in enumerate(NotificationStatus)}
    stamps = sorted(
        ((str(at), order.get(name, len(order)), name) for name, at in dates.items() if at is not None),
    )
    return tuple(HistoryEntry(status=name.upper(), at=at) for at, _, name in stamps)


def mask_recipient(address: str | None) -> str | None:
    """`+13125550181` → `+1••••••0181`, `mia@fans.example.com` → `m••@fans.example.com`."""
    if not address:
        return None
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}••@{domain}"
    return f"{address[:2]}{'•' * max(len(address) - 6, 1)}{address[-4:]}"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _error_entry(entry: Mapping[str, Any]) -> ErrorEntry:
    code = entry.get("statusCode")
    return ErrorEntry(
        status_code=int(code) if isinstance(code, int | float) else None,
        reason=str(entry.get("reason", "")),
        timestamp=_text(entry.get("timestamp")),
        answer_lost=entry.get("answerLost") if isinstance(entry.get("answerLost"), bool) else None,
    )
