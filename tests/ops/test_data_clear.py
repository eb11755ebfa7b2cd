"""Finding and deleting the test data of fans and events: every item type of the data model, nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from aws_clients import AwsClients
from ops.data_clear import ClearPlan, FoundItem, IdsError, TestData, parse_ids
from tests.ops.demand_data import TABLE, Seeded, pending_keys, seed_test_data, table_keys
from workers.shared.keys import Key


@pytest.fixture
def seeded(deployed: AwsClients) -> Seeded:
    """fan-a (event evt-1, one sms sent twice, the last one's status held), fan-b (evt-1 and evt-2), evt-1."""
    return seed_test_data(deployed)


def test_ids_are_split_trimmed_and_deduplicated() -> None:
    assert parse_ids(" fan-a, evt-1 ,fan-a") == ("fan-a", "evt-1")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no ids given"),
        (" , ", "no ids given"),
        ("fan-a,,evt-1", "id 2 of 'fan-a,,evt-1' is empty"),
        ("fan:a", "'fan:a' is not a fan or event id"),
        ("evt#1", "'evt#1' is not a fan or event id"),
        ("a|b", "'a|b' is not a fan or event id"),
        ("fan a", "'fan a' is not a fan or event id"),
    ],
)
def test_a_malformed_id_is_refused_naming_it(text: str, reason: str) -> None:
    with pytest.raises(IdsError, match=reason):
        parse_ids(text)


def test_every_item_type_referencing_the_ids_is_found_by_key_and_index(
    deployed: AwsClients, seeded: Seeded
) -> None:
    # Given fans and events written by the workers' repository
    test_data = TestData(deployed.client("dynamodb"), TABLE)

    # When the items referencing fan-a and evt-1 are looked for, without a Scan
    plan = test_data.find(["fan-a", "evt-1"])

    # Then every item of fan-a and of evt-1 (other fans' included) is there, with the last message of
    # each SMS notification, but not the message of an earlier send (only a Scan finds it)
    assert {(key.pk, key.sk) for key in plan.items} == seeded.cleared - {("message:SM-first", "sms")}
    assert plan.counts() == {
        "event": 1,
        "sale": 1,
        "demand": 2,
        "notification": 3,
        "notification:asu": 1,
        "sms-message": 1,
        "unknown": 0,
    }
    assert plan.scanned_items == 0
    assert plan.unmatched_ids == []


def test_a_scan_also_finds_the_message_items_of_earlier_sends(deployed: AwsClients, seeded: Seeded) -> None:
    # Given the seeded table, where fan-a's sms was sent twice
    test_data = TestData(deployed.client("dynamodb"), TABLE)
    pages: list[int] = []

    # When the items are looked for with the message Scan
    plan = test_data.find(["fan-a", "evt-1"], scan_messages=True, on_scan_page=pages.append)

    # Then the earlier message's item is found too, and the Scan reported its pages
    assert {(key.pk, key.sk) for key in plan.items} == seeded.cleared
    assert plan.items[Key("message:SM-first", "sms")].found_by == "Scan: reference of a notification"
    assert sum(pages) == plan.scanned_items == len(seeded.cleared | seeded.kept)


def test_delete_removes_exactly_the_planned_items_and_their_index_entries(
    deployed: AwsClients, seeded: Seeded
) -> None:
    # Given the plan for fan-a and evt-1 (with the Scan)
    test_data = TestData(deployed.client("dynamodb"), TABLE)
    plan = test_data.find(["fan-a", "evt-1"], scan_messages=True)
    deleted_counts: list[int] = []

    # When it is deleted
    result = test_data.delete(plan, on_deleted=deleted_counts.append)

    # Then exactly those items are gone: other fans' and events' items, and a held status no
    # notification names, are untouched
    assert table_keys(deployed) == seeded.kept
    assert ("message:SM-unclaimed", "sms") in seeded.kept and ("event:evt-2", "event#details") in seeded.kept
    assert result.unprocessed == ()
    assert result.deleted == plan.counts()
    assert sum(deleted_counts) == len(seeded.cleared)
    # And the pending index lists only the one notification still waiting (fan-b's evt-2 email)
    assert pending_keys(deployed) == {("fan:fan-b", "notification#evt-2-public#email")}


def test_ids_that_match_nothing_are_reported_and_nothing_is_planned(
    deployed: AwsClients, seeded: Seeded
) -> None:
    # Given the seeded table / When ids nobody uses are looked for
    plan = TestData(deployed.client("dynamodb"), TABLE).find(["nobody", "no-event"])

    # Then nothing is planned and both ids are unmatched
    assert plan.items == {}
    assert plan.unmatched_ids == ["nobody", "no-event"]
    assert table_keys(deployed) == seeded.cleared | seeded.kept


class ThrottlingClient:
    """A DynamoDB client whose BatchWriteItem leaves the first `refusals` rounds' last item unprocessed."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.requests: list[list[str]] = []

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        (requests,) = RequestItems.values()
        self.requests.append([request["DeleteRequest"]["Key"]["SK"]["S"] for request in requests])
        if self.refusals:
            self.refusals -= 1
            return {"UnprocessedItems": {TABLE: requests[-1:]}}
        return {"UnprocessedItems": {}}


def plan_of(count: int) -> ClearPlan:
    plan = ClearPlan(ids=("fan-a",))
    for index in range(count):
        key = Key("fan:fan-a", f"demand#evt-{index:02d}-public")
        plan.items[key] = FoundItem(key, "demand", "partition fan:fan-a")
    return plan


def test_unprocessed_items_are_sent_again_with_backoff_in_batches_of_25() -> None:
    # Given 30 items and a table that throttles one item twice
    client = ThrottlingClient(refusals=2)
    waits: list[float] = []
    test_data = TestData(client, TABLE, sleep=waits.append)

    # When they are deleted
    result = test_data.delete(plan_of(30))

    # Then batches hold at most 25 deletes, the throttled item is sent again after growing waits,
    # and every item ends deleted
    assert [len(batch) for batch in client.requests] == [25, 1, 1, 5]
    assert client.requests[1] == client.requests[2] == ["demand#evt-24-public"]
    assert waits == [0.05, 0.1]
    assert result.deleted["demand"] == 30 and result.unprocessed == ()


def test_items_still_refused_after_every_round_are_reported() -> None:
    # Given a table that keeps throttling the same item
    client = ThrottlingClient(refusals=1000)
    test_data = TestData(client, TABLE, sleep=lambda _: None)

    # When two items are deleted
    result = test_data.delete(plan_of(2))

    # Then the refused one is reported, the other counted
    assert result.unprocessed == (Key("fan:fan-a", "demand#evt-01-public"),)
    assert result.deleted["demand"] == 1
