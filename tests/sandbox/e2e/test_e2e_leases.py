"""End to end, claims are leases and nothing waits on a lost trigger (docs/notification-send.md).

A send invocation that dies between its claim and its outcome, and a table-stream record the send
trigger discards, each leave a notification waiting with nothing to bring it back; the sweeper (on
its schedule, every sandbox minute) hands it back to the sender, and it is delivered exactly once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import urllib3

from sandbox.pipeline import Pipeline
from sandbox.vendors import SMS_API_KEY
from tests.sandbox.e2e.flows import e2e_marks, e2e_pipeline, now_utc, sweeper_paused, wait_done, waiting_sms
from workers.shared.models import NotificationRecord, format_timestamp
from workers.shared.sms_service import IDEMPOTENCY_KEY_HEADER, idempotency_key
from workers.shared.statuses import NotificationStatus

pytestmark = e2e_marks("e2e-leases")

SEND_WORKER = "notification_send"
SWEEPER = "notification_sweeper"
RECORD_AGE_JUMP = timedelta(seconds=3601)  # past the local stack's send trigger maximumRecordAgeSeconds


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    """The local stack with fake vendors; the sweeper's schedule fires every sandbox minute (3 s here)."""
    with e2e_pipeline(speed=20.0) as running:
        yield running


def post_like_the_sender(pipeline: Pipeline, record: NotificationRecord) -> str:
    """The dying invocation's vendor call (the sender's body and Idempotency-Key); the messageId."""
    body = {"to": record.phone_number, "body": record.message_body, "reference": record.reference}
    answer = urllib3.PoolManager().request(
        "POST",
        f"{pipeline.vendors.sms.url}/v1/messages",
        body=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "x-api-key": SMS_API_KEY,
            IDEMPOTENCY_KEY_HEADER: idempotency_key(record.reference),
        },
    )
    assert answer.status == 202, answer.data
    message_id: str = json.loads(answer.data)["messageId"]
    return message_id


def copied_to_stream(pipeline: Pipeline, record: NotificationRecord) -> bool:
    """Whether the CDC tailer has put the record's change into the table's Kinesis stream."""
    return any((entry.pk, entry.sk) == record.key for entry in pipeline.ledger.entries())


def status_of(pipeline: Pipeline, record: NotificationRecord) -> str:
    item = pipeline.item(record.key.pk, record.key.sk)
    assert item is not None
    return str(item["status"]["id"])


@contextmanager
def send_trigger_disabled(pipeline: Pipeline) -> Iterator[None]:
    """The send worker's event-source mapping disabled, then enabled (as `update-event-source-mapping`)."""
    poller = pipeline.sandbox.pollers[SEND_WORKER]
    poller.mapping = dataclasses.replace(poller.mapping, enabled=False)
    try:
        yield
    finally:
        poller.mapping = dataclasses.replace(poller.mapping, enabled=True)


def test_a_claim_abandoned_mid_send_is_released_and_delivered_exactly_once(pipeline: Pipeline) -> None:
    # Given a reminder a send invocation claimed ten minutes ago, then died right after the SMS
    # service took the message (its lease ended a minute ago; no outcome was ever written)
    now = now_utc()
    record = waiting_sms(
        "e2e-lease-dead",
        "+13125550191",
        event_id="E2eLeases",
        sale_name="Lease Presale",
        created=now - timedelta(minutes=10),
    )
    first_message = post_like_the_sender(pipeline, record)
    lease_end = now - timedelta(minutes=1)
    invocations_before = pipeline.sandbox.counters()[SWEEPER].invocations
    pipeline.put_items(
        [
            {
                **record.to_item(),
                "claimId": "dead-invocation",
                "claimedAt": format_timestamp(now - timedelta(minutes=10)),
                "claimExpiresAt": format_timestamp(lease_end),
                "sweepAt": format_timestamp(lease_end),
            }
        ]
    )

    # When the sweeper's schedule runs (the claimed record itself is filtered out of the send trigger)
    done = wait_done(pipeline, [record.key], deadline=60)[record.key]

    # Then the sweeper released it, the sender sent it again under the same Idempotency-Key, and
    # the service sent one SMS whose statuses took the reminder to DELIVERED
    assert pipeline.sandbox.counters()[SWEEPER].invocations > invocations_before
    assert done["status"]["id"] == NotificationStatus.DELIVERED.value
    assert done["messageId"] == first_message
    assert "retry" in done["date"]
    assert {"claimId", "claimExpiresAt", "sweepShard", "sweepAt"} & set(done) == set()
    assert pipeline.vendors.sms.accepted_for(record.reference) == 2
    assert pipeline.vendors.sms.sends_for(record.reference) == 1
    assert pipeline.vendors.sms.duplicates() == {}


def test_a_notification_whose_stream_record_was_discarded_is_sent_after_the_sweeper_releases_it(
    pipeline: Pipeline,
) -> None:
    # Given a reminder created ten minutes ago whose INSERT record waited in the table stream while
    # the send trigger was disabled, until it was older than the trigger's maximum record age
    record = waiting_sms(
        "e2e-lease-lost",
        "+13125550192",
        event_id="E2eLeases",
        sale_name="Lease Presale",
        created=now_utc() - timedelta(minutes=10),
    )
    discarded_before = pipeline.sandbox.counters()[SEND_WORKER].records_discarded
    with sweeper_paused(pipeline):
        with send_trigger_disabled(pipeline):
            pipeline.put_items([record.to_item()])
            assert pipeline.sandbox.run_until(lambda: copied_to_stream(pipeline, record), deadline=30)
            pipeline.clock.advance(RECORD_AGE_JUMP.total_seconds())
        # When the trigger reads the record again, it gives it up (RecordAgeExceeded)
        assert pipeline.sandbox.run_until(
            lambda: pipeline.sandbox.counters()[SEND_WORKER].records_discarded > discarded_before, deadline=30
        )
        # Then nothing else would ever send the reminder: it still waits, as it did before the sweeper
        assert status_of(pipeline, record) == NotificationStatus.CREATED.value

    # When the sweeper runs again
    done = wait_done(pipeline, [record.key], deadline=60)[record.key]

    # Then its release sent the reminder, once, to DELIVERED
    assert done["status"]["id"] == NotificationStatus.DELIVERED.value
    assert done["sendAttempts"] == 1
    assert pipeline.vendors.sms.sends_for(record.reference) == 1
    assert pipeline.vendors.sms.duplicates() == {}
