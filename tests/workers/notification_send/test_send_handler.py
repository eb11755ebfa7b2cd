"""The sender end to end: stream batches through lambda_handler, moto DynamoDB/SES, a fake SMS service."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from send_builders import (
    SMS_APP_IDS,
    TableStream,
    batch,
    dynamodb_fails,
    email_notification,
    failure_ids,
    sequence_of,
    sms_notification,
    updates_key,
)

from sandbox.vendors import SmsService
from workers.notification_send.handler import lambda_handler
from workers.notification_send.pacing import VENDOR_CALL_ATTEMPTS
from workers.shared.clients import dynamodb
from workers.shared.keys import Key
from workers.shared.models import NotificationRecord, deserialize_item
from workers.shared.repository import DemandRepository
from workers.shared.sms_service import idempotency_key
from workers.shared.sms_status import DeliveryUpdate, hold_update
from workers.shared.statuses import NotificationStatus

pytestmark = [
    pytest.mark.usefixtures("send_env"),
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]
EventLoader = Callable[[str], dict[str, Any]]
Blobs = Callable[[], list[dict[str, Any]]]
Lines = Callable[[], list[dict[str, Any]]]


def now_utc() -> datetime:
    return datetime.now(UTC)


def stored(stream: TableStream, key: Key) -> NotificationRecord:
    return NotificationRecord.from_item(stream.item(key))


def metrics(blobs: list[dict[str, Any]]) -> dict[str, list[tuple[float, dict[str, str]]]]:
    """Metric name → [(value, extra dimensions)] from EMF documents."""
    found: dict[str, list[tuple[float, dict[str, str]]]] = {}
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            dimensions = {
                name: str(blob[name])
                for names in directive["Dimensions"]
                for name in names
                if name not in ("service", "environment")
            }
            for metric in directive["Metrics"]:
                values = blob[metric["Name"]]
                for value in values if isinstance(values, list) else [values]:
                    found.setdefault(metric["Name"], []).append((float(value), dimensions))
    return found


def put_new_image(record: dict[str, Any]) -> Key:
    """Store a sample record's new image, as the generator's write that produced it."""
    change = json.loads(base64.b64decode(record["kinesis"]["data"]))["dynamodb"]
    boto3.client("dynamodb").put_item(
        TableName="prd3292-test-us-east-1-demand-table", Item=change["NewImage"]
    )
    item = deserialize_item(change["Keys"])
    return Key(item["PK"], item["SK"])


def test_a_created_sms_is_sent_once_and_recorded_as_triggered(
    load_event: EventLoader,
    lambda_context: Any,
    stream: TableStream,
    sms_service: SmsService,
    emf_blobs: Blobs,
) -> None:
    # Given the generator's new SMS notification and its INSERT on the stream
    event = load_event("kinesis-dynamodb-insert.json")
    key = put_new_image(event["Records"][0])

    # When the sender handles the batch
    response = lambda_handler(event, lambda_context)

    # Then the service got one message for the notification's reference, and the record says so
    reference = f"{key.pk}|{key.sk}"
    assert response == {"batchItemFailures": []}
    assert sms_service.requests_for(reference) == 1
    record = stored(stream, key)
    assert record.status.id is NotificationStatus.TRIGGERED
    assert record.message_id == sms_service.message_ids[reference]
    assert record.send_attempts == 1
    assert record.claim_id is None
    assert record.date.triggered is not None
    # ... its TRIGGERED write does not wake the sender again, and the run is measured
    assert not stream.triggers_sender(stream.record(key))
    emitted = metrics(emf_blobs())
    assert emitted["SmsAccepted"] == [(1.0, {})]
    assert emitted["SendAttempts"] == [(1.0, {})]
    assert emitted["SaleToSendLatency"][0][0] > 0


def test_a_reminder_of_a_sale_that_already_started_expires_and_is_never_sent(
    lambda_context: Any,
    repository: DemandRepository,
    stream: TableStream,
    sms_service: SmsService,
    emf_blobs: Blobs,
) -> None:
    # Given an SMS reminder created for a sale that opened an hour ago (its trigger came late)
    notification = sms_notification(sale_start_date_time=datetime.now(UTC) - timedelta(hours=1))
    repository.create_notification(notification)

    # When the sender handles its INSERT
    response = lambda_handler(batch(stream.record(notification.key, event_name="INSERT")), lambda_context)

    # Then the SMS service never hears of it; the record is EXPIRED with its reason, and counted
    assert response == {"batchItemFailures": []}
    assert sms_service.requests_for(notification.reference) == 0
    record = stored(stream, notification.key)
    assert record.status.id is NotificationStatus.EXPIRED
    assert [error.reason for error in record.errors] == ["SALE_ALREADY_STARTED"]
    assert metrics(emf_blobs())["NotificationsExpired"] == [(1.0, {})]


def test_an_invalid_number_fails_at_once_with_one_request_and_no_retry(
    lambda_context: Any,
    repository: DemandRepository,
    stream: TableStream,
    sms_service: SmsService,
    emf_blobs: Blobs,
) -> None:
    # Given a notification to a number the service rejects
    notification = sms_notification(phone="+15555550100")
    repository.create_notification(notification)
    sms_service.unassigned_numbers.add("+15555550100")

    # When it is delivered
    response = lambda_handler(batch(stream.record(notification.key, event_name="INSERT")), lambda_context)

    # Then it failed for good after one request, with the reason recorded and counted
    assert failure_ids(response) == set()
    assert sms_service.requests_for(notification.reference) == 1
    record = stored(stream, notification.key)
    assert record.status.id is NotificationStatus.FAILED
    assert [(error.status_code, error.reason) for error in record.errors] == [(400, "INVALID_NUMBER")]
    assert record.send_attempts == 1
    assert not stream.triggers_sender(stream.record(notification.key))
    # And counted by reason, and once more with no dimension but service/environment (the alarmed total)
    assert metrics(emf_blobs())["SmsFailed"] == [(1.0, {"reason": "INVALID_NUMBER"}), (1.0, {})]


def test_a_quick_503_is_asked_again_in_the_same_call_and_accepted_exactly_once(
    lambda_context: Any, repository: DemandRepository, stream: TableStream, sms_service: SmsService
) -> None:
    # Given a notification and a service that answers its first request 503 at once
    notification = sms_notification()
    repository.create_notification(notification)
    sms_service.reply_next(SmsService.failure(503))

    # When it is delivered
    response = lambda_handler(batch(stream.record(notification.key, event_name="INSERT")), lambda_context)

    # Then the call repeated the request (same Idempotency-Key) within its retry window: one attempt
    # of the notification, two requests, one accepted message, no RETRY round through the stream
    assert failure_ids(response) == set()
    assert sms_service.requests_for(notification.reference) == 2
    assert sms_service.accepted_for(notification.reference) == 1
    record = stored(stream, notification.key)
    assert record.status.id is NotificationStatus.TRIGGERED
    assert record.send_attempts == 1
    assert not record.errors


def test_a_503_that_outlasts_the_call_is_retried_on_the_next_delivery_and_accepted_exactly_once(
    lambda_context: Any, repository: DemandRepository, stream: TableStream, sms_service: SmsService
) -> None:
    # Given a notification and a service that fails every request of the first call
    notification = sms_notification()
    repository.create_notification(notification)
    sms_service.reply_next(*[SmsService.failure(503)] * VENDOR_CALL_ATTEMPTS)

    # When it is delivered, then delivered again by its own RETRY write
    first = lambda_handler(batch(stream.record(notification.key, event_name="INSERT")), lambda_context)
    after_first = stored(stream, notification.key)
    retry_record = stream.record(notification.key)
    second = lambda_handler(batch(retry_record), lambda_context)

    # Then the first delivery left it in RETRY (claim released, error kept, backoff set) ...
    assert failure_ids(first) == failure_ids(second) == set()
    assert after_first.status.id is NotificationStatus.RETRY
    assert after_first.claim_id is None
    assert after_first.next_attempt_at is not None
    assert [(error.status_code, error.reason) for error in after_first.errors] == [
        (503, "Service Unavailable")
    ]
    assert stream.triggers_sender(retry_record)
    # ... and the second sent it: one request more, one accepted message
    assert sms_service.requests_for(notification.reference) == VENDOR_CALL_ATTEMPTS + 1
    assert sms_service.accepted_for(notification.reference) == 1
    record = stored(stream, notification.key)
    assert record.status.id is NotificationStatus.TRIGGERED
    assert record.send_attempts == 2
    assert record.message_id == sms_service.message_ids[notification.reference]


def test_an_outage_fails_the_notification_after_three_attempts_with_three_errors(
    lambda_context: Any,
    repository: DemandRepository,
    stream: TableStream,
    sms_service: SmsService,
    emf_blobs: Blobs,
) -> None:
    # Given a notification and a service down for good
    notification = sms_notification()
    repository.create_notification(notification)
    sms_service.faults.outage(0, math.inf)

    # When every write that wakes the sender is delivered to it
    record = stream.record(notification.key, event_name="INSERT")
    deliveries = 0
    while stream.triggers_sender(record) and deliveries < 10:
        assert failure_ids(lambda_handler(batch(record), lambda_context)) == set()
        deliveries += 1
        record = stream.record(notification.key)

    # Then it took three attempts (each of three requests within its call), each recorded, and ended FAILED
    assert deliveries == 3
    assert sms_service.requests_for(notification.reference) == 3 * VENDOR_CALL_ATTEMPTS
    final = stored(stream, notification.key)
    assert final.status.id is NotificationStatus.FAILED
    assert final.send_attempts == 3
    assert [error.status_code for error in final.errors] == [503, 503, 503]
    assert metrics(emf_blobs())["SmsFailed"] == [(1.0, {"reason": "MAX_SEND_ATTEMPTS_EXCEEDED"}), (1.0, {})]


def test_a_replayed_record_is_not_sent_again(
    lambda_context: Any,
    repository: DemandRepository,
    stream: TableStream,
    sms_service: SmsService,
    log_lines: Lines,
) -> None:
    # Given a CREATED notification's INSERT
    notification = sms_notification()
    repository.create_notification(notification)
    insert = stream.record(notification.key, event_name="INSERT")

    # When the same record is delivered twice (a retried batch or a stream replay)
    first = lambda_handler(batch(insert), lambda_context)
    second = lambda_handler(batch(insert), lambda_context)

    # Then one request reached the service and the replay was recognised, not failed
    assert failure_ids(first) == failure_ids(second) == set()
    assert sms_service.requests_for(notification.reference) == 1
    assert any(line["message"].startswith("Notification already claimed") for line in log_lines())


def test_a_crash_between_the_vendor_call_and_the_status_write_never_sends_twice(
    lambda_context: Any, repository: DemandRepository, stream: TableStream, sms_service: SmsService
) -> None:
    # Given a notification whose status write fails after the service accepted the message
    notification = sms_notification()
    repository.create_notification(notification)
    insert = stream.record(notification.key, event_name="INSERT")
    with dynamodb_fails(dynamodb(), updates_key(notification.key, status_write=True)) as refused:
        first = lambda_handler(batch(insert), lambda_context)

    # When Lambda delivers the failed record again
    second = lambda_handler(batch(insert), lambda_context)

    # Then the first delivery failed the record but kept its claim, and the redelivery sent nothing
    assert len(refused) == 1
    assert failure_ids(first) == {sequence_of(insert)}
    assert failure_ids(second) == set()
    assert sms_service.requests_for(notification.reference) == 1
    assert stored(stream, notification.key).claim_id is not None


def test_an_email_is_sent_with_its_locale_template_and_triggered_with_the_ses_message_id(
    load_event: EventLoader, lambda_context: Any, stream: TableStream
) -> None:
    # Given a French-Canadian email reminder in RETRY whose backoff has passed
    event = load_event("notification_send-email-retry.json")
    key = put_new_image(event["Records"][0])

    # When the sender handles its MODIFY
    response = lambda_handler(event, lambda_context)

    # Then SES sent the fr-ca template with the template variables, and its MessageId is recorded
    assert response == {"batchItemFailures": []}
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    (sent,) = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert sent.template == "prd3292-test-us-east-1-sale-reminder-fr-ca"
    assert sent.destinations == {"ToAddresses": ["fan@example.com"]}
    assert json.loads(sent.template_data)["artistName"] == "Beyoncé"
    record = stored(stream, key)
    assert record.status.id is NotificationStatus.TRIGGERED
    assert record.message_id == sent.id
    assert record.send_attempts == 2
    assert record.next_attempt_at is None


def test_an_email_without_its_locale_template_fails_as_rejected(
    lambda_context: Any, repository: DemandRepository, stream: TableStream, emf_blobs: Blobs
) -> None:
    # Given an email whose template SES does not have
    boto3.client("ses").delete_template(TemplateName="prd3292-test-us-east-1-sale-reminder-en-ca")
    notification = email_notification(locale="en-ca")
    repository.create_notification(notification)

    # When it is delivered
    lambda_handler(batch(stream.record(notification.key, event_name="INSERT")), lambda_context)

    # Then it failed for good with SES's error code
    record = stored(stream, notification.key)
    assert record.status.id is NotificationStatus.FAILED
    assert [(error.status_code, error.reason) for error in record.errors] == [(400, "TemplateDoesNotExist")]
    assert metrics(emf_blobs())["EmailFailed"] == [(1.0, {"reason": "TemplateDoesNotExist"}), (1.0, {})]


def test_a_mixed_batch_reports_exactly_the_failing_records(
    load_event: EventLoader, lambda_context: Any, stream: TableStream, sms_service: SmsService
) -> None:
    # Given a batch of: a sendable SMS, undecodable data, a notification without status, an event
    # record (not for this worker) and a sendable SMS whose claim DynamoDB refuses
    event = load_event("notification_send-mixed-batch.json")
    good, garbage, invalid, other, failing = event["Records"]
    good_key, failing_key = put_new_image(good), put_new_image(failing)

    # When the sender handles it
    with dynamodb_fails(dynamodb(), updates_key(failing_key, status_write=False)):
        response = lambda_handler(event, lambda_context)

    # Then exactly the undecodable, the invalid and the refused records come back for redelivery
    assert failure_ids(response) == {sequence_of(garbage), sequence_of(invalid), sequence_of(failing)}
    assert sequence_of(other) not in failure_ids(response)
    # ... and the good one was sent regardless
    assert stored(stream, good_key).status.id is NotificationStatus.TRIGGERED
    assert sms_service.requests_for(f"{good_key.pk}|{good_key.sk}") == 1
    assert sms_service.requests_for(f"{failing_key.pk}|{failing_key.sk}") == 0


def test_a_secret_without_an_api_key_fails_the_records_without_holding_a_claim(
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: Any,
    repository: DemandRepository,
    stream: TableStream,
    sms_service: SmsService,
) -> None:
    # Given a deployment whose sms-service secret lacks the API key
    broken = boto3.client("secretsmanager").create_secret(Name="prd3292-test/sms-broken", SecretString="{}")
    monkeypatch.setenv("SMS_SERVICE_SECRET_ARN", broken["ARN"])
    notification = sms_notification()
    repository.create_notification(notification)
    insert = stream.record(notification.key, event_name="INSERT")

    # When a notification is delivered
    response = lambda_handler(batch(insert), lambda_context)

    # Then the record is reported for redelivery, nothing was sent and no claim blocks a later send
    assert failure_ids(response) == {sequence_of(insert)}
    assert sms_service.sent == []
    record = stored(stream, notification.key)
    assert record.status.id is NotificationStatus.CREATED
    assert record.claim_id is None


@dataclass(frozen=True)
class ShortContext:
    """A Lambda context with only a few seconds left."""

    remaining_millis: int
    function_name: str = "prd3292-test-us-east-1-ntfcn-snd"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:prd3292-test-us-east-1-ntfcn-snd"
    )
    aws_request_id: str = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


def test_records_are_not_started_without_time_for_a_send_and_stay_unclaimed(
    repository: DemandRepository, stream: TableStream, sms_service: SmsService
) -> None:
    # Given an invocation with less time left than one send may need (2 s vendor timeout + 5 s)
    notification = sms_notification()
    repository.create_notification(notification)
    insert = stream.record(notification.key, event_name="INSERT")

    # When the batch is handled
    response = lambda_handler(batch(insert), ShortContext(remaining_millis=6_000))

    # Then the record is left for the next delivery, untouched
    assert failure_ids(response) == {sequence_of(insert)}
    assert sms_service.sent == []
    assert stored(stream, notification.key).claim_id is None


# ------------------------------------------------------------------------------------------------
# The SMS contract (docs/contracts/sms.md): app id by type, one idempotency key, held statuses
# ------------------------------------------------------------------------------------------------


def test_the_request_carries_the_app_id_of_the_notification_type_and_the_record_keeps_it(
    lambda_context: Any, repository: DemandRepository, stream: TableStream, sms_service: SmsService
) -> None:
    # Given an ASU reminder
    notification = sms_notification(type="notification:asu")
    repository.create_notification(notification)

    # When it is sent
    lambda_handler(batch(stream.record(notification.key, event_name="INSERT")), lambda_context)

    # Then the service was asked under the ASU app id (SMS_APP_IDS), which the record now names
    [request] = sms_service.sent
    assert request.json()["appId"] == SMS_APP_IDS["notification:asu"]
    assert stored(stream, notification.key).app_id == SMS_APP_IDS["notification:asu"]


def test_every_attempt_of_a_notification_carries_the_same_idempotency_key(
    lambda_context: Any, repository: DemandRepository, stream: TableStream, sms_service: SmsService
) -> None:
    # Given a notification whose first request fails with a 503
    notification = sms_notification()
    repository.create_notification(notification)
    sms_service.reply_next(SmsService.failure(503))

    # When it is delivered twice (the RETRY write brings it back)
    lambda_handler(batch(stream.record(notification.key, event_name="INSERT")), lambda_context)
    lambda_handler(batch(stream.record(notification.key)), lambda_context)

    # Then both requests named the notification by the same key, derived from its reference
    keys = [request.headers["Idempotency-Key"] for request in sms_service.sent]
    assert keys == [idempotency_key(notification.reference)] * 2
    assert keys[0] != idempotency_key(sms_notification("another-fan").reference)


def test_statuses_that_arrived_before_the_send_was_recorded_are_applied_right_after_it(
    lambda_context: Any,
    repository: DemandRepository,
    stream: TableStream,
    sms_service: SmsService,
    emf_blobs: Blobs,
) -> None:
    # Given statuses of the message the service is about to create, held by the status consumer
    # (after a lost answer the service sends, and reports, before the retry learns the id)
    notification = sms_notification()
    repository.create_notification(notification)
    message_id = "SM0000000001"  # the fake's first message
    held_at = now_utc()
    for status, seconds in (
        (NotificationStatus.QUEUED, 1),
        (NotificationStatus.SENT, 2),
        (NotificationStatus.DELIVERED, 3),
    ):
        hold_update(
            repository,
            DeliveryUpdate(
                message_id=message_id,
                status=status,
                at=held_at + timedelta(seconds=seconds),
                vendor_status=status.value,
            ),
        )

    # When the sender sends it and records the send
    lambda_handler(batch(stream.record(notification.key, event_name="INSERT")), lambda_context)

    # Then the held statuses were applied at once: DELIVERED, with the service's times
    assert sms_service.message_ids[notification.reference] == message_id
    record = stored(stream, notification.key)
    assert record.status.id is NotificationStatus.DELIVERED
    assert record.date.triggered is not None and record.date.delivered is not None
    assert record.date.delivered - held_at < timedelta(seconds=3, milliseconds=1)
    assert metrics(emf_blobs())["HeldStatusesApplied"] == [(3.0, {})]
