"""ops.notifications: reading a fan's notifications, and the operator's retry as one conditional write.

Notifications are made FAILED the way the workers make them (the repository's claim and transitions),
on the local stack materialized into moto; the retried record is then checked against what the
sender's trigger, the sender's attempt count and the sweeper need.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from ops.notifications import (
    NotificationKeyError,
    RetryOutcome,
    RetryPolicy,
    assess_retry,
    count_outcomes,
    dry_run_result,
    fan_notification_items,
    mask_recipient,
    notification_item,
    notification_view,
    parse_notification_key,
    read_items,
    retry_notification,
    sale_notification_keys,
    unspent_attempts,
)
from ops.target import fleet_of
from sandbox.cdc import CdcTailer
from sandbox.materialize import CdcRoute
from sandbox.pollers.kinesis_records import StreamRecord, filter_subject
from sandbox.pollers.record_filter import RecordFilter
from tests.ops.notification_builders import (
    CREATED,
    EVENT,
    SALE,
    SALE_START,
    MotoStack,
    Sender,
    email,
    emptied,
    in_status,
    local_stack_in_moto,
    sms,
)
from workers.shared.keys import Key, sweep_shard
from workers.shared.models import (
    DemandRecord,
    NotificationRecord,
    serialize_item,
)
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus as S

NOW = CREATED + timedelta(minutes=20)
POLICY = RetryPolicy(late_grace=timedelta(minutes=5), release_after=timedelta(minutes=5))


@pytest.fixture(scope="module")
def local_stack() -> Iterator[MotoStack]:
    """The local stack in moto, materialized once for the module."""
    with local_stack_in_moto() as stack:
        yield stack


@pytest.fixture
def repository(local_stack: MotoStack) -> DemandRepository:
    """The emptied demand table, as the operator commands reach it."""
    return emptied(local_stack.target)


@pytest.fixture
def sender(repository: DemandRepository) -> Sender:
    """The sender's writes on that table."""
    return Sender(repository)


def stored(repository: DemandRepository, key: Key) -> dict[str, Any]:
    """The item at `key` (it must exist)."""
    item = notification_item(repository, key)
    assert item is not None
    return item


def retried(repository: DemandRepository, key: Key, *, now: datetime = NOW) -> dict[str, Any]:
    """Assess and retry the notification at `key`; the item after (the retry must have happened)."""
    assessment = assess_retry(stored(repository, key), POLICY, now=now)
    result = retry_notification(repository, assessment, POLICY, now=now)
    assert result.outcome is RetryOutcome.RETRIED, result
    return stored(repository, key)


# --------------------------------------------------------------------------------------------
# Reading and viewing
# --------------------------------------------------------------------------------------------


def test_a_fans_notifications_are_read_from_its_partition_and_narrowed_by_sale_event_and_method(
    repository: DemandRepository,
) -> None:
    # Given a fan with SMS and email reminders for one sale, an SMS for another event's sale of the
    # same id, its opt-in, and another fan's reminder
    for record in (sms(), email(), sms(event_id="Other1"), sms("9999")):
        repository.create_notification(record)
    repository.put_demand(
        DemandRecord(
            fan_id="4412", event_id=EVENT, sale_id=SALE, phone_number="+13125550181", contact_method="sms"
        )
    )

    # When the fan's notifications are read, all of them and narrowed
    every = fan_notification_items(repository, "4412")
    of_event = fan_notification_items(repository, "4412", sale_id=SALE, event_id=EVENT)
    by_sms = fan_notification_items(
        repository, "4412", sale_id=SALE, event_id=EVENT, method=sms().contact_method
    )

    # Then only the fan's notifications come back (no opt-in, no other fan), narrowed as asked
    assert sorted(item["SK"] for item in every) == sorted(
        [
            f"notification#{EVENT}-public#email",
            f"notification#{EVENT}-public#sms",
            "notification#Other1-public#sms",
        ]
    )
    assert len(of_event) == 2
    assert [item["SK"] for item in by_sms] == [f"notification#{EVENT}-public#sms"]
    assert fan_notification_items(repository, "nobody") == []


