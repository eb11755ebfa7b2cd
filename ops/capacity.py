"""The capacity model: a sale's time from the scheduler tick to the last reminder sent, stage by stage.

Closed form (docs/capacity.md): each stage's throughput is the least of its limits, each named
with its arithmetic; the pipeline moves at its slowest stage's rate after the stages' start-up
latencies, plus the tail of the retries a fault rate leaves after the last first attempt. The
window holds when that total is within the scheduler's lead time (the first sale of the window
opens `leadMinutes` after the tick). `ops/capacity_sim.py` checks the same answer event by event.
The `local` stack is the sandbox: one process runs every handler against one emulator process,
so its stages share that process instead of running side by side (`sandbox_estimate`).
"""

from __future__ import annotations

import math
from typing import Final

from pydantic import Field

from ops.capacity_inputs import (
    DYNAMODB_PARTITION_WRITES,
    KINESIS_RECORDS_PER_SHARD,
    LAMBDA_SCALING_ENVIRONMENTS,
    LAMBDA_SCALING_SECONDS,
    PENDING_INDEX_PARTITIONS,
    QUEUE_POLL_SECONDS,
    SQS_INITIAL_CONCURRENCY,
    SQS_SCALING_PER_MINUTE,
    STREAM_COPY_SECONDS,
    STREAM_POLL_SECONDS,
    CapacityCosts,
    CapacityModel,
    ExternalLimits,
    PipelineShape,
    Workload,
)

MAX_PARALLELIZATION_FACTOR: Final = 10
ON_DEMAND_NOTE: Final = " (on-demand start)"
MAX_FIX_ROUNDS: Final = 6


class Limit(CapacityModel):
    """One limit of a stage: its rate in notifications per second and how it is computed."""

    name: str
    per_second: float
    arithmetic: str


class Stage(CapacityModel):
    """A stage's throughput (its least limit), its start-up latency and its time for the sale."""

    stage: str
    per_second: float | None
    """Notifications per second (None: a stage that runs once, the scheduler)."""
    binding: str
    """The limit that binds, with its arithmetic."""
    limits: tuple[Limit, ...]
    latency_seconds: float
    """Time before the stage's first output (polls, batching windows, cold starts, ramps)."""
    seconds: float
    """The stage's own time for the whole sale: latency + notifications / throughput."""
    in_window: bool = True
    """False for status tracking, which follows the send (reported, outside the window)."""


class CapacityAnswer(CapacityModel):
    """The model's answer for one stack and sale."""

    stack: str
    notifications: int
    stages: tuple[Stage, ...]
    bottleneck: str
    per_second: float
    """The pipeline's rate: its slowest stage's."""
    latency_seconds: float
    retry_tail_seconds: float
    total_seconds: float
    """Tick → last reminder sent (on `local`: tick → every notification terminal, as the demo measures)."""
    window_seconds: float
    holds: bool
    margin_seconds: float
    notes: tuple[str, ...] = Field(default=())


def one_run(stage: str, what: str, seconds: float) -> Stage:
    """A stage that runs once (no throughput): its time is its latency."""
    return Stage(
        stage=stage, per_second=None, binding=what, limits=(), latency_seconds=seconds, seconds=seconds
    )


def slowest_stage(stages: tuple[Stage, ...]) -> Stage:
    """The in-window stage with the least throughput: the pipeline's bottleneck."""
    rated = [stage for stage in stages if stage.in_window and stage.per_second is not None]
    return min(rated, key=lambda stage: stage.per_second or 0.0)


