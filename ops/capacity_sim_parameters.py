"""The simulation's parameters for a stack on AWS or for the sandbox: the closed form's own inputs."""

from __future__ import annotations

import math

from ops.capacity import batch_records, send_figures
from ops.capacity_inputs import (
    DYNAMODB_PARTITION_WRITES,
    KINESIS_RECORDS_PER_SHARD,
    LAMBDA_SCALING_ENVIRONMENTS,
    LAMBDA_SCALING_SECONDS,
    PENDING_INDEX_PARTITIONS,
    QUEUE_POLL_SECONDS,
    STREAM_COPY_SECONDS,
    STREAM_POLL_SECONDS,
    CapacityCosts,
    ExternalLimits,
    PipelineShape,
    Workload,
)
from ops.capacity_sandbox import SandboxProfile, last_status_seconds, loaded_costs, sweeper_stretch
from ops.capacity_sim import Bucket, SimParameters


def aws_parameters(
    shape: PipelineShape, costs: CapacityCosts, limits: ExternalLimits, workload: Workload
) -> SimParameters:
    """The simulation of a stack on AWS, from the closed form's own inputs."""
    figures = send_figures(shape, costs, workload)
    aws, faults = costs.aws, workload.faults
    writes_per_attempt = 2.0
    buckets = [
        Bucket("SMS vendor", limits.sms_per_second, per_sms=1),
        Bucket("SES", limits.ses_per_second, per_email=1),
        Bucket(
            "table stream",
            shape.stream_shards * KINESIS_RECORDS_PER_SHARD,
            per_creation=1,
            per_sms=writes_per_attempt,
            per_email=writes_per_attempt,
            per_sms_sent=2,
        ),
        Bucket(
            "table writes",
            limits.table_writes_per_second,
            per_creation=1,
            per_sms=writes_per_attempt,
            per_email=writes_per_attempt,
            per_sms_sent=2,
        ),
        Bucket(
            "pending index",
            PENDING_INDEX_PARTITIONS * DYNAMODB_PARTITION_WRITES,
            per_creation=1,
            per_sms=writes_per_attempt,
            per_email=writes_per_attempt,
        ),
    ]
    return SimParameters(
        notifications=workload.notifications,
        sales=workload.sales,
        sms_share=workload.sms_share,
        scheduler_seconds=aws.scheduler_seconds,
        job_start_seconds=QUEUE_POLL_SECONDS,
        generator_concurrency=shape.generator_concurrency,
        page_size=shape.demand_page_size,
        first_page_seconds=aws.page_read_ms / 1000,
        generator_ms=figures.generator_ms,
        visible_seconds=STREAM_COPY_SECONDS + STREAM_POLL_SECONDS,
        first_invocation_seconds=0.0,
        window_seconds=shape.send_window_seconds,
        lanes=shape.lanes,
        concurrency=shape.send_concurrency,
        scaling_per_second=LAMBDA_SCALING_ENVIRONMENTS / LAMBDA_SCALING_SECONDS,
        batch_size=shape.send_batch_size,
        overhead_ms=0.0 if aws.measured_send_ms is not None else aws.invocation_overhead_ms,
        sms_ms=figures.sms_record_ms,
        email_ms=figures.email_record_ms,
        register_ms=0.0 if aws.measured_send_ms is not None else figures.write_ms,
        timeout_rate=faults.timeout,
        timeout_seconds=float(shape.send_timeout_seconds),
        transient=faults.sms_transient,
        permanent=faults.sms_permanent,
        max_attempts=shape.max_send_attempts,
        backoff_base=shape.retry_backoff_seconds,
        buckets=tuple(buckets),
    )


def sandbox_parameters(
    shape: PipelineShape, costs: CapacityCosts, workload: Workload, profile: SandboxProfile
) -> SimParameters:
    """The simulation of `dmd sandbox demo`: every stage's work through the one process, in turns."""
    emulator, speed = loaded_costs(profile, costs).emulator, profile.speed
    half_poll = profile.idle_poll_seconds / 2
    # The first imports, one per pipeline stage (scheduler, generator, sender, status consumer).
    cold = emulator.init_seconds / 4
    stretch = sweeper_stretch(emulator.sweeper_run_seconds, profile)
    process = Bucket(
        "the sandbox's one process",
        1.0,
        per_creation=emulator.generator_ms / 1000 * stretch,
        per_sms=emulator.send_ms / 1000 * stretch,
        per_email=emulator.send_ms / 1000 * stretch,
        per_sms_sent=profile.status_events_per_sms * emulator.status_ms / 1000 * stretch,
    )
    return SimParameters(
        notifications=workload.notifications,
        sales=workload.sales,
        sms_share=workload.sms_share,
        scheduler_seconds=profile.schedule_round_seconds / 2
        + cold
        + profile.scheduler_runs * emulator.scheduler_seconds,
        job_start_seconds=half_poll + cold,
        generator_concurrency=1,
        page_size=shape.demand_page_size,
        first_page_seconds=0.0,
        generator_ms=0.0,
        visible_seconds=half_poll + profile.stream_read_seconds / 2,
        first_invocation_seconds=cold,
        window_seconds=shape.send_window_seconds / speed,
        lanes=shape.lanes,
        concurrency=shape.lanes,
        scaling_per_second=math.inf,
        batch_size=shape.send_batch_size,
        overhead_ms=0.0,
        sms_ms=0.0,
        email_ms=0.0,
        register_ms=0.0,
        timeout_rate=workload.faults.timeout,
        timeout_seconds=shape.send_timeout_seconds / speed,
        transient=workload.faults.sms_transient,
        permanent=workload.faults.sms_permanent,
        max_attempts=shape.max_send_attempts,
        backoff_base=profile.retry_backoff_seconds / speed,
        end_seconds=last_status_seconds(shape, workload, profile) + cold + profile.check_seconds / 2,
        buckets=(process,),
        cold_start_is_work=True,
    )


def batches_expected(shape: PipelineShape, costs: CapacityCosts, workload: Workload) -> float:
    """Roughly how many send batches the sale takes (for progress and sanity checks)."""
    figures = send_figures(shape, costs, workload)
    return workload.notifications * figures.sends / batch_records(shape, workload, figures)
