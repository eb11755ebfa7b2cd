"""The channels: SES errors typed by code (a table), transport failures, SMS addresses checked first."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from send_builders import SMS_APP_IDS, email_notification, sms_notification

from workers.notification_send.channels import SES_ERRORS, EmailChannel, SmsChannel
from workers.notification_send.models import InvalidRecipientError, SmsAppIds
from workers.shared.errors import PermanentVendorError, RetryableVendorError, VendorError
from workers.shared.messages import SmsSendAccepted, SmsSendRequest
from workers.shared.sms_service import SmsServiceClient

APP_IDS = SmsAppIds.model_validate(SMS_APP_IDS)


class RefusingSes:
    """An SES client whose SendTemplatedEmail raises `error` (what botocore raises for SES's answer)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def send_templated_email(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        raise self.error


def client_error(code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"{code} (test)"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "SendTemplatedEmail")


def email_channel(ses: RefusingSes) -> EmailChannel:
    return EmailChannel(
        from_address="reminders@example.com", template_prefix="prd3292-test-sale-reminder", client=ses
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "status", "error_type", "reason_code"),
    [
        ("MessageRejected", 400, PermanentVendorError, "MessageRejected"),
        (
            "MailFromDomainNotVerifiedException",
            400,
            PermanentVendorError,
            "MailFromDomainNotVerifiedException",
        ),
        ("TemplateDoesNotExist", 400, PermanentVendorError, "TemplateDoesNotExist"),
        ("ConfigurationSetDoesNotExist", 400, PermanentVendorError, "ConfigurationSetDoesNotExist"),
        ("InvalidParameterValue", 400, PermanentVendorError, "InvalidParameterValue"),
        ("Throttling", 400, RetryableVendorError, "Throttling"),
        ("ServiceUnavailable", 503, RetryableVendorError, "ServiceUnavailable"),
        ("InternalFailure", 500, RetryableVendorError, "InternalFailure"),
        ("AccountSendingPausedException", 400, RetryableVendorError, "AccountSendingPausedException"),
        ("SomethingNew", 502, RetryableVendorError, "HTTP_502"),
        ("AccessDenied", 403, PermanentVendorError, "HTTP_403"),
    ],
)
def test_ses_errors_are_typed_by_error_code(
    code: str, status: int, error_type: type[VendorError], reason_code: str
) -> None:
    # Given SES answering with this error
    channel = email_channel(RefusingSes(client_error(code, status)))

    # When an email is sent
    with pytest.raises(VendorError) as raised:
        channel.send(email_notification())

    # Then the error's class decides retry or failure, and the metric dimension stays in vocabulary
    assert type(raised.value) is error_type
    assert (raised.value.reason, raised.value.status_code) == (code, status)
    assert channel.reason_code(raised.value) == reason_code


def test_the_table_lists_the_errors_ses_documents_for_templated_email() -> None:
    import botocore.session

    operation = botocore.session.get_session().get_service_model("ses").operation_model("SendTemplatedEmail")
    documented = {shape.metadata["error"]["code"] for shape in operation.error_shapes}
    assert documented <= set(SES_ERRORS)


@pytest.mark.parametrize(
    "error",
    [
        ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com/"),
        EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com/"),
    ],
)
def test_no_answer_from_ses_is_retryable(error: Exception) -> None:
    channel = email_channel(RefusingSes(error))

    with pytest.raises(RetryableVendorError) as raised:
        channel.send(email_notification())

    assert raised.value.status_code is None
    assert channel.reason_code(raised.value) == "NO_RESPONSE"


def test_the_template_of_the_notification_locale_is_used() -> None:
    ses = RefusingSes(client_error("Throttling", 400))
    with pytest.raises(RetryableVendorError):
        email_channel(ses).send(email_notification(locale="fr-ca"))

    (call,) = ses.calls
    assert call["Template"] == "prd3292-test-sale-reminder-fr-ca"
    assert call["Source"] == "reminders@example.com"
    assert call["Destination"] == {"ToAddresses": ["fan@example.com"]}


@pytest.mark.parametrize("phone", ["5555550123", "+0555550123", "+1 555 555 0123", "tel:+15555550123"])
def test_an_sms_to_a_number_that_is_not_e164_is_invalid_without_asking_the_service(phone: str) -> None:
    # Given a client for a service that is never reached (nothing listens on the discard port)
    client = SmsServiceClient(
        "http://127.0.0.1:9",
        secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
        region="us-east-1",
    )

    # When a notification with a malformed number is sent
    with pytest.raises(InvalidRecipientError) as raised:
        SmsChannel(client, APP_IDS).send(sms_notification(phone=phone))

    # Then it is INVALID_NUMBER, the service's own code
    assert raised.value.reason == "INVALID_NUMBER"
    assert SmsChannel(client, APP_IDS).reason_code(raised.value) == "INVALID_NUMBER"


class RecordingSmsClient:
    """An SMS service client that records the requests it is asked to send and accepts them."""

    def __init__(self) -> None:
        self.requests: list[SmsSendRequest] = []

    def send(self, request: SmsSendRequest) -> SmsSendAccepted:
        self.requests.append(request)
        return SmsSendAccepted(message_id=f"SM{len(self.requests):010d}")


@pytest.mark.parametrize(
    ("notification_type", "app_id"),
    [("notification", "dmd-reminders-test"), ("notification:asu", "dmd-reminders-asu-test")],
)
def test_the_app_id_is_chosen_by_the_notification_type(notification_type: str, app_id: str) -> None:
    # Given a notification of this type (whatever app id an older writer left on it)
    client = RecordingSmsClient()
    notification = sms_notification(type=notification_type, app_id="left-by-someone-else")

    # When it is sent
    accepted = SmsChannel(client, APP_IDS).send(notification)  # type: ignore[arg-type]

    # Then the request names the type's configured app id, and the acceptance carries it to the record
    [request] = client.requests
    assert request.app_id == app_id and accepted.app_id == app_id
    assert request.reference == notification.reference


def test_an_unknown_notification_type_has_no_app_id() -> None:
    with pytest.raises(ValueError, match="no SMS app id for notification type 'test-notification'"):
        APP_IDS.of_type("test-notification")
