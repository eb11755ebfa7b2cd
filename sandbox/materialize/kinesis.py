"""Kinesis data streams: mode, shards, retention, encryption, enhanced monitoring and tags."""

from __future__ import annotations

from sandbox.materialize.api_shapes import compact
from sandbox.materialize.results import Kind
from sandbox.materialize.step import Step


def create_stream(step: Step) -> dict[str, str]:
    """A stream with its retention, encryption, shard-level metrics and tags, read back and verified."""
    inputs, kinesis = step.inputs, step.client("kinesis")
    name = step.physical_name()
    mode = (inputs.get("streamModeDetails") or {}).get("streamMode", "PROVISIONED")
    request = compact(
        StreamName=name,
        StreamModeDetails={"StreamMode": mode},
        ShardCount=inputs.get("shardCount") if mode == "PROVISIONED" else None,
    )
    kinesis.create_stream(**request)
    retention = inputs.get("retentionPeriod", 24)
    if retention > 24:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=retention)
    if inputs.get("encryptionType") == "KMS":
        kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=inputs["kmsKeyId"])
    if inputs.get("shardLevelMetrics"):
        kinesis.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=inputs["shardLevelMetrics"])
    if inputs.get("tags"):
        kinesis.add_tags_to_stream(StreamName=name, Tags=inputs["tags"])
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    sent = compact(
        StreamModeDetails=request["StreamModeDetails"],
        OpenShardCount=request.get("ShardCount"),
        RetentionPeriodHours=retention,
        EncryptionType=inputs.get("encryptionType"),
        KeyId=inputs.get("kmsKeyId"),
        ShardLevelMetrics=sorted(inputs["shardLevelMetrics"]) if inputs.get("shardLevelMetrics") else None,
    )
    monitoring = summary.get("EnhancedMonitoring") or [{}]
    stored = {**summary, "ShardLevelMetrics": sorted(monitoring[0].get("ShardLevelMetrics", []))}
    step.verify(sent, stored)
    arn = summary["StreamARN"]
    step.record(Kind.STREAM, name, arn)
    return {"id": arn, "arn": arn}
