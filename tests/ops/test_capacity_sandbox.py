"""The sandbox's capacity model: the sandbox's own pace, its work scaling with the machine's load."""

from __future__ import annotations

import pytest

from infra.config.triggers import ScheduleTriggerSettings
from infra.stack_files import load_committed
from ops.capacity_inputs import FaultRates, Workload
from ops.capacity_sandbox import SandboxProfile, load_factor, reference_work, sandbox_estimate
from tests.ops.capacity_shapes import committed_shape, costs


def test_the_profile_is_the_sandboxs_own_pace() -> None:
    # Given the sandbox's constants
    from sandbox.demo.run import _CHECK_SECONDS, DEMO_SEND_BACKOFF_SECONDS, SEED_LEAD
    from sandbox.polling import IDLE_MAX_SECONDS
    from sandbox.runtime import STREAM_READ_INTERVAL_SECONDS
    from sandbox.schedule import SCHEDULE_ROUND_SECONDS
    from sandbox.vendors.status_events import DEFAULT_DELAYS

    # Then the profile says the same
    profile = SandboxProfile()
    assert profile.idle_poll_seconds == IDLE_MAX_SECONDS
    assert profile.schedule_round_seconds == SCHEDULE_ROUND_SECONDS
    assert profile.stream_read_seconds == STREAM_READ_INTERVAL_SECONDS
    assert profile.check_seconds == _CHECK_SECONDS
    assert profile.retry_backoff_seconds == DEMO_SEND_BACKOFF_SECONDS
    assert profile.delivered_after_seconds == DEFAULT_DELAYS.delivered
    # The scheduler's cron (every 30 minutes) fires twice in the hour the demo's clock jumps
    assert profile.scheduler_runs == SEED_LEAD.total_seconds() / 1800
    # And the sweeper's rate(1 minute), as the local stack schedules it
    trigger = load_committed("local").worker("notification_sweeper").trigger
    assert isinstance(trigger, ScheduleTriggerSettings)
    assert (trigger.schedule_expression, profile.sweeper_every_seconds) == ("rate(1 minute)", 60.0)


def test_the_sandbox_is_one_process_whose_work_adds_up_and_stretches_with_load() -> None:
    # Given the local stack, the committed costs and a 500-fan sale
    shape = committed_shape("local")
    workload = Workload(fans=500, sales=2, reminders_per_fan=1.17, sms_share=0.51)
    emulator = costs().emulator
    # When estimated on an idle machine and on one twice as slow
    idle = sandbox_estimate(shape, costs(), workload, SandboxProfile())
    loaded = sandbox_estimate(shape, costs(), workload, SandboxProfile(load_factor=2.0))
    # Then every worker's work is one after the other, stretched by the sweeper's share, plus the waits
    n = workload.notifications
    work = (
        2 * emulator.scheduler_seconds
        + n * emulator.generator_ms / 1000
        + n * emulator.send_ms / 1000
        + n * 0.51 * 3 * emulator.status_ms / 1000
        + emulator.init_seconds
    )
    stretch = 1 / (1 - emulator.sweeper_run_seconds * 10 / 60)
    assert idle.total_seconds == pytest.approx(idle.latency_seconds + work * stretch, abs=0.02)
    assert idle.per_second == pytest.approx(
        1000 / ((emulator.generator_ms + emulator.send_ms + 0.51 * 3 * emulator.status_ms) * stretch),
        rel=0.01,
    )
    # And the load doubles the work (the sweeper's runs too, so their share of the process), not the waits
    loaded_stretch = 1 / (1 - 2 * emulator.sweeper_run_seconds * 10 / 60)
    assert loaded.total_seconds - loaded.latency_seconds == pytest.approx(2 * work * loaded_stretch, abs=0.02)
    assert loaded.latency_seconds <= idle.latency_seconds


def test_sms_faults_add_retry_rounds_at_the_demos_backoff() -> None:
    shape = committed_shape("local")
    clean = Workload(fans=47, sales=2, sms_share=0.51)
    # (at 47 notifications the process's drain hides one retry round: a high rate shows the second)
    faulty = clean.model_copy(update={"faults": FaultRates(sms_transient=0.6)})
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
