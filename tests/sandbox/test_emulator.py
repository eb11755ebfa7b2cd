"""The emulator process: starts on loopback, answers boto3, resets, stops without leaving orphans."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import boto3
import pytest

from aws_clients import AwsClients
from sandbox.emulator import Emulator, EmulatorError

# Each test starts its own server process.
pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); a reaped child does not exist at all.
    with open(f"/proc/{pid}/stat") as stat:  # noqa: PTH123 - /proc, Linux only
        return stat.read().split()[2] != "Z"


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback port something else already listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_the_emulator_serves_boto3_through_the_environment_and_cleans_up() -> None:
    # Given no endpoint in the environment
    assert "AWS_ENDPOINT_URL" not in os.environ
    # When the emulator runs on a free port
    with Emulator(port=0) as emulator:
        pid = emulator.pid
        assert _alive(pid)
        # Then a plain boto3 client (as the workers build them) reaches it through the environment
        assert os.environ["AWS_ENDPOINT_URL"] == emulator.endpoint_url
        assert os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] == "disabled"
        sqs = boto3.client("sqs")
        sqs.create_queue(QueueName="probe")
        assert sqs.list_queues()["QueueUrls"] == [f"{emulator.endpoint_url}/123456789012/probe"]
        # And a reset empties it
        emulator.reset()
        assert "QueueUrls" not in sqs.list_queues()
    # And after the block the process is gone and the environment is as it was
    assert not _alive(pid)
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"


def test_an_interrupt_inside_the_block_still_stops_the_process() -> None:
    # Given a running emulator
    with pytest.raises(KeyboardInterrupt), Emulator(port=0, configure_environment=False) as emulator:
        pid = emulator.pid
        # When the user presses Ctrl-C inside the block
        raise KeyboardInterrupt
    # Then the server process is gone all the same
    assert not _alive(pid)


def test_a_taken_port_is_refused_with_a_message_naming_it(listening_port: int) -> None:
    # Given a port another process listens on
    # When an emulator is asked to use it
    with pytest.raises(EmulatorError, match=rf"port {listening_port} on 127\.0\.0\.1 is already in use"):
        Emulator(port=listening_port).start()
    # Then nothing was started and the environment is untouched
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_the_emulator_counts_the_calls_it_receives_from_when_counting_starts() -> None:
    # Given a running emulator and a queue created before counting starts
    with Emulator(port=0, configure_environment=False) as emulator:
        clients = AwsClients.for_emulator(emulator.endpoint_url, region="us-east-1")
        sqs = clients.client("sqs")
        url = sqs.create_queue(QueueName="counted")["QueueUrl"]
        emulator.start_counting(keep=["SendTemplatedEmail"])
        # When three messages are sent and an email is attempted through SES
        for body in ("a", "b", "c"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        ses = clients.client("ses")
        with pytest.raises(ses.exceptions.ClientError):  # the template does not exist
            ses.send_templated_email(
                Source="a@sandbox.example.com",
                Destination={"ToAddresses": ["b@fans.example.com"]},
                Template="missing",
                TemplateData="{}",
            )
        counted = emulator.counted_calls()
    # Then only the calls after the start are counted, by service and operation
    assert counted.counts == {("sqs", "SendMessage", ""): 3, ("ses", "SendTemplatedEmail", ""): 1}
    # And the email's request was kept whole
    [body] = counted.bodies("SendTemplatedEmail")
    assert "Action=SendTemplatedEmail" in body and "b%40fans.example.com" in body


def test_a_restart_carries_the_state_and_the_counts_to_a_new_process_on_the_same_port() -> None:
    # Given a running emulator with a queue holding a message, counting calls
    with Emulator(port=0, configure_environment=False) as emulator:
        clients = AwsClients.for_emulator(emulator.endpoint_url, region="us-east-1")
        sqs = clients.client("sqs")
        url = sqs.create_queue(QueueName="kept")["QueueUrl"]
        emulator.start_counting()
        sqs.send_message(QueueUrl=url, MessageBody="before")
        old_pid, port = emulator.pid, emulator.port

        # When it restarts, staying down a moment
        restart = emulator.restart(down_seconds=0.2)

        # Then another process serves on the same port, the old one is gone
        assert restart.old_pid == old_pid and restart.new_pid == emulator.pid != old_pid
        assert emulator.port == port and not _alive(old_pid)
        assert "sqs" in restart.saved["services"] and restart.down_seconds >= 0.2
        # And the queue and its message are there, and the counts went on from where they were
        [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert message["Body"] == "before"
        counted = emulator.counted_calls().counts
        assert counted == {("sqs", "SendMessage", ""): 1, ("sqs", "ReceiveMessage", ""): 1}
    assert not _alive(restart.new_pid)
