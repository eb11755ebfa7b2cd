"""Environment of the notification sender, exactly as infra declares it (access grants + SendTunables)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, Field

from workers.notification_send.models import SmsAppIds
from workers.shared.settings import StreamWorkerSettings, TableSettings, decoded_json

SECRET_ARN_PATTERN = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$"  # noqa: S105 - a pattern
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$"


class SendSettings(TableSettings, StreamWorkerSettings):
    """Table, SMS service, SES sender and the send tunables (attempts, backoff, vendor timeout, breaker)."""

    sms_service_url: str = Field(pattern=r"^https?://[^\s/]+")
    sms_service_secret_arn: str = Field(pattern=SECRET_ARN_PATTERN)
    # Only stacks whose SMS service authorizes IAM principals set a role (local does not).
    sms_service_role_arn: str | None = Field(default=None, pattern=ROLE_ARN_PATTERN)
    # JSON, e.g. {"notification": "...", "notification:asu": "..."}: every type the sender sends.
    # Decoded by the field, so a decoding error is reported by SettingsError naming the variable.
    sms_app_ids: Annotated[SmsAppIds, BeforeValidator(decoded_json)]
    email_from_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    email_template_prefix: str = Field(min_length=1)
    # No defaults: infra renders every tunable, so a missing one is a deployment defect to report.
    max_send_attempts: int = Field(ge=1, le=10)
    retry_backoff_seconds: int = Field(ge=0, le=900)
    vendor_timeout_seconds: int = Field(ge=1, le=30)
    late_grace_minutes: int = Field(ge=0, le=1440)
    release_after_minutes: int = Field(ge=1, le=1440)
    breaker_failures: int = Field(ge=1, le=100)
    breaker_cooldown_seconds: int = Field(ge=1, le=60)

    @property
    def late_grace(self) -> timedelta:
        """How long after its sale's start a reminder may still leave."""
        return timedelta(minutes=self.late_grace_minutes)

    @property
    def breaker_cooldown(self) -> timedelta:
        """How long a channel's sends first wait once its breaker opens."""
        return timedelta(seconds=self.breaker_cooldown_seconds)

    @property
    def release_after(self) -> timedelta:
        """How long past its due time a waiting notification is left to the stream before the sweeper's."""
        return timedelta(minutes=self.release_after_minutes)
