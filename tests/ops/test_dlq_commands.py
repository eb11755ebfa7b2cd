"""`dmd dlq list` and `redrive`: what the operator sees and the exit codes (moto in process or over HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.stack_files import load_committed
from ops.dead_letters import depth
from ops.target import Target
from sandbox.emulator import Emulator
from tests.infra.fleet import LOCAL_PREFIX, added_names, held_queues_of_added
from tests.ops.cli_output import flat, local_stack_is, run_dmd, table_rows
from tests.ops.status_scenario import SEND_ON_FAILURE, Incident

REGION = "us-east-1"  # the local stack's region, which the command takes from Pulumi.local.yaml


def _jobs_with_dead_letters(clients: AwsClients, *bodies: str) -> str:
    """A `jobs` queue whose DLQ `jobs-dlq` holds `bodies`; returns the source queue's URL."""
    sqs = clients.client("sqs")
    dlq = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    jobs = sqs.create_queue(
        QueueName="jobs",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})},
    )["QueueUrl"]
    for body in bodies:
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    return str(jobs)


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    """A fresh in-process moto, which `--stack local` reaches as real AWS (no endpoint)."""
    with mock_aws():
        clients = AwsClients.for_emulator(None, region=REGION)
        target = Target(stack="local", config=load_committed("local"), clients=clients)
        monkeypatch.setattr("ops.operator_io.resolve_target", lambda stack, **_: target)
        yield clients


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """A moto server on a free loopback port, which the command reaches with --endpoint-url."""
    with Emulator(port=0, configure_environment=False) as running:
        yield running


def test_a_dry_run_shows_what_would_move_and_moves_nothing(in_process: AwsClients) -> None:
    # Given a DLQ holding two messages from the jobs queue
    jobs = _jobs_with_dead_letters(in_process, "first", "second")

    # When the operator asks for a dry run
    result = run_dmd("dlq", "redrive", "--queue", "jobs-dlq", "--stack", "local", "--dry-run")

    # Then the command says where the two messages would go, and they are still in the DLQ
    assert result.exit_code == 0, result.output
    assert flat(result.output) == f"dry run: 2 messages in jobs-dlq would go back to {jobs}"
    assert depth(in_process, "jobs-dlq") == 2
    # And for a script the same as JSON
    scripted = run_dmd("dlq", "redrive", "--queue", "jobs-dlq", "--stack", "local", "--dry-run", "--json")
    assert json.loads(scripted.stdout) == {
        "queue": "jobs-dlq",
        "sources": [jobs],
        "messages": 2,
        "moved": 0,
        "method": None,
        "dryRun": True,
    }


def test_a_redrive_the_operator_declines_moves_nothing(in_process: AwsClients) -> None:
    # Given a DLQ holding one message
    _jobs_with_dead_letters(in_process, "only")

    # When the operator answers no to the confirmation
    result = run_dmd("dlq", "redrive", "--queue", "jobs-dlq", "--stack", "local", input="n\n")

    # Then the plan was shown, nothing moved, and the command says so
    assert result.exit_code == 1
    assert "1 messages in jobs-dlq would go back to" in flat(result.output)
    assert "aborted: nothing changed" in flat(result.output)
    assert depth(in_process, "jobs-dlq") == 1


def test_a_redrive_through_an_emulator_moves_the_messages_by_hand(emulator: Emulator) -> None:
    # Given an emulator (which lacks StartMessageMoveTask) whose DLQ holds three messages from jobs
    emulator.reset()
    clients = AwsClients.for_emulator(emulator.endpoint_url, region=REGION)
    jobs = _jobs_with_dead_letters(clients, "first", "second", "third")

    # When the operator redrives it there
    result = run_dmd(
        "dlq",
        "redrive",
        "--queue",
        "jobs-dlq",
        "--stack",
        "local",
        "--endpoint-url",
        emulator.endpoint_url,
        "--yes",
    )

    # Then the three messages are back on jobs, and the command says how they were moved
    assert result.exit_code == 0, result.output
    assert flat(result.stdout) == (
        f"3 messages from jobs-dlq → {jobs} (moved by hand (the endpoint lacks StartMessageMoveTask))"
    )
    assert depth(clients, "jobs-dlq") == 0
    assert depth(clients, "jobs") == 3


@pytest.mark.parametrize(
    ("queue", "reason"),
    [
        ("jobs", "jobs is not the dead-letter queue of any queue: nothing to redrive to"),
        ("nope-dlq", "no queue named 'nope-dlq' in us-east-1"),
    ],
    ids=["not a dlq", "no such queue"],
)
def test_a_queue_that_cannot_be_redriven_exits_1_with_the_reason(
    in_process: AwsClients, queue: str, reason: str
) -> None:
    # Given the jobs queue and its DLQ
    _jobs_with_dead_letters(in_process)

    # When the operator redrives a queue that is no DLQ, or one that does not exist
    result = run_dmd("dlq", "redrive", "--queue", queue, "--stack", "local", "--yes")

    # Then the command refuses with the reason
    assert result.exit_code == 1
    assert flat(result.output) == f"dmd: {reason}"


