"""The resource graph an offline synth records: every registration of one stack, and its exports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from infra.synth.values import jsonable


@dataclass(frozen=True)
class RecordedResource:
    """One resource registration as the engine would have received it."""

    type_: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    provider: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    urn: str = ""


@dataclass(frozen=True)
class ResourceGraph:
    """Every resource a program registered for one stack, with its exports."""

    project: str
    stack: str
    preview: bool
    resources: tuple[RecordedResource, ...]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, token: str) -> list[RecordedResource]:
        """Resources of one type token, e.g. `aws:sqs/queue:Queue`."""
        return [resource for resource in self.resources if resource.type_ == token]

    def named(self, name: str) -> RecordedResource:
        """The one resource with this logical name."""
        matches = [resource for resource in self.resources if resource.name == name]
        if len(matches) != 1:
            raise LookupError(f"expected exactly one resource named {name!r}, found {len(matches)}")
        return matches[0]

    def children_of(self, name: str) -> list[RecordedResource]:
        """Resources whose parent is the resource with this logical name."""
        return [resource for resource in self.resources if resource.parent == name]

    def to_json(self) -> str:
        """Stable JSON: sorted keys, resources by type then name, secrets and unknowns as placeholders."""
        document = {
            "project": self.project,
            "stack": self.stack,
            "preview": self.preview,
            "outputs": jsonable(self.outputs),
            "resources": [
                {
                    "type": resource.type_,
                    "name": resource.name,
                    "parent": resource.parent,
                    "custom": resource.custom,
                    "provider": resource.provider,
                    "inputs": jsonable(resource.inputs),
                    "options": jsonable(resource.options),
                }
                for resource in sorted(self.resources, key=resource_order)
            ],
        }
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)


def resource_order(resource: RecordedResource) -> tuple[str, str, str]:
    """The stable order of a graph's resources: by type, then name, then parent."""
    return (resource.type_, resource.name, resource.parent or "")