def test_the_view_orders_the_status_history_keeps_the_errors_and_masks_the_number(
    repository: DemandRepository, sender: Sender
) -> None:
    # Given an SMS reminder that failed twice transiently, then for good
    record = sms()
    repository.create_notification(record)
    sender.exhaust(record.key)

    # When it is viewed
    view = notification_view(stored(repository, record.key))

    # Then its history runs CREATED → RETRY → FAILED in time order, with the three errors, the
    # last one as its last error, and the phone number masked
    assert [entry.status for entry in view.history] == ["CREATED", "RETRY", "FAILED"]
    assert [entry.at for entry in view.history] == sorted(entry.at for entry in view.history)
    assert [error.status_code for error in view.errors] == [503, 503, 503]
    assert view.last_error == view.errors[-1]
    assert (view.status, view.send_attempts, view.recipient) == ("FAILED", 3, "+1••••••0181")
    assert view.sweep_at is None and view.claim_id is None  # off the pending index, unclaimed


def test_the_view_names_the_vendor_id_by_channel_and_reads_a_malformed_item_without_failing() -> None:
    # Given an accepted SMS, an accepted email, and an item missing most of what a notification has
    accepted_sms = in_status(sms(), S.TRIGGERED, message_id="SM123")
    accepted_email = in_status(email(), S.TRIGGERED, message_id="0100-ses")
    broken = {"PK": "fan:1", "SK": "notification#e-s#sms", "type": "notification", "status": "FAILED"}

    # When they are viewed
    views = [notification_view(item) for item in (accepted_sms, accepted_email, broken)]

    # Then the SMS names its SMS message id, the email its SES id, and the broken item is still shown
    assert (views[0].sms_message_id, views[0].ses_message_id) == ("SM123", None)
    assert (views[1].sms_message_id, views[1].ses_message_id, views[1].recipient) == (
        None,
        "0100-ses",
        "m••@fans.example.com",
    )
    assert (views[2].status, views[2].history, views[2].send_attempts) == (None, (), 0)
    assert mask_recipient(None) is None


def test_the_json_view_has_the_documented_camel_case_keys() -> None:
    # When a notification is viewed as JSON
    document = notification_view(in_status(sms(), S.FAILED)).model_dump(mode="json")

    # Then it has exactly the keys `dmd notifications show --help` documents
    assert set(document) == {
        "pk", "sk", "fanId", "eventId", "saleId", "saleName", "contactMethod", "type", "status",
        "statusAt", "sendAttempts", "smsMessageId", "sesMessageId", "appId", "recipient",
        "saleStartDateTime", "nextAttemptAt", "claimId", "claimedAt", "claimExpiresAt", "sweepAt",
        "lastError", "history", "errors",
    }  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [f"fan:4412/notification#{EVENT}-public#sms", f"fan:4412|notification#{EVENT}-public#sms"],
)
def test_a_key_is_read_in_the_slash_and_the_reference_form(text: str) -> None:
    assert parse_notification_key(text) == Key("fan:4412", f"notification#{EVENT}-public#sms")


@pytest.mark.parametrize(
    "text",
    [
        "fan:4412",
        "4412/notification#e-s#sms",
        "fan:4412/demand#e-s",
        "fan:4412/notification#e-s#fax",
        "fan:4412/notification#e-s",
        "fan:44 12/notification#e-s#sms",
        "",
    ],
)
def test_a_malformed_key_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(NotificationKeyError, match="expected PK/SK such as fan:"):
        parse_notification_key(text)


