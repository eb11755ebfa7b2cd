"""The capacity model on the sandbox (`--stack local`): one process, one emulator, a faster clock.

On AWS the stages run side by side and the slowest sets the pace. In the sandbox every handler
runs in one Python process against one emulator process, and a gate lets one function's
environment run at a time: functions take turns, so the time each holds the process per record
adds up (`EmulatorCosts`, measured from a demo's report). Waits that are sandbox time (batching
windows, the demo's 2 s retry backoff, the SMS fake's status delays, the sweeper's minute) pass
`speed` times faster; polls and work are real time. The answer is what `dmd sandbox demo` reports
as `pipelineSeconds`: tick → every notification terminal (SMS delivered included), in real seconds.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Final

from pydantic import Field

from ops.capacity import CapacityAnswer, Limit, Stage, one_run, retry_tail
from ops.capacity_inputs import CapacityCosts, CapacityModel, EmulatorCosts, PipelineShape, Workload

REFERENCE_ROUNDS: Final = 70_000
LOAD_SAMPLES: Final = 7


def reference_work() -> float:
    """Seconds a fixed piece of pure-Python work takes now (dicts and strings, as the handlers do)."""
    started = time.perf_counter()
    table: dict[str, int] = {}
    for number in range(REFERENCE_ROUNDS):
        key = f"fan-{number % 997}"
        table[key] = table.get(key, 0) + len(key)
    return time.perf_counter() - started


def load_factor(reference_seconds: float, samples: int = LOAD_SAMPLES) -> float:
    """How much slower this machine runs the reference work now than when `make bench` measured it.

    The sandbox's work is CPU-bound Python in two processes; on a machine shared with other work its
    wall time stretches by about this factor (the median of a few samples, at least 1).
    """
    return max(1.0, statistics.median(reference_work() for _ in range(samples)) / reference_seconds)


class SandboxProfile(CapacityModel):
    """The sandbox's own pace (tests/ops/test_capacity_sandbox.py ties each to the sandbox's constant)."""

    speed: float = Field(default=10.0, gt=0)
    """Sandbox seconds per real second (`dmd sandbox demo --speed`, default 10)."""
    idle_poll_seconds: float = 0.2
    """A poller's round when idle (sandbox/polling.py IDLE_MAX_SECONDS)."""
    schedule_round_seconds: float = 0.05
    """A schedule's round (sandbox/schedule.py SCHEDULE_ROUND_SECONDS)."""
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
    status_events_per_sms: float = 3.0
    """QUEUED, SENT and DELIVERED (or FAILED) per accepted message (sandbox/vendors/status_events.py)."""
    scheduler_runs: int = 2
    """The scheduler's half-hourly runs the demo's clock passes at the tick (it starts an hour before)."""
    sweeper_every_seconds: float = 60.0
    """The sweeper's schedule, sandbox seconds (rate(1 minute)); the demo starts it at the tick."""
    load_factor: float = Field(default=1.0, ge=1.0)
    """The machine's slowdown against the costs' (`load_factor`): scales the work, not the waits."""


def loaded_costs(profile: SandboxProfile, costs: CapacityCosts) -> CapacityCosts:
    """The emulator's costs stretched by the machine's load (work only: the waits stay)."""
    factor = profile.load_factor
    emulator = costs.emulator
    scaled = emulator.model_copy(
        update={
            "generator_ms": emulator.generator_ms * factor,
            "send_ms": emulator.send_ms * factor,
            "status_ms": emulator.status_ms * factor,
            "scheduler_seconds": emulator.scheduler_seconds * factor,
            "sweeper_run_seconds": emulator.sweeper_run_seconds * factor,
            "init_seconds": emulator.init_seconds * factor,
        }
    )
    return costs.model_copy(update={"emulator": scaled})


def sweeper_stretch(sweep_seconds: float, profile: SandboxProfile) -> float:
    """How much the sweeper's minutely runs stretch the rest of the work (they take turns with it).

    A run holds the process for `sweep_seconds` every `sweeper_every_seconds / speed` real seconds:
    its share of the process is their ratio, and everything else gets what is left.
    """
    share = sweep_seconds * profile.speed / profile.sweeper_every_seconds
    return 1 / (1 - min(share, 0.9))


class SandboxWork(CapacityModel):
    """The process's work for a sale, in real seconds, by worker (before the sweeper's stretch)."""

    sends: float
    """Records the sender handles per notification (SMS attempts and one per email)."""
    scheduler: float
    generator: float
    send: float
    status: float
    init: float

    @property
    def total(self) -> float:
        """All of it, one after the other."""
        return self.scheduler + self.generator + self.send + self.status + self.init


def sandbox_work(
    shape: PipelineShape, emulator: EmulatorCosts, workload: Workload, profile: SandboxProfile
) -> SandboxWork:
    """What each worker holds the process for during the sale."""
    n = workload.notifications
    attempts = workload.faults.sms_attempts(shape.max_send_attempts)
    sends = workload.sms_share * attempts + (1 - workload.sms_share)
    accepted = n * workload.sms_share * (1 - workload.faults.sms_transient**attempts)
    return SandboxWork(
        sends=sends,
        scheduler=profile.scheduler_runs * emulator.scheduler_seconds,
        generator=n * emulator.generator_ms / 1000,
        send=n * sends * emulator.send_ms / 1000,
        status=accepted * profile.status_events_per_sms * emulator.status_ms / 1000,
        init=emulator.init_seconds,
    )


