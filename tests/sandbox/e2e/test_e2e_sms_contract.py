"""End to end, the SMS contract (docs/contracts/sms.md): status events as the service sends them, and
no second SMS when a retry follows an answer that never arrived; status events delivered twice and
out of order (the `sms-duplicate-status` and `sms-out-of-order` drills).

The module runs its own pipeline with a one-second vendor timeout, so a lost answer costs a second.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from sandbox.pipeline import STATUS_WORKER, Pipeline, PipelineMode
from sandbox.vendors import Effect, parse_faults
from tests.sandbox.e2e.flows import (
    E2E_OVERRIDES,
    FAST_STATUSES,
    Fan,
    e2e_marks,
    far_sale_time,
    notification,
    opt_in,
    run_window,
    seed_event,
    wait_done,
)

pytestmark = e2e_marks("e2e-sms-contract")

STATUS_ON_FAILURE = "prd3292-local-us-east-1-sms-status-on-failure"


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    """The local stack with fake vendors, a one-second SMS timeout (the fake holds a lost answer past it)."""
    with Pipeline(
        mode=PipelineMode.PRIVATE,
        speed=20.0,
        environment_overrides={**E2E_OVERRIDES, "VENDOR_TIMEOUT_SECONDS": "1"},
        status_delays=FAST_STATUSES,
        seed=7,
    ) as running:
        yield running


def status_stream_events(pipeline: Pipeline, message_id: str) -> list[dict[str, Any]]:
    """Every event of the SMS status stream naming `message_id`, as written (decoded JSON)."""
    kinesis = pipeline.clients.client("kinesis")
    found: list[dict[str, Any]] = []
    for shard in kinesis.list_shards(StreamName=pipeline.status_stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=pipeline.status_stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            found += [json.loads(record["Data"]) for record in answer["Records"]]
            if not answer["Records"]:
                break
            iterator = answer.get("NextShardIterator")
    return [event for event in found if event.get("messageId") == message_id]


def test_status_events_in_the_services_example_shape_move_the_reminder_to_delivered(
    pipeline: Pipeline,
) -> None:
    # Given a fan reminded by SMS, and an SMS service that publishes its statuses as its documented
    # example does: messageId, upper-case status, timestamp, and no reference
    starts = far_sale_time(pipeline)
    sales = seed_event(pipeline, "E2eSmsShape", sales=[(None, starts)])
    fan = Fan("e2e-shape-1", "E2eSmsShape", sales[None], phone="+13125550181")
    opt_in(pipeline, [fan])

    # When the window is run and the statuses are consumed
    run_window(pipeline, starts)
    item = wait_done(pipeline, [fan.key("sms")])[fan.key("sms")]

    # Then the notification, found by its messageId alone, is DELIVERED with every status's time
    assert item["status"]["id"] == "DELIVERED"
    assert {"triggered", "queued", "sent", "delivered"} <= set(item["date"])
    events = status_stream_events(pipeline, item["messageId"])
    assert [event["status"] for event in events] == ["QUEUED", "SENT", "DELIVERED"]
    assert all(set(event) == {"messageId", "status", "timestamp"} for event in events)


def test_a_lost_answer_then_retry_sends_one_sms_and_the_reminder_still_ends_delivered(
    pipeline: Pipeline,
) -> None:
    # Given an SMS service that takes the fan's first request, sends the SMS, and answers too late
    starts = far_sale_time(pipeline)
    sales = seed_event(pipeline, "E2eLostAnswer", sales=[(None, starts)])
    fan = Fan("e2e-lost-1", "E2eLostAnswer", sales[None], phone="+13125550182")
    pipeline.vendors.faults["sms"].script(fan.reference(), Effect.LOST_ANSWER)
    opt_in(pipeline, [fan])

    # When the window is run (the send times out, is retried after its backoff with the same key)
    run_window(pipeline, starts)
    item = wait_done(pipeline, [fan.key("sms")])[fan.key("sms")]

    # Then the service took two requests and sent one SMS, whose id the retry learned
    sms = pipeline.vendors.sms
    assert sms.requests_for(fan.reference()) == sms.accepted_for(fan.reference()) == 2
    assert sms.sends_for(fan.reference()) == 1 and sms.duplicates() == {}
    assert item["messageId"] == sms.message_ids[fan.reference()]
    assert item["sendAttempts"] == 2
    assert [error["reason"] for error in item["errors"]] == ["no response within 1 s"]
    # And the statuses the service published before the retry were held, then applied by it
    assert item["status"]["id"] == "DELIVERED"
    assert {"queued", "sent", "delivered"} <= set(item["date"])
    held = pipeline.item(f"message:{item['messageId']}", "sms")
    assert held is not None and held["reference"] == fan.reference()
    assert {"heldQueued", "heldSent", "heldDelivered"} <= set(held)
    # And nothing was retried to exhaustion on the status stream
    assert pipeline.dlq_depths()[STATUS_ON_FAILURE] == 0
    assert pipeline.sandbox.counters()["sms_status_consumer"].records_discarded == 0


def test_a_service_that_does_not_deduplicate_would_send_the_retry_as_a_second_sms(
    pipeline: Pipeline,
) -> None:
    # Given the same lost answer from a service that ignores Idempotency-Key
    starts = far_sale_time(pipeline)
    sales = seed_event(pipeline, "E2eNoDedup", sales=[(None, starts)])
    fan = Fan("e2e-nodedup-1", "E2eNoDedup", sales[None], phone="+13125550183")
    pipeline.vendors.faults["sms"].script(fan.reference(), Effect.LOST_ANSWER)
    pipeline.vendors.sms.deduplicate = False
    try:
        opt_in(pipeline, [fan])

        # When the window is run
        run_window(pipeline, starts)
        item = wait_done(pipeline, [fan.key("sms")])[fan.key("sms")]
    finally:
        pipeline.vendors.sms.deduplicate = True

    # Then the fan got two SMS (what docs/contracts/sms.md says happens without the guarantee),
    # and the reminder follows the second message, whose id the retry got
    sms = pipeline.vendors.sms
    assert sms.sends_for(fan.reference()) == 2 and sms.duplicates() == {fan.reference(): 1}
    assert item["status"]["id"] == "DELIVERED" and item["sendAttempts"] == 2
    assert item["messageId"] != sms.message_ids[fan.reference()]  # not the first message's id


def test_statuses_delivered_twice_and_out_of_order_leave_each_reminder_delivered_once(
    pipeline: Pipeline,
) -> None:
    # Given an SMS service that reverses half of the messages' statuses and publishes every status
    # event twice, the copy after the next status (the `--faults` drill)
    starts = far_sale_time(pipeline)
    sales = seed_event(pipeline, "E2eStatusDrill", sales=[(None, starts)])
    fans = [Fan(f"e2e-drill-{n}", "E2eStatusDrill", sales[None], phone=f"+1312555019{n}") for n in range(6)]
    pipeline.vendors.configure_faults(parse_faults("sms-out-of-order=0.5,sms-duplicate-status=1"))
    consumer = pipeline.sandbox.counters()[STATUS_WORKER]
    opt_in(pipeline, fans)

    # When the window is run and every status event (copies included) has been consumed
    run_window(pipeline, starts)
    wait_done(pipeline, [fan.key("sms") for fan in fans])
    publisher = pipeline.vendors.publisher
    assert pipeline.sandbox.run_until(
        lambda: all(len(publisher.history.get(fan.reference(), [])) == 6 for fan in fans), deadline=30
    )
    assert pipeline.sandbox.wait_until_idle(deadline=30)

    # Then both faults were injected: reversed histories and duplicated events on the stream
    histories = {fan.reference(): publisher.history[fan.reference()] for fan in fans}
    firsts = {reference: _first_appearances(history) for reference, history in histories.items()}
    assert set(firsts.values()) == {("QUEUED", "SENT", "DELIVERED"), ("DELIVERED", "SENT", "QUEUED")}
    assert all(_copies_come_late(history) for history in histories.values()), histories
    sms = pipeline.vendors.sms
    for fan in fans:
        item = notification(pipeline, fan.key("sms"))
        assert item is not None
        events = status_stream_events(pipeline, item["messageId"])
        assert [event["status"] for event in events] == histories[fan.reference()]
        # And each reminder was sent once and ends DELIVERED, with every status's time: the late
        # SENT after DELIVERED kept as a timestamp only, the duplicate DELIVERED changing nothing
        assert sms.sends_for(fan.reference()) == 1 and item["sendAttempts"] == 1
        assert item["status"]["id"] == "DELIVERED"
        assert {"queued", "sent", "delivered"} <= set(item["date"])
        delivered = {event["timestamp"] for event in events if event["status"] == "DELIVERED"}
        assert len(delivered) == 1 and _same_moment(item["date"]["delivered"], delivered.pop())
    assert not {fan.reference() for fan in fans} & set(sms.duplicates())
    # And every event was handled as a success: nothing retried, discarded or dead-lettered
    after = pipeline.sandbox.counters()[STATUS_WORKER]
    assert after.records_processed - consumer.records_processed >= 6 * len(fans)
    assert after.records_failed == consumer.records_failed
    assert after.records_discarded == consumer.records_discarded
    assert pipeline.dlq_depths()[STATUS_ON_FAILURE] == 0
    counters = pipeline.vendors.counters()["sms"]
    assert counters["faultsInjected"]["duplicate-status"] >= len(fans)
    assert sum(counters["statusEventsDuplicated"].values()) >= 3 * len(fans)


def _same_moment(stored: str, published: str) -> bool:
    """Whether two ISO timestamps (the table's and the event's) name the same millisecond."""
    return datetime.fromisoformat(stored.replace("Z", "+00:00")) == datetime.fromisoformat(
        published.replace("Z", "+00:00")
    )


def _first_appearances(history: list[str]) -> tuple[str, ...]:
    """The statuses in the order of their first publication."""
    return tuple(dict.fromkeys(history))


def _copies_come_late(history: list[str]) -> bool:
    """Each status published exactly twice, its copy after the first publication of the next one."""
    order = _first_appearances(history)
    if any(history.count(status) != 2 for status in order):
        return False
    second = {status: len(history) - 1 - history[::-1].index(status) for status in order}
    return all(second[status] > history.index(following) for status, following in itertools.pairwise(order))
