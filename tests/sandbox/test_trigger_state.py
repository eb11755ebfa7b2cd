"""A trigger's live state in the emulator: read at most once a second, a deleted trigger reads disabled."""

from __future__ import annotations

import json

import pytest

from aws_clients import AwsClients
from sandbox.materialize import placeholder_archive
from sandbox.trigger_state import TriggerState, mapping_state, rule_state
from tests.sandbox.conftest import ACCOUNT, REGION

QUEUE = "prd3292-test-jobs"
FUNCTION = "prd3292-test-worker"
RULE = "prd3292-test-schedule"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_state_is_read_once_per_max_age_and_follows_the_trigger_after_it() -> None:
    # Given a trigger read through a counting reader, kept for one second
    answers = [True]
    reads: list[bool] = []

    def read() -> bool:
        reads.append(answers[0])
        return answers[0]

    monotonic = FakeMonotonic()
    state = TriggerState(read, max_age=1.0, monotonic=monotonic)
    # When it is asked many times within the second, while the trigger is disabled meanwhile
    assert state.enabled()
    answers[0] = False
    monotonic.now += 0.5
    # Then the first answer holds, from one read
    assert [state.enabled() for _ in range(20)] == [True] * 20
    assert len(reads) == 1
    # And once the second has passed, the disabled state is read, once
    monotonic.now += 0.5
    assert not state.enabled()
    assert not state.enabled()
    assert reads == [True, False]


@pytest.mark.slow
def test_a_mapping_and_a_rule_read_their_state_in_the_emulator(aws: AwsClients) -> None:
    # Given a queue mapping and a schedule rule in the emulator
    lambda_, events = aws.client("lambda"), aws.client("events")
    queue_url = aws.client("sqs").create_queue(QueueName=QUEUE)["QueueUrl"]
    role = aws.client("iam").create_role(RoleName=FUNCTION, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    lambda_.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": placeholder_archive()},
    )
    uuid = lambda_.create_event_source_mapping(
        FunctionName=FUNCTION, EventSourceArn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}", BatchSize=1
    )["UUID"]
    events.put_rule(Name=RULE, ScheduleExpression="rate(1 minute)", State="ENABLED")
    mapping, rule = mapping_state(lambda_, uuid, max_age=0), rule_state(events, RULE, max_age=0)
    assert mapping.enabled() and rule.enabled()
    # When both are disabled, as `dmd maintenance start` does
    lambda_.update_event_source_mapping(UUID=uuid, Enabled=False)
    events.disable_rule(Name=RULE)
    # Then both read disabled, and the queue still holds what is sent to it (the emulator invokes nothing)
    assert not mapping.enabled() and not rule.enabled()
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody="{}")
    assert len(aws.client("sqs").receive_message(QueueUrl=queue_url)["Messages"]) == 1
    # And enabled again, they read enabled
    lambda_.update_event_source_mapping(UUID=uuid, Enabled=True)
    events.enable_rule(Name=RULE)
    assert mapping.enabled() and rule.enabled()
    # And deleted, they read disabled: nothing polls or fires
    lambda_.delete_event_source_mapping(UUID=uuid)
    events.delete_rule(Name=RULE)
    assert not mapping.enabled() and not rule.enabled()
