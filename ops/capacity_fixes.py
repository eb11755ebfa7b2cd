"""What would make a missed window hold: the binding limit's change, one at a time, re-checked each time."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from ops.capacity import MAX_FIX_ROUNDS, MAX_PARALLELIZATION_FACTOR, CapacityAnswer, estimate
from ops.capacity_inputs import (
    SQS_MAX_CONCURRENCY,
    CapacityCosts,
    CapacityModel,
    ExternalLimits,
    PipelineShape,
    Workload,
)

HEADROOM: Final = 1.1  # ask for 10 % more than the arithmetic needs
MAX_WRITE_PARALLELISM: Final = 64  # GeneratorTunables.write_parallelism's bound
MAX_SHARDS: Final = 500  # StreamSettings.shard_count's bound


class Fix(CapacityModel):
    """One change: what to set where, and the total it gives."""

    change: str
    total_seconds: float
    holds: bool


class FixPlan(CapacityModel):
    """The changes, in order, that make the window hold (or the last that could be found)."""

    fixes: tuple[Fix, ...]
    holds: bool


Proposal = tuple[PipelineShape, ExternalLimits, str]


def plan_fixes(
    shape: PipelineShape,
    costs: CapacityCosts,
    limits: ExternalLimits,
    workload: Workload,
    answer: CapacityAnswer,
) -> FixPlan:
    """Change the binding limit until the window holds, each change re-estimated; at most a few rounds."""
    fixes: list[Fix] = []
    for _ in range(MAX_FIX_ROUNDS):
        if answer.holds:
            break
        proposal = _next_fix(shape, limits, workload, answer)
        if proposal is None:
            break
        shape, limits, change = proposal
        answer = estimate(shape, costs, limits, workload)
        fixes.append(Fix(change=change, total_seconds=answer.total_seconds, holds=answer.holds))
    return FixPlan(fixes=tuple(fixes), holds=answer.holds)


def _factor(answer: CapacityAnswer) -> float:
    """How much faster the pipeline must drain for the total to fit the window (∞: latency alone misses)."""
    drain = answer.window_seconds - answer.latency_seconds - answer.retry_tail_seconds
    if drain <= 0:
        return math.inf
    return max(1.0, answer.notifications / drain / answer.per_second) * HEADROOM


def _next_fix(
    shape: PipelineShape, limits: ExternalLimits, workload: Workload, answer: CapacityAnswer
) -> Proposal | None:
    factor = _factor(answer)
    if math.isinf(factor):
        return None
    stack_file = f"Pulumi.{shape.stack}.yaml"
    binding = answer.bottleneck.split(" — ", 1)[1].split(":", 1)[0]
    fixers: dict[str, Callable[[], Proposal | None]] = {
        "lanes": lambda: _lanes(shape, limits, factor, stack_file),
        "shard writes": lambda: _shards(shape, limits, factor, stack_file),
        "reserved concurrency": lambda: _reserved(shape, limits, factor, stack_file),
        "account unreserved concurrency": lambda: (
            shape.model_copy(update={"account_unreserved": math.ceil(shape.account_unreserved * factor)}),
            limits,
            f"raise the account's Lambda concurrency quota by "
            f"{math.ceil(shape.account_unreserved * (factor - 1))} "
            f"(platform.alarmTopic.accountConcurrencyLimit in {stack_file}), "
            "or reserve it for notification_send",
        ),
        "SMS vendor limit": lambda: (
            shape,
            limits.model_copy(update={"sms_per_second": math.ceil(limits.sms_per_second * factor)}),
            f"ask the SMS service team for {math.ceil(limits.sms_per_second * factor):,} requests/s "
            f"(today {limits.sms_per_second:,.0f}/s; check with --sms-rate)",
        ),
        "SES sending rate": lambda: (
            shape,
            limits.model_copy(update={"ses_per_second": math.ceil(limits.ses_per_second * factor)}),
            f"raise the account's SES sending rate to {math.ceil(limits.ses_per_second * factor):,}/s "
            f"(Service Quotas; today {limits.ses_per_second:,.0f}/s; check with --ses-rate)",
        ),
        "table write throughput": lambda: (
            shape,
            limits.model_copy(
                update={"table_writes_per_second": math.ceil(limits.table_writes_per_second * factor)}
            ),
            f"pre-warm the demand table to {math.ceil(limits.table_writes_per_second * factor):,} writes/s "
            "(warm throughput) before the sale",
        ),
        "one job per sale": lambda: _generator(shape, limits, workload, factor, stack_file),
        "jobs at once": lambda: _generator(shape, limits, workload, factor, stack_file),
    }
    fixer = fixers.get(binding)
    return fixer() if fixer else None


def _lanes(shape: PipelineShape, limits: ExternalLimits, factor: float, stack_file: str) -> Proposal | None:
    if shape.parallelization_factor < MAX_PARALLELIZATION_FACTOR:
        wanted = min(MAX_PARALLELIZATION_FACTOR, math.ceil(shape.parallelization_factor * factor))
        return (
            shape.model_copy(update={"parallelization_factor": wanted}),
            limits,
            f"raise notification_send's parallelizationFactor to {wanted} in {stack_file} "
            "(workers.notification_send.trigger.parallelizationFactor)",
        )
    return _shards(shape, limits, factor, stack_file)


def _shards(shape: PipelineShape, limits: ExternalLimits, factor: float, stack_file: str) -> Proposal | None:
    wanted = min(MAX_SHARDS, math.ceil(shape.stream_shards * factor))
    if wanted <= shape.stream_shards:
        return None
    return (
        shape.model_copy(update={"stream_shards": wanted, "stream_on_demand": False}),
        limits,
        f"give the table stream {wanted} shards in {stack_file} (platform.tableStream: mode PROVISIONED, "
        f"shardCount {wanted})",
    )


def _reserved(shape: PipelineShape, limits: ExternalLimits, factor: float, stack_file: str) -> Proposal:
    wanted = max(shape.send_concurrency + 1, math.ceil(shape.send_concurrency * factor))
    return (
        shape.model_copy(update={"send_reserved": wanted}),
        limits,
        f"raise notification_send's reservedConcurrency to {wanted} in {stack_file} "
        "(workers.notification_send.reservedConcurrency)",
    )


def _generator(
    shape: PipelineShape, limits: ExternalLimits, workload: Workload, factor: float, stack_file: str
) -> Proposal | None:
    if workload.sales > shape.generator_concurrency:
        wanted = min(SQS_MAX_CONCURRENCY, workload.sales)
        return (
            shape.model_copy(update={"generator_concurrency": wanted}),
            limits,
            f"raise notification_generator's trigger maximumConcurrency and reservedConcurrency to {wanted} "
            f"in {stack_file}",
        )
    if shape.write_parallelism < MAX_WRITE_PARALLELISM:
        wanted = min(MAX_WRITE_PARALLELISM, math.ceil(shape.write_parallelism * factor))
        return (
            shape.model_copy(update={"write_parallelism": wanted}),
            limits,
            f"raise notification_generator's writeParallelism to {wanted} in {stack_file} "
            "(workers.notification_generator.settings.writeParallelism)",
        )
    return None
