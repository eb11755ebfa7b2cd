"""The pipeline benchmark: the sandbox run and its bare-boto3 baseline produce the same outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from bench.pipeline_bench import pipeline_vs_boto3

# bench/ is not measured, and the sandbox and workers it drives are covered by their own tests.
pytestmark = [pytest.mark.slow, pytest.mark.no_cover]


def test_a_small_sale_runs_through_the_pipeline_and_the_baseline_repeats_its_minimum_calls(
    tmp_path: Path,
) -> None:
    # Given a 40-fan sale
    # When the benchmark runs it through the sandbox and then the baseline
    # (on a sandbox clock ten times real time: the same calls, shorter waits)
    bench = pipeline_vs_boto3(
        40, out_dir=tmp_path, deadline_seconds=120, console=Console(quiet=True), speed=10.0
    )
    # Then every notification ended terminal, and the figures are those of this run
    assert bench.notifications == bench.delivered + bench.failed > 0
    assert bench.pipeline_seconds > 0 and bench.baseline_seconds > 0
    assert (tmp_path / "pipeline-report.json").is_file()
    # And the baseline created, claimed and settled each notification once, emailed each email once
    # and applied three status events per delivered SMS, like the workers did
    workers, baseline = bench.worker_by_operation, bench.baseline_by_operation
    assert baseline["dynamodb:PutItem"] == workers["dynamodb:PutItem"] == bench.notifications
    assert baseline["ses:SendTemplatedEmail"] == workers.get("ses:SendTemplatedEmail", 0)
    sms_delivered = baseline["kinesis:PutRecord"] // 3
    assert baseline["dynamodb:UpdateItem"] == 2 * bench.notifications + 3 * sms_delivered
    assert sms_delivered + baseline["ses:SendTemplatedEmail"] == bench.delivered
    # And the summary for bench/RESULTS.md names both sides' calls
    text = bench.markdown()
    assert "Workers (the product's own calls)" in text and "Baseline (bare boto3" in text
    assert "per delivered reminder (target ≤ 4.0" in text and "status events in" in text