def _per_second(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else math.inf


def _binding(limits: list[Limit]) -> Limit:
    return min(limits, key=lambda limit: limit.per_second)


def _rate(value: float) -> str:
    return f"{value:,.0f}/s" if value >= 10 else f"{value:,.1f}/s"


def _stage(
    stage: str, limits: list[Limit], latency: float, notifications: int, *, in_window: bool = True
) -> Stage:
    binding = _binding(limits)
    return Stage(
        stage=stage,
        per_second=binding.per_second,
        binding=f"{binding.name}: {binding.arithmetic}",
        limits=tuple(limits),
        latency_seconds=round(latency, 3),
        seconds=round(latency + notifications / binding.per_second, 3),
        in_window=in_window,
    )


class SendFigures(CapacityModel):
    """Derived per-notification figures shared by the closed form and the simulation."""

    sms_attempts: float
    """Expected SMS requests per SMS notification."""
    sends: float
    """Expected vendor requests per notification."""
    write_ms: float
    """One DynamoDB write as the worker waits for it (throttling included)."""
    sms_record_ms: float
    """One SMS attempt's time in a batch: own CPU, claim, the request, the outcome write."""
    email_record_ms: float
    """One email's time in a batch."""
    record_ms: float
    """A send attempt's mean time in a batch."""
    stream_records: float
    """Change records per notification on the table stream (= table writes)."""
    index_writes: float
    """Writes to the pending-notifications index per notification."""
    generator_ms: float
    """The generator's time per notification within one job."""


def send_figures(shape: PipelineShape, costs: CapacityCosts, workload: Workload) -> SendFigures:
    """The per-notification figures the model and the simulation both use."""
    aws, faults, share = costs.aws, workload.faults, workload.sms_share
    attempts = faults.sms_attempts(shape.max_send_attempts)
    sends = share * attempts + (1 - share)
    write = aws.dynamodb_ms * faults.write_factor() + faults.throttle_delay_ms()
    sms = aws.send_cpu_ms + 2 * write + aws.sms_ms
    email = aws.send_cpu_ms + 2 * write + aws.ses_ms
    # An accepted SMS also registers its message (the status rendezvous): one write more per SMS.
    record = (share * (attempts * sms + write) + (1 - share) * email) / sends
    generator = (
        aws.generator_cpu_ms + write / shape.write_parallelism + aws.page_read_ms / shape.demand_page_size
    )
    if aws.measured_send_ms is not None:  # a real stack's Duration per attempt: every part included
        sms = email = record = aws.measured_send_ms
    if aws.measured_generator_ms is not None:
        generator = aws.measured_generator_ms
    return SendFigures(
        sms_attempts=attempts,
        sends=sends,
        write_ms=write,
        sms_record_ms=sms,
        email_record_ms=email,
        record_ms=record,
        # create + (claim + outcome) per attempt + per SMS: its message's registration and status write
        stream_records=1 + 2 * sends + 2 * share,
        index_writes=1 + 2 * sends,
        generator_ms=generator,
    )


def batch_records(shape: PipelineShape, workload: Workload, figures: SendFigures) -> float:
    """Records in a send batch: full batches under a backlog, fewer when the sale is small."""
    per_lane = workload.notifications * figures.sends / max(shape.send_concurrency, 1)
    return max(1.0, min(float(shape.send_batch_size), per_lane))


def batch_ms(shape: PipelineShape, costs: CapacityCosts, workload: Workload, figures: SendFigures) -> float:
    """A send batch's expected duration: records × record time, the invocation, injected timeouts."""
    records = batch_records(shape, workload, figures)
    timeouts = workload.faults.timeout * shape.send_timeout_seconds * 1000
    overhead = 0.0 if costs.aws.measured_send_ms is not None else costs.aws.invocation_overhead_ms
    return overhead + records * figures.record_ms + timeouts


def estimate(
    shape: PipelineShape, costs: CapacityCosts, limits: ExternalLimits, workload: Workload
) -> CapacityAnswer:
    """The closed-form answer on AWS (qa1, prod1 or any stack not emulated)."""
    n = workload.notifications
    figures = send_figures(shape, costs, workload)
    aws, share = costs.aws, workload.sms_share

    scheduler = one_run(
        "notification_scheduler",
        f"one run at the tick: the window's sales found, {workload.sales} generation job(s) enqueued "
        f"({aws.scheduler_seconds:g} s)",
        aws.scheduler_seconds,
    )

    jobs = min(workload.sales, shape.generator_concurrency)
    per_job = 1000 / figures.generator_ms
    rounds = math.ceil(workload.sales / jobs)
    generator_rate = _per_second(n, rounds * (n / workload.sales) / per_job)
    ramp = max(0, jobs - SQS_INITIAL_CONCURRENCY) / (SQS_SCALING_PER_MINUTE / 60)
    generator = _stage(
        "notification_generator",
        [
            Limit(
                name="jobs at once" if rounds > 1 else "one job per sale",
                per_second=generator_rate,
                arithmetic=(
                    f"{jobs} job(s) at once (min of {workload.sales} sale(s), maximumConcurrency/reserved "
                    f"{shape.generator_concurrency}) × {_rate(per_job)} per job "
                    f"(1 / ({aws.generator_cpu_ms:g} ms own + {figures.write_ms:.1f} ms write / "
                    f"{shape.write_parallelism} in parallel + "
                    f"{aws.page_read_ms:g} ms page / {shape.demand_page_size})) over {rounds} round(s) "
                    f"→ {_rate(generator_rate)}"
                ),
            )
        ],
        QUEUE_POLL_SECONDS + aws.page_read_ms / 1000 + ramp,
        n,
    )

    stream_rate = shape.stream_shards * KINESIS_RECORDS_PER_SHARD / figures.stream_records
    stream = _stage(
        "table stream",
        [
            Limit(
                name="shard writes",
                per_second=stream_rate,
                arithmetic=(
                    f"{shape.stream_shards} shard(s){ON_DEMAND_NOTE if shape.stream_on_demand else ''} × "
                    f"{KINESIS_RECORDS_PER_SHARD:,} records/s / {figures.stream_records:.2f} change records "
                    f"per notification → {_rate(stream_rate)}"
                ),
            )
        ],
        STREAM_COPY_SECONDS,
        n,
    )

    table_rate = limits.table_writes_per_second / figures.stream_records
    index_rate = PENDING_INDEX_PARTITIONS * DYNAMODB_PARTITION_WRITES / figures.index_writes
    dynamodb = _stage(
        "DynamoDB",
        [
            Limit(
                name="table write throughput",
                per_second=table_rate,
                arithmetic=(
                    f"{limits.table_writes_per_second:,.0f} writes/s / {figures.stream_records:.2f} writes "
                    f"per notification → {_rate(table_rate)}"
                ),
            ),
            Limit(
                name="pending index partitions",
                per_second=index_rate,
                arithmetic=(
                    f"{PENDING_INDEX_PARTITIONS} sweepShard partitions × {DYNAMODB_PARTITION_WRITES:,} "
                    f"writes/s / {figures.index_writes:.2f} index writes per notification "
                    f"→ {_rate(index_rate)}"
                ),
            ),
        ],
        0.0,
        n,
    )

    concurrency = shape.send_concurrency
    batch = batch_ms(shape, costs, workload, figures)
    records = batch_records(shape, workload, figures)
    lane_rate = records / batch * 1000 / figures.sends
    cap = shape.send_reserved if shape.send_reserved >= 0 else shape.account_unreserved
    send_limits = [
        Limit(
            name="lanes",
            per_second=shape.lanes * lane_rate,
            arithmetic=(
                f"{shape.parallelization_factor} lanes × {shape.stream_shards} shard(s) × {records:,.0f} "
                f"records per {batch / 1000:.2f} s batch / {figures.sends:.2f} sends per notification "
                f"→ {_rate(shape.lanes * lane_rate)}"
            ),
        ),
        Limit(
            name="reserved concurrency" if shape.send_reserved >= 0 else "account unreserved concurrency",
            per_second=cap * lane_rate if cap > 0 else 1e-9,
            arithmetic=f"{cap} concurrent batches × {_rate(lane_rate)} per batch → {_rate(cap * lane_rate)}",
        ),
    ]
    if share > 0:
        sms_rate = limits.sms_per_second / (share * figures.sms_attempts)
        send_limits.append(
            Limit(
                name="SMS vendor limit",
                per_second=sms_rate,
                arithmetic=(
                    f"{limits.sms_per_second:,.0f} requests/s / ({share:.0%} SMS × "
                    f"{figures.sms_attempts:.2f} attempts) → {_rate(sms_rate)}"
                ),
            )
        )
    if share < 1:
        ses_rate = limits.ses_per_second / (1 - share)
        send_limits.append(
            Limit(
                name="SES sending rate",
                per_second=ses_rate,
                arithmetic=(
                    f"{limits.ses_per_second:,.0f} emails/s / {1 - share:.0%} email → {_rate(ses_rate)}"
                ),
            )
        )
    scaling = concurrency / LAMBDA_SCALING_ENVIRONMENTS * LAMBDA_SCALING_SECONDS
    send_latency = STREAM_POLL_SECONDS + shape.send_window_seconds + scaling / 2
    send = _stage("notification_send", send_limits, send_latency, n)

    status_rate = shape.stream_shards * shape.status_parallelization_factor * 1000 / aws.status_ms
    status = _stage(
        "sms_status_consumer",
        [
            Limit(
                name="status lanes",
                per_second=status_rate,
                arithmetic=(
                    f"{shape.status_parallelization_factor} lanes × {shape.stream_shards} shard(s) × "
                    f"1 / {aws.status_ms:g} ms per status → {_rate(status_rate)}"
                ),
            )
        ],
        STREAM_POLL_SECONDS + shape.status_window_seconds,
        math.ceil(n * share),
        in_window=False,
    )

    stages = (scheduler, generator, stream, dynamodb, send, status)
    slowest = slowest_stage(stages)
    latency = sum(stage.latency_seconds for stage in stages if stage.in_window)
    rate = slowest.per_second or 1e-9
    redelivery = STREAM_COPY_SECONDS + STREAM_POLL_SECONDS
    tail = max(
        retry_tail(shape, workload, rate, redelivery),
        timeout_tail(shape, workload),
    )
    # The drain: the slowest stage's pace, but never less than one send batch (the lanes run at once).
    total = latency + max(n / rate, batch / 1000) + tail
    notes = _notes(shape, workload, slowest, figures, limits)
    return CapacityAnswer(
        stack=shape.stack,
        notifications=n,
        stages=stages,
        bottleneck=f"{slowest.stage} — {slowest.binding}",
        per_second=round(rate, 2),
        latency_seconds=round(latency, 2),
        retry_tail_seconds=round(tail, 2),
        total_seconds=round(total, 1),
        window_seconds=shape.lead_seconds,
        holds=total <= shape.lead_seconds,
        margin_seconds=round(shape.lead_seconds - total, 1),
        notes=notes,
    )


def retry_tail(shape: PipelineShape, workload: Workload, rate: float, redelivery_seconds: float) -> float:
    """Seconds the retries of the last failed attempts add after the first attempts have drained.

    An SMS that fails i times comes back i backoffs (and redeliveries) after its first attempt:
    S_i. Of the m_i = SMS × p^i expected to, the latest was first tried about D / (m_i + 1) before
    the drain's end (D: the drain, n / rate), so round i adds S_i − D / (m_i + 1) when m_i ≥ ½;
    the tail is the largest over i < maxSendAttempts.
    """
    p = workload.faults.sms_transient
    if p <= 0 or workload.sms_share <= 0:
        return 0.0
    sms = workload.notifications * workload.sms_share
    drain = workload.notifications / rate
    tail, back = 0.0, 0.0
    for failures in range(1, shape.max_send_attempts):
        back += shape.backoff(failures) + redelivery_seconds
        expected = sms * p**failures
        if expected < 0.5:
            break
        tail = max(tail, back - drain / (expected + 1))
    return tail


def timeout_tail(shape: PipelineShape, workload: Workload) -> float:
    """A lane whose last batch times out holds it for the timeout, then runs it again.

    Expected when at least half a lane's last batch times out (concurrency × rate ≥ ½).
    """
    if shape.send_concurrency * workload.faults.timeout < 0.5:
        return 0.0
    return float(shape.send_timeout_seconds)


def _notes(
    shape: PipelineShape, workload: Workload, slowest: Stage, figures: SendFigures, limits: ExternalLimits
) -> tuple[str, ...]:
    notes = []
    if "SMS vendor limit" in slowest.binding:
        notes.append(
            f"SMS-bound: requests above {limits.sms_per_second:,.0f}/s are answered 429 and go to RETRY "
            f"with backoff; each spends one of {shape.max_send_attempts} attempts, so a long overload "
            "FAILs reminders"
        )
    if shape.stream_on_demand:
        notes.append(
            "the table stream is ON_DEMAND: it starts at 4 shards' capacity and scales to twice its "
            "previous peak within 15 minutes; the model takes the start"
        )
    if workload.faults.timeout > 0:
        notes.append(
            f"timeouts: {workload.faults.timeout:.0%} of send batches hold their lane for the "
            f"{shape.send_timeout_seconds} s timeout before Lambda retries them"
        )
    if figures.sms_attempts > 1:
        notes.append(
            f"SMS attempts per SMS notification: {figures.sms_attempts:.2f} (transient faults retried)"
        )
    return tuple(notes)
