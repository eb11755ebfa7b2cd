"""End to end, `dmd replay --from-failures`: records the send trigger gave up on are sent once, only once.

The send trigger is held back (disabled, as during an outage) until its records are older than
its maximum record age; Lambda's poller then discards them to the on-failure queue. The sweeper,
which would otherwise release those notifications, stays paused: the replay alone brings them
back. A second replay of the same ranges sends nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from sandbox.pipeline import Pipeline
from tests.ops.cli_output import command_json, flat, run_dmd
from tests.sandbox.e2e.flows import e2e_marks, e2e_pipeline, sweeper_paused, wait_done, waiting_sms
from workers.shared.statuses import NotificationStatus

pytestmark = e2e_marks("e2e-replay")

SEND_WORKER = "notification_send"
SWEEPER = "notification_sweeper"
SEND_ON_FAILURE = "prd3292-local-us-east-1-ntfcn-snd-on-failure"
RECORD_AGE_JUMP = timedelta(seconds=3601)  # past the local stack's send trigger maximumRecordAgeSeconds


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    """The local stack with fake vendors, a sandbox minute every 3 real seconds."""
    with e2e_pipeline(speed=20.0) as running:
        yield running


@contextmanager
def send_trigger_disabled(pipeline: Pipeline) -> Iterator[None]:
    """The send worker's event-source mapping disabled, then enabled (an outage of the trigger)."""
    poller = pipeline.sandbox.pollers[SEND_WORKER]
    poller.mapping = dataclasses.replace(poller.mapping, enabled=False)
    try:
        yield
    finally:
        poller.mapping = dataclasses.replace(poller.mapping, enabled=True)


def on_failure_bodies(pipeline: Pipeline) -> list[str]:
    """The on-failure queue's messages, read without hiding them (what `aws sqs receive-message` shows)."""
    answer = pipeline.clients.client("sqs").receive_message(
        QueueUrl=pipeline.queue_url(SEND_ON_FAILURE), MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [message["Body"] for message in answer.get("Messages", [])]


def replay_failures(pipeline: Pipeline, *options: str) -> dict[str, object]:
    """`dmd replay --from-failures` of the send worker against the running sandbox; its JSON."""
    result = run_dmd(
        *("replay", "--stack", "local", "--endpoint-url", pipeline.sandbox.endpoint_url),
        *("--worker", SEND_WORKER, "--from-failures", "--json", "--rate", "20", *options),
    )
    assert result.exit_code == 0, flat(result.output)
    document: dict[str, object] = command_json(result.stdout)
    return document


def test_records_given_up_on_are_replayed_from_the_on_failure_queue_and_sent_once(pipeline: Pipeline) -> None:
    # Given three SMS reminders whose table-stream records waited while the send trigger was down,
    # until the trigger gave them up (RecordAgeExceeded) to its on-failure queue
    records = [
        waiting_sms(
            f"e2e-replay-{number}", f"+1312555017{number}", event_id="E2eReplay", sale_name="Replay Presale"
        )
        for number in range(3)
    ]
    discarded_before = pipeline.sandbox.counters()[SEND_WORKER].records_discarded
    with sweeper_paused(pipeline):
        with send_trigger_disabled(pipeline):
            pipeline.put_items([record.to_item() for record in records])
            assert pipeline.sandbox.run_until(
                lambda: (
                    {(entry.pk, entry.sk) for entry in pipeline.ledger.entries()}
                    >= {record.key for record in records}
                ),
                deadline=30,
            )
            pipeline.clock.advance(RECORD_AGE_JUMP.total_seconds())
        assert pipeline.sandbox.run_until(
            lambda: pipeline.sandbox.counters()[SEND_WORKER].records_discarded - discarded_before >= 3,
            deadline=30,
        )
        # (the sweeper's missed runs keep the sandbox from being idle: the send trigger's poller is)
        assert pipeline.sandbox.run_until(pipeline.sandbox.pollers[SEND_WORKER].idle, deadline=30)
        given_up = on_failure_bodies(pipeline)
        assert given_up
        assert all(
            json.loads(body)["requestContext"]["condition"] == "RecordAgeExceeded" for body in given_up
        )
        assert {pipeline.item(*record.key)["status"]["id"] for record in records} == {"CREATED"}  # type: ignore[index]

        # When the operator looks first (dry run), then replays the failures
        planned = replay_failures(pipeline, "--dry-run")
        sent_before_replay = [pipeline.vendors.sms.sends_for(record.reference) for record in records]
        replayed = replay_failures(pipeline, "--yes")

        # Then the dry run counted the three reminders and sent nothing; the replay deleted every message
        assert (planned["dryRun"], planned["recordsMatching"]) == (True, 3)
        assert sent_before_replay == [0, 0, 0]
        assert (replayed["batchesFailed"], replayed["messagesDeleted"]) == (0, len(given_up))
        assert pipeline.dlq_depths()[SEND_ON_FAILURE] == 0

        # And every reminder went out once and was delivered, with no duplicate at the SMS service
        done = wait_done(pipeline, [record.key for record in records], deadline=40)
        assert {item["status"]["id"] for item in done.values()} == {NotificationStatus.DELIVERED.value}
        assert [pipeline.vendors.sms.sends_for(record.reference) for record in records] == [1, 1, 1]
        accepted = [pipeline.vendors.sms.accepted_for(record.reference) for record in records]

        # When the same ranges are replayed a second time (their messages put back)
        url = pipeline.queue_url(SEND_ON_FAILURE)
        for body in given_up:
            pipeline.clients.client("sqs").send_message(QueueUrl=url, MessageBody=body)
        again = replay_failures(pipeline, "--yes")

        # Then the replay succeeds and deletes them, and nothing is sent: the claims were taken already
        assert (again["batchesFailed"], again["messagesDeleted"], again["recordsMatching"]) == (
            0,
            len(given_up),
            3,
        )
        assert pipeline.sandbox.run_until(pipeline.sandbox.pollers[SEND_WORKER].idle, deadline=30)
        assert [pipeline.vendors.sms.accepted_for(record.reference) for record in records] == accepted
        assert [pipeline.vendors.sms.sends_for(record.reference) for record in records] == [1, 1, 1]
        assert pipeline.vendors.sms.duplicates() == {}
        assert {pipeline.item(*record.key)["status"]["id"] for record in records} == {"DELIVERED"}  # type: ignore[index]
