"""What a resource creator works with: one step (a resource and its resolved inputs) of a run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from aws_clients import AwsClients
from infra.synth import RecordedResource, ResourceGraph
from sandbox.materialize.readback import differences
from sandbox.materialize.references import References
from sandbox.materialize.results import Created, DroppedField, Kind, Materialized


class EmulatorUnsupportedError(Exception):
    """The emulator does not implement what a resource needs; the resource is reported skipped."""


@dataclass
class Run:
    """One materialization: the graph, the emulator, what is learned and produced along the way."""

    graph: ResourceGraph
    clients: AwsClients
    references: References
    result: Materialized = field(default_factory=Materialized)
    published_versions: dict[str, str] = field(default_factory=dict)
    table_streams: dict[str, str] = field(default_factory=dict)
    register_event_source_mappings: bool = True


@dataclass
class Step:
    """The resource being created, with its inputs resolved to the emulator's references."""

    run: Run
    resource: RecordedResource
    inputs: dict[str, Any]

    def client(self, service: str) -> Any:
        """The emulator's client for one service."""
        return self.run.clients.client(service)

    def require_in_stack(self, arn: str, role: str) -> str:
        """The ARN, when this run created it; otherwise the resource is skipped."""
        # Resources outside the stack (the organisation's central log stream, another team's stream)
        # exist in AWS but never in the emulator.
        if arn not in {entry.ref for entry in self.run.result.created}:
            raise EmulatorUnsupportedError(f"its {role} {arn} is outside the stack, so not in the emulator")
        return arn

    def physical_name(self, key: str = "name") -> str:
        """The explicit name input, else the logical name (as the mocks named it)."""
        return str(self.inputs.get(key) or self.resource.name)

    def record(self, kind: Kind, key: str, ref: str) -> None:
        """Remember one created thing under its kind."""
        self.run.result.created.append(Created(self.resource.type_, self.resource.name, kind, key, ref))

    def verify(self, sent: Mapping[str, Any], stored: Mapping[str, Any]) -> None:
        """Report each sent field the emulator stored differently or not at all."""
        for path, sent_value, stored_value in differences(sent, stored):
            self.run.result.dropped.append(
                DroppedField(self.resource.type_, self.resource.name, path, sent_value, stored_value)
            )


# Creates one resource in the emulator; returns its real outputs under the mock template's keys.
Creator = Callable[[Step], dict[str, str]]


def call_or_unsupported(operation: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a boto3 operation; an emulator's "not implemented" answer becomes `EmulatorUnsupportedError`."""
    unsupported = EmulatorUnsupportedError(
        f"the emulator does not implement {getattr(operation, '__name__', 'this operation')}"
    )
    try:
        return operation(**kwargs)
    except NotImplementedError:  # moto in-process
        raise unsupported from None
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", ""))
        # In-process moto says so; moto server answers a bare HTML 404/500 page instead of an AWS error.
        if "not yet implemented" in message.lower() or message.lstrip().lower().startswith("<!doctype html"):
            raise unsupported from None
        raise
