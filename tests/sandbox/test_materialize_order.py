"""The creation order: each custom resource after what it depends on, directly or through a component."""

from __future__ import annotations

from typing import Any

import pytest

from infra.synth import RecordedResource, ResourceGraph
from sandbox.materialize import MaterializeError, creation_order


def _resource(
    name: str, *, parent: str | None = None, custom: bool = True, **options: Any
) -> RecordedResource:
    return RecordedResource(
        type_="aws:sqs/queue:Queue" if custom else "dmd:test:Component",
        name=name,
        parent=parent,
        custom=custom,
        inputs={},
        options=options,
    )


def _graph(*resources: RecordedResource) -> ResourceGraph:
    return ResourceGraph(project="dmd-workers", stack="test", preview=False, resources=resources)


def test_dead_letter_queues_are_created_before_their_queues(local_stack_graph: ResourceGraph) -> None:
    # Given the creation order of the local graph
    order = [resource.name for resource in creation_order(local_stack_graph)]
    # Then every resource comes after each custom resource it depends on
    position = {name: index for index, name in enumerate(order)}
    for resource in local_stack_graph.resources:
        if not resource.custom:
            continue
        for dependency in resource.options.get("dependencies", []):
            if dependency in position:
                assert position[dependency] < position[resource.name], (dependency, resource.name)
    assert position["platform-event-short-url-dlq"] < position["platform-event-short-url-queue"]
    assert position["platform-generation-jobs-dlq"] < position["platform-generation-jobs-queue"]


def test_a_dependency_on_a_component_waits_for_every_custom_resource_under_it() -> None:
    # Given a resource declared first that depends on a component holding two queues (one nested deeper)
    graph = _graph(
        _resource("consumer", dependencies=["platform"]),
        _resource("platform", custom=False),
        _resource("inner", parent="platform", custom=False),
        _resource("queue", parent="platform"),
        _resource("dlq", parent="inner"),
    )
    # When the creation order is computed
    order = [resource.name for resource in creation_order(graph)]
    # Then components are left out and the consumer comes after both queues, the rest in graph order
    assert order == ["queue", "dlq", "consumer"]


def test_a_dependency_cycle_is_refused_naming_its_members() -> None:
    # Given two resources that depend on each other, and one free of the cycle
    graph = _graph(
        _resource("free"),
        _resource("a", dependencies=["b"]),
        _resource("b", dependencies=["a"]),
    )
    # When / Then the order cannot be computed, and the error names the cycle
    with pytest.raises(MaterializeError, match="dependency cycle among: a, b"):
        creation_order(graph)
