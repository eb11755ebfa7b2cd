"""TM Publish: tell Ticketmaster which events reminders are suppressed for, as an event extension."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from workers.shared.errors import SecretError
from workers.shared.models import EventRecord, format_timestamp
from workers.shared.vendor_http import VendorClient, secret_value

VENDOR = "tm-publish"
# The extension the demand-capture product owns on an event; replaced whole on every publish.
EXTENSION = "demand-capture-suppression"
API_KEY_FIELD = "apiKey"  # the key's field in the TM Publish secret
API_KEY_HEADER = "x-api-key"  # how the key is sent (the API Gateway usage-plan key, as for Accounts)


class SuppressionExtension(BaseModel):
    """The body of `PUT /events/{eventId}/extensions/demand-capture-suppression`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    event_id: str = Field(min_length=1)
    is_suppressed: bool
    reason: str | None = None
    published_at: str


class PublishClient:
    """Publishes an event's suppression status to the TM Publish API (an idempotent PUT)."""

    def __init__(self, vendor: VendorClient) -> None:
        self._vendor = vendor

    def publish_suppression(self, event: EventRecord, *, at: datetime) -> SuppressionExtension:
        """PUT the event's suppression extension; RetryableVendorError or PermanentVendorError on failure."""
        extension = SuppressionExtension(
            event_id=event.id,
            is_suppressed=event.is_suppressed,
            reason=event.suppression_reason,
            published_at=format_timestamp(at),
        )
        self._vendor.request(
            "PUT",
            f"/events/{event.id}/extensions/{EXTENSION}",
            json=extension.model_dump(by_alias=True, exclude_none=True),
        )
        return extension


def publish_api_key(secret_arn: str) -> str:
    """The API key in the TM Publish secret (`{"apiKey": "..."}`)."""
    value = secret_value(secret_arn).get(API_KEY_FIELD)
    if not isinstance(value, str) or not value:
        raise SecretError(f"secret {secret_arn} has no apiKey")
    return value
