"""The capacity model on the sandbox (`--stack local`): one process, one emulator, a faster clock.

On AWS the stages run side by side and the slowest sets the pace. In the sandbox every handler
runs in one Python process against one emulator process that applies item operations one at a
time, and a gate lets one function's environment run at a time: the stages take turns, so their
per-notification costs add up (the bench's 50,000-fan pipeline: 32.5 ms a notification, ~30/s).
Waits that are sandbox time (batching windows, the demo's 2 s retry backoff, the SMS fake's status
delays) pass `speed` times faster; polls, cold starts and work are real time. The demo starts its
clock an hour before the tick, so at the tick the sweeper (every minute) runs its missed runs one
after the other; through the gate they take turns with the pipeline's invocations until done.
The answer is what `dmd sandbox demo` reports as `pipelineSeconds`: tick → every notification
terminal (SMS delivered included), in real seconds.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from pydantic import Field

from ops.capacity import CapacityAnswer, Limit, Stage, one_run, retry_tail
from ops.capacity_inputs import CapacityCosts, CapacityModel, PipelineShape, Workload

REFERENCE_ROUNDS: Final = 70_000
LOAD_SAMPLES: Final = 7
SAMPLE_INTERVAL_SECONDS: Final = 0.5
# The reference work, as source: run here (`reference_work`) and in the sampler process alike.
_REFERENCE_WORK: Final = f"""
import time
def reference_work():
    started = time.perf_counter()
    table = {{}}
    for number in range({REFERENCE_ROUNDS}):
        key = f"fan-{{number % 997}}"
        table[key] = table.get(key, 0) + len(key)
    return time.perf_counter() - started
"""
_SAMPLER: Final = (
    _REFERENCE_WORK
    + f"""
import sys
while True:
    print(reference_work(), flush=True)
    time.sleep({SAMPLE_INTERVAL_SECONDS})
"""
)


def reference_work() -> float:
    """Seconds a fixed piece of pure-Python work takes now (dicts and strings, as the handlers do)."""
    namespace: dict[str, Any] = {}
    exec(_REFERENCE_WORK, namespace)  # noqa: S102 - our own constant source, shared with the sampler
    return float(namespace["reference_work"]())


def load_factor(reference_seconds: float, samples: int = LOAD_SAMPLES) -> float:
    """How much slower this machine runs the reference work now than when `make bench` measured it.

    The sandbox's work is CPU-bound Python in two processes; on a machine shared with other work its
    wall time stretches by about this factor (the median of a few samples, at least 1).
    """
    return max(1.0, statistics.median(reference_work() for _ in range(samples)) / reference_seconds)


@contextmanager
def sampled_load(reference_seconds: float) -> Iterator[Callable[[], float]]:
    """Measure the machine's load factor during the block, from a small process sampling it twice a second.

    Yields a function giving the factor once the block is over (the median of the samples, at least 1).
    """
    sampler = subprocess.Popen(  # noqa: S603 - this interpreter running our own constant source
        [sys.executable, "-c", _SAMPLER], stdout=subprocess.PIPE, text=True
    )
    samples: list[float] = []
    try:
        yield lambda: max(1.0, statistics.median(samples) / reference_seconds) if samples else 1.0
    finally:
        sampler.terminate()
        output, _ = sampler.communicate(timeout=10)
        samples.extend(float(line) for line in output.split())


class SandboxProfile(CapacityModel):
    """The sandbox's own pace (tests/ops/test_capacity_sandbox.py ties each to the sandbox's constant)."""

    speed: float = Field(default=10.0, gt=0)
    """Sandbox seconds per real second (`dmd sandbox demo --speed`, default 10)."""
    idle_poll_seconds: float = 0.2
    """A poller's or schedule's round when idle (sandbox/polling.py IDLE_MAX_SECONDS)."""
    stream_read_seconds: float = 0.25
    """Real seconds between two reads of a shard (sandbox/runtime.py STREAM_READ_INTERVAL_SECONDS)."""
    check_seconds: float = 1.0
    """The demo checks for the end this often (sandbox/demo/run.py _CHECK_SECONDS)."""
    retry_backoff_seconds: float = 2.0
    """The demo's RETRY_BACKOFF_SECONDS, sandbox seconds (sandbox/demo/run.py)."""
    delivered_after_seconds: float = 6.0
    """The SMS fake's DELIVERED, sandbox seconds after acceptance (sandbox/vendors/status_events.py)."""
    status_jitter: float = 0.25
    """± jitter of the status delays, per message."""
    catch_up_sweeps: int = 60
    """The sweeper's runs missed while the clock jumps to the tick (an hour of rate(1 minute))."""
    sweeper_gap_seconds: float = 0.12
    """Between two catch-up runs the schedule waits for its next round (runs 0.17 s apart when idle)."""
    load_factor: float = Field(default=1.0, ge=1.0)
    """The machine's slowdown against the bench's (`load_factor`): scales the work, not the waits."""


def loaded_costs(profile: SandboxProfile, costs: CapacityCosts) -> CapacityCosts:
    """The emulator's costs stretched by the machine's load (work only: the waits stay)."""
    factor = profile.load_factor
    emulator = costs.emulator
    scaled = emulator.model_copy(
        update={
            "generator_ms": emulator.generator_ms * factor,
            "pipeline_ms": emulator.pipeline_ms * factor,
            "cold_start_seconds": emulator.cold_start_seconds * factor,
            "scheduler_seconds": emulator.scheduler_seconds * factor,
            "sweeper_run_seconds": emulator.sweeper_run_seconds * factor,
        }
    )
    return costs.model_copy(update={"emulator": scaled})


