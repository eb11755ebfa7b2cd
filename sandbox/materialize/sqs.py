"""SQS queues, and the attributes set on an existing queue (queue policy, redrive allow policy)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sandbox.materialize.api_shapes import attribute_map, attribute_text
from sandbox.materialize.results import Kind
from sandbox.materialize.step import Creator, Step

# Graph input → queue attribute.
QUEUE_ATTRIBUTES: Final[Mapping[str, str]] = {
    "visibilityTimeoutSeconds": "VisibilityTimeout",
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "delaySeconds": "DelaySeconds",
    "maxMessageSize": "MaximumMessageSize",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "redrivePolicy": "RedrivePolicy",
    "redriveAllowPolicy": "RedriveAllowPolicy",
    "policy": "Policy",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "kmsDataKeyReusePeriodSeconds": "KmsDataKeyReusePeriodSeconds",
    "fifoQueue": "FifoQueue",
    "contentBasedDeduplication": "ContentBasedDeduplication",
}


def create_queue(step: Step) -> dict[str, str]:
    """A queue with its attributes and tags, read back and verified; recorded by ARN and by URL."""
    inputs, sqs = step.inputs, step.client("sqs")
    name = step.physical_name()
    attributes = attribute_map(inputs, QUEUE_ATTRIBUTES)
    url = sqs.create_queue(QueueName=name, Attributes=attributes, tags=inputs.get("tags") or {})["QueueUrl"]
    stored = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    step.verify(attributes, stored)
    arn = stored["QueueArn"]
    step.record(Kind.QUEUE, name, arn)
    step.record(Kind.QUEUE_URL, name, url)
    return {"id": url, "arn": arn, "url": url}


def queue_attribute_setter(attribute: str, input_key: str, kind: Kind) -> Creator:
    """A creator that sets one attribute on an existing queue (queue policy, redrive allow policy)."""

    def set_attribute(step: Step) -> dict[str, str]:
        sqs, url = step.client("sqs"), step.inputs["queueUrl"]
        sent = {attribute: attribute_text(step.inputs[input_key])}
        sqs.set_queue_attributes(QueueUrl=url, Attributes=sent)
        step.verify(sent, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])
        step.record(kind, url.rsplit("/", 1)[-1], url)
        return {"id": url}

    return set_attribute


create_queue_policy: Final = queue_attribute_setter("Policy", "policy", Kind.QUEUE_POLICY)
create_redrive_allow_policy: Final = queue_attribute_setter(
    "RedriveAllowPolicy", "redriveAllowPolicy", Kind.REDRIVE_ALLOW_POLICY
)
