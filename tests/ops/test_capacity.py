"""The closed-form capacity model: each stage's limit, the total, the window, the retry tail."""

from __future__ import annotations

import pytest

from ops.capacity import CapacityAnswer, estimate, retry_tail
from ops.capacity_inputs import (
    KINESIS_RECORDS_PER_SHARD,
    FaultRates,
    Workload,
)
from tests.ops.capacity_shapes import costs, prod1, roomy_limits


def _send_limit(answer: CapacityAnswer, name: str) -> float:
    send = next(stage for stage in answer.stages if stage.stage == "notification_send")
    return next(limit.per_second for limit in send.limits if limit.name == name)


def test_the_lanes_bind_at_shards_times_parallelization_times_batch_over_its_duration() -> None:
    # Given prod1's shape (4 shards × factor 10) and vendors that never bind
    shape = prod1()
    # When a big sale is estimated
    answer = estimate(shape, costs(), roomy_limits(), Workload(fans=500_000, sales=3))
    # Then the sender's lanes bind, and their rate is 40 lanes × 200 records / the batch's duration
    assert answer.bottleneck.startswith("notification_send — lanes: 10 lanes × 4 shard(s) × 200 records")
    doubled = estimate(prod1(stream_shards=8), costs(), roomy_limits(), Workload(fans=500_000, sales=3))
    assert _send_limit(doubled, "lanes") == pytest.approx(2 * _send_limit(answer, "lanes"))
    assert answer.total_seconds == pytest.approx(
        answer.latency_seconds + 500_000 / answer.per_second, rel=0.001
    )


def test_reserved_concurrency_binds_below_the_lanes() -> None:
    # Given the sender reserved 8 executions for 40 lanes
    shape = prod1(send_reserved=8)
    # When estimated
    answer = estimate(shape, costs(), roomy_limits(), Workload(fans=100_000))
    # Then the reservation binds at a fifth of the lanes' rate
    assert "reserved concurrency: 8 concurrent batches" in answer.bottleneck
    assert _send_limit(answer, "reserved concurrency") == pytest.approx(_send_limit(answer, "lanes") / 5)


def test_the_sms_vendor_limit_binds_per_sms_attempt() -> None:
    # Given an SMS service that takes 100 requests/s and every reminder by SMS, a quarter failing
    faults = FaultRates(sms_transient=0.25)
    workload = Workload(fans=100_000, sms_share=1.0, faults=faults)
    # When estimated
    answer = estimate(prod1(), costs(), roomy_limits(sms_per_second=100), workload)
    # Then the vendor binds at 100 / attempts per SMS (1 + 0.25 + 0.0625 with 3 attempts)
    assert answer.bottleneck.startswith("notification_send — SMS vendor limit: 100 requests/s")
    assert answer.per_second == pytest.approx(100 / 1.3125, rel=0.001)
    assert any("SMS-bound" in note for note in answer.notes)


def test_the_ses_rate_binds_on_the_email_share() -> None:
    # Given an account sending 14 emails/s and 40 % of the reminders by email
    answer = estimate(prod1(), costs(), roomy_limits(ses_per_second=14), Workload(fans=10_000, sms_share=0.6))
    # Then SES binds at 14 / 0.4 = 35 reminders/s
    assert answer.bottleneck.startswith("notification_send — SES sending rate")
    assert answer.per_second == pytest.approx(35.0)


def test_the_stream_binds_at_its_shards_writes_over_change_records_per_notification() -> None:
    # Given one provisioned shard and vendors answering in a millisecond: its lanes outrun it
    shape = prod1(stream_shards=1, stream_on_demand=False, send_reserved=-1)
    fast = costs().aws.model_copy(update={"sms_ms": 1.0, "ses_ms": 1.0, "dynamodb_ms": 1.0})
    # When estimated
    answer = estimate(
        shape, costs().model_copy(update={"aws": fast}), roomy_limits(), Workload(fans=100_000, sms_share=0.5)
    )
    # Then the shard's 1,000 records/s bind: 1 create + 2 per send + 2 per SMS = 4 records a notification
    stream = next(stage for stage in answer.stages if stage.stage == "table stream")
    assert stream.per_second == pytest.approx(KINESIS_RECORDS_PER_SHARD / 4.0)
    assert answer.bottleneck.startswith("table stream — shard writes: 1 shard(s)")


