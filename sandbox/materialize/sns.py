"""SNS topics and their subscriptions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sandbox.materialize.api_shapes import attribute_map, tag_list
from sandbox.materialize.results import Kind
from sandbox.materialize.step import Step

# Graph input → topic attribute, and → subscription attribute.
TOPIC_ATTRIBUTES: Final[Mapping[str, str]] = {
    "kmsMasterKeyId": "KmsMasterKeyId",
    "displayName": "DisplayName",
    "policy": "Policy",
    "fifoTopic": "FifoTopic",
}
SUBSCRIPTION_ATTRIBUTES: Final[Mapping[str, str]] = {
    "rawMessageDelivery": "RawMessageDelivery",
    "filterPolicy": "FilterPolicy",
    "redrivePolicy": "RedrivePolicy",
}


def create_topic(step: Step) -> dict[str, str]:
    """A topic with its attributes and tags, read back and verified."""
    inputs, sns = step.inputs, step.client("sns")
    name = step.physical_name()
    attributes = attribute_map(inputs, TOPIC_ATTRIBUTES)
    arn = sns.create_topic(Name=name, Attributes=attributes, Tags=tag_list(inputs.get("tags")))["TopicArn"]
    step.verify(attributes, sns.get_topic_attributes(TopicArn=arn)["Attributes"])
    step.record(Kind.TOPIC, name, arn)
    return {"id": arn, "arn": arn}


def create_subscription(step: Step) -> dict[str, str]:
    """A subscription of an endpoint to a topic, with its attributes."""
    inputs, sns = step.inputs, step.client("sns")
    arn = sns.subscribe(
        TopicArn=inputs["topic"],
        Protocol=inputs["protocol"],
        Endpoint=inputs["endpoint"],
        Attributes=attribute_map(inputs, SUBSCRIPTION_ATTRIBUTES),
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    step.record(Kind.SUBSCRIPTION, f"{inputs['protocol']}:{inputs['endpoint']}", arn)
    return {"id": arn, "arn": arn}
