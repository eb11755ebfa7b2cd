"""TM Publish: an event's suppression status goes out as one idempotent PUT of its extension."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sandbox.vendors import Effect, Reply, Route, VendorRequest, VendorServer
from workers.shared.errors import PermanentVendorError, RetryableVendorError
from workers.shared.models import EventRecord
from workers.shared.publish import EXTENSION, PublishClient
from workers.shared.vendor_http import VendorClient

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class FakePublish(VendorServer):
    """TM Publish on the vendor fakes' HTTP plumbing: accepts every extension PUT."""

    vendor = "tm-publish"

    def route(self, request: VendorRequest) -> Route | Reply:
        return Route(request.path, None)

    def decide(self, request: VendorRequest, key: str | None) -> tuple[Reply, Effect | None]:
        return Reply(200, {"status": "ok"}), None


@pytest.fixture
def publish() -> Iterator[FakePublish]:
    server = FakePublish()
    server.start()
    yield server
    server.stop()


def client(server: FakePublish) -> PublishClient:
    vendor = VendorClient(server.origin, name="tm-publish", max_attempts=2, sleep=lambda _seconds: None)
    return PublishClient(vendor)


def event(*, suppressed: bool, reason: str | None = None) -> EventRecord:
    return EventRecord(
        id="vvG1zZ9abc",
        name="Tour",
        url="https://www.ticketmaster.com/e",
        timezone="America/New_York",
        country_code="US",
        is_suppressed=suppressed,
        suppression_reason=reason,
        expires_at=1,
    )


def test_a_suppressed_event_is_published_with_its_reason(publish: FakePublish) -> None:
    # Given an event suppressed for its artist
    record = event(suppressed=True, reason="artist K8vZ9171o_0 is suppressed")

    # When its status is published
    client(publish).publish_suppression(record, at=AT)

    # Then one PUT replaces the product's extension on that event
    (request,) = publish.requests
    assert (request.method, request.path) == ("PUT", f"/events/vvG1zZ9abc/extensions/{EXTENSION}")
    assert request.json() == {
        "eventId": "vvG1zZ9abc",
        "isSuppressed": True,
        "reason": "artist K8vZ9171o_0 is suppressed",
        "publishedAt": "2026-11-28T12:00:00.000Z",
    }


def test_an_unsuppressed_event_is_published_without_a_reason(publish: FakePublish) -> None:
    # When an event that notifies is published
    client(publish).publish_suppression(event(suppressed=False), at=AT)

    # Then the body says so and carries no reason
    assert publish.requests[0].json() == {
        "eventId": "vvG1zZ9abc",
        "isSuppressed": False,
        "publishedAt": "2026-11-28T12:00:00.000Z",
    }


def test_a_server_error_is_retried_because_the_put_is_idempotent(publish: FakePublish) -> None:
    # Given one 503 before the API recovers
    publish.reply_next(Reply(503, {"message": "busy"}))

    # When the status is published
    client(publish).publish_suppression(event(suppressed=True), at=AT)

    # Then the same PUT was repeated once
    assert len(publish.requests) == 2


def test_a_rejected_event_is_a_permanent_error_and_an_outage_a_retryable_one(publish: FakePublish) -> None:
    # Given an API that refuses the event, then one that is down
    publish.reply_next(Reply(404, {"message": "event not found"}))

    # Then the refusal is permanent, with the API's reason
    with pytest.raises(PermanentVendorError, match="event not found"):
        client(publish).publish_suppression(event(suppressed=True), at=AT)

    # And a persistent 5xx is retryable once attempts run out
    publish.reply_next(Reply(503), Reply(503))
    with pytest.raises(RetryableVendorError):
        client(publish).publish_suppression(event(suppressed=True), at=AT)
