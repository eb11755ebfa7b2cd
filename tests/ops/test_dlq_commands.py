"""`dmd dlq redrive`: what the operator sees and the exit codes, against moto in process or over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from ops.dead_letters import depth
from sandbox.emulator import Emulator
from tests.ops.cli_output import flat, run_dmd

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
def in_process() -> Iterator[AwsClients]:
    """A fresh in-process moto, which the command reaches as real AWS (no endpoint)."""
    with mock_aws():
        yield AwsClients.for_emulator(None, region=REGION)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """A moto server on a free loopback port, which the command reaches with --endpoint-url."""
    with Emulator(port=0, configure_environment=False) as running:
        yield running


def test_a_dry_run_shows_what_would_move_and_moves_nothing(in_process: AwsClients) -> None:
    # Given a DLQ holding two messages from the jobs queue
    jobs = _jobs_with_dead_letters(in_process, "first", "second")

    # When the operator asks for a dry run
    result = run_dmd("dlq", "redrive", "--queue", "jobs-dlq", "--dry-run")

    # Then the command says where the two messages would go, and they are still in the DLQ
    assert result.exit_code == 0, result.output
    assert flat(result.output) == f"dry run: 2 messages in jobs-dlq would go back to {jobs}"
    assert depth(in_process, "jobs-dlq") == 2


def test_a_redrive_through_an_emulator_moves_the_messages_by_hand(emulator: Emulator) -> None:
    # Given an emulator (which lacks StartMessageMoveTask) whose DLQ holds three messages from jobs
    emulator.reset()
    clients = AwsClients.for_emulator(emulator.endpoint_url, region=REGION)
    jobs = _jobs_with_dead_letters(clients, "first", "second", "third")

    # When the operator redrives it there
    result = run_dmd("dlq", "redrive", "--queue", "jobs-dlq", "--endpoint-url", emulator.endpoint_url)

    # Then the three messages are back on jobs, and the command says how they were moved
    assert result.exit_code == 0, result.output
    assert flat(result.output) == (
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
    result = run_dmd("dlq", "redrive", "--queue", queue)

    # Then the command refuses with the reason
    assert result.exit_code == 1
    assert flat(result.output) == reason


def test_an_unreachable_endpoint_exits_2(unreachable_endpoint: str) -> None:
    # Given an endpoint where nothing listens
    # When the operator redrives through it
    result = run_dmd("dlq", "redrive", "--queue", "jobs-dlq", "--endpoint-url", unreachable_endpoint)

    # Then the command cannot reach AWS and says so
    assert result.exit_code == 2
    assert flat(result.output).startswith("cannot redrive jobs-dlq: Could not connect to the endpoint URL")


def test_an_unknown_stack_exits_2_naming_the_missing_stack_file() -> None:
    # Given no Pulumi.nope.yaml
    # When the operator names that stack
    result = run_dmd("dlq", "redrive", "--queue", "jobs-dlq", "--stack", "nope")

    # Then the command stops before any AWS call, naming the file
    assert result.exit_code == 2
    assert "Pulumi.nope.yaml" in result.output
