"""A fan's notifications as on-call reads them, and the operator's retry of a FAILED one.

`reading`: finding them (by key, a fan's, a sale's by index); `view`: what `dmd notifications show`
prints; `retry`: the one conditional write of `dmd notifications retry` and its refusals.
"""

from ops.notifications.reading import (
    NOTIFICATION_PREFIX,
    NotificationKeyError,
    UnreadNotificationsError,
    fan_notification_items,
    notification_item,
    notification_repository,
    parse_notification_key,
    read_items,
    sale_notification_keys,
)
from ops.notifications.retry import (
    RESET_ATTRIBUTES,
    SMS_DEDUPLICATION_WINDOW,
    RetryAssessment,
    RetryOutcome,
    RetryPolicy,
    RetryResult,
    assess_retry,
    count_outcomes,
    dry_run_result,
    not_found,
    retry_notification,
    unspent_attempts,
    utc_now,
)
from ops.notifications.view import (
    ErrorEntry,
    HistoryEntry,
    NotificationView,
    mask_recipient,
    notification_view,
    status_history,
)

__all__ = [
    "NOTIFICATION_PREFIX",
    "RESET_ATTRIBUTES",
    "SMS_DEDUPLICATION_WINDOW",
    "ErrorEntry",
    "HistoryEntry",
    "NotificationKeyError",
    "NotificationView",
    "RetryAssessment",
    "RetryOutcome",
    "RetryPolicy",
    "RetryResult",
    "UnreadNotificationsError",
    "assess_retry",
    "count_outcomes",
    "dry_run_result",
    "fan_notification_items",
    "mask_recipient",
    "not_found",
    "notification_item",
    "notification_repository",
    "notification_view",
    "parse_notification_key",
    "read_items",
    "retry_notification",
    "sale_notification_keys",
    "status_history",
    "unspent_attempts",
    "utc_now",
]
