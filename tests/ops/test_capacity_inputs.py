"""The capacity model's inputs: the stack's shape from its config, the fault language, the cost file."""

from __future__ import annotations

import pytest

from infra.stack_files import load_committed
from ops.capacity_inputs import COSTS_FILE, FaultRates, PipelineShape, fault_rates, load_costs, shape_of


def test_prod1s_shape_comes_from_its_stack_file() -> None:
    # When prod1's committed config is read
    shape = shape_of(load_committed("prod1"))
    # Then the model sees its sender, generator, stream and lead time as Pulumi.prod1.yaml sets them
    assert (shape.send_batch_size, shape.parallelization_factor, shape.send_reserved) == (200, 10, 100)
    assert (shape.stream_shards, shape.stream_on_demand) == (4, True)  # ON_DEMAND: its starting capacity
    assert (shape.generator_concurrency, shape.write_parallelism) == (10, 32)
    assert shape.lead_seconds == 1800 and shape.max_send_attempts == 3
    assert shape.lanes == 40 and shape.send_concurrency == 40
    # And the account's unreserved pool is its limit less every reservation (1,000 − 126)
    assert shape.account_unreserved == 874


def test_a_provisioned_stream_gives_its_shard_count_and_an_unreserved_sender_the_account_pool() -> None:
    # When the local stack is read (1 provisioned shard, factor 4, no reservation)
    shape = shape_of(load_committed("local"))
    # Then its lanes are 4 and the account's pool caps none of them
    assert (shape.stream_shards, shape.stream_on_demand, shape.lanes) == (1, False, 4)
    assert shape.send_reserved == -1 and shape.send_concurrency == 4


def test_the_backoff_doubles_up_to_five_minutes() -> None:
    shape = shape_of(load_committed("prod1")).model_copy(update={"retry_backoff_seconds": 100.0})
    assert [shape.backoff(attempt) for attempt in (1, 2, 3, 4)] == [100, 200, 300, 300]
    assert isinstance(shape, PipelineShape)


def test_faults_read_the_sandbox_language_into_transient_permanent_throttle_and_timeout() -> None:
    # When a demo's fault plan is read
    rates = fault_rates("sms=0.1,sms-429=0.05,sms-blocked=0.02,ddb-throttle=0.1,timeout=0.02")
    # Then 5xx and 429 are transient, a block permanent, and the drills keep their rates
    assert rates.sms_transient == pytest.approx(0.15)
    assert rates.sms_permanent == pytest.approx(0.02)
    assert (rates.ddb_throttle, rates.timeout) == (0.1, 0.02)
    assert fault_rates("") == FaultRates()


def test_an_unknown_fault_or_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="nonsense"):
        fault_rates("nonsense=0.1")
    with pytest.raises(ValueError, match="from 0 to 1"):
        fault_rates("sms=2")


def test_expected_attempts_and_write_delays_follow_the_rates() -> None:
    # Given a quarter of SMS requests failing and a tenth of writes throttled
    rates = FaultRates(sms_transient=0.25, ddb_throttle=0.1)
    # Then an SMS takes 1 + ¼ + 1/16 requests with 3 attempts, a write 1/0.9 tries and ~5.5 ms more
    assert rates.sms_attempts(3) == pytest.approx(1.3125)
    assert rates.sms_attempts(1) == 1.0
    assert rates.write_factor() == pytest.approx(1 / 0.9)
    assert rates.throttle_delay_ms() == pytest.approx(0.1 * 50 + 0.01 * 100 + 0.001 * 200, rel=0.01)


def test_the_committed_cost_file_validates() -> None:
    costs = load_costs(COSTS_FILE)
    assert costs.emulator.send_ms > costs.emulator.generator_ms > 0
    assert costs.aws.sms_ms > costs.aws.dynamodb_ms
