"""End to end through the sandbox: no reminder waits for a short URL, none leaves after its sale opened.

The module runs its own pipeline (see conftest). Sale times are on the sandbox clock, which runs
ahead of the wall clock the workers read: a sale that has not opened on the sandbox clock has not
opened for the workers either.
"""

from __future__ import annotations

from datetime import timedelta

from sandbox.pipeline import Pipeline
from tests.sandbox.e2e.flows import (
    Fan,
    e2e_marks,
    notification,
    now_utc,
    opt_in,
    run_window,
    seed_event,
    short_url,
    wait_done,
)
from workers.shared.models import NotificationRecord

pytestmark = e2e_marks("e2e-never-late")

# Far enough ahead for the pipeline to finish on a busy machine (45 real seconds at the e2e speed of
# 20), well before the generation queue would hand a failed job back (its 30-minute visibility).
OPENS_IN = timedelta(minutes=15)


def expire_event_cache(pipeline: Pipeline, event_id: str) -> None:
    """Remove the cached event as its TTL does: the sales stay, the event (and its short URL) go."""
    pipeline.clients.client("dynamodb").delete_item(
        TableName=pipeline.table_name,
        Key={"PK": {"S": f"event:{event_id}"}, "SK": {"S": "event#details"}},
    )


def test_an_expired_event_cache_with_bitly_down_still_gets_its_reminders_before_the_sale_opens(
    pipeline: Pipeline,
) -> None:
    # Given a sale opening in 15 minutes with a fan by SMS and email, whose event's cache entry has
    # expired (its short URL went with it)
    starts = pipeline.clock.now_datetime().replace(microsecond=0) + OPENS_IN
    sales = seed_event(pipeline, "E2eLateBitly", sales=[(None, starts)], artist="Aya")
    fan = Fan("e2e-late-1", "E2eLateBitly", sales[None], phone="+13125550181", email="mia@fans.example.com")
    opt_in(pipeline, [fan])
    expire_event_cache(pipeline, "E2eLateBitly")
    assert pipeline.sandbox.wait_until_idle(deadline=20)
    # And Bitly is down for the next 10 minutes (the shortener's queue retries cannot beat the sale)
    now = pipeline.clock.now()
    pipeline.vendors.bitly.faults.outage(now, now + 600)

    # When the scheduler's window reaches the sale (it re-caches the event without a short URL)
    run_window(pipeline, starts)

    # Then both reminders reach their end before the sale opens: the generator did not wait
    items = wait_done(pipeline, [fan.key("sms"), fan.key("email")], deadline=40)
    assert pipeline.clock.now_datetime() < starts
    assert (items[fan.key("sms")]["status"]["id"], items[fan.key("email")]["status"]["id"]) == (
        "DELIVERED",
        "TRIGGERED",
    )
    # And they carry the event's full URL, which still fits the SMS in one segment
    event = pipeline.item("event:E2eLateBitly", "event#details")
    assert event is not None and "shortUrl" not in event
    assert pipeline.vendors.sms.messages[fan.reference()]["body"].endswith(event["url"])
    assert items[fan.key("email")]["templateVariables"]["url"] == event["url"]


def test_an_expired_event_cache_is_shortened_on_the_spot_and_reminded_before_the_sale_opens(
    pipeline: Pipeline,
) -> None:
    # Given a sale opening in 15 minutes with an SMS fan, whose event's cache entry has expired
    starts = pipeline.clock.now_datetime().replace(microsecond=0) + OPENS_IN
    sales = seed_event(pipeline, "E2eLateShort", sales=[(None, starts)], artist="Aya")
    fan = Fan("e2e-late-2", "E2eLateShort", sales[None], phone="+13125550182")
    opt_in(pipeline, [fan])
    expire_event_cache(pipeline, "E2eLateShort")
    assert pipeline.sandbox.wait_until_idle(deadline=20)

    # When the scheduler's window reaches the sale (it re-caches the event without a short URL)
    run_window(pipeline, starts)

    # Then the reminder is delivered before the sale opens, with the event's new short URL
    item = wait_done(pipeline, [fan.key("sms")], deadline=40)[fan.key("sms")]
    assert pipeline.clock.now_datetime() < starts
    assert item["status"]["id"] == "DELIVERED"
    link = short_url(pipeline, "E2eLateShort")
    assert link is not None and pipeline.vendors.sms.messages[fan.reference()]["body"].endswith(link)


def test_a_reminder_of_a_sale_that_already_opened_ends_expired_and_is_never_sent(pipeline: Pipeline) -> None:
    # Given an SMS reminder created before its sale, whose sale opened 30 minutes ago by the
    # workers' clock (its trigger came late: a stream backlog, a long outage)
    opened = now_utc() - timedelta(minutes=30)
    reminder = NotificationRecord.created(
        at=opened - timedelta(minutes=20),
        fan_id="e2e-late-3",
        event_id="E2eLateOpened",
        sale_id="public",
        contact_method="sms",
        phone_number="+13125550183",
        message_body="Heads up! Tickets for Aya go on sale 10:00 AM CST. Get tickets with Ticketmaster: https://bit.ly/x",
        sale_start_date_time=opened,
    )

    # When it reaches the sender through the table's stream
    pipeline.put_items([reminder.to_item()])

    # Then it ends EXPIRED with its reason, and the SMS service never heard of it
    item = wait_done(pipeline, [reminder.key])[reminder.key]
    assert item["status"]["id"] == "EXPIRED"
    assert [error["reason"] for error in item["errors"]] == ["SALE_ALREADY_STARTED"]
    assert "expired" in item["date"] and "triggered" not in item["date"]
    assert pipeline.vendors.sms.requests_for(reminder.reference) == 0
    # And nothing moves it again: the pipeline settles with it EXPIRED
    assert pipeline.sandbox.wait_until_idle(deadline=20)
    assert (notification(pipeline, reminder.key) or {}).get("status", {}).get("id") == "EXPIRED"
