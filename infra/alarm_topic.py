"""The stack's alarm topic, encrypted with a key CloudWatch may use."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import AlarmTopicSettings
from infra.iam import json_document
from infra.naming import Naming

COMPONENT_TYPE = "dmd:platform:AlarmTopic"


@dataclass(frozen=True, kw_only=True)
class AlarmTopicArgs:
    """Topic identity, account, subscribers, and the stack's key when it has one."""

    naming: Naming
    account_id: str
    settings: AlarmTopicSettings
    kms_key_arn: pulumi.Input[str] | None = None
    """The stack's customer-managed key (its policy lets CloudWatch publish); None: a key of its own."""


def _fingerprint(endpoint: str) -> str:
    """Stable short id of a subscriber: reordering the list must not replace subscriptions."""
    return hashlib.sha256(endpoint.encode()).hexdigest()[:10]


class AlarmTopic(pulumi.ComponentResource):
    """SNS topic for every alarm (under the stack's key, else a key of its own) and its subscriptions."""

    key: aws.kms.Key | None
    topic: aws.sns.Topic
    subscriptions: list[aws.sns.TopicSubscription]

    def __init__(self, name: str, args: AlarmTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        naming = args.naming
        # The AWS-managed SNS key does not let CloudWatch publish: the topic is under the stack's key
        # (one key per stack), or, in a stack without one, under a key of its own.
        self.key = None if args.kms_key_arn is not None else self._own_key(name, args)
        topic_key = args.kms_key_arn if self.key is None else self.key.arn
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=naming.alarm_topic_name,
            kms_master_key_id=topic_key,
            tags=naming.tags(),
            opts=child,
        )
        self.subscriptions = [
            aws.sns.TopicSubscription(
                f"{name}-subscription-{subscription.protocol}-{_fingerprint(subscription.endpoint)}",
                topic=self.topic.arn,
                protocol=subscription.protocol,
                endpoint=subscription.endpoint,
                # An https endpoint that confirms by itself (PagerDuty, Opsgenie) must be declared so:
                # otherwise the provider leaves the subscription pending and never sees it confirmed.
                endpoint_auto_confirms=True if subscription.protocol == "https" else None,
                opts=child,
            )
            for subscription in args.settings.subscriptions
        ]
        self.register_outputs({"topic_arn": self.topic.arn})

    def _own_key(self, name: str, args: AlarmTopicArgs) -> aws.kms.Key:
        naming = args.naming
        return aws.kms.Key(
            f"{name}-key",
            description=f"{naming.alarm_topic_name} topic encryption",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=json_document(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountAdministers",
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{args.account_id}:root"},
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "CloudWatchPublishes",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                            "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
                        },
                    ],
                }
            ),
            tags=naming.tags(),
            opts=pulumi.ResourceOptions(parent=self),
        )
