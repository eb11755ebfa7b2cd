"""`dmd replay`: what the operator sees and is asked, the exit codes; in-process moto, a fake invoker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from ops import replay_commands
from ops.operations_records import MAINTENANCE, MaintenanceRecord, create_record
from ops.replay import IDEMPOTENCE
from ops.target import Target
from tests.ops.cli_output import flat, run_dmd, table_rows
from tests.ops.replay_harness import (
    REGION,
    SEND,
    FakeInvoker,
    all_messages,
    create_stream_resources,
    failing_items,
    local_target,
    notification_change,
    on_failure_record,
    put_changes,
    send_to_queue,
    shard_of,
    table_stream,
    visible_messages,
)

SEND_ON_FAILURE = "prd3292-local-us-east-1-ntfcn-snd-on-failure"


@pytest.fixture
def target(local_graph: ResourceGraph, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    """The local stack in a fresh in-process moto (streams, on-failure queues) for `--stack local`."""
    with mock_aws():
        clients = AwsClients.for_emulator(None, region=REGION)
        stack = local_target(clients, local_graph)
        create_stream_resources(clients, stack.fleet)
        monkeypatch.setattr("ops.operator_io.resolve_target", lambda name, **_: stack)
        yield stack


@pytest.fixture
def invoker(monkeypatch: pytest.MonkeyPatch) -> FakeInvoker:
    """What the command invokes (instead of the Lambda API or a sandbox)."""
    fake = FakeInvoker()

    @contextmanager
    def invoker_for(target: Target, worker: Any, **_: Any) -> Iterator[FakeInvoker]:
        yield fake

    monkeypatch.setattr(replay_commands, "invoker_for", invoker_for)
    return fake


def a_failed_range(target: Target, count: int = 3) -> list[str]:
    """`count` sendable notifications on the table stream and one on-failure message for all of them."""
    stream = table_stream(target.fleet)
    sequences = put_changes(
        target.clients, stream, [notification_change("CREATED", fan=f"f{number}") for number in range(count)]
    )
    arn = str(target.fleet.worker(SEND).event_source_arn)
    send_to_queue(
        target.clients,
        SEND_ON_FAILURE,
        on_failure_record(
            arn, shard_of(target.clients, stream), sequences[0], sequences[-1], batch_size=count
        ),
    )
    return sequences


def test_a_dry_run_shows_the_counts_and_invokes_nothing(target: Target, invoker: FakeInvoker) -> None:
    # Given an on-failure message for three notifications
    sequences = a_failed_range(target)

    # When the operator asks for a dry run of the send worker's failures
    result = run_dmd("replay", "--stack", "local", "--worker", SEND, "--from-failures", "--dry-run")

    # Then the table shows the range and its counts, nothing was invoked, and the message is visible again
    assert result.exit_code == 0, result.output
    shard = shard_of(target.clients, table_stream(target.fleet))
    rows = table_rows(result.stdout, replay_commands.COLUMNS)
    assert rows[f"{shard} {sequences[0]}..{sequences[-1]}"] | {"detail": ""} == {
        "range": f"{shard} {sequences[0]}..{sequences[-1]}",
        "read": "3",
        "matching": "3",
        "batches": "1",
        "failed": "0",
        "outcome": "planned",
        "detail": "",
    }
    assert "3 records read, 3 matching the filter; would invoke 1 batch(es), 0 failed" in flat(result.stderr)
    assert invoker.events == []
    assert visible_messages(target.clients, SEND_ON_FAILURE) == 1


def test_a_replay_asks_first_and_a_no_changes_nothing(target: Target, invoker: FakeInvoker) -> None:
    # Given an on-failure message for three notifications
    a_failed_range(target)

    # When the operator starts the replay and answers no
    result = run_dmd("replay", "--stack", "local", "--worker", SEND, "--from-failures", input="n\n")

    # Then it showed what it would do and why that is safe, invoked nothing and kept the message visible
    assert result.exit_code == 1
    shown = flat(result.stderr)
    assert "replay to prd3292-local-us-east-1-ntfcn-snd:live (notification_send, stack local):" in shown
    assert "1 invocation(s) of up to 100 records, at most 1 a second" in shown
    assert f"Safe to repeat: {IDEMPOTENCE[SEND]}." in shown
    assert "dmd: aborted: nothing changed" in shown
    assert invoker.events == []
    assert visible_messages(target.clients, SEND_ON_FAILURE) == 1


def test_a_confirmed_replay_deletes_the_message_of_the_range_that_succeeded(
    target: Target, invoker: FakeInvoker
) -> None:
    # Given an on-failure message for three notifications
    sequences = a_failed_range(target)

    # When the operator replays the failures with --yes and --json
    result = run_dmd(
        "replay", "--stack", "local", "--worker", SEND, "--from-failures", "--yes", "--json", "--rate", "50"
    )

    # Then the range was delivered in one invocation, the message is gone, and the JSON says so
    assert result.exit_code == 0, result.output
    assert [
        [record["kinesis"]["sequenceNumber"] for record in event["Records"]] for event in invoker.events
    ] == [sequences]
    document = json.loads(result.stdout)
    assert (document["mode"], document["dryRun"], document["batches"], document["messagesDeleted"]) == (
        "from-failures",
        False,
        1,
        1,
    )
    assert [(item["outcome"], item["messageDeleted"]) for item in document["ranges"]] == [("replayed", True)]
    assert all_messages(target.clients, SEND_ON_FAILURE) == 0


def test_a_range_that_fails_again_keeps_its_message_and_exits_1(target: Target, invoker: FakeInvoker) -> None:
    # Given an on-failure message for three notifications, and a worker that fails the second again
    sequences = a_failed_range(target)
    invoker.answer = failing_items(sequences[1])

    # When the operator replays the failures
    result = run_dmd(
        "replay", "--stack", "local", "--worker", SEND, "--from-failures", "--yes", "--rate", "50"
    )

    # Then the command exits 1, the row says which record failed, and the message is visible again
    assert result.exit_code == 1, result.output
    (row,) = table_rows(result.stdout, replay_commands.COLUMNS).values()
    assert (row["outcome"], row["failed"]) == ("failed", "1")
    assert row["detail"] == "1 record(s) reported failed; message kept"
    assert visible_messages(target.clients, SEND_ON_FAILURE) == 1


def test_a_time_range_replay_invokes_the_matching_records(target: Target, invoker: FakeInvoker) -> None:
    # Given two sendable notifications and a delivered one on the table stream
    put_changes(
        target.clients,
        table_stream(target.fleet),
        [
            notification_change("CREATED", fan="1"),
            notification_change("DELIVERED", fan="2", event="MODIFY"),
            notification_change("RETRY", fan="3", event="MODIFY"),
        ],
    )

    # When the operator replays the last ten minutes
    result = run_dmd("replay", "--stack", "local", "--worker", SEND, "--from", "10m", "--yes", "--json")

    # Then the two sendable ones were delivered in one batch
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["mode"], document["recordsRead"], document["recordsMatching"]) == ("time-range", 3, 2)
    assert len(invoker.events) == 1
    assert len(invoker.events[0]["Records"]) == 2


def test_to_before_from_is_refused_with_exit_2(target: Target, invoker: FakeInvoker) -> None:
    # Given a --to earlier than --from
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = (now - timedelta(minutes=10)), (now - timedelta(minutes=20))

    # When the operator asks for that range
    result = run_dmd(
        "replay", "--stack", "local", "--worker", SEND, "--from", start.isoformat(), "--to", end.isoformat()
    )

    # Then it is refused as bad input, saying why
    assert result.exit_code == 2
    assert flat(result.stderr) == (
        f"dmd: --to {end.isoformat().replace('+00:00', 'Z')} is not after --from "
        f"{start.isoformat().replace('+00:00', 'Z')}"
    )
    assert invoker.events == []


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (("--worker", "shorten_event_url", "--from-failures"), "shorten_event_url is triggered by a queue"),
        (
            ("--worker", "nobody", "--from-failures"),
            "no worker 'nobody' (stream workers: demand_stream_to_sqs",
        ),
        (("--worker", SEND), "give either --from TIME [--to TIME] or --from-failures"),
        (("--worker", SEND, "--from", "1h", "--from-failures"), "give either --from TIME [--to TIME] or"),
        (("--worker", SEND, "--from-failures", "--to", "1h"), "--to needs --from"),
        (("--worker", SEND, "--from", "yesterday"), "'yesterday' is neither an ISO-8601 time"),
        (("--worker", SEND, "--from", "48h"), "is beyond the stream's retention (24 h)"),
    ],
    ids=[
        "queue-worker",
        "unknown-worker",
        "no-source",
        "both-sources",
        "to-without-from",
        "bad-time",
        "too-old",
    ],
)
def test_bad_input_is_refused_with_exit_2_and_the_reason(
    target: Target, invoker: FakeInvoker, arguments: tuple[str, ...], reason: str
) -> None:
    # Given options that cannot be replayed
    # When the operator runs the replay with them
    result = run_dmd("replay", "--stack", "local", *arguments)

    # Then it exits 2 naming the reason, and nothing was invoked
    assert result.exit_code == 2
    assert reason in flat(result.output)
    assert invoker.events == []


def test_a_replay_is_refused_while_maintenance_pauses_the_worker(
    target: Target, invoker: FakeInvoker
) -> None:
    # Given a maintenance window that pauses the send worker, and a failed range
    create_record(
        target,
        MAINTENANCE,
        MaintenanceRecord(
            stack="local",
            reason="SMS vendor migration",
            started_by="arn:aws:sts::123456789012:assumed-role/oncall/ana",
            started_at=datetime(2026, 12, 1, 7, 0, tzinfo=UTC),
            workers=(SEND,),
        ),
    )
    a_failed_range(target)

    # When the operator replays the failures
    result = run_dmd("replay", "--stack", "local", "--worker", SEND, "--from-failures", "--yes")

    # Then it is refused (exit 1) pointing at the end of maintenance, and the message stays visible
    assert result.exit_code == 1
    assert "maintenance pauses notification_send in local (since 2026-12-01 07:00 UTC" in flat(result.stderr)
    assert "end it first (dmd maintenance end --stack local)" in flat(result.stderr)
    assert invoker.events == []
    assert visible_messages(target.clients, SEND_ON_FAILURE) == 1


def test_the_help_says_why_a_replay_is_safe_for_each_stream_worker() -> None:
    # Given the command's help
    shown = flat(run_dmd("replay", "--help").output)

    # Then it states each stream worker's idempotence and gives an example
    for worker, statement in IDEMPOTENCE.items():
        assert f"{worker}: {statement}" in shown
    assert "Example: dmd replay --stack prod1 --worker notification_send --from-failures --dry-run" in shown
