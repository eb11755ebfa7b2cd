"""The sandbox's capacity model: the sandbox's own pace, its work scaling with the machine's load."""

from __future__ import annotations

import pytest

from ops.capacity_inputs import FaultRates, Workload
from ops.capacity_sandbox import SandboxProfile, load_factor, reference_work, sampled_load, sandbox_estimate
from tests.ops.capacity_shapes import committed_shape, costs


def test_the_profile_is_the_sandboxs_own_pace() -> None:
    # Given the sandbox's constants
    from sandbox.demo.run import _CHECK_SECONDS, DEMO_SEND_BACKOFF_SECONDS, SEED_LEAD
    from sandbox.polling import IDLE_MAX_SECONDS
    from sandbox.runtime import STREAM_READ_INTERVAL_SECONDS
    from sandbox.vendors.status_events import DEFAULT_DELAYS

    # Then the profile says the same
    profile = SandboxProfile()
    assert profile.idle_poll_seconds == IDLE_MAX_SECONDS
    assert profile.stream_read_seconds == STREAM_READ_INTERVAL_SECONDS
    assert profile.check_seconds == _CHECK_SECONDS
    assert profile.retry_backoff_seconds == DEMO_SEND_BACKOFF_SECONDS
    assert profile.delivered_after_seconds == DEFAULT_DELAYS.delivered
    assert profile.catch_up_sweeps == SEED_LEAD.total_seconds() / 60  # the sweeper's rate(1 minute)


def test_the_sandbox_is_one_process_whose_work_adds_up_and_stretches_with_load() -> None:
    # Given the local stack and the bench's 50,000-fan sale
    shape = committed_shape("local")
    workload = Workload(fans=50_000, reminders_per_fan=1.17, sms_share=0.51)
    # When estimated on an idle machine and on one twice as slow
    idle = sandbox_estimate(shape, costs(), workload, SandboxProfile())
    loaded = sandbox_estimate(shape, costs(), workload, SandboxProfile(load_factor=2.0))
    # Then the pace is the bench's per-notification cost (≈ 30/s) and the total its measured run's
    assert idle.per_second == pytest.approx(1000 / costs().emulator.pipeline_ms, rel=0.01)
    assert idle.total_seconds == pytest.approx(1901.2, rel=0.05)  # bench/RESULTS.md: 1,901.170 s
    # And the load doubles the work, not the waits
    assert loaded.total_seconds == pytest.approx(2 * idle.total_seconds, rel=0.01)
    assert loaded.total_seconds < 2 * idle.total_seconds


def test_sms_faults_add_retry_rounds_at_the_demos_backoff() -> None:
    shape = committed_shape("local")
    clean = Workload(fans=47, sales=2, sms_share=0.51)
    faulty = clean.model_copy(update={"faults": FaultRates(sms_transient=0.25)})
    answer = sandbox_estimate(shape, costs(), faulty, SandboxProfile())
    assert answer.retry_tail_seconds > 0
    assert answer.total_seconds > sandbox_estimate(shape, costs(), clean, SandboxProfile()).total_seconds
    assert answer.window_seconds == 180  # the 30-minute lead at ×10


def test_the_load_factor_compares_the_reference_work_with_the_bench_figure() -> None:
    # Given the reference work timed now
    now = reference_work()
    # Then a reference ten times faster than now gives a factor near ten, a slower one 1 (never below)
    assert load_factor(now / 10, samples=3) > 3
    assert load_factor(now * 100, samples=1) == 1.0


def test_the_sampled_load_reads_a_sampling_process_over_the_block() -> None:
    # When the load is sampled over a short block
    import time

    with sampled_load(reference_work() / 100) as factor:
        time.sleep(0.3)
    # Then the sampler's figures are there: against a reference 100× faster than this machine, ≫ 1
    assert factor() > 10
