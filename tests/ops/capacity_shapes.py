"""Pipeline shapes for the capacity tests: prod1's and qa1's committed config, changed one knob at a time."""

from __future__ import annotations

from functools import cache

from infra.stack_files import load_committed
from ops.capacity_inputs import (
    EXTERNAL_LIMITS,
    CapacityCosts,
    ExternalLimits,
    PipelineShape,
    load_costs,
    shape_of,
)


@cache
def committed_shape(stack: str) -> PipelineShape:
    """The stack's committed pipeline shape."""
    return shape_of(load_committed(stack))


@cache
def costs() -> CapacityCosts:
    """The committed cost file."""
    return load_costs()


def roomy_limits(**changes: float) -> ExternalLimits:
    """prod1's external limits, far from binding unless a test sets one."""
    limits = EXTERNAL_LIMITS["prod1"].model_copy(
        update={"sms_per_second": 100_000, "ses_per_second": 100_000, "table_writes_per_second": 1_000_000}
    )
    return limits.model_copy(update=changes)


def prod1(**changes: object) -> PipelineShape:
    """prod1's shape with these fields changed."""
    return committed_shape("prod1").model_copy(update=changes)
