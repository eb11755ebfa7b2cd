"""Policy documents from data: `json_document` renders what `Output.json_dumps` does, dependencies too."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from infra.iam import json_document
from infra.synth import SECRET_PLACEHOLDER, UNKNOWN_PLACEHOLDER, Secret, run_under_mocks


def _document(queue: aws.sqs.Queue, function: aws.lambda_.Function) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Nested",
                "Action": ("sqs:SendMessage",),
                "Resource": [queue.arn, pulumi.Output.concat(queue.arn, "/*"), "arn:aws:sqs:::plain"],
                "Condition": {"ArnLike": {"aws:SourceArn": function.arn}, "Numbers": [1, 2.5, True, None]},
            }
        ],
    }


@pytest.mark.parametrize("preview", [False, True])
def test_json_document_renders_the_text_and_dependencies_of_output_json_dumps(preview: bool) -> None:
    # Given a document whose leaves are plain values and outputs of two resources, nested in dicts,
    # lists and tuples
    def build() -> None:
        queue = aws.sqs.Queue("queue", name="jobs")
        function = aws.lambda_.Function("function", name="fn", role="arn:aws:iam::1:role/r")
        # When it is rendered by json_document and by the SDK's json_dumps
        aws.iam.Policy("ours", policy=json_document(_document(queue, function)))
        aws.iam.Policy("sdk", policy=pulumi.Output.json_dumps(_document(queue, function)))

    graph = run_under_mocks(build, preview=preview)

    # Then both registered the same JSON text, depending on the same resources
    ours, sdk = graph.named("ours"), graph.named("sdk")
    assert ours.inputs == sdk.inputs
    assert '"Resource": ["arn:aws:sqs:us-east-1:123456789012:jobs"' in ours.inputs["policy"]
    assert ours.options["dependencies"] == sdk.options["dependencies"] == ["function", "queue"]


def test_json_document_is_unknown_while_an_output_is_and_secret_when_one_is() -> None:
    # Given documents with a value not known in a preview, and with a secret
    def build() -> None:
        function = aws.lambda_.Function("function", name="fn", role="arn:aws:iam::1:role/r")
        # (AWS computes `last_modified`; the mocks leave it out, so a preview does not know it)
        aws.iam.Policy("unknown", policy=json_document({"Stamp": [function.last_modified]}))
        aws.iam.Policy("secret", policy=json_document({"Token": {"Value": pulumi.Output.secret("s3cr3t")}}))
        aws.iam.Policy("plain", policy=json_document({"Statement": []}))

    graph = run_under_mocks(build, preview=True)

    # Then the first stays unknown, the second is a secret, and a document without outputs is its text
    assert graph.named("unknown").inputs["policy"] == UNKNOWN_PLACEHOLDER
    secret = graph.named("secret").inputs["policy"]
    assert isinstance(secret, Secret) and secret.value == '{"Token": {"Value": "s3cr3t"}}'
    assert SECRET_PLACEHOLDER in graph.to_json()
    assert graph.named("plain").inputs["policy"] == '{"Statement": []}'
