"""`dmd sandbox`: what demo, up and query refuse before they start or reach a sandbox.

Running the sandbox itself is end to end: tests/sandbox/e2e.
"""

from __future__ import annotations

import pytest

from tests.ops.cli_output import flat, run_dmd


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["demo", "--faults", "nonsense=1"],
            "Invalid value for --faults: unknown fault 'nonsense'; known kinds:",
        ),
        (["up", "--faults", "sms"], "Invalid value for --faults: fault 'sms' needs a value: write sms=VALUE"),
        (["demo", "--sales", "999"], "Invalid value: sales must be from 1 to"),
        (["demo", "--fans", "0"], "Invalid value for '--fans'"),
    ],
    ids=["demo unknown fault", "up fault without rate", "demo too many sales", "demo no fans"],
)
def test_options_out_of_bounds_are_usage_errors(arguments: list[str], message: str) -> None:
    # Given a demo or up asked for something it cannot run
    # When the command runs
    result = run_dmd("sandbox", *arguments)

    # Then it stops with a usage error saying what is wrong, having started nothing
    assert result.exit_code == 2
    assert message in flat(result.output)
    assert "starting" not in result.output


def test_query_of_an_endpoint_where_no_sandbox_answers_exits_2(unreachable_endpoint: str) -> None:
    # Given an endpoint where nothing listens
    # When the operator queries a field there
    result = run_dmd(
        "sandbox", "query", "eventDetails", "--event-id", "G5vzZ9", "--endpoint-url", unreachable_endpoint
    )

    # Then the command says no sandbox answers there (and does not start one of its own)
    assert result.exit_code == 2
    assert flat(result.output) == f"no sandbox answers at {unreachable_endpoint}"