def last_status_seconds(shape: PipelineShape, workload: Workload, profile: SandboxProfile) -> float:
    """The last message's DELIVERED: the latest of the jittered delays, its shard read and batching window."""
    messages = max(1.0, workload.notifications * workload.sms_share)
    latest = 1 + profile.status_jitter * (messages - 1) / (messages + 1)
    return (
        profile.delivered_after_seconds * latest / profile.speed
        + profile.stream_read_seconds / 2
        + shape.status_window_seconds / profile.speed
    )


def sandbox_estimate(
    shape: PipelineShape, costs: CapacityCosts, workload: Workload, profile: SandboxProfile
) -> CapacityAnswer:
    """Tick → every notification terminal on `dmd sandbox demo`, in real seconds."""
    emulator, speed, n = loaded_costs(profile, costs).emulator, profile.speed, workload.notifications
    half_poll = profile.idle_poll_seconds / 2
    work = sandbox_work(shape, emulator, workload, profile)
    stretch = sweeper_stretch(emulator.sweeper_run_seconds, profile)
    per_notification_ms = (work.generator + work.send + work.status) / n * 1000
    process_rate = 1000 / (per_notification_ms * stretch)

    scheduler = one_run(
        "notification_scheduler",
        f"the schedule's round ({profile.schedule_round_seconds / 2:g} s) + {profile.scheduler_runs} runs × "
        f"{emulator.scheduler_seconds:g} s",
        profile.schedule_round_seconds / 2 + work.scheduler,
    )
    generator = _process_stage(
        "notification_generator",
        f"{emulator.generator_ms:.2f} ms per notification",
        1000 / emulator.generator_ms,
        half_poll,
        n,
    )
    # The first sale's records wait for the stream while the other sales' are generated.
    later_sales = work.generator * (workload.sales - 1) / workload.sales
    stream_latency = half_poll + profile.stream_read_seconds / 2 + shape.send_window_seconds / speed
    exposed_stream = max(0.0, stream_latency - later_sales)
    stream = one_run(
        "table stream",
        f"CDC round {half_poll:g} s + shard read {profile.stream_read_seconds / 2:g} s + batching window "
        f"{shape.send_window_seconds:g} s / speed {speed:g}",
        exposed_stream,
    )
    send = _process_stage(
        "notification_send",
        f"{emulator.send_ms:.1f} ms per record × {work.sends:.2f} records per notification",
        1000 / (emulator.send_ms * work.sends),
        0.0,
        n,
    )
    status_latency = last_status_seconds(shape, workload, profile)
    # The statuses of the messages sent during the last one's wait are worked on within it.
    span = work.generator + work.send + work.status
    status_inside = min(status_latency, work.status * status_latency / span) if span > 0 else 0.0
    exposed_status = status_latency - status_inside
    status = one_run(
        "sms_status_consumer",
        f"the last DELIVERED ({profile.delivered_after_seconds:g} s jittered / speed {speed:g}) + shard "
        f"read + window {shape.status_window_seconds:g} s / speed, less the status work within it; "
        f"{profile.status_events_per_sms:g} events per message × {emulator.status_ms:.1f} ms",
        exposed_status,
    )
    sweeper = one_run(
        "notification_sweeper",
        f"a {emulator.sweeper_run_seconds:.3f} s run every {profile.sweeper_every_seconds / speed:g} s "
        f"stretches the rest ×{stretch:.3f}; first imports {work.init:.2f} s",
        work.init,
    )
    redelivery = half_poll + profile.stream_read_seconds / 2 + shape.send_window_seconds / speed
    scaled = shape.model_copy(update={"retry_backoff_seconds": profile.retry_backoff_seconds / speed})
    tail = retry_tail(scaled, workload, process_rate, redelivery)
    check = profile.check_seconds / 2
    latency = profile.schedule_round_seconds / 2 + half_poll + exposed_stream + exposed_status + check
    total = latency + work.total * stretch + tail
    window = shape.lead_seconds / speed
    return CapacityAnswer(
        stack=shape.stack,
        notifications=n,
        stages=(scheduler, generator, stream, send, status, sweeper),
        bottleneck=(
            f"the sandbox's one process — {emulator.generator_ms:.2f} + {emulator.send_ms:.1f} × "
            f"{work.sends:.2f} + {work.status / n * 1000:.1f} (statuses) ms per notification, "
            f"×{stretch:.3f} for the sweeper → {process_rate:,.1f}/s"
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
            f"functions take turns in one process: {work.total:.2f} s of work one after the other "
            f"(scheduler {work.scheduler:.2f}, generator {work.generator:.2f}, sender {work.send:.2f}, "
            f"status consumer {work.status:.2f}, first imports {work.init:.2f})",
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