# --------------------------------------------------------------------------------------------
# Assessing a retry
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fields", "outcome", "reason"),
    [
        (S.CREATED, {}, RetryOutcome.WAITING, "CREATED: waiting for its first send"),
        (S.RETRY, {}, RetryOutcome.WAITING, "RETRY: already waiting for the sender"),
        (
            S.RETRY,
            {"claim_id": "c1", "claim_expires_at": NOW + timedelta(seconds=40)},
            RetryOutcome.WAITING,
            "RETRY: being sent (claimed until 2026-12-01T08:20:40.000Z)",
        ),
        (
            S.RETRY,
            {"claim_id": "c1", "claim_expires_at": NOW - timedelta(seconds=5)},
            RetryOutcome.WAITING,
            "RETRY: its send claim ended at 2026-12-01T08:19:55.000Z; the sweeper hands it back",
        ),
        (
            S.CREATED,
            {"claim_id": "c1", "claimed_at": CREATED},
            RetryOutcome.REFUSED,
            "CREATED: claimed since 2026-12-01T08:00:00.000Z by a send without a lease",
        ),
        (S.TRIGGERED, {"message_id": "SM1"}, RetryOutcome.REFUSED, "TRIGGERED: the vendor accepted it at"),
        (
            S.QUEUED,
            {"message_id": "SM1"},
            RetryOutcome.REFUSED,
            "QUEUED: the SMS service has it (message SM1)",
        ),
        (S.SENT, {"message_id": "SM1"}, RetryOutcome.REFUSED, "SENT: the SMS service has it (message SM1)"),
        (S.DELIVERED, {}, RetryOutcome.REFUSED, "DELIVERED: already delivered, nothing to retry"),
        (S.EXPIRED, {}, RetryOutcome.REFUSED, "EXPIRED: its sale started before it could be sent"),
    ],
)
def test_a_notification_that_is_not_failed_is_not_retried_and_says_why(
    status: S, fields: dict[str, Any], outcome: RetryOutcome, reason: str
) -> None:
    # When a notification in `status` is assessed for a retry
    assessment = assess_retry(in_status(sms(), status, **fields), POLICY, now=NOW)

    # Then it is not retryable, waiting already or refused, with the reason
    assert (assessment.retryable, assessment.outcome, assessment.status) == (False, outcome, status.value)
    assert assessment.reason.startswith(reason), assessment.reason


def test_a_failed_notification_whose_sale_started_is_refused_by_the_never_late_rule() -> None:
    # Given a FAILED reminder, assessed 6 minutes after its sale started (grace 5 minutes)
    item = in_status(sms(), S.FAILED)

    # When it is assessed then, and one minute earlier
    late = assess_retry(item, POLICY, now=SALE_START + timedelta(minutes=6))
    in_grace = assess_retry(item, POLICY, now=SALE_START + timedelta(minutes=4))

    # Then only the late one is refused, naming the sale's start and the grace
    assert late.outcome is RetryOutcome.REFUSED
    assert late.reason == (
        "FAILED, but its sale started at 2026-12-01T10:00:00.000Z (+ 5 min grace): "
        "the sender would expire it unsent (never late)"
    )
    assert in_grace.retryable


def test_an_sms_the_service_took_is_refused_within_its_deduplication_window(
    repository: DemandRepository, sender: Sender
) -> None:
    # Given an SMS the service accepted (message SM77) and the carrier then failed
    record = sms(sale_start_date_time=CREATED + timedelta(days=3))
    repository.create_notification(record)
    sender.carrier_failure(record.key, "SM77")
    item = stored(repository, record.key)

    # When it is assessed within 24 hours of the acceptance, and after
    soon = assess_retry(item, POLICY, now=NOW)
    next_day = assess_retry(item, POLICY, now=CREATED + timedelta(hours=25))

    # Then within the window it is refused (a retry would get message SM77 back and send nothing)
    assert soon.outcome is RetryOutcome.REFUSED
    assert soon.reason.startswith(
        "FAILED after the SMS service took message SM77 at 2026-12-01T08:00:30.000Z"
    )
    assert "until 2026-12-02T08:00:30.000Z" in soon.reason
    # And after it the retry may go (the service no longer remembers the key)
    assert next_day.retryable


def test_an_item_that_is_not_a_valid_notification_is_refused_with_the_validation_reason() -> None:
    item = in_status(sms(), S.FAILED)
    del item["phoneNumber"]

    assessment = assess_retry(item, POLICY, now=NOW)

    assert assessment.outcome is RetryOutcome.REFUSED
    assert assessment.reason.startswith("FAILED, but not a valid notification: ")
    assert "phoneNumber" in assessment.reason


