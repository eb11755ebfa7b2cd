"""Kinesis data streams the program creates: encrypted, with the shard metrics the alarms watch."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from infra.config import StreamSettings


def kinesis_stream(
    resource_name: str,
    *,
    stream_name: str,
    settings: StreamSettings,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.kinesis.Stream:
    """An encrypted (AWS-managed KMS key) stream with its retention and capacity mode from config."""
    return aws.kinesis.Stream(
        resource_name,
        name=stream_name,
        retention_period=settings.retention_hours,
        shard_count=settings.shard_count,
        stream_mode_details=aws.kinesis.StreamStreamModeDetailsArgs(stream_mode=settings.mode),
        encryption_type="KMS",
        kms_key_id="alias/aws/kinesis",
        shard_level_metrics=["IncomingRecords", "WriteProvisionedThroughputExceeded"],
        tags=dict(tags),
        opts=opts,
    )
