"""Cross references: mock ARNs, URLs and ids in later inputs are rewritten to the emulator's."""

from __future__ import annotations

from infra.synth import RecordedResource
from sandbox.materialize.references import References

QUEUE = "arn:aws:sqs:us-east-1:123456789012:jobs"


def test_a_learned_arn_is_rewritten_at_any_depth_but_never_inside_a_longer_name() -> None:
    # Given the real ARN of a queue learned from its mock ARN
    references = References(account_id="123456789012", region="us-east-1")
    references.learn({"arn": QUEUE}, {"arn": "arn:aws:sqs:us-east-1:000000000000:jobs"})
    # When inputs naming the queue and its dead-letter queue are resolved
    resolved = references.resolve({"policy": [QUEUE, f"{QUEUE}-dlq"], "text": f"to {QUEUE} now"})
    # Then only the queue's own ARN is rewritten, wherever it stands
    assert resolved == {
        "policy": ["arn:aws:sqs:us-east-1:000000000000:jobs", f"{QUEUE}-dlq"],
        "text": "to arn:aws:sqs:us-east-1:000000000000:jobs now",
    }


def test_short_values_such_as_versions_are_not_learned() -> None:
    # Given a mock version "1" whose real value differs
    references = References(account_id="123456789012", region="us-east-1")
    references.learn({"version": "1"}, {"version": "2"})
    # Then text holding "1" is left alone
    assert references.resolve("step 1") == "step 1"


def test_mock_outputs_are_the_recording_mocks_for_that_resource() -> None:
    # Given a queue as the program registers it
    queue = RecordedResource(
        type_="aws:sqs/queue:Queue", name="jobs-queue", parent=None, custom=True, inputs={"name": "jobs"}
    )
    # When its mock outputs are computed
    outputs = References(account_id="123456789012", region="us-east-1").mock_outputs(queue)
    # Then they are the ARN and URL the graph's later inputs hold
    assert outputs["arn"] == QUEUE
    assert outputs["url"].endswith("/123456789012/jobs")