# --------------------------------------------------------------------------------------------
# The retry's write
# --------------------------------------------------------------------------------------------


def test_a_retry_puts_the_failed_notification_back_to_retry_with_exactly_its_send_state_reset(
    repository: DemandRepository, sender: Sender
) -> None:
    # Given an SMS reminder that exhausted its three attempts (FAILED, a leftover claimedAt)
    record = sms()
    repository.create_notification(record)
    sender.exhaust(record.key)
    before = stored(repository, record.key)
    assert before["status"]["id"] == "FAILED" and before["sendAttempts"] == 3 and "claimedAt" in before

    # When the operator retries it
    after = retried(repository, record.key)

    # Then it is RETRY (stamped date.retry), its attempts are reset, no claim, lease or backoff is
    # left, and it is on the pending index again with the sweeper's bound
    assert after["status"] == {"id": "RETRY", "date": "2026-12-01T08:20:00.000Z"}
    assert after["date"]["retry"] == "2026-12-01T08:20:00.000Z"
    assert after["sendAttempts"] == 0
    assert not {"claimId", "claimedAt", "claimExpiresAt", "nextAttemptAt", "messageId", "appId"} & set(after)
    assert after["sweepShard"] == sweep_shard(record.key)
    assert after["sweepAt"] == "2026-12-01T08:25:00.000Z"
    # And its history is kept: every error, and the date of every status it reached
    assert after["errors"] == before["errors"]
    assert {"created", "failed", "retry"} <= set(after["date"])


def test_a_retried_notification_is_found_by_the_sweeper_once_its_bound_has_passed(
    repository: DemandRepository, sender: Sender
) -> None:
    # Given a retried notification whose RETRY record never reached the sender
    record = sms()
    repository.create_notification(record)
    sender.exhaust(record.key)
    retried(repository, record.key)
    shard = sweep_shard(record.key)

    # When the sweeper looks before and after the release bound
    early = list(repository.pending_notification_keys(shard, due_before=NOW + timedelta(minutes=4)))
    overdue = list(repository.pending_notification_keys(shard, due_before=NOW + timedelta(minutes=6)))

    # Then it is found only once overdue, and its release goes through (no claim stands in the way)
    assert record.key not in early
    assert record.key in overdue
    assert repository.release_notification(
        record.key, at=NOW + timedelta(minutes=6), sweep_at=NOW + timedelta(minutes=11)
    )


def test_lost_sms_answers_stay_unspent_after_a_retry_and_an_email_starts_from_zero(
    repository: DemandRepository, sender: Sender
) -> None:
    # Given an SMS that had two lost answers before its three 503s, and an email that failed the same way
    text, mail = sms(), email()
    for record in (text, mail):
        repository.create_notification(record)
        sender.exhaust(record.key, lost_answers=2)

    # When both are retried
    sms_after, email_after = retried(repository, text.key), retried(repository, mail.key)

    # Then the SMS keeps two attempts, which the sender does not count (its lost answers), so it has
    # a full set of attempts again; the email (lost answers count) starts from zero
    assert sms_after["sendAttempts"] == 2
    assert email_after["sendAttempts"] == 0
    assert unspent_attempts(NotificationRecord.from_item(sms_after)) == 2


def test_a_retry_writes_nothing_when_the_notification_changed_since_it_was_read(
    repository: DemandRepository, sender: Sender
) -> None:
    # Given a FAILED notification assessed by two operators at once
    record = sms()
    repository.create_notification(record)
    sender.exhaust(record.key)
    first = assess_retry(stored(repository, record.key), POLICY, now=NOW)
    second = assess_retry(stored(repository, record.key), POLICY, now=NOW)

    # When both retry it
    one = retry_notification(repository, first, POLICY, now=NOW)
    after_one = stored(repository, record.key)
    two = retry_notification(repository, second, POLICY, now=NOW + timedelta(seconds=1))

    # Then the first retries it and the second changes nothing
    assert (one.outcome, two.outcome) == (RetryOutcome.RETRIED, RetryOutcome.CHANGED)
    assert two.reason.startswith("changed since it was read")
    assert stored(repository, record.key) == after_one


