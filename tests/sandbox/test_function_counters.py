"""A worker's timing counters: each invocation's time (`handler_ms`), the worker's (`held_ms`), its import."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from sandbox.function import FunctionCounters, Handler, import_handler
from tests.sandbox.conftest import FunctionFactory

BLOCK_SECONDS = 0.2
IMPORT_SECONDS = 0.05
OVERLAP_HANDLER_SECONDS = 0.05  # tests.sandbox.handlers.overlap sleeps this long


def _timed_block(counters: FunctionCounters, meet: threading.Barrier, durations: list[float]) -> None:
    """A block timed by `counters` that meets the other thread's inside, then works BLOCK_SECONDS."""
    with counters.timed():
        began = time.monotonic()
        meet.wait()
        time.sleep(BLOCK_SECONDS)
        durations.append(time.monotonic() - began)


def test_overlapping_invocations_count_each_their_time_and_the_worker_the_time_either_ran() -> None:
    # Given a worker's counters and two invocations on two threads, both inside for at least 0.2 s
    counters = FunctionCounters()
    meet = threading.Barrier(2, timeout=5)
    durations: list[float] = []
    threads = [threading.Thread(target=_timed_block, args=(counters, meet, durations)) for _ in range(2)]
    # When both run
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    # Then each invocation's time is counted in handler_ms, the overlap twice
    snapshot = counters.snapshot()
    assert len(durations) == 2
    assert snapshot.handler_ms == pytest.approx(sum(durations) * 1000, abs=100)  # a busy machine
    # And held_ms counts the time at least one ran: as long as the longest, the overlap once
    assert snapshot.held_ms >= max(durations) * 1000 - 1
    assert snapshot.held_ms < snapshot.handler_ms
    assert snapshot.handler_ms - snapshot.held_ms >= BLOCK_SECONDS * 1000 - 5


def test_invocations_one_after_the_other_hold_the_worker_as_long_as_they_ran_not_between() -> None:
    # Given a worker's counters
    counters = FunctionCounters()
    began = time.monotonic()
    # When two invocations run one after the other, with an idle moment between them
    with counters.timed():
        time.sleep(0.05)
    time.sleep(0.1)
    with counters.timed():
        time.sleep(0.05)
    span_ms = (time.monotonic() - began) * 1000
    # Then the worker was held as long as its invocations ran, the idle moment apart
    snapshot = counters.snapshot()
    assert snapshot.handler_ms >= 100
    assert snapshot.held_ms == pytest.approx(snapshot.handler_ms, abs=2)
    assert snapshot.held_ms <= span_ms - 100 + 2


def test_an_invocation_that_raises_is_still_timed_and_leaves_the_worker_idle() -> None:
    # Given a worker's counters and an invocation that raises after 50 ms
    counters = FunctionCounters()
    with pytest.raises(RuntimeError, match="handler failed"), counters.timed():
        time.sleep(0.05)
        raise RuntimeError("handler failed")
    failed = counters.snapshot()
    # When, a moment later, another invocation runs
    time.sleep(0.1)
    with counters.timed():
        time.sleep(0.05)
    # Then the failed invocation's time counted, and the worker's held time starts afresh after it
    # (the idle moment between them is no one's)
    assert failed.handler_ms >= 50
    assert failed.held_ms == pytest.approx(failed.handler_ms, abs=2)
    snapshot = counters.snapshot()
    assert snapshot.held_ms == pytest.approx(snapshot.handler_ms, abs=2)


def test_other_counters_are_untouched_by_timing_and_timing_by_them() -> None:
    # Given a worker's counters
    counters = FunctionCounters()
    # When a timed block adds records meanwhile
    with counters.timed():
        counters.add(invocations=1, records_processed=3)
        time.sleep(0.02)
    # Then both are counted
    snapshot = counters.snapshot()
    assert (snapshot.invocations, snapshot.records_processed) == (1, 3)
    assert snapshot.handler_ms >= 20 and snapshot.held_ms >= 20
    assert snapshot.init_ms == 0


def test_a_function_counts_its_import_once_and_each_invocations_time(
    make_function: FunctionFactory, handlers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a function whose handler takes 50 ms to import and 50 ms to run
    def slow_import(path: str) -> Handler:
        time.sleep(IMPORT_SECONDS)
        return import_handler(path)

    monkeypatch.setattr("sandbox.function.import_handler", slow_import)
    function = make_function("overlap")
    # When it is invoked twice
    function.invoke({"Records": []})
    first = function.counters.snapshot()
    function.invoke({"Records": []})
    second = function.counters.snapshot()
    # Then the import counted once, with the first invocation, inside its time
    assert len(handlers.invocations("overlap")) == 2
    assert first.init_ms >= IMPORT_SECONDS * 1000
    assert second.init_ms == first.init_ms
    assert first.handler_ms >= first.init_ms + OVERLAP_HANDLER_SECONDS * 1000
    # And each invocation added its time to the invocations' and the worker's
    assert (first.invocations, second.invocations) == (1, 2)
    assert second.handler_ms >= first.handler_ms + OVERLAP_HANDLER_SECONDS * 1000
    assert second.held_ms >= first.held_ms + OVERLAP_HANDLER_SECONDS * 1000
    assert second.held_ms == pytest.approx(second.handler_ms, abs=2)
