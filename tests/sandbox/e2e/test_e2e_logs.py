"""The real workers' logs in the sandbox's emulator, read with the presets of `dmd logs query`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from infra.log_queries import log_query
from ops.log_presets import PresetResult, run_preset
from ops.logs import LogSource
from ops.target import resolve_target
from sandbox.pipeline import Pipeline, PipelineMode
from sandbox.worker_log import routed_output
from tests.infra.graphs import stack_graph
from tests.sandbox.e2e.flows import (
    E2E_OVERRIDES,
    FAST_STATUSES,
    Fan,
    e2e_marks,
    far_sale_time,
    opt_in,
    run_window,
    seed_event,
    wait_done,
)

pytestmark = e2e_marks("e2e-logs")


@pytest.fixture(scope="module")
def logged_pipeline() -> Iterator[Pipeline]:
    """A pipeline whose functions' output also goes into the emulator's log groups."""
    with Pipeline(
        mode=PipelineMode.PRIVATE,
        speed=20.0,
        environment_overrides=E2E_OVERRIDES,
        status_delays=FAST_STATUSES,
        seed=5,
        ship_logs=True,
    ) as running:
        yield running


def _query(pipeline: Pipeline, worker: str, preset: str, identifier: str | None = None) -> PresetResult:
    """A preset on the pipeline's emulator, the way `dmd logs query … --stack local` runs it."""
    target = resolve_target("local", endpoint_url=pipeline.sandbox.endpoint_url)
    query = log_query(preset)
    workers = target.fleet.workers.values()
    sources = [LogSource(item.name, item.log_group) for item in workers if worker in ("all", item.name)]
    now = datetime.now(UTC)
    return run_preset(
        target.clients.client("logs"),
        query,
        [source for source in sources if query.applies_to(source.worker)],
        identifier=identifier,
        start=now - timedelta(hours=1),
        end=now,
        emulated=target.emulated,
        timeout_seconds=10,
    )


def test_a_sent_notifications_lines_and_latency_are_found_with_the_presets(
    logged_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a fan's SMS reminder sent and delivered through the real workers, their output routed
    # as Lambda's is (the stack's graph comes from the process's cache, not a new synth)
    monkeypatch.setattr("ops.target.synthesize_stack", stack_graph)
    pipeline = logged_pipeline
    starts = far_sale_time(pipeline)
    with routed_output(io.StringIO(), io.StringIO()):
        sales = seed_event(pipeline, "E2eLogs", sales=[(None, starts)])
        fan = Fan("e2e-logs-1", "E2eLogs", sales[None], phone="+13125550199")
        opt_in(pipeline, [fan])
        assert pipeline.sandbox.wait_until_idle(deadline=20)
        run_window(pipeline, starts)
        wait_done(pipeline, [fan.key("sms")])
        assert pipeline.sandbox.wait_until_idle(deadline=20)
    shipper = pipeline.sandbox.log_shipper
    assert shipper is not None
    shipper.flush()

    # When on-call follows the notification, and asks for send latency and cold starts
    followed = _query(pipeline, "all", "notification", fan.reference())
    latency = _query(pipeline, "notification_send", "send-latency")
    cold = _query(pipeline, "all", "cold-starts")

    # Then the sender's and the status consumer's lines of that notification are there
    lines = [(row["@log"].rsplit("-", 1)[-1], row.get("message")) for row in followed.rows]
    assert ("snd", "Notification sent") in lines
    assert ("status", "Notification status updated") in lines  # found by the key it now logs
    assert followed.evaluated_by == "client-side (emulator)"
    # And the send's latency is on its line, counted in a 5-minute bin
    assert sum(int(row["sent"]) for row in latency.rows) == 1
    assert all(float(row["max_seconds"]) >= 0 for row in latency.rows)
    # And the sender's reports count its invocations, with one cold start (its first)
    sender = [row for row in cold.rows if row["@log"].endswith("-ntfcn-snd")]
    assert sum(int(row["invocations"]) for row in sender) >= 1
    assert sum(int(row["cold_starts"]) for row in sender) == 1
    assert shipper.counters.dropped == 0