def catch_up_turns(sweep_seconds: float, profile: SandboxProfile) -> float:
    """Seconds of sweeping per second of pipeline work while the catch-up lasts.

    A catch-up run takes the process for `sweep_seconds` once per schedule round: its share of the
    process is sweep / (sweep + gap); the pipeline's work stretches by share / (1 − share).
    """
    return sweep_seconds / profile.sweeper_gap_seconds


def sandbox_estimate(
    shape: PipelineShape, costs: CapacityCosts, workload: Workload, profile: SandboxProfile
) -> CapacityAnswer:
    """Tick → every notification terminal on `dmd sandbox demo`, in real seconds."""
    emulator, speed, n = loaded_costs(profile, costs).emulator, profile.speed, workload.notifications
    half_poll = profile.idle_poll_seconds / 2
    cold = emulator.cold_start_seconds
    attempts = workload.faults.sms_attempts(shape.max_send_attempts)
    sends = workload.sms_share * attempts + (1 - workload.sms_share)
    # Everything after the creation (send, CDC copy, statuses) per notification; a retry costs it again.
    after_creation_ms = emulator.pipeline_ms - emulator.generator_ms
    work_ms = n * emulator.generator_ms + n * sends * after_creation_ms
    process_rate = n / (work_ms / 1000)

    scheduler = one_run(
        "notification_scheduler",
        f"the schedule's round ({half_poll:g} s) + cold start {cold:g} s + one run "
        f"{emulator.scheduler_seconds:g} s",
        half_poll + cold + emulator.scheduler_seconds,
    )
    generator = _process_stage(
        "notification_generator",
        f"{emulator.generator_ms:g} ms per notification on the emulator",
        1000 / emulator.generator_ms,
        half_poll + cold,
        n,
    )
    stream_latency = half_poll + profile.stream_read_seconds / 2 + shape.send_window_seconds / speed
    stream = one_run(
        "table stream",
        f"CDC round {half_poll:g} s + shard read {profile.stream_read_seconds / 2:g} s + batching window "
        f"{shape.send_window_seconds:g} s / speed {speed:g}",
        stream_latency,
    )
    send = _process_stage(
        "notification_send",
        f"{after_creation_ms:.1f} ms per send on the emulator (send, CDC, statuses) × {sends:.2f} sends",
        1000 / (after_creation_ms * sends),
        cold,
        n,
    )
    messages = max(1.0, n * workload.sms_share)
    latest = 1 + profile.status_jitter * (messages - 1) / (messages + 1)  # the latest of the jittered delays
    status_latency = (
        profile.delivered_after_seconds * latest / speed
        + profile.stream_read_seconds / 2
        + shape.status_window_seconds / speed
        + cold
    )
    status = one_run(
        "sms_status_consumer",
        f"DELIVERED {profile.delivered_after_seconds:g} s × {latest:.2f} / speed {speed:g} + shard read + "
        f"window {shape.status_window_seconds:g} s / speed + cold start",
        status_latency,
    )
    turns = catch_up_turns(emulator.sweeper_run_seconds, profile)
    catch_up = min(work_ms / 1000 * turns, profile.catch_up_sweeps * emulator.sweeper_run_seconds)
    sweeper = one_run(
        "notification_sweeper",
        f"missed runs taking turns with the pipeline: min(work {work_ms / 1000:.2f} s × {turns:.2f}, "
        f"{profile.catch_up_sweeps} × {emulator.sweeper_run_seconds:.3f} s)",
        catch_up,
    )
    redelivery = half_poll + profile.stream_read_seconds / 2 + shape.send_window_seconds / speed
    scaled = shape.model_copy(update={"retry_backoff_seconds": profile.retry_backoff_seconds / speed})
    tail = retry_tail(scaled, workload, process_rate, redelivery)
    check = profile.check_seconds / 2
    stages = (scheduler, generator, stream, send, status, sweeper)
    latency = sum(stage.latency_seconds for stage in stages) + check
    total = latency + work_ms / 1000 + tail
    window = shape.lead_seconds / speed
    return CapacityAnswer(
        stack=shape.stack,
        notifications=n,
        stages=stages,
        bottleneck=(
            f"the sandbox's one process — {emulator.generator_ms:g} + {after_creation_ms:.1f} × {sends:.2f} "
            f"ms per notification → {process_rate:,.1f}/s"
        ),
        per_second=round(process_rate, 2),
        latency_seconds=round(latency, 2),
        retry_tail_seconds=round(tail, 2),
        total_seconds=round(total, 2),
        window_seconds=window,
        holds=total <= window,
        margin_seconds=round(window - total, 2),
        notes=(
            f"sandbox time runs ×{speed:g}: the {shape.lead_seconds / 60:g}-minute lead is "
            f"{window:g} real seconds",
            f"end detection: the demo checks every {profile.check_seconds:g} s (+{check:g} s on average)",
        ),
    )


def _process_stage(stage: str, arithmetic: str, rate: float, latency: float, n: int) -> Stage:
    limit = Limit(
        name="the sandbox's one process", per_second=rate, arithmetic=f"{arithmetic} → {rate:,.1f}/s"
    )
    return Stage(
        stage=stage,
        per_second=rate,
        binding=f"{limit.name}: {limit.arithmetic}",
        limits=(limit,),
        latency_seconds=round(latency, 3),
        seconds=round(latency + n / rate, 3) if rate > 0 else math.inf,
    )
