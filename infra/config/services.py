"""Settings of what the workers call and report to: vendor APIs, SES, business rules, observability."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from infra.config.base import StackModel

SMS_APP_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class SmsAppIds(StackModel):
    """The SMS service's app id of each notification type (sent as `appId`, stored on the notification)."""

    notification: str = Field(default="dmd-reminders", pattern=SMS_APP_ID)
    """App id of `notification` reminders."""
    asu: str = Field(default="dmd-reminders-asu", pattern=SMS_APP_ID)
    """App id of `notification:asu` reminders."""

    def by_type(self) -> dict[str, str]:
        """App id by notification `type`: the sender's SMS_APP_IDS."""
        return {"notification": self.notification, "notification:asu": self.asu}


class VendorSettings(StackModel):
    """Where the vendor APIs live and which roles sign calls to them."""

    sms_service_url: str = "https://sms.example.invalid"
    """Base URL of the internal SMS service."""
    sms_service_role_arn: str | None = None
    """Role assumed to SigV4-sign SMS service calls."""
    sms_app_ids: SmsAppIds = SmsAppIds()
    """The SMS service's app ids by notification type (`vendors.smsAppIds`, below)."""
    bitly_url: str = "https://api-ssl.bitly.com/v4"
    """Bitly v4 API base URL."""
    bitly_group_guid: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$")
    """Bitly group of the fleet's links ("" = the token's default); shared by every worker that shortens."""
    discovery_url: str = "https://app.ticketmaster.com/discovery/v2"
    """Ticketmaster Discovery API v2 base URL."""
    accounts_url: str = "https://accounts.example.invalid"
    """TM Accounts API base URL."""
    accounts_role_arn: str | None = None
    """Role assumed to SigV4-sign Accounts API calls."""
    publish_url: str = "https://publish.example.invalid"
    """TM Publish API base URL (called by `dmd suppression publish`, not by a worker)."""

    @field_validator("sms_service_role_arn", "accounts_role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$", value):
            raise ValueError(f"{value!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
        return value

    @field_validator("sms_service_url", "bitly_url", "discovery_url", "accounts_url", "publish_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")


class EmailSettings(StackModel):
    """SES sender identity and templates."""

    from_address: str = Field(default="reminders@example.com", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    """SES sender address (a verified identity)."""
    identity_domain: str = Field(default="example.com", pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")
    """SES identity the sender belongs to (IAM is scoped to it)."""
    locales: tuple[Literal["en-us", "en-ca", "fr-ca"], ...] = ("en-us", "en-ca", "fr-ca")
    """Locales with an SES template."""


class BusinessRules(StackModel):
    """Suppression rules shared by the workers that normalize events."""

    suppressed_artist_ids: tuple[str, ...] = ()
    """Discovery attraction ids whose events never notify."""
    allowed_countries: tuple[str, ...] = ("US", "CA")
    """Venue countries that notify (others are suppressed)."""
    allowed_classifications: tuple[str, ...] = ("music", "theatre")
    """Event segments that notify (others are suppressed)."""


class ObservabilitySettings(StackModel):
    """Tracing, metrics and runbook links."""

    otel_collector_endpoint: str | None = None
    """OTLP/HTTP collector for traces; unset = tracing is a no-op."""
    metrics_namespace: str = Field(default="DmdWorkers", pattern=r"^[A-Za-z0-9/_.#:-]{1,255}$")
    """CloudWatch namespace of the custom (EMF) metrics."""
    runbook_base_url: str = "https://git.tmaws.io/demand-capture/workers/-/blob/main/docs/runbooks.md"
    """Where alarm descriptions link to (docs/runbooks.md)."""

    @field_validator("otel_collector_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+(:\d+)?/?$", value):
            raise ValueError(f"{value!r} is not an OTLP/HTTP collector endpoint like http://host:4318")
        return value
