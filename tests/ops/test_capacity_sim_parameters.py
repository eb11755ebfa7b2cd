"""The simulation's parameters: the closed form's own figures, for AWS and for the sandbox."""

from __future__ import annotations

import pytest

from ops.capacity import send_figures
from ops.capacity_inputs import EXTERNAL_LIMITS, Workload
from ops.capacity_sandbox import SandboxProfile
from ops.capacity_sim_parameters import aws_parameters, sandbox_parameters
from tests.ops.capacity_shapes import committed_shape, costs, prod1


def test_aws_parameters_carry_the_shape_the_limits_and_the_record_times() -> None:
    workload = Workload(fans=10_000, sales=2)
    parameters = aws_parameters(prod1(), costs(), EXTERNAL_LIMITS["prod1"], workload)
    figures = send_figures(prod1(), costs(), workload)
    assert (parameters.lanes, parameters.concurrency, parameters.batch_size) == (40, 40, 200)
    assert parameters.sms_ms == figures.sms_record_ms and parameters.email_ms == figures.email_record_ms
    assert {bucket.name: bucket.per_second for bucket in parameters.buckets} == {
        "SMS vendor": 500,
        "SES": 200,
        "table stream": 4_000,
        "table writes": 40_000,
        "pending index": 16_000,
    }


def test_sandbox_parameters_put_every_stages_work_through_the_one_process() -> None:
    parameters = sandbox_parameters(committed_shape("local"), costs(), Workload(fans=100), SandboxProfile())
    (process,) = parameters.buckets
    assert process.name == "the sandbox's one process" and process.per_second == 1.0
    stretch = 1 / (1 - costs().emulator.sweeper_run_seconds * 10 / 60)  # the sweeper's minutely turns
    assert process.per_creation == pytest.approx(costs().emulator.generator_ms / 1000 * stretch)
    assert process.per_sms == process.per_email == pytest.approx(costs().emulator.send_ms / 1000 * stretch)
    assert process.per_sms_sent == pytest.approx(3 * costs().emulator.status_ms / 1000 * stretch)
    assert parameters.cold_start_is_work and parameters.backoff_base == 0.2  # the demo's 2 s at ×10
