"""End to end through the sandbox: real workers, emulator, fake vendors; assertions on both sides.

One pipeline serves the module (see conftest): each test uses its own events, fans and sale times,
and starts and ends with the pipeline idle and without faults.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

from sandbox.api_calls import email_sends
from sandbox.demo.catalogue import MONTREAL, TORONTO
from sandbox.demo.plan import next_tick
from sandbox.pipeline import Pipeline
from sandbox.vendors import Effect, discovery_event, status_event
from tests.sandbox.e2e.flows import (
    SUPPRESSED_ARTIST,
    Fan,
    e2e_marks,
    far_sale_time,
    notification,
    now_utc,
    opt_in,
    run_window,
    seed_event,
    short_url,
    wait_done,
)
from workers.notification_send.pacing import VENDOR_CALL_ATTEMPTS
from workers.shared.keys import notification_reference
from workers.shared.models import NotificationRecord, StatusDates, StatusStamp, notification_key
from workers.shared.parking import parked_record
from workers.shared.statuses import NotificationStatus

pytestmark = e2e_marks("e2e-reminders")

SEND_ON_FAILURE = "prd3292-local-us-east-1-ntfcn-snd-on-failure"
STATUS_ON_FAILURE = "prd3292-local-us-east-1-sms-status-on-failure"


def test_reminders_go_out_by_sms_and_email_in_every_locale_when_the_window_opens(pipeline: Pipeline) -> None:
    # Given three events whose sales open in the next scheduler window (Chicago, Montréal, Toronto)
    tick = next_tick(pipeline.clock.now_datetime())
    window = tick + timedelta(
        minutes=int(pipeline.function_variable("notification_scheduler", "LEAD_MINUTES"))
    )
    chicago = seed_event(pipeline, "E2eHappyChi", sales=[(None, window + timedelta(minutes=5))])
    montreal = seed_event(
        pipeline,
        "E2eHappyMtl",
        sales=[("Prévente American Express®", window + timedelta(minutes=10))],
        venue=MONTREAL,
        artist="Les Misérables",
        locale="fr-ca",
        market="TM_CA",
    )
    toronto = seed_event(
        pipeline,
        "E2eHappyTor",
        sales=[("Artist Presale", window + timedelta(minutes=15))],
        venue=TORONTO,
        artist="The Lumineers",
        market="TM_CA",
    )
    # And fans of each, by SMS and email, in en-us, fr-ca and en-ca
    fans = [
        Fan("e2e-happy-1", "E2eHappyChi", chicago[None], phone="+13125550101", email="ava@fans.example.com"),
        Fan(
            "e2e-happy-2",
            "E2eHappyMtl",
            montreal["Prévente American Express®"],
            phone="+15145550102",
            email="elodie@fans.example.com",
            locale="fr-ca",
            market="TM_CA",
        ),
        Fan(
            "e2e-happy-3",
            "E2eHappyTor",
            toronto["Artist Presale"],
            phone="+14165550103",
            locale="en-ca",
            market="TM_CA",
        ),
        Fan(
            "e2e-happy-4",
            "E2eHappyTor",
            toronto["Artist Presale"],
            email="leo@fans.example.com",
            locale="en-ca",
        ),
    ]
    opt_in(pipeline, fans)
    assert pipeline.sandbox.wait_until_idle(deadline=20)
    pipeline.start_counting_api_calls()

    # When the clock reaches the half hour (EventBridge fires the scheduler)
    pipeline.clock.advance_to(tick)

    # Then every reminder reaches its terminal state: SMS delivered, email accepted by SES
    keys = [
        fan.key(method)
        for fan in fans
        for method, address in (("sms", fan.phone), ("email", fan.email))
        if address
    ]
    items = wait_done(pipeline, keys)
    assert {key.sk.rsplit("#", 1)[-1]: item["status"]["id"] for key, item in items.items()} == {
        "sms": "DELIVERED",
        "email": "TRIGGERED",
    }
    assert [items[key]["status"]["id"] for key in keys].count("DELIVERED") == 3
    delivered = items[fans[0].key("sms")]
    assert set(delivered["date"]) >= {"created", "triggered", "queued", "sent", "delivered"}
    assert delivered["sendAttempts"] == 1 and delivered["errors"] == []
    # And the SMS service received one message per SMS reminder, in the fan's language
    sms_fans = [fan for fan in fans if fan.phone]
    assert {fan.reference(): pipeline.vendors.sms.accepted_for(fan.reference()) for fan in sms_fans} == {
        fan.reference(): 1 for fan in sms_fans
    }
    french = pipeline.vendors.sms.messages[fans[1].reference()]
    assert french["to"] == "+15145550102" and "Les Misérables" in french["body"]
    assert "Ticketmaster" in pipeline.vendors.sms.messages[fans[0].reference()]["body"]
    # And SES got one templated email per email reminder, with the template of the fan's locale
    sends = email_sends(pipeline.api_calls().email_bodies)
    template = "prd3292-local-us-east-1-sale-reminder-{}".format
    assert {(recipient, name): count for (recipient, name, _), count in sends.items()} == {
        ("ava@fans.example.com", template("en-us")): 1,
        ("elodie@fans.example.com", template("fr-ca")): 1,
        ("leo@fans.example.com", template("en-ca")): 1,
    }


def test_a_suppressed_artist_and_a_registration_sale_produce_no_reminder(pipeline: Pipeline) -> None:
    # Given an event by a suppressed artist and a registration "sale", both starting in a window
    starts = far_sale_time(pipeline)
    suppressed = seed_event(
        pipeline, "E2eSuppArt", sales=[(None, starts)], artist_id=SUPPRESSED_ARTIST, artist="Static Prophets"
    )
    registration = seed_event(pipeline, "E2eSuppReg", sales=[("Verified Fan Registration", starts)])
    fans = [
        Fan("e2e-supp-1", "E2eSuppArt", suppressed[None], phone="+13125550111", email="a@fans.example.com"),
        Fan("e2e-supp-2", "E2eSuppReg", registration["Verified Fan Registration"], phone="+13125550112"),
    ]
    opt_in(pipeline, fans)
    # When the window is run
    summary = run_window(pipeline, starts)
    # Then the scheduler drops both, with their reasons, and nothing is created or sent
    assert (summary["eventsSuppressed"], summary["salesSuppressed"], summary["jobsEnqueued"]) == (1, 1, 0)
    assert pipeline.sandbox.wait_until_idle(deadline=20)
    assert all(notification(pipeline, fan.key(method)) is None for fan in fans for method in ("sms", "email"))
    assert all(pipeline.vendors.sms.requests_for(fan.reference()) == 0 for fan in fans)
    # And the suppressed event never got a short URL (Bitly was not asked)
    assert short_url(pipeline, "E2eSuppArt") is None and pipeline.vendors.bitly.calls_for("E2eSuppArt") == 0


def test_an_invalid_number_fails_at_once_without_a_retry(pipeline: Pipeline) -> None:
    # Given a fan whose number is malformed and one whose number is not in service
    starts = far_sale_time(pipeline)
    sales = seed_event(pipeline, "E2eInvalid", sales=[(None, starts)])
    malformed = Fan("e2e-invalid-1", "E2eInvalid", sales[None], phone="(312) 555-0121")
    unassigned = Fan("e2e-invalid-2", "E2eInvalid", sales[None], phone="+13125550122")
    pipeline.vendors.sms.unassigned_numbers.add("+13125550122")
    opt_in(pipeline, [malformed, unassigned])
    # When the window is run
    run_window(pipeline, starts)
    items = wait_done(pipeline, [malformed.key("sms"), unassigned.key("sms")])
    # Then both fail INVALID_NUMBER after one attempt
    for fan in (malformed, unassigned):
        item = items[fan.key("sms")]
        assert item["status"]["id"] == "FAILED" and item["sendAttempts"] == 1
        assert [error["reason"] for error in item["errors"]] == ["INVALID_NUMBER"]
        assert "retry" not in item["date"]
    # And the malformed one never reached the service; the other was refused once, never accepted
    assert pipeline.vendors.sms.requests_for(malformed.reference()) == 0
    assert pipeline.vendors.sms.requests_for(unassigned.reference()) == 1
    assert pipeline.vendors.sms.accepted_for(unassigned.reference()) == 0


def test_an_sms_service_error_is_retried_and_the_message_sent_once(pipeline: Pipeline) -> None:
    # Given the SMS service fails every request of the fan's first send call with a 503 (the call
    # asks again at once within its retry window: VENDOR_CALL_ATTEMPTS requests)
    starts = far_sale_time(pipeline)
    sales = seed_event(pipeline, "E2eRetry", sales=[(None, starts)])
    fan = Fan("e2e-retry-1", "E2eRetry", sales[None], phone="+13125550131")
    pipeline.vendors.faults["sms"].script(fan.reference(), *[Effect.SERVER_ERROR] * VENDOR_CALL_ATTEMPTS)
    opt_in(pipeline, [fan])
    # When the window is run
    run_window(pipeline, starts)
    item = wait_done(pipeline, [fan.key("sms")])[fan.key("sms")]
    # Then the reminder was retried after a backoff and delivered
    assert item["status"]["id"] == "DELIVERED" and item["sendAttempts"] == 2
    assert [(error["statusCode"], error["reason"]) for error in item["errors"]] == [
        (503, "SERVICE_UNAVAILABLE")
    ]
    assert "retry" in item["date"]
    # And the service saw the first call's requests and one more, and accepted one: one message sent
    assert pipeline.vendors.sms.requests_for(fan.reference()) == VENDOR_CALL_ATTEMPTS + 1
    assert pipeline.vendors.sms.accepted_for(fan.reference()) == 1


def test_an_sms_outage_longer_than_the_attempts_fails_the_reminder_after_three(pipeline: Pipeline) -> None:
    # Given the SMS service is down for the next ten sandbox minutes
    starts = far_sale_time(pipeline)
    sales = seed_event(pipeline, "E2eOutage", sales=[(None, starts)])
    fan = Fan("e2e-outage-1", "E2eOutage", sales[None], phone="+13125550141", email="outage@fans.example.com")
    opt_in(pipeline, [fan])
    now = pipeline.clock.now()
    pipeline.vendors.faults["sms"].outage(now, now + 600)
    # When the window is run
    run_window(pipeline, starts)
    items = wait_done(pipeline, [fan.key("sms"), fan.key("email")])
    # Then the SMS fails with the service's reason after exactly three attempts; the email still goes
    sms = items[fan.key("sms")]
    assert sms["status"]["id"] == "FAILED" and sms["sendAttempts"] == 3
    assert [error["reason"] for error in sms["errors"]] == ["SERVICE_UNAVAILABLE"] * 3
    assert items[fan.key("email")]["status"]["id"] == "TRIGGERED"
    # And the service saw three calls' requests and accepted none: no message, no duplicate
    assert pipeline.vendors.sms.requests_for(fan.reference()) == 3 * VENDOR_CALL_ATTEMPTS
    assert pipeline.vendors.sms.accepted_for(fan.reference()) == 0
    assert pipeline.dlq_depths()[SEND_ON_FAILURE] == 0


def _table_stream_records(pipeline: Pipeline, needle: str) -> list[dict[str, Any]]:
    kinesis = pipeline.clients.client("kinesis")
    stream = pipeline.sandbox.materialized.cdc_routes[0].kinesis_stream_arn.rsplit("/", 1)[-1]
    found: list[dict[str, Any]] = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            found += [
                {"Data": record["Data"], "PartitionKey": record["PartitionKey"]}
                for record in answer["Records"]
                if needle.encode() in record["Data"]
            ]
            if not answer["Records"]:
                break
            iterator = answer.get("NextShardIterator")
    return found


def test_replaying_the_table_stream_sends_nothing_twice(pipeline: Pipeline) -> None:
    # Given a fan reminded by SMS and email
    starts = far_sale_time(pipeline)
    sales = seed_event(pipeline, "E2eReplay", sales=[(None, starts)])
    fan = Fan("e2e-replay-1", "E2eReplay", sales[None], phone="+13125550151", email="replay@fans.example.com")
    opt_in(pipeline, [fan])
    run_window(pipeline, starts)
    wait_done(pipeline, [fan.key("sms"), fan.key("email")])
    assert pipeline.sandbox.wait_until_idle(deadline=20)
    ses = pipeline.clients.client("ses")
    emails_before = ses.get_send_quota()["SentLast24Hours"]
    # When every table-stream record of the event (its CREATED notifications included) is replayed
    records = _table_stream_records(pipeline, "E2eReplay")
    assert any(b'"CREATED"' in record["Data"] for record in records)
    stream = pipeline.sandbox.materialized.cdc_routes[0].kinesis_stream_arn.rsplit("/", 1)[-1]
    pipeline.clients.client("kinesis").put_records(StreamName=stream, Records=records)
    assert pipeline.sandbox.wait_until_idle(deadline=30)
    # Then the sender saw them again and sent nothing: one SMS, one email, statuses unchanged
    assert pipeline.vendors.sms.requests_for(fan.reference()) == 1
    assert pipeline.vendors.sms.accepted_for(fan.reference()) == 1
    assert ses.get_send_quota()["SentLast24Hours"] == emails_before
    item = notification(pipeline, fan.key("sms"))
    assert item is not None and item["status"]["id"] == "DELIVERED"
    assert pipeline.dlq_depths()[SEND_ON_FAILURE] == 0


def test_status_events_out_of_order_end_in_the_latest_status(pipeline: Pipeline) -> None:
    # Given the SMS service reports the fan's message delivered first, then sent, then queued
    starts = far_sale_time(pipeline)
    sales = seed_event(pipeline, "E2eOrder", sales=[(None, starts)])
    fan = Fan("e2e-order-1", "E2eOrder", sales[None], phone="+13125550161")
    pipeline.vendors.faults["sms"].script(fan.reference(), Effect.OUT_OF_ORDER)
    opt_in(pipeline, [fan])
    # When the window is run and every status event is consumed
    run_window(pipeline, starts)
    wait_done(pipeline, [fan.key("sms")])
    assert pipeline.sandbox.run_until(
        lambda: len(pipeline.vendors.publisher.history.get(fan.reference(), [])) == 3, deadline=20
    )
    assert pipeline.sandbox.wait_until_idle(deadline=20)
    # Then it stays DELIVERED, and the late statuses are kept as timestamps only
    assert pipeline.vendors.publisher.history[fan.reference()] == ["DELIVERED", "SENT", "QUEUED"]
    item = notification(pipeline, fan.key("sms"))
    assert item is not None and item["status"]["id"] == "DELIVERED"
    assert {"queued", "sent", "delivered"} <= set(item["date"])
    assert item["date"]["delivered"] <= item["date"]["sent"] <= item["date"]["queued"]


def _sent_notification(fan_id: str, event_id: str, message_id: str) -> dict[str, Any]:
    at = now_utc()
    record = NotificationRecord(
        fan_id=fan_id,
        event_id=event_id,
        sale_id="public",
        contact_method="sms",
        status=StatusStamp(id=NotificationStatus.TRIGGERED, date=at),
        date=StatusDates(created=at, triggered=at),
        send_attempts=1,
        message_id=message_id,
        phone_number="+13125550171",
        message_body="Presale reminder",
        sale_start_date_time=at,
    )
    return record.to_item()


def test_a_malformed_status_record_is_parked_whole_while_its_neighbours_apply(
    pipeline: Pipeline,
) -> None:
    # Given two sent SMS reminders
    pipeline.put_items(
        [
            _sent_notification("e2e-bad-1", "E2eBad", "SMbad1"),
            _sent_notification("e2e-bad-2", "E2eBad", "SMbad2"),
        ]
    )
    first = notification_reference(notification_key("e2e-bad-1", "E2eBad", "public", "sms"))
    second = notification_reference(notification_key("e2e-bad-2", "E2eBad", "public", "sms"))
    # When the status stream carries their delivery with an unreadable record between them
    at = now_utc()
    records = [
        {
            "Data": json.dumps(
                status_event(message_id="SMbad1", reference=first, status="delivered", at=at)
            ).encode(),
            "PartitionKey": "a",
        },
        {"Data": b"\x00 not a status event", "PartitionKey": "a"},
        {
            "Data": json.dumps(
                status_event(message_id="SMbad2", reference=second, status="delivered", at=at)
            ).encode(),
            "PartitionKey": "a",
        },
    ]
    discarded_before = pipeline.sandbox.counters()["sms_status_consumer"].records_discarded
    answer = pipeline.clients.client("kinesis").put_records(
        StreamName=pipeline.status_stream, Records=records
    )
    malformed_sequence = answer["Records"][1]["SequenceNumber"]
    # Then both neighbours are delivered
    key_1, key_2 = (
        notification_key("e2e-bad-1", "E2eBad", "public", "sms"),
        notification_key("e2e-bad-2", "E2eBad", "public", "sms"),
    )
    items = wait_done(pipeline, [key_1, key_2])
    assert {item["status"]["id"] for item in items.values()} == {"DELIVERED"}
    # And the malformed record is parked in the on-failure queue at once, whole: its data, why, where
    assert pipeline.sandbox.run_until(lambda: pipeline.dlq_depths()[STATUS_ON_FAILURE] == 1, deadline=20)
    sqs = pipeline.clients.client("sqs")
    url = pipeline.queue_url(STATUS_ON_FAILURE)
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert message["MessageAttributes"]["dmdParked"]["StringValue"] == "1"
    parked = parked_record(message["Body"])
    assert parked is not None
    assert parked.worker == "sms_status_consumer"
    assert parked.reason.error_type == "RecordError"
    assert parked.source.sequence_number == malformed_sequence
    assert (parked.source.event_source_arn or "").endswith(pipeline.status_stream)
    assert base64.b64decode(parked.record["kinesis"]["data"]) == b"\x00 not a status event"
    # And no retry or discard was spent on it: the shard went on without waiting
    assert pipeline.sandbox.counters()["sms_status_consumer"].records_discarded == discarded_before
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])  # handled: leave it clean


def test_event_details_come_from_discovery_once_then_from_the_cache(pipeline: Pipeline) -> None:
    # Given an event Discovery knows and the cache does not
    starts = far_sale_time(pipeline)
    pipeline.vendors.discovery.add(
        discovery_event(
            event_id="E2eDetails",
            name="Maren Holloway Live",
            artist_id="K8vE2eDet",
            artist="Maren Holloway",
            venue=TORONTO,
            starts=starts + timedelta(days=30),
            sales=[],
        )
    )
    arguments = {"eventId": "E2eDetails", "tmMarketId": "TM_CA"}
    # When eventDetails is queried twice
    miss = pipeline.sandbox.query("eventDetails", arguments)
    assert pipeline.item("event:E2eDetails", "event#details") is not None
    hit = pipeline.sandbox.query("eventDetails", arguments)
    # Then Discovery was called once; both answers are the event, cached in the demand table
    assert pipeline.vendors.discovery.calls_for("E2eDetails") == 1
    assert (
        miss["data"]["eventDetails"]["eventName"]
        == hit["data"]["eventDetails"]["eventName"]
        == "Maren Holloway Live"
    )
    assert (
        hit["data"]["eventDetails"]["venueCity"] == "Toronto"
        and hit["data"]["eventDetails"]["locale"] == "en-ca"
    )
    # And an id Discovery does not know is a GraphQL error naming it, for a client that asks for
    # GraphQL errors
    unknown = pipeline.sandbox.query("eventDetails", {"eventId": "E2eNoSuchEvent", "errorMode": "GRAPHQL"})
    assert unknown["data"] is None
    assert unknown["errors"][0]["errorType"] == "EventNotFoundError"
    assert "E2eNoSuchEvent" in unknown["errors"][0]["message"]
    # And an `error` object naming it for a client of the original shape (the default)
    legacy = pipeline.sandbox.query("eventDetails", {"eventId": "E2eNoSuchEvent"})
    assert "errors" not in legacy
    failure = legacy["data"]["eventDetails"]["error"]
    assert failure["type"] == "EventNotFoundError" and "E2eNoSuchEvent" in failure["message"]
