"""End to end, the operator's commands: `dmd dlq redrive`, `dmd sandbox query`, `dmd workers invoke`.

Bitly keeps failing → the short-url job ends in its DLQ → `dmd dlq redrive` → shortened.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from ops.cli import app
from sandbox.pipeline import Pipeline
from sandbox.vendors import Effect
from tests.sandbox.e2e.flows import e2e_marks, e2e_pipeline, far_sale_time, seed_event, short_url

pytestmark = e2e_marks("e2e-operations")

SHORT_URL_QUEUE = "prd3292-local-us-east-1-event-short-url"
SHORT_URL_DLQ = "prd3292-local-us-east-1-event-short-url-dlq"


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    """A fast clock: the short-url queue's 180 s visibility timeout lasts 3 real seconds."""
    with e2e_pipeline(speed=60.0) as running:
        yield running


def test_a_short_url_job_bitly_keeps_failing_is_redriven_from_its_dlq_and_succeeds(
    pipeline: Pipeline,
) -> None:
    # Given Bitly fails every call for the event (more than the queue's receives × the client's attempts)
    pipeline.vendors.faults["bitly"].script("E2eBitly", *[Effect.SERVER_ERROR] * 40)
    # When the fan app looks the event up (which caches it and requests its short URL)
    seed_event(pipeline, "E2eBitly", sales=[(None, far_sale_time(pipeline))], wait_for_short_url=False)
    # Then its short-url jobs end in the DLQ after maxReceiveCount receives, and the event has no link
    assert pipeline.sandbox.run_until(
        lambda: (
            pipeline.queue_depths([SHORT_URL_DLQ])[SHORT_URL_DLQ] >= 1
            and pipeline.queue_depths([SHORT_URL_QUEUE])[SHORT_URL_QUEUE] == 0
        ),
        deadline=60,
    )
    dead = pipeline.queue_depths([SHORT_URL_DLQ])[SHORT_URL_DLQ]
    calls_while_failing = pipeline.vendors.bitly.calls_for("E2eBitly")
    assert short_url(pipeline, "E2eBitly") is None
    assert calls_while_failing >= 3 * 3  # each receive: the client's three attempts
    assert pipeline.sandbox.counters()["shorten_event_url"].records_failed >= 3

    # When Bitly recovers and the operator redrives the DLQ
    pipeline.vendors.clear_faults()
    result = CliRunner().invoke(
        app,
        [
            "dlq",
            "redrive",
            "--queue",
            SHORT_URL_DLQ,
            "--stack",
            "local",
            "--endpoint-url",
            pipeline.sandbox.endpoint_url,
            "--yes",
        ],
    )

    # Then every message went back, the event got its short URL, and Bitly made exactly one link
    # (the redriven jobs may run side by side: a second call then gets the same link back, 200)
    assert result.exit_code == 0, result.output
    assert f"{dead} messages from {SHORT_URL_DLQ}" in " ".join(result.output.split())
    assert pipeline.sandbox.run_until(lambda: bool(short_url(pipeline, "E2eBitly")), deadline=30)
    assert pipeline.sandbox.wait_until_idle(deadline=30)
    assert pipeline.queue_depths([SHORT_URL_DLQ, SHORT_URL_QUEUE]) == {SHORT_URL_DLQ: 0, SHORT_URL_QUEUE: 0}
    assert 1 <= pipeline.vendors.bitly.calls_for("E2eBitly") - calls_while_failing <= dead
    assert pipeline.vendors.bitly.counters.answers[("/v4/shorten", 201)] == 1


def test_redriving_a_queue_that_is_no_dlq_is_refused(pipeline: Pipeline) -> None:
    result = CliRunner().invoke(
        app,
        [
            "dlq",
            "redrive",
            "--queue",
            SHORT_URL_QUEUE,
            "--stack",
            "local",
            "--endpoint-url",
            pipeline.sandbox.endpoint_url,
            "--yes",
        ],
    )
    assert result.exit_code == 1
    assert "is not the dead-letter queue of any queue" in " ".join(result.output.split())


def test_the_cli_queries_event_details_from_a_running_sandbox(pipeline: Pipeline) -> None:
    # Given a running sandbox whose Discovery serves an event
    seed_event(pipeline, "E2eCliQuery", sales=[(None, far_sale_time(pipeline))], wait_for_short_url=False)
    # When the operator queries it from the CLI
    result = CliRunner().invoke(
        app,
        [
            "sandbox",
            "query",
            "eventDetails",
            "--event-id",
            "E2eCliQuery",
            "--market",
            "TM_US",
            "--endpoint-url",
            pipeline.sandbox.endpoint_url,
        ],
    )
    # Then the answer is AppSync's, served from the running sandbox's cache (no second Discovery call)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout[result.stdout.index("{") :])
    assert answer["data"]["eventDetails"]["eventId"] == "E2eCliQuery"
    assert answer["data"]["eventDetails"]["error"] is None
    assert pipeline.vendors.discovery.calls_for("E2eCliQuery") == 1

    # And an event Discovery does not know is answered as an error object (the default error
    # mode, as the original resolver did), which the CLI prints and exits 1 on
    unknown = CliRunner().invoke(
        app,
        [
            *("sandbox", "query", "eventDetails", "--event-id", "E2eNoSuchEvent"),
            *("--endpoint-url", pipeline.sandbox.endpoint_url),
        ],
    )
    assert unknown.exit_code == 1, unknown.output
    failed = json.loads(unknown.stdout[unknown.stdout.index("{") :])["data"]["eventDetails"]
    assert failed["eventId"] == "E2eNoSuchEvent"
    assert failed["error"]["type"] == "EventNotFoundError" and failed["error"]["retryable"] is False
