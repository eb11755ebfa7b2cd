"""The order resources are created in: each after everything it depends on, through components too."""

from __future__ import annotations

import heapq

from infra.synth import RecordedResource, ResourceGraph
from sandbox.materialize.results import MaterializeError


def creation_order(graph: ResourceGraph) -> list[RecordedResource]:
    """The graph's custom resources, each after everything it depends on (ties in graph order)."""
    custom = {resource.name: resource for resource in graph.resources if resource.custom}
    components = {resource.name for resource in graph.resources if not resource.custom}
    position = {resource.name: index for index, resource in enumerate(graph.resources)}
    children: dict[str, list[str]] = {}
    for resource in graph.resources:
        if resource.parent is not None:
            children.setdefault(resource.parent, []).append(resource.name)

    def custom_under(name: str) -> set[str]:
        found: set[str] = set()
        for child in children.get(name, []):
            found |= {child} if child in custom else custom_under(child)
        return found

    requires: dict[str, set[str]] = {}
    for name, resource in custom.items():
        needed: set[str] = set()
        for dependency in resource.options.get("dependencies", []):
            if dependency in custom:
                needed.add(dependency)
            elif dependency in components:
                needed |= custom_under(dependency)
        requires[name] = needed - {name}
    waiting = {name: len(needed) for name, needed in requires.items()}
    unlocks: dict[str, list[str]] = {}
    for name, needed in requires.items():
        for dependency in needed:
            unlocks.setdefault(dependency, []).append(name)
    ready = [(position[name], name) for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[RecordedResource] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(custom[name])
        for dependent in unlocks.get(name, []):
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, (position[dependent], dependent))
    if len(order) != len(custom):
        cycle = sorted(name for name, count in waiting.items() if count > 0)
        raise MaterializeError(f"dependency cycle among: {', '.join(cycle)}")
    return order
