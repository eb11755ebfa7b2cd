"""A work queue with its dead-letter queue."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TypedDict

import pulumi
import pulumi_aws as aws

from infra.config import QueueSettings
from infra.naming import Naming, dead_letter_queue_name

COMPONENT_TYPE = "dmd:platform:WorkQueue"
# How long SQS reuses a data key before asking KMS again (AWS's default): at most one
# GenerateDataKey/Decrypt per sender or receiver every 5 minutes, not one per message.
DATA_KEY_REUSE_SECONDS = 300


class QueueEncryption(TypedDict, total=False):
    """The encryption arguments of an `aws.sqs.Queue`."""

    sqs_managed_sse_enabled: bool
    kms_master_key_id: pulumi.Input[str]
    kms_data_key_reuse_period_seconds: int


def queue_encryption(kms_key_arn: pulumi.Input[str] | None) -> QueueEncryption:
    """Under the stack's key when it has one, else SSE-SQS (the two exclude each other in SQS)."""
    if kms_key_arn is None:
        return {"sqs_managed_sse_enabled": True}
    return {"kms_master_key_id": kms_key_arn, "kms_data_key_reuse_period_seconds": DATA_KEY_REUSE_SECONDS}


@dataclass(frozen=True, kw_only=True)
class WorkQueueArgs:
    """Queue identity and settings."""

    naming: Naming
    suffix: str
    settings: QueueSettings
    kms_key_arn: pulumi.Input[str] | None = None
    """The stack's customer-managed key; None: SQS-managed encryption (SSE-SQS)."""


class WorkQueue(pulumi.ComponentResource):
    """An encrypted SQS queue whose poison messages land in a DLQ under the same key after N receives."""

    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue
    queue_name: str
    dead_letter_queue_name: str

    def __init__(self, name: str, args: WorkQueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        settings = args.settings
        self.queue_name = args.naming.queue_name(args.suffix)
        self.dead_letter_queue_name = dead_letter_queue_name(self.queue_name)
        child = pulumi.ResourceOptions(parent=self)
        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dlq",
            name=self.dead_letter_queue_name,
            message_retention_seconds=settings.dlq_retention_seconds,
            **queue_encryption(args.kms_key_arn),
            tags=args.naming.tags(),
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=self.queue_name,
            visibility_timeout_seconds=settings.visibility_timeout_seconds,
            message_retention_seconds=settings.message_retention_seconds,
            **queue_encryption(args.kms_key_arn),
            redrive_policy=self.dead_letter_queue.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": settings.max_receive_count}
                )
            ),
            tags=args.naming.tags(),
            opts=child,
        )
        # Only this queue may redrive into the DLQ, so a stray producer cannot hide work there.
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-allow",
            queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=self.queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
            ),
            opts=child,
        )
        self.register_outputs(
            {"queue_url": self.queue.url, "dead_letter_queue_url": self.dead_letter_queue.url}
        )