def test_a_failed_notification_failed_again_after_a_retry_is_not_retried_from_the_stale_read(
    repository: DemandRepository, sender: Sender
) -> None:
    # Given an assessment of a FAILED notification, which is then retried and fails again
    record = sms()
    repository.create_notification(record)
    sender.exhaust(record.key)
    stale = assess_retry(stored(repository, record.key), POLICY, now=NOW)
    retried(repository, record.key)
    sender.attempt(record.key, S.FAILED)
    failed_again = stored(repository, record.key)

    # When the stale assessment is used to retry
    result = retry_notification(repository, stale, POLICY, now=NOW)

    # Then its status version no longer matches: nothing written
    assert result.outcome is RetryOutcome.CHANGED
    assert stored(repository, record.key) == failed_again


def test_a_refused_assessment_writes_nothing_and_a_dry_run_reports_would_retry(
    repository: DemandRepository, sender: Sender
) -> None:
    # Given a delivered notification and a FAILED one
    delivered, failed = sms("1"), sms("2")
    repository.client.put_item(
        TableName=repository.table_name, Item=serialize_item(in_status(delivered, S.DELIVERED))
    )
    repository.create_notification(failed)
    sender.exhaust(failed.key)
    before = stored(repository, delivered.key)

    # When the delivered one is "retried" and the failed one is dry-run
    refused = retry_notification(repository, assess_retry(before, POLICY, now=NOW), POLICY, now=NOW)
    dry = dry_run_result(assess_retry(stored(repository, failed.key), POLICY, now=NOW))

    # Then the first is refused and unchanged, the dry run says it would retry
    assert (refused.outcome, refused.reason) == (
        RetryOutcome.REFUSED,
        "DELIVERED: already delivered, nothing to retry",
    )
    assert stored(repository, delivered.key) == before
    assert dry.outcome is RetryOutcome.WOULD_RETRY and dry.reason.startswith(
        "would go back to RETRY (FAILED at"
    )
    assert stored(repository, failed.key)["status"]["id"] == "FAILED"
    assert count_outcomes([refused, dry]) == {
        "retried": 0, "would-retry": 1, "already-waiting": 0, "refused": 1, "changed": 0, "not-found": 0,
    }  # fmt: skip


# --------------------------------------------------------------------------------------------
# Sale-wide
# --------------------------------------------------------------------------------------------


def test_a_sales_notifications_are_listed_from_the_demand_by_sale_index_and_read_in_batches(
    repository: DemandRepository,
) -> None:
    # Given 3 fans' SMS and email reminders of the sale, and their opt-ins, plus reminders of a sale
    # named like it ("public-2") and of the same sale id at another event
    fans = [f"fan{number}" for number in range(3)]
    for fan in fans:
        repository.create_notification(sms(fan))
        repository.create_notification(email(fan))
        repository.put_demand(
            DemandRecord(
                fan_id=fan, event_id=EVENT, sale_id=SALE, email="a@b.example.com", contact_method="email"
            )
        )
    repository.create_notification(sms("fan0", sale_id="public-2"))
    repository.create_notification(sms("fan0", event_id="Other1"))

    # When the sale's notification keys are listed (all, and SMS only) and read
    keys = list(sale_notification_keys(repository, EVENT, SALE))
    sms_keys = list(sale_notification_keys(repository, EVENT, SALE, method=sms().contact_method))
    read: list[int] = []
    items = read_items(repository, keys, on_read=read.append)

    # Then exactly the sale's six notifications are found (no opt-in, no look-alike sale), and read
    assert sorted(keys) == sorted([sms(fan).key for fan in fans] + [email(fan).key for fan in fans])
    assert sorted(sms_keys) == sorted(sms(fan).key for fan in fans)
    assert sorted((item["PK"], item["SK"]) for item in items) == sorted(keys)
    assert sum(read) == 6


