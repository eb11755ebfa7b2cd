"""Finding the cached events and publishing their suppression status, against moto and a fake TM Publish."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from ops.suppression import (
    SuppressionError,
    check_event_ids,
    publish_api_key,
    publish_client,
    publish_events,
    read_events,
    report,
    scan_events,
)
from sandbox.vendors import Reply
from tests.ops.publish_stack import (
    API_KEY,
    PUBLISH_SECRET,
    TABLE,
    FakePublish,
    cached_event,
    create_stack,
    repository,
)
from workers.shared.models import SaleRecord

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def clients(local_graph: ResourceGraph) -> Iterator[AwsClients]:
    """A fresh moto with the local stack's demand table and a publish secret holding API_KEY."""
    with mock_aws():
        moto = AwsClients.for_emulator(None, region="us-east-1")
        create_stack(moto, local_graph)
        yield moto


@pytest.fixture
def publish() -> Iterator[FakePublish]:
    server = FakePublish()
    server.start()
    yield server
    server.stop()


def test_the_scan_finds_every_cached_event_and_nothing_else_across_pages(clients: AwsClients) -> None:
    # Given five cached events, each with a sale (same partition), and an invalid event item
    repo = repository(clients)
    for index in range(5):
        repo.put_event(
            cached_event(f"evt-{index}", suppressed=index == 0, reason="country GB" if not index else None)
        )
        repo.put_sale(
            SaleRecord(
                id="public",
                event_id=f"evt-{index}",
                name="Public Sale",
                sale_start_date_time=AT,
                expires_at=1,
            )
        )
    clients.client("dynamodb").put_item(
        TableName=TABLE,
        Item={"PK": {"S": "event:broken"}, "SK": {"S": "event#details"}, "type": {"S": "event"}},
    )

    # When the table is scanned two items a page
    pages: list[tuple[int, int]] = []
    cached = scan_events(
        clients, TABLE, page_size=2, on_page=lambda scanned, found: pages.append((scanned, found))
    )

    # Then every event is found once, page after page, and the broken item is reported, not dropped
    assert sorted(event.id for event in cached.events) == [f"evt-{index}" for index in range(5)]
    assert {event.id for event in cached.events if event.is_suppressed} == {"evt-0"}
    assert len(pages) >= 5
    assert sum(scanned for scanned, _found in pages) == 11
    (broken,) = cached.unusable
    assert (broken.event_id, broken.outcome) == ("broken", "failed")
    assert broken.error is not None and broken.error.startswith("invalid cached event")


def test_named_events_are_read_by_key_and_an_unknown_one_is_a_failure(clients: AwsClients) -> None:
    # Given one cached event
    repository(clients).put_event(cached_event("evt-1"))

    # When it and an id nobody cached are read
    cached = read_events(clients, TABLE, ("evt-1", "evt-404"), on_event=lambda _id: None)

    # Then the first is found, the second reported
    assert [event.id for event in cached.events] == ["evt-1"]
    assert [(outcome.event_id, outcome.error) for outcome in cached.unusable] == [
        ("evt-404", "no cached event with this id")
    ]


@pytest.mark.parametrize("bad", ["", "a#b", "event:1", "has space", "x" * 257])
def test_an_id_no_event_key_can_hold_is_refused(bad: str) -> None:
    with pytest.raises(SuppressionError, match="is not an event id"):
        check_event_ids(["ok", bad])


def test_the_api_key_comes_from_the_stacks_publish_secret(clients: AwsClients) -> None:
    assert publish_api_key(clients, PUBLISH_SECRET) == API_KEY


@pytest.mark.parametrize(
    "stored",
    [None, "not json", '{"token": "t"}', '{"apiKey": ""}'],
    ids=["never-set", "not-json", "wrong-key", "empty"],
)
def test_an_unusable_publish_secret_says_how_to_set_it_without_showing_it(
    local_graph: ResourceGraph, stored: str | None
) -> None:
    with mock_aws():
        moto = AwsClients.for_emulator(None, region="us-east-1")
        create_stack(moto, local_graph, api_key=None)
        if stored is not None:
            moto.client("secretsmanager").put_secret_value(SecretId=PUBLISH_SECRET, SecretString=stored)

        with pytest.raises(SuppressionError, match="dmd secrets set publish") as refused:
            publish_api_key(moto, PUBLISH_SECRET)

    assert stored is None or stored not in str(refused.value)


def test_each_event_is_put_with_its_verdict_and_one_refusal_does_not_stop_the_rest(
    publish: FakePublish,
) -> None:
    # Given three events, the API refusing the second
    events = [
        cached_event("evt-1", suppressed=True, reason="country GB"),
        cached_event("evt-2"),
        cached_event("evt-3"),
    ]
    publish.reply_for("evt-2", Reply(422, {"message": "unknown event"}))

    # When they are published
    outcomes = publish_events(publish_client(publish.url, API_KEY, sleep=lambda _s: None), events, at=AT)

    # Then two extensions went out with the key, and the refusal is reported with the API's reason
    assert [(outcome.event_id, outcome.outcome) for outcome in outcomes] == [
        ("evt-1", "published"),
        ("evt-2", "failed"),
        ("evt-3", "published"),
    ]
    assert "unknown event" in (outcomes[1].error or "")
    assert publish.published()["evt-1"] == {
        "eventId": "evt-1",
        "isSuppressed": True,
        "reason": "country GB",
        "publishedAt": "2026-12-01T09:30:00.000Z",
    }
    assert {request.headers.get("x-api-key") for request in publish.requests} == {API_KEY}
    summary = report(stack="local", url=publish.url, dry_run=False, events=events, outcomes=outcomes)
    assert (summary.events, summary.suppressed, summary.published, summary.failed) == (3, 1, 2, 1)


def test_a_dry_run_sends_nothing(publish: FakePublish) -> None:
    outcomes = publish_events(None, [cached_event("evt-1")], at=AT)

    assert [outcome.outcome for outcome in outcomes] == ["would-publish"]
    assert publish.requests == []
