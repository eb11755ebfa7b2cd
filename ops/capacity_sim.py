"""A discrete-event simulation of the send pipeline, to check the closed form (ops/capacity.py).

Batches, not records: a generation job writes pages, a page's notifications reach the table
stream's lanes (shards × parallelization factor, records spread by partition key) after the CDC
copy and the poller's read; a lane runs a batch when it holds `batchSize` records or its batching
window has passed, within the sender's concurrency (reserved, or the account's unreserved pool,
reached at Lambda's scaling rate). A batch's records take their time in the invocation; the
shared limits (the SMS service's and SES's rates, the stream's shard writes, the table's and the
pending index's write throughput; on the sandbox, its one process) are token buckets a batch must
get through before it ends. Faults are drawn per batch (seeded): transient SMS failures come back
to their lane after the backoff (the lane waits for a record that is not due, as the sender does)
until `maxSendAttempts`; a timed-out invocation holds its lane for the function's timeout before
Lambda runs the batch again. Pure Python and heapq: 1,000,000 notifications in a few seconds of CPU.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from ops.capacity_inputs import (
    SQS_INITIAL_CONCURRENCY,
    SQS_SCALING_PER_MINUTE,
    CapacityModel,
)

_NORMAL_ABOVE: Final = 60  # binomial draws of more trials use the normal approximation


@dataclass
class Bucket:
    """A shared rate limit: each second holds `per_second` units, used in the order work asks for them."""

    name: str
    per_second: float
    per_creation: float = 0.0
    per_sms: float = 0.0
    per_email: float = 0.0
    per_sms_sent: float = 0.0
    used: dict[int, float] = field(default_factory=dict)  # second → units used in it

    def take(self, now: float, amount: float, over: float = 0.0) -> float:
        """Use `amount` units from `now` on, spread over `over` seconds at least; when the last is used.

        Work that makes its calls through a batch (or a page) asks for its units at that pace, not
        all at its start; seconds already full push the rest later.
        """
        if amount <= 0:
            return now
        pace = amount / over if over > 0 else math.inf
        second, done = int(now), now
        while amount > 1e-12:
            # A second's fill level is also its clock: the room before `now` in it is gone.
            first = second == int(now)
            level = max(self.used.get(second, 0.0), (now - second) * self.per_second if first else 0.0)
            # At the work's pace while it runs; what is left after that goes as fast as there is room.
            paced = pace * ((second + 1 - now) if first else 1.0) if second < now + over else math.inf
            use = min(self.per_second - level, amount, paced)
            if use > 0:
                self.used[second] = level + use
                amount -= use
                done = second + (level + use) / self.per_second
            second += 1
        return done


@dataclass(frozen=True, kw_only=True)
class SimParameters:
    """What the simulation runs: the same figures the closed form uses, for AWS or the sandbox."""

    notifications: int
    sales: int
    sms_share: float
    scheduler_seconds: float
    job_start_seconds: float
    generator_concurrency: int
    page_size: int
    first_page_seconds: float
    generator_ms: float
    visible_seconds: float
    first_invocation_seconds: float
    window_seconds: float
    lanes: int
    concurrency: int
    scaling_per_second: float
    batch_size: int
    overhead_ms: float
    sms_ms: float
    email_ms: float
    register_ms: float
    timeout_rate: float
    timeout_seconds: float
    transient: float
    permanent: float
    max_attempts: int
    backoff_base: float
    backoff_max: float = 300.0
    end_seconds: float = 0.0
    buckets: tuple[Bucket, ...] = ()
    cold_start_is_work: bool = False
    """Sandbox: the sender's cold start (its import) is work of the one process, not a wait."""

    def backoff(self, attempt: int) -> float:
        """Seconds before the next attempt after the `attempt`-th failed one."""
        return float(min(self.backoff_base * 2 ** (attempt - 1), self.backoff_max))


class SimResult(CapacityModel):
    """What a simulation run found."""

    total_seconds: float
    """Tick → last notification's final send outcome (plus the sandbox's end detection)."""
    first_sent_seconds: float
    sent: int
    failed: int
    batches: int
    retries: int
    timeouts: int
    seed: int


@dataclass
class _Chunk:
    sms: int
    email: int
    attempt: int  # the attempt these records make next (1 = first)
    due: float
    visible: float

    @property
    def records(self) -> int:
        return self.sms + self.email


@dataclass
class _Lane:
    queue: deque[_Chunk] = field(default_factory=deque)
    busy: bool = False
    waiting: bool = False  # queued for a concurrency slot
    wake_at: float | None = None  # a pending "go" event

    def visible_records(self, now: float) -> int:
        return sum(chunk.records for chunk in self.queue if chunk.visible <= now)


def _split(total: int, parts: int, offset: int) -> list[int]:
    """`total` spread over `parts` as evenly as integers go, the remainder from `offset` on."""
    base, extra = divmod(total, parts)
    return [base + (1 if (index - offset) % parts < extra else 0) for index in range(parts)]