def test_reading_many_items_asks_again_for_the_keys_dynamodb_left_unprocessed(
    repository: DemandRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 150 notifications, and a table that leaves the first request's last key unprocessed
    records = [sms(f"bulk{number}") for number in range(150)]
    repository.create_notifications(records)
    client = repository.client
    real = client.batch_get_item
    calls: list[int] = []

    def throttled(**request: Any) -> Any:
        keys = request["RequestItems"][repository.table_name]["Keys"]
        calls.append(len(keys))
        if len(calls) > 1:
            return real(**request)
        answer = real(
            RequestItems={
                repository.table_name: {**request["RequestItems"][repository.table_name], "Keys": keys[:-1]}
            }
        )
        answer["UnprocessedKeys"] = {repository.table_name: {"Keys": keys[-1:], "ConsistentRead": True}}
        return answer

    monkeypatch.setattr(client, "batch_get_item", throttled)

    # When they are read
    items = read_items(repository, [record.key for record in records], sleep=lambda _: None)

    # Then every one comes back: 100 keys, the unprocessed one again, then the other 50
    assert len({(item["PK"], item["SK"]) for item in items}) == 150
    assert calls == [100, 1, 50]


# --------------------------------------------------------------------------------------------
# The send trigger's filter on the retry's change record
# --------------------------------------------------------------------------------------------


def last_changes(clients: AwsClients, route: CdcRoute, *keys: Key) -> list[dict[str, Any]]:
    """Each key's last change, copied by the CDC into the Kinesis stream, as Lambda's filtering sees it."""
    CdcTailer(route, clients).poll_once()
    kinesis = clients.client("kinesis")
    stream = route.kinesis_stream_arn.rsplit("/", 1)[-1]
    subjects = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
        subjects += [filter_subject(StreamRecord.from_answer(shard["ShardId"], record)) for record in records]
    return [
        [
            subject
            for subject in subjects
            if subject["data"]["dynamodb"]["Keys"] == serialize_item(key.item())
        ][-1]
        for key in keys
    ]


def test_the_retrys_change_record_passes_the_send_triggers_filter_where_a_hand_set_retry_does_not(
    local_stack: MotoStack, repository: DemandRepository, local_graph: ResourceGraph
) -> None:
    # Given a FAILED SMS reminder that kept its send claim (its invocation died after the vendor took
    # it, and the carrier's FAILED then reached it), on the table the CDC copies into Kinesis
    clients, route = local_stack.target.clients, local_stack.cdc_route
    sender_filter = RecordFilter(
        [json.dumps(pattern) for pattern in fleet_of(local_graph).worker("notification_send").filter_patterns]
    )
    by_hand, by_dmd = (sms(fan, sale_start_date_time=CREATED + timedelta(days=3)) for fan in ("1", "2"))
    for record in (by_hand, by_dmd):
        repository.create_notification(record)
        assert repository.claim_notification(
            record.key,
            "dead",
            from_statuses={S.CREATED},
            at=CREATED,
            lease_expires_at=CREATED + timedelta(minutes=1),
        )
        assert repository.transition(record.key, {S.CREATED}, S.FAILED, at=CREATED + timedelta(minutes=1))

    # When someone sets the first one's `status` to RETRY by hand
    repository.client.update_item(
        TableName=repository.table_name,
        Key=serialize_item(by_hand.key.item()),
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=serialize_item({":s": {"id": "RETRY", "date": "2026-12-01T08:15:00.000Z"}}),
    )
    # And the operator retries the second one
    retried(repository, by_dmd.key, now=CREATED + timedelta(days=2))
    hand_set, retry = last_changes(clients, route, by_hand.key, by_dmd.key)

    # Then the hand-set MODIFY is skipped by the sender's trigger (its claim is still there), and the
    # retry's MODIFY, RETRY without a claim, goes through to the sender
    assert hand_set["data"]["eventName"] == retry["data"]["eventName"] == "MODIFY"
    assert not sender_filter.matches(hand_set)
    assert retry["data"]["dynamodb"]["NewImage"]["status"]["M"]["id"] == {"S": "RETRY"}
    assert sender_filter.matches(retry)