def test_the_table_and_the_pending_index_partitions_bind_dynamodb() -> None:
    # Given a table warm for 2,000 writes/s
    answer = estimate(prod1(), costs(), roomy_limits(table_writes_per_second=2_000), Workload(fans=50_000))
    # Then its writes bind: 2,000 / 4.2 writes per notification
    assert answer.bottleneck.startswith("DynamoDB — table write throughput")
    assert answer.per_second == pytest.approx(2_000 / 4.2, rel=0.001)
    # And the pending index's 16 partitions cap DynamoDB at 16,000 / 3 index writes a notification
    roomy = estimate(prod1(), costs(), roomy_limits(), Workload(fans=50_000))
    dynamodb = next(stage for stage in roomy.stages if stage.stage == "DynamoDB")
    assert dynamodb.per_second == pytest.approx(16_000 / 3)
    assert dynamodb.binding.startswith("pending index partitions")


def test_lambda_burst_scaling_adds_half_the_ramp_to_the_start() -> None:
    # Given 2,000 lanes (200 shards × 10) unreserved in a big account: two 10-second scaling steps
    shape = prod1(stream_shards=200, stream_on_demand=False, send_reserved=-1, account_unreserved=5_000)
    small = prod1(stream_shards=1, stream_on_demand=False, send_reserved=-1, account_unreserved=5_000)
    # When both are estimated
    big = estimate(shape, costs(), roomy_limits(), Workload(fans=1_000))
    one = estimate(small, costs(), roomy_limits(), Workload(fans=1_000))
    # Then the sender's start-up grows by half of 2,000 / 1,000 × 10 s against 10 lanes' 0.1 s ramp
    send_big = next(stage for stage in big.stages if stage.stage == "notification_send")
    send_one = next(stage for stage in one.stages if stage.stage == "notification_send")
    assert send_big.latency_seconds - send_one.latency_seconds == pytest.approx((20 - 0.1) / 2, abs=0.01)


def test_one_generation_job_per_sale_binds_a_single_sale_with_fast_sends() -> None:
    # Given one sale and a sender with lanes to spare
    shape = prod1(stream_shards=50, stream_on_demand=False, send_reserved=-1)
    # When estimated
    answer = estimate(shape, costs(), roomy_limits(), Workload(fans=200_000, sales=1))
    # Then the one generation job binds
    assert answer.bottleneck.startswith("notification_generator — one job per sale: 1 job(s) at once")
    # And with more sales than maximumConcurrency, the jobs run in rounds
    rounds = estimate(
        prod1(generator_concurrency=2), costs(), roomy_limits(), Workload(fans=200_000, sales=5)
    )
    generator = next(stage for stage in rounds.stages if stage.stage == "notification_generator")
    assert (
        generator.binding.startswith("jobs at once: 2 job(s) at once")
        and "over 3 round(s)" in generator.binding
    )


def test_the_window_is_the_lead_time_and_the_margin_its_difference() -> None:
    # Given prod1 (leadMinutes 30)
    answer = estimate(prod1(), costs(), roomy_limits(), Workload(fans=50_000))
    # Then the window is 1,800 s and the margin what the total leaves of it
    assert answer.window_seconds == 1800
    assert answer.holds and answer.margin_seconds == pytest.approx(1800 - answer.total_seconds, abs=0.1)
    missed = estimate(prod1(send_reserved=2), costs(), roomy_limits(), Workload(fans=500_000))
    assert not missed.holds and missed.margin_seconds < 0


def test_the_retry_tail_counts_rounds_while_a_failure_is_still_expected() -> None:
    # Given 3 attempts, 30 s backoff doubling, 2 s redelivery
    shape = prod1()
    many = Workload(fans=100_000, sms_share=1.0, faults=FaultRates(sms_transient=0.25))
    few = Workload(fans=4, sms_share=1.0, faults=FaultRates(sms_transient=0.25))
    # Then many SMS give two full rounds (30 + 2 + 60 + 2, less a sliver), a handful none
    assert retry_tail(shape, many, 500.0, 2.0) == pytest.approx(94.0, abs=0.1)
    assert retry_tail(shape, few, 500.0, 2.0) == pytest.approx(32 - 0.008 / 2, abs=0.1)
    assert retry_tail(shape, Workload(fans=100_000), 500.0, 2.0) == 0.0
