"""End to end, a maintenance window: `dmd maintenance start` pauses the running pipeline, `end` resumes it.

While paused, fans opt in, an event is looked up and the scheduler's half hour passes: nothing is
invoked (but the resolver) and no SMS goes out. After `end`, what waited in the stream is processed,
the skipped tick's window is run by hand (the runbook's step), the next tick fires on its own, and
every reminder is delivered exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from aws_clients import AwsClients
from infra.stack_files import load_committed
from ops.target import Target
from sandbox.demo.plan import next_tick
from sandbox.pipeline import Pipeline
from sandbox.pollers.sqs import LONG_POLL_SECONDS
from sandbox.trigger_state import MAX_AGE_SECONDS
from tests.infra.graphs import stack_graph
from tests.ops.cli_output import command_json, run_dmd
from tests.sandbox.e2e.flows import (
    Fan,
    e2e_marks,
    far_sale_time,
    opt_in,
    run_window,
    seed_event,
    short_url,
    wait_done,
)

pytestmark = e2e_marks("e2e-maintenance")

PAUSED = (
    "notification_scheduler",
    "notification_generator",
    "notification_send",
    "demand_stream_to_sqs",
    "shorten_event_url",
    "sms_status_consumer",
    "notification_sweeper",
)
# The pollers read their mapping's state at most once a second, and a receive already waiting
# when it was disabled finishes (what `start`'s drain waits for in AWS).
SETTLE_SECONDS = MAX_AGE_SECONDS + LONG_POLL_SECONDS + 0.5


@pytest.fixture
def local_stack(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    """`--stack local` resolved to the running pipeline's emulator."""
    endpoint = pipeline.sandbox.endpoint_url
    target = Target(
        stack="local",
        config=load_committed("local"),
        clients=AwsClients.for_emulator(endpoint, region="us-east-1"),
        endpoint_url=endpoint,
    )
    target.graph = stack_graph("local")  # the cached property's value, set ahead
    monkeypatch.setattr("ops.operator_io.resolve_target", lambda stack, **_: target)
    yield target
    # A failed test must not leave the module's pipeline paused
    run_dmd("maintenance", "end", "--stack", "local", "--yes")


# Sandbox time the test's setup may take before the window starts (a minute of real time at speed 20).
SETUP_MARGIN = timedelta(minutes=20)


def test_a_window_pauses_the_pipeline_and_its_end_resumes_it_with_nothing_lost(
    pipeline: Pipeline, local_stack: Target
) -> None:
    # Given an event with a sale in the next scheduler window and one in the window after, and fans
    # of the first sale
    # (a tick far enough ahead that the setup below ends before it: at a nearer one the scheduler's own
    # firing would generate the first sale's reminders before the window starts)
    tick = next_tick(pipeline.clock.now_datetime() + SETUP_MARGIN)
    lead = timedelta(minutes=int(pipeline.function_variable("notification_scheduler", "LEAD_MINUTES")))
    first_sale, second_sale = tick + lead + timedelta(minutes=5), tick + lead + timedelta(minutes=35)
    sales = seed_event(pipeline, "E2eMaint", sales=[(None, first_sale), ("Fan Presale", second_sale)])
    early = [Fan(f"e2e-maint-{n}", "E2eMaint", sales[None], phone=f"+1312555030{n}") for n in range(3)]
    late = [Fan("e2e-maint-9", "E2eMaint", sales["Fan Presale"], phone="+13125550309")]
    opt_in(pipeline, early)
    assert pipeline.sandbox.wait_until_idle(deadline=20)

    # When on-call starts a maintenance window over every worker
    started = run_dmd("maintenance", "start", "--stack", "local", "--reason", "e2e window", "--yes", "--json")
    assert started.exit_code == 0, started.output
    window = command_json(started.stdout)
    assert window["drain"]["drained"] is True
    assert {step["worker"] for step in window["steps"]} == set(PAUSED)
    time.sleep(SETTLE_SECONDS)
    before = pipeline.sandbox.counters()

    # And while paused, a fan opts in, the fan app looks a new event up, and the half hour passes
    opt_in(pipeline, late)
    seed_event(pipeline, "E2eMaintLate", sales=[(None, far_sale_time(pipeline))], wait_for_short_url=False)
    pipeline.clock.advance_to(tick + timedelta(seconds=1))
    time.sleep(3.0)  # a minute of sandbox time: the sweeper's rule would have fired

    # Then no paused worker ran, no SMS went out, and the new event got no short URL
    during = pipeline.sandbox.counters()
    assert {worker: during[worker].invocations for worker in PAUSED} == {
        worker: before[worker].invocations for worker in PAUSED
    }
    assert pipeline.vendors.sms.sent == []
    assert short_url(pipeline, "E2eMaintLate") is None
    assert pipeline.item(early[0].key("sms").pk, early[0].key("sms").sk) is None
    # And the deploy pipeline's check refuses
    assert run_dmd("maintenance", "status", "--stack", "local", "--fail-if-active").exit_code == 1

    # When the window ends
    ended = run_dmd("maintenance", "end", "--stack", "local", "--yes", "--json")
    assert ended.exit_code == 0, ended.output
    assert {step["action"] for step in command_json(ended.stdout)["steps"]} == {"enable"}

    # Then what waited in the stream is processed: the event gets its short URL
    assert pipeline.sandbox.run_until(lambda: bool(short_url(pipeline, "E2eMaintLate")), deadline=20)
    # And the tick skipped during the window, run by hand for its window, sends the first sale's reminders
    run_window(pipeline, first_sale)
    wait_done(pipeline, [fan.key("sms") for fan in early])
    # And the scheduler's next tick fires on its own for the second sale
    pipeline.clock.advance_to(tick + timedelta(minutes=30))
    items = wait_done(pipeline, [fan.key("sms") for fan in late])
    assert {item["status"]["id"] for item in items.values()} == {"DELIVERED"}
    # And every reminder was sent exactly once
    assert {fan.reference(): pipeline.vendors.sms.accepted_for(fan.reference()) for fan in early + late} == {
        fan.reference(): 1 for fan in early + late
    }
    assert pipeline.vendors.sms.duplicates() == {}
