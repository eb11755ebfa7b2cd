"""The fixes `dmd capacity` proposes: the binding limit's setting, re-estimated until the window holds."""

from __future__ import annotations

from ops.capacity import estimate
from ops.capacity_fixes import plan_fixes
from ops.capacity_inputs import Workload
from tests.ops.capacity_shapes import costs, prod1, roomy_limits


def test_a_lane_bound_miss_raises_the_parallelization_factor_then_the_shards() -> None:
    # Given prod1 with factor 2 and no reservation cap, a million fans: the lanes bind
    shape = prod1(parallelization_factor=2, send_reserved=-1)
    workload = Workload(fans=1_000_000, sales=10)
    answer = estimate(shape, costs(), roomy_limits(), workload)
    assert not answer.holds and "lanes" in answer.bottleneck
    # When the fixes are planned
    plan = plan_fixes(shape, costs(), roomy_limits(), workload, answer)
    # Then the factor goes to 10 first (its maximum), then the stream gets shards, and it holds
    changes = [fix.change for fix in plan.fixes]
    assert changes[0].startswith("raise notification_send's parallelizationFactor to 10 in Pulumi.prod1.yaml")
    assert any("shardCount" in change for change in changes)
    assert plan.holds and plan.fixes[-1].holds


def test_a_reservation_bound_miss_raises_the_reserved_concurrency() -> None:
    shape = prod1(send_reserved=5)
    workload = Workload(fans=200_000)
    answer = estimate(shape, costs(), roomy_limits(), workload)
    plan = plan_fixes(shape, costs(), roomy_limits(), workload, answer)
    assert plan.fixes[0].change.startswith("raise notification_send's reservedConcurrency to")
    assert plan.holds


def test_a_generator_bound_miss_raises_the_write_parallelism() -> None:
    shape = prod1(stream_shards=100, stream_on_demand=False, send_reserved=-1, write_parallelism=2)
    workload = Workload(fans=2_000_000, sales=1)
    answer = estimate(shape, costs(), roomy_limits(), workload)
    assert "notification_generator" in answer.bottleneck
    plan = plan_fixes(shape, costs(), roomy_limits(), workload, answer)
    assert plan.fixes[0].change.startswith("raise notification_generator's writeParallelism to")


def test_a_window_the_start_up_alone_misses_has_no_fix() -> None:
    # Given a lead time shorter than the pipeline's start-up
    shape = prod1(lead_seconds=5.0)
    workload = Workload(fans=10)
    answer = estimate(shape, costs(), roomy_limits(), workload)
    # Then no config change is proposed
    assert not answer.holds
    assert plan_fixes(shape, costs(), roomy_limits(), workload, answer).fixes == ()
