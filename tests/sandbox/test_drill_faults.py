"""The sandbox's drill faults: seeded decisions per request key, and a timed-out invocation mid-batch."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.drill_faults import TIMEOUT, SeededRate, seeded_draw
from sandbox.function import InvocationTimeoutError
from sandbox.pollers import UNHANDLED, invoke_batch
from sandbox.pollers.batch import first_part
from tests.sandbox.conftest import FunctionFactory


def _event(*identifiers: str) -> dict[str, Any]:
    """An SQS-shaped event whose records carry these message ids (and their payload)."""
    return {
        "Records": [
            {"messageId": identifier, "body": f'{{"n": "{identifier}"}}'} for identifier in identifiers
        ]
    }


def test_a_seeded_rate_hits_the_same_requests_for_the_same_seed_and_about_its_share() -> None:
    # Given two deciders with one seed and one with another, at 10 %
    first, second, other = (SeededRate(TIMEOUT, rate=0.1, seed=seed) for seed in (7, 7, 8))
    keys = [f"key-{number}" for number in range(2000)]
    # When each decides the same requests
    hits = [[rate.hits(key) for key in keys] for rate in (first, second, other)]
    # Then the same seed hits the same requests, another seed others, and about 10 % of them
    assert hits[0] == hits[1] != hits[2]
    assert 0.08 < sum(hits[0]) / len(keys) < 0.12


def test_the_nth_request_of_a_key_draws_anew_so_a_retry_can_pass() -> None:
    # Given a decider at 50 % and a key asked ten times
    rate = SeededRate(TIMEOUT, rate=0.5, seed=1)
    decided = [rate.hits("batch-1") for _ in range(10)]
    # Then the answers follow the seeded draws of ordinals 0..9 (not one answer for ever)
    assert decided == [seeded_draw(1, TIMEOUT, "batch-1", ordinal) < 0.5 for ordinal in range(10)]
    assert len(set(decided)) == 2


def test_a_rate_of_zero_hits_nothing_and_an_out_of_range_rate_is_refused() -> None:
    rate = SeededRate(TIMEOUT)
    assert not any(rate.hits(f"k{number}") for number in range(100))
    with pytest.raises(ValueError, match="timeout rate must be from 0 to 1"):
        rate.configure(rate=1.5, seed=0)


@pytest.mark.parametrize(("size", "handled"), [(1, 1), (2, 1), (5, 2), (10, 5)])
def test_the_first_part_of_a_batch_is_its_first_half_and_at_least_one_record(size: int, handled: int) -> None:
    identifiers = [str(number) for number in range(size)]
    part = first_part({**_event(*identifiers), "other": "kept"})
    assert [record["messageId"] for record in part["Records"]] == identifiers[:handled]
    assert part["other"] == "kept"


def test_a_timed_out_invocation_handles_the_first_part_then_fails_the_whole_batch(
    make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a function whose every poller invocation times out
    function = make_function("succeed")
    function.injected_timeouts.configure(rate=1.0, seed=0)
    identifiers = ("m1", "m2", "m3", "m4")
    # When a batch of four is invoked
    result = invoke_batch(function, _event(*identifiers), identifiers, report=True)
    # Then the handler ran on the first two records only (their side effects happen)
    [call] = handlers.invocations("succeed")
    assert call.identifiers == ["m1", "m2"]
    # And Lambda got no answer: a function error failing the whole batch, for the mapping to retry
    assert result.failed == identifiers and result.whole_batch and result.function_error == UNHANDLED
    counters = function.counters.snapshot()
    assert (counters.invocations, counters.timeouts, counters.timeouts_injected) == (1, 1, 1)
    assert (counters.function_errors, counters.records_in_timed_out_batches) == (1, 4)


def test_without_the_drill_the_batch_runs_whole_and_a_direct_invoke_can_time_out_on_demand(
    make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a function without injected timeouts
    function = make_function("succeed")
    identifiers = ("m1", "m2")
    # When a batch is invoked, it runs whole and succeeds
    result = invoke_batch(function, _event(*identifiers), identifiers, report=True)
    assert (result.failed, result.whole_batch) == ((), False)
    assert handlers.invocations("succeed")[0].identifiers == ["m1", "m2"]
    # And an invocation asked to time out runs the handler, then raises the timeout
    with pytest.raises(InvocationTimeoutError, match="timed out"):
        function.invoke(_event("m3"), time_out=True)
    assert handlers.invocations("succeed")[-1].identifiers == ["m3"]
    assert function.counters.snapshot().timeouts_injected == 1
