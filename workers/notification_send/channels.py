"""The two ways a reminder leaves: the internal SMS service and SES templated email."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as TransportError
from pydantic import ValidationError

from workers.notification_send.models import Accepted, InvalidRecipientError, SmsAppIds
from workers.shared.clients import ses
from workers.shared.errors import PermanentVendorError, RetryableVendorError, VendorError
from workers.shared.messages import SmsSendRequest
from workers.shared.models import NotificationRecord
from workers.shared.observability import (
    EMAIL_ACCEPTED,
    EMAIL_FAILED,
    LOGGER,
    SMS_ACCEPTED,
    SMS_FAILED,
)
from workers.shared.sms_service import NO_RESPONSE_REASON, SmsServiceClient
from workers.shared.sms_service import reason_code as sms_reason_code

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

SES = "ses"
INVALID_NUMBER = "INVALID_NUMBER"

# SES SendTemplatedEmail errors by botocore error code. "Paused" is an account or configuration
# state an operator resolves, not a verdict on the fan, so it is retried like throttling.
SES_ERRORS: Mapping[str, type[VendorError]] = {
    "MessageRejected": PermanentVendorError,
    "MailFromDomainNotVerifiedException": PermanentVendorError,
    "TemplateDoesNotExist": PermanentVendorError,
    "ConfigurationSetDoesNotExist": PermanentVendorError,
    "InvalidParameterValue": PermanentVendorError,
    "Throttling": RetryableVendorError,
    "ThrottlingException": RetryableVendorError,
    "ServiceUnavailable": RetryableVendorError,
    "InternalFailure": RetryableVendorError,
    "RequestTimeout": RetryableVendorError,
    "AccountSendingPausedException": RetryableVendorError,
    "ConfigurationSetSendingPausedException": RetryableVendorError,
}


class Channel(Protocol):
    """Sends one notification; vendor failures are RetryableVendorError or PermanentVendorError."""

    accepted_metric: str
    failed_metric: str
    # Whether repeating a send is safe when its answer was lost (the vendor de-duplicates it): then
    # a lost answer on the last attempt earns one confirming request instead of ending FAILED.
    confirms_lost_answers: bool

    def preflight(self) -> None:
        """Fail now (before any claim) if credentials or configuration are unusable."""

    def send(self, notification: NotificationRecord) -> Accepted:
        """Hand the notification to the vendor."""
        ...

    def reason_code(self, error: VendorError | InvalidRecipientError) -> str:
        """A metric dimension value from a fixed vocabulary."""
        ...


class SmsChannel:
    """SMS through the internal SMS service (docs/contracts/sms.md), under its notification type's app id."""

    accepted_metric = SMS_ACCEPTED
    failed_metric = SMS_FAILED
    confirms_lost_answers = True  # the Idempotency-Key: a repeat of a taken request sends nothing

    def __init__(self, client: SmsServiceClient, app_ids: SmsAppIds) -> None:
        self._client = client
        self._app_ids = app_ids

    def preflight(self) -> None:
        """Resolve the API key and signing role before a claim is taken."""
        self._client.preflight()

    def send(self, notification: NotificationRecord) -> Accepted:
        """POST the pre-rendered body to the notification's phone number (idempotent per notification)."""
        app_id = self._app_ids.of_type(notification.type)
        try:
            request = SmsSendRequest(
                to=notification.phone_number or "",
                body=notification.message_body or "",
                reference=notification.reference,
                app_id=app_id,
            )
        except ValidationError:
            # The service would answer 400 INVALID_NUMBER; not asking it saves a doomed request.
            raise InvalidRecipientError(INVALID_NUMBER, "phoneNumber is not an E.164 number") from None
        accepted = self._client.send(request)
        return Accepted(message_id=accepted.message_id, app_id=app_id)

    def reason_code(self, error: VendorError | InvalidRecipientError) -> str:
        """The service's reason code (INVALID_NUMBER, BLOCKED, ...), else HTTP_<status>."""
        if isinstance(error, InvalidRecipientError):
            return error.reason
        return sms_reason_code(error)


class EmailChannel:
    """SES templated email: template `{prefix}-{locale}`, the notification's template variables as data."""

    accepted_metric = EMAIL_ACCEPTED
    failed_metric = EMAIL_FAILED
    confirms_lost_answers = False  # SES has no idempotency key

    def __init__(self, *, from_address: str, template_prefix: str, client: SESClient | None = None) -> None:
        self.from_address = from_address
        self.template_prefix = template_prefix
        self._client = client

    def preflight(self) -> None:
        """Nothing to resolve ahead: the function's role signs SES calls."""

    def template_name(self, notification: NotificationRecord) -> str:
        """The SES template of the notification's locale."""
        return f"{self.template_prefix}-{notification.locale}"

    def send(self, notification: NotificationRecord) -> Accepted:
        """SendTemplatedEmail; SES errors mapped by error code (SES_ERRORS), transport failures retryable."""
        client = self._client if self._client is not None else ses()
        try:
            response = client.send_templated_email(
                Source=self.from_address,
                Destination={"ToAddresses": [notification.email or ""]},
                Template=self.template_name(notification),
                TemplateData=json.dumps(notification.template_variables or {}, separators=(",", ":")),
            )
        except ClientError as error:
            raise _ses_error(error) from error
        except (TransportError, HTTPClientError) as error:
            raise RetryableVendorError(SES, f"no response ({type(error).__name__})") from error
        return Accepted(message_id=response["MessageId"])

    def reason_code(self, error: VendorError | InvalidRecipientError) -> str:
        """The SES error code when it is one we know, else HTTP_<status>."""
        if isinstance(error, InvalidRecipientError):
            return error.reason
        if error.reason in SES_ERRORS:
            return error.reason
        return f"HTTP_{error.status_code}" if error.status_code is not None else NO_RESPONSE_REASON


def _ses_error(error: ClientError) -> VendorError:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = str(details.get("Message", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    status_code = int(status) if status is not None else None
    kind = SES_ERRORS.get(code)
    if kind is None:
        # An unlisted code: SES failing (5xx) may pass, a rejected request (4xx) will not.
        failing = status_code is not None and status_code >= 500
        kind = RetryableVendorError if failing else PermanentVendorError
    LOGGER.warning("SES refused the email", extra={"ses_error": code, "ses_message": message[:200]})
    return kind(SES, code, status_code=status_code)