def test_an_unreachable_endpoint_exits_2(unreachable_endpoint: str) -> None:
    # Given an endpoint where nothing listens
    # When the operator redrives through it
    result = run_dmd(
        "dlq", "redrive", "--queue", "jobs-dlq", "--stack", "local", "--endpoint-url", unreachable_endpoint
    )

    # Then the command cannot reach AWS and says so
    assert result.exit_code == 2
    assert flat(result.output).startswith(
        "dmd: cannot redrive jobs-dlq: Could not connect to the endpoint URL"
    )


def test_an_unknown_stack_exits_2_naming_the_stacks_there_are() -> None:
    # Given no Pulumi.nope.yaml
    # When the operator names that stack
    result = run_dmd("dlq", "redrive", "--queue", "jobs-dlq", "--stack", "nope")

    # Then the command stops before any AWS call, naming the stacks there are
    assert result.exit_code == 2
    assert flat(result.output) == "dmd: unknown stack 'nope' (stacks: local, prod1, qa1)"


@pytest.fixture
def on_local(trouble: Incident, monkeypatch: pytest.MonkeyPatch) -> Incident:
    """`--stack local` reaches the incident; any other stack resolves as usual."""
    local_stack_is(trouble.target, monkeypatch)
    return trouble


LIST_COLUMNS = ("queue", "worker", "kind", "depth", "visible", "in flight", "delayed", "oldest")


def test_list_shows_every_dlq_and_on_failure_queue_with_worker_kind_depth_and_age(on_local: Incident) -> None:
    # Given two batches in notification_send's on-failure queue and every other queue empty
    # When on-call lists the stack's queues of given-up work
    result = run_dmd("dlq", "list", "--stack", "local")

    # Then each of the seven (and any added worker's) is listed with its worker and kind, the full one
    # with its depth and age
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout, LIST_COLUMNS)
    assert rows[SEND_ON_FAILURE] == {
        "queue": SEND_ON_FAILURE,
        "worker": "notification_send",
        "kind": "on-failure",
        "depth": "2",
        "visible": "2",
        "in flight": "0",
        "delayed": "0",
        "oldest": "10m",
    }
    assert {
        name.removeprefix(LOCAL_PREFIX): (row["kind"], row["depth"], row["oldest"])
        for name, row in rows.items()
    } == {
        "dmnd-stream-to-sqs-on-failure": ("on-failure", "0", "-"),
        "event-short-url-dlq": ("dlq", "0", "-"),
        "generation-jobs-dlq": ("dlq", "0", "-"),
        "ntfcn-schdlr-schedule-dlq": ("schedule-dlq", "0", "-"),
        "ntfcn-snd-on-failure": ("on-failure", "2", "10m"),
        "ntfcn-swpr-schedule-dlq": ("schedule-dlq", "0", "-"),
        "sms-status-on-failure": ("on-failure", "0", "-"),
        # and those of any worker added after the shipped ones, empty
        **{queue: (kind, "0", "-") for queue, _, kind in held_queues_of_added()},
    }
    assert {rows[LOCAL_PREFIX + queue]["worker"] for queue, _, _ in held_queues_of_added()} == set(
        added_names("stream", "schedule")
    )


def test_list_json_has_the_documented_keys_and_receives_nothing(on_local: Incident) -> None:
    # When a script lists the queues as JSON
    result = run_dmd("dlq", "list", "--stack", "local", "--json")

    # Then each entry has exactly the documented keys
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document) == 7 + len(held_queues_of_added())
    assert {key for entry in document for key in entry} == {
        "queue",
        "worker",
        "kind",
        "exists",
        "depth",
        "visible",
        "inFlight",
        "delayed",
        "oldestAgeSeconds",
    }
    full = next(entry for entry in document if entry["queue"] == SEND_ON_FAILURE)
    assert (full["depth"], full["oldestAgeSeconds"]) == (2, 600.0)
    # And listing consumed nothing: both batches are still visible
    assert depth(on_local.target.clients, SEND_ON_FAILURE) == 2
    assert full["visible"] == 2


def test_list_of_an_unknown_stack_exits_2() -> None:
    result = run_dmd("dlq", "list", "--stack", "nope")
    assert result.exit_code == 2
    assert "unknown stack 'nope'" in flat(result.output)