class _Simulation:
    def __init__(self, parameters: SimParameters, seed: int) -> None:
        self.p = parameters
        self.rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not secrets
        self.seed = seed
        self.events: list[tuple[float, int, str, int]] = []
        self.order = 0
        self.lanes = [_Lane() for _ in range(parameters.lanes)]
        self.running = 0
        self.slot_queue: deque[int] = deque()
        self.first_invocation: float | None = None
        self.cold_until: float | None = None
        self.spread = 0
        self.buckets = [
            Bucket(
                b.name,
                b.per_second,
                b.per_creation,
                b.per_sms,
                b.per_email,
                b.per_sms_sent,
            )
            for b in parameters.buckets
        ]
        self._pending: dict[int, list[_Chunk]] = {}
        self.last_outcome = 0.0
        self.first_sent = math.inf
        self.sent = self.failed = self.batches = self.retries = self.timeouts = 0
        self.done = 0

    def push(self, when: float, kind: str, subject: int) -> None:
        self.order += 1
        heapq.heappush(self.events, (when, self.order, kind, subject))

    def run(self) -> SimResult:
        p = self.p
        self._generate()
        while self.events and self.done < p.notifications:
            now, _, kind, subject = heapq.heappop(self.events)
            if kind == "go":
                lane = self.lanes[subject]
                if lane.wake_at == now:
                    lane.wake_at = None
                self._consider(subject, now)
            elif kind == "end":
                self._finish(subject, now)
            elif kind == "slot":
                self._retry_slot(subject, now)
        return SimResult(
            total_seconds=round(self.last_outcome + p.end_seconds, 3),
            first_sent_seconds=round(self.first_sent, 3) if self.first_sent < math.inf else 0.0,
            sent=self.sent,
            failed=self.failed,
            batches=self.batches,
            retries=self.retries,
            timeouts=self.timeouts,
            seed=self.seed,
        )

    def _generate(self) -> None:
        """Every page's creation time, job by job (the generator's own limits), into the lanes."""
        p = self.p
        per_sale = _split(p.notifications, p.sales, 0)
        slots = [0.0] * min(p.sales, p.generator_concurrency)
        ready = p.scheduler_seconds + p.job_start_seconds
        pages: list[tuple[float, int]] = []
        for job, count in enumerate(per_sale):
            slot = min(range(len(slots)), key=lambda index: slots[index])
            ramp = max(0, job + 1 - SQS_INITIAL_CONCURRENCY) / (SQS_SCALING_PER_MINUTE / 60)
            start = max(ready + ramp, slots[slot])
            clock = start + p.first_page_seconds
            remaining = count
            while remaining > 0:
                page = min(p.page_size, remaining)
                clock += page * p.generator_ms / 1000
                pages.append((clock, page))
                remaining -= page
            slots[slot] = clock
        pages.sort()
        for created, page in pages:
            written = created
            writing = page * p.generator_ms / 1000
            for bucket in self.buckets:
                written = max(written, bucket.take(created - writing, page * bucket.per_creation, writing))
            sms = round(page * p.sms_share)
            visible = written + p.visible_seconds
            for index, (lane_sms, lane_email) in enumerate(
                zip(
                    _split(sms, p.lanes, self.spread),
                    _split(page - sms, p.lanes, self.spread + sms),
                    strict=True,
                )
            ):
                if lane_sms or lane_email:
                    self._enqueue(index, _Chunk(lane_sms, lane_email, 1, written, visible))
            self.spread = (self.spread + page) % p.lanes

    def _enqueue(self, lane_index: int, chunk: _Chunk) -> None:
        lane = self.lanes[lane_index]
        lane.queue.append(chunk)
        self._wake(lane_index, chunk.visible)

    def _wake(self, lane_index: int, when: float) -> None:
        lane = self.lanes[lane_index]
        if lane.busy or lane.waiting:
            return
        if lane.wake_at is None or when < lane.wake_at:
            lane.wake_at = when
            self.push(when, "go", lane_index)

    def _consider(self, lane_index: int, now: float) -> None:
        """A lane with visible records runs a batch when full or its window has passed."""
        p, lane = self.p, self.lanes[lane_index]
        if lane.busy or lane.waiting or not lane.queue:
            return
        visible = [chunk for chunk in lane.queue if chunk.visible <= now]
        if not visible:
            self._wake(lane_index, min(chunk.visible for chunk in lane.queue))
            return
        start_at = min(chunk.visible for chunk in visible) + p.window_seconds
        if self.cold_until is None:  # the sender's first invocation starts cold (its handler's import)
            self.cold_until = now if p.cold_start_is_work else now + p.first_invocation_seconds
        start_at = max(start_at, self.cold_until)
        full = sum(chunk.records for chunk in visible) >= p.batch_size
        if now < start_at and not (full and now >= self.cold_until):
            self._wake(lane_index, self.cold_until if full else start_at)
            return
        if self.first_invocation is None:
            self.first_invocation = now
        if self.running >= self._slots(now):
            lane.waiting = True
            self.slot_queue.append(lane_index)
            if self.running < p.concurrency:  # Lambda's scaling holds it: try when it allows one more
                self.push(now + 1 / p.scaling_per_second, "slot", lane_index)
            return
        self._start(lane_index, now)

    def _retry_slot(self, lane_index: int, now: float) -> None:
        lane = self.lanes[lane_index]
        if not lane.waiting:
            return
        if self.running < self._slots(now):
            self.slot_queue.remove(lane_index)
            lane.waiting = False
            self._start(lane_index, now)
        elif self.running < self.p.concurrency:
            self.push(now + 1 / self.p.scaling_per_second, "slot", lane_index)

    def _slots(self, now: float) -> int:
        p = self.p
        if self.first_invocation is None or math.isinf(p.scaling_per_second):
            return p.concurrency
        ramp = 1 + int((now - self.first_invocation) * p.scaling_per_second)
        return min(p.concurrency, ramp)

    def _start(self, lane_index: int, now: float) -> None:
        p, lane = self.p, self.lanes[lane_index]
        lane.busy = True
        self.running += 1
        taken: list[_Chunk] = []
        room = p.batch_size
        while lane.queue and room > 0 and lane.queue[0].visible <= now:
            chunk = lane.queue[0]
            if chunk.records <= room:
                taken.append(lane.queue.popleft())
                room -= chunk.records
            else:
                sms = min(chunk.sms, room)
                email = room - sms
                taken.append(_Chunk(sms, email, chunk.attempt, chunk.due, chunk.visible))
                chunk.sms -= sms
                chunk.email -= email
                room = 0
        self.batches += 1
        sms = sum(chunk.sms for chunk in taken)
        email = sum(chunk.email for chunk in taken)
        first_sms = sum(chunk.sms for chunk in taken if chunk.attempt == 1)
        compute = (p.overhead_ms + sms * p.sms_ms + email * p.email_ms + first_sms * p.register_ms) / 1000
        # Due records first; then the lane waits for the backed-off ones and sends them (the sender's order).
        later = [chunk for chunk in taken if chunk.due > now]
        end = now + compute
        if later:
            waiting = sum(chunk.sms * p.sms_ms + chunk.email * p.email_ms for chunk in later) / 1000
            end = max(end, max(chunk.due for chunk in later) + waiting)
        if p.timeout_rate and self.rng.random() < p.timeout_rate:
            self.timeouts += 1
            end += p.timeout_seconds
        sent_sms = first_sms  # registration and status writes: one set per SMS, counted on its first try
        cold = p.first_invocation_seconds if p.cold_start_is_work and self.batches == 1 else 0.0
        for bucket in self.buckets:
            amount = sms * bucket.per_sms + email * bucket.per_email + sent_sms * bucket.per_sms_sent
            amount += cold * bucket.per_second if bucket is self.buckets[0] else 0.0
            end = max(end, bucket.take(now, amount, end - now))
        self._pending[lane_index] = taken
        self.push(end, "end", lane_index)

    def _finish(self, lane_index: int, now: float) -> None:
        p, lane = self.p, self.lanes[lane_index]
        for chunk in self._pending.pop(lane_index):
            failed = self._draw(chunk.sms, p.transient)
            rejected = self._draw(chunk.sms - failed, p.permanent) if chunk.attempt == 1 else 0
            ok = chunk.sms - failed - rejected + chunk.email
            self.sent += ok
            self.failed += rejected
            self.done += ok + rejected
            if ok:
                self.first_sent = min(self.first_sent, now)
            if failed:
                if chunk.attempt >= p.max_attempts:
                    self.failed += failed
                    self.done += failed
                else:
                    self.retries += failed
                    visible = now + p.visible_seconds
                    lane.queue.append(
                        _Chunk(failed, 0, chunk.attempt + 1, now + p.backoff(chunk.attempt), visible)
                    )
            if ok or rejected or (failed and chunk.attempt >= p.max_attempts):
                self.last_outcome = max(self.last_outcome, now)
        lane.busy = False
        self.running -= 1
        if self.slot_queue:
            waiting = self.slot_queue.popleft()
            self.lanes[waiting].waiting = False
            self._consider(waiting, now)
        if lane.queue:
            self._wake(lane_index, max(now, min(chunk.visible for chunk in lane.queue)))

    def _draw(self, trials: int, share: float) -> int:
        if trials <= 0 or share <= 0:
            return 0
        if trials > _NORMAL_ABOVE:
            mean = trials * share
            spread = math.sqrt(trials * share * (1 - share))
            return max(0, min(trials, round(self.rng.gauss(mean, spread))))
        return sum(1 for _ in range(trials) if self.rng.random() < share)


def simulate(parameters: SimParameters, *, seed: int = 7) -> SimResult:
    """Run the pipeline once, seeded: the same seed gives the same result."""
    return _Simulation(parameters, seed).run()
