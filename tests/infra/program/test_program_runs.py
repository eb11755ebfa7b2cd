"""Every committed stack file runs through the Pulumi program (`__main__.py`), in preview and up modes."""

from __future__ import annotations

import pytest

from infra.catalog import CATALOG
from tests.infra.graphs import MODES, STACKS, stack_graph
from tests.infra.program.resource_types import FUNCTION


def test_the_committed_stacks_are_discovered() -> None:
    # Given the stack files in the repository
    # When the suite lists them
    # Then the three environments are there, so no parametrized test is silently empty
    assert {"local", "prod1", "qa1"} <= set(STACKS)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("stack_name", STACKS)
def test_every_committed_stack_runs_through_the_program(stack_name: str, mode: str) -> None:
    # Given a committed stack file
    # When __main__.py runs under the recording mocks in this mode
    graph = stack_graph(stack_name, preview=MODES[mode])

    # Then it declares the fleet, in the mode asked for, with the stack's exports
    assert graph.stack == stack_name
    assert graph.preview is MODES[mode]
    assert len(graph.of_type(FUNCTION)) == len(CATALOG)
    assert sorted(graph.outputs) == [
        "alarm_topic_arn",
        "functions",
        "graphql_api_url",
        "table_name",
        "table_stream_arn",
    ]


@pytest.mark.parametrize("stack_name", STACKS)
def test_preview_declares_the_same_resources_as_up(stack_name: str) -> None:
    # Given the stack synthesized in both modes
    preview, up = stack_graph(stack_name, preview=True), stack_graph(stack_name)

    # When the resource identities are compared
    # Then preview and up declare the same resources (no resource depends on an unknown to exist)
    assert [(r.type_, r.name, r.parent) for r in preview.resources] == [
        (r.type_, r.name, r.parent) for r in up.resources
    ]
