"""Kinesis data streams the program creates: KMS-encrypted, with the shard metrics the alarms watch."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from infra.config import StreamSettings

AWS_MANAGED_KINESIS_KEY = "alias/aws/kinesis"


def kinesis_stream(
    resource_name: str,
    *,
    stream_name: str,
    settings: StreamSettings,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    kms_key_arn: pulumi.Input[str] | None = None,
) -> aws.kinesis.Stream:
    """A stream encrypted with the stack's key (else AWS's Kinesis key), retention and mode from config."""
    return aws.kinesis.Stream(
        resource_name,
        name=stream_name,
        retention_period=settings.retention_hours,
        shard_count=settings.shard_count,
        stream_mode_details=aws.kinesis.StreamStreamModeDetailsArgs(stream_mode=settings.mode),
        encryption_type="KMS",
        kms_key_id=kms_key_arn if kms_key_arn is not None else AWS_MANAGED_KINESIS_KEY,
        shard_level_metrics=["IncomingRecords", "WriteProvisionedThroughputExceeded"],
        tags=dict(tags),
        opts=opts,
    )
