"""End to end, poison records: a malformed notification on the table stream is parked, its shard moves on.

A notification item the send trigger's filter passes (type, status CREATED, no claim) but the
sender's model rejects can never succeed. The sender parks it whole in its on-failure queue and
reports it handled: the other reminders written with it are sent at once, nothing waits for
Lambda's retries or bisection, and `dmd replay --from-failures` can re-drive it once fixed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from sandbox.pipeline import Pipeline
from tests.sandbox.e2e.flows import e2e_marks, e2e_pipeline, now_utc, wait_done
from workers.shared.models import NotificationRecord
from workers.shared.parking import PARKED_ATTRIBUTE, parked_record
from workers.shared.statuses import NotificationStatus

pytestmark = e2e_marks("e2e-poison")

SEND_WORKER = "notification_send"
SEND_ON_FAILURE = "prd3292-local-us-east-1-ntfcn-snd-on-failure"


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    """The local stack with fake vendors, a sandbox minute every 3 real seconds."""
    with e2e_pipeline(speed=20.0) as running:
        yield running


def reminder(fan_id: str, phone: str) -> NotificationRecord:
    """An SMS reminder the generator just wrote, its sale days ahead."""
    return NotificationRecord.created(
        at=now_utc(),
        fan_id=fan_id,
        event_id="E2ePoison",
        sale_id="E2ePoison-presale",
        sale_name="Poison Presale",
        contact_method="sms",
        phone_number=phone,
        message_body="Reminder! Tickets for Poison Presale go on sale at 10:00 AM CST: https://bit.ly/e2ePoison",
        sale_start_date_time=now_utc().replace(microsecond=0) + timedelta(days=3),
    )


def malformed(record: NotificationRecord) -> dict[str, Any]:
    """The reminder's item with a contact method the sender's model rejects (the filter does not look)."""
    item = record.to_item()
    item["contactMethod"] = "carrier-pigeon"
    for key in ("sweepShard", "sweepAt"):  # out of the pending index: only the stream carries it
        item.pop(key, None)
    return item


def parked_messages(pipeline: Pipeline) -> list[dict[str, Any]]:
    """The on-failure queue's messages, read without hiding them (visibility 0)."""
    answer = pipeline.clients.client("sqs").receive_message(
        QueueUrl=pipeline.queue_url(SEND_ON_FAILURE),
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
        MessageAttributeNames=["All"],
    )
    return list(answer.get("Messages", []))


def test_a_malformed_notification_is_parked_and_the_rest_of_its_shard_is_sent_without_retries(
    pipeline: Pipeline,
) -> None:
    # Given three good reminders and a malformed one written together onto the table stream
    good = [reminder(f"e2e-poison-{number}", f"+1312555018{number}") for number in range(3)]
    poison = reminder("e2e-poison-bad", "+13125550189")
    before = pipeline.sandbox.counters()[SEND_WORKER]
    pipeline.put_items([good[0].to_item(), malformed(poison), good[1].to_item(), good[2].to_item()])

    # When the sender's trigger delivers them
    done = wait_done(pipeline, [record.key for record in good], deadline=40)

    # Then every good reminder was sent once and delivered
    assert {item["status"]["id"] for item in done.values()} == {NotificationStatus.DELIVERED.value}
    assert [pipeline.vendors.sms.sends_for(record.reference) for record in good] == [1, 1, 1]

    # And the malformed one was parked in the sender's on-failure queue, not retried nor discarded
    assert pipeline.sandbox.run_until(lambda: bool(parked_messages(pipeline)), deadline=20)
    after = pipeline.sandbox.counters()[SEND_WORKER]
    assert (
        after.records_failed - before.records_failed,
        after.records_discarded - before.records_discarded,
    ) == (
        0,
        0,
    )
    (message,) = parked_messages(pipeline)
    assert message["MessageAttributes"][PARKED_ATTRIBUTE]["StringValue"] == "1"
    parked = parked_record(message["Body"])
    assert parked is not None
    assert (parked.worker, parked.reason.error_type) == (SEND_WORKER, "RecordError")
    assert "contactMethod" in parked.reason.message

    # And the parked message holds the record itself: the change with the malformed image, its position
    change = json.loads(base64.b64decode(parked.record["kinesis"]["data"]))
    assert change["dynamodb"]["NewImage"]["contactMethod"] == {"S": "carrier-pigeon"}
    assert change["dynamodb"]["Keys"]["PK"] == {"S": poison.key.pk}
    assert parked.source.sequence_number == parked.record["kinesis"]["sequenceNumber"]
    assert parked.source.shard_id and parked.source.event_source_arn
    assert pipeline.vendors.sms.sends_for(poison.reference) == 0
