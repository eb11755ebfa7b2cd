"""Lambda entry point of notification_send: table-stream batches of CREATED/RETRY notifications."""

from __future__ import annotations

import functools
import time
from typing import Any

from workers.notification_send.breaker import SendBreaker
from workers.notification_send.channels import Channel, EmailChannel, SmsChannel
from workers.notification_send.logic import NotificationSender
from workers.notification_send.models import SendPolicy
from workers.notification_send.pacing import (
    VENDOR_CALL_ATTEMPTS,
    VENDOR_CALL_BACKOFF_SECONDS,
    VENDOR_RETRY_WINDOW_SECONDS,
    TimeBudget,
    due_first,
    send_reserve_seconds,
)
from workers.notification_send.settings import SendSettings
from workers.shared.clients import demand_repository
from workers.shared.models import ContactMethod
from workers.shared.observability import instrumented
from workers.shared.parking import record_parking
from workers.shared.records import ChangeRecord, parse_change_record, process_batch
from workers.shared.settings import load_settings
from workers.shared.sms_service import SmsServiceClient


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Send each CREATED/RETRY notification of the batch; records not handled come back as failures."""
    settings = load_settings(SendSettings)  # validated once; SettingsError names the variable
    budget = TimeBudget.of_invocation(
        context, reserve_seconds=send_reserve_seconds(settings.vendor_timeout_seconds)
    )
    sender = NotificationSender(
        demand_repository(settings),
        _channels(settings),
        policy=SendPolicy(
            max_attempts=settings.max_send_attempts, backoff_base_seconds=settings.retry_backoff_seconds
        ),
        budget=budget,
        late_grace=settings.late_grace,
        release_after=settings.release_after,
        breakers=_breakers(settings),
    )

    def handle(change: ChangeRecord) -> None:
        sender.handle(change)  # logic.py: no env, no event shapes

    return process_batch(
        due_first(event, now=time.time()),
        context,
        event_type="KinesisDataStreams",
        parser=parse_change_record,
        record_handler=handle,
        parking=record_parking(settings.service_name, settings.parking_queue_url),
    )


@functools.cache
def _channels(settings: SendSettings) -> dict[ContactMethod, Channel]:
    # Cached per process: the SMS signer keeps its assumed-role credentials between invocations.
    sms = SmsServiceClient(
        settings.sms_service_url,
        secret_arn=settings.sms_service_secret_arn,
        region=settings.aws_region,
        role_arn=settings.sms_service_role_arn,
        timeout_seconds=settings.vendor_timeout_seconds,
        max_attempts=VENDOR_CALL_ATTEMPTS,
        backoff_base=VENDOR_CALL_BACKOFF_SECONDS,
        retry_window_seconds=VENDOR_RETRY_WINDOW_SECONDS,
    )
    email = EmailChannel(
        from_address=settings.email_from_address, template_prefix=settings.email_template_prefix
    )
    return {ContactMethod.SMS: SmsChannel(sms, settings.sms_app_ids), ContactMethod.EMAIL: email}


@functools.cache
def _breakers(settings: SendSettings) -> dict[ContactMethod, SendBreaker]:
    # Cached per process: the environment outlives its invocations, and so does what it learnt of a vendor.
    return {
        method: SendBreaker(
            method.value, failures_to_open=settings.breaker_failures, cooldown=settings.breaker_cooldown
        )
        for method in ContactMethod
    }
