"""Materializing a graph: every custom resource, in creation order, through its creator."""

from __future__ import annotations

import json
from collections.abc import Callable

from botocore.exceptions import ClientError

from aws_clients import AwsClients
from infra.synth import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    UNKNOWN_PLACEHOLDER,
    RecordedResource,
    ResourceGraph,
)
from sandbox.materialize.creators import CREATORS
from sandbox.materialize.order import creation_order
from sandbox.materialize.references import References
from sandbox.materialize.results import Materialized, MaterializeError, Skipped
from sandbox.materialize.step import EmulatorUnsupportedError, Run, Step

# Called after each resource: (resources done, total, the resource just handled).
Progress = Callable[[int, int, RecordedResource], None]


def materialize(
    graph: ResourceGraph,
    clients: AwsClients,
    *,
    graph_account_id: str = DEFAULT_ACCOUNT_ID,
    graph_region: str = DEFAULT_REGION,
    register_event_source_mappings: bool = True,
    on_progress: Progress | None = None,
) -> Materialized:
    """Create every custom resource of `graph` in the emulator `clients` reach; report what it cannot hold.

    `graph_account_id`/`graph_region` are the ones the graph was synthesized with (its mock ARNs).
    `register_event_source_mappings=False` keeps mappings out of moto (they are reported skipped, with
    their resolved requests in `event_source_mappings`): a stock moto runs registered mappings itself
    (see `UNREGISTERED_MAPPING`); the sandbox's emulator process does not, so the sandbox registers them.
    The emulator is expected to be empty: names are the program's, so a second run collides.
    """
    if graph.preview:
        raise MaterializeError("a preview graph has unknown values; synthesize without --preview")
    run = Run(
        register_event_source_mappings=register_event_source_mappings,
        graph=graph,
        clients=clients,
        references=References(account_id=graph_account_id, region=graph_region),
    )
    order = creation_order(graph)
    for done, resource in enumerate(order, start=1):
        _materialize_one(run, resource)
        if on_progress is not None:
            on_progress(done, len(order), resource)
    return run.result


def _materialize_one(run: Run, resource: RecordedResource) -> None:
    create = CREATORS.get(resource.type_)
    if create is None:
        run.result.skipped.append(Skipped(resource.type_, resource.name, "not materialized"))
        return
    inputs = run.references.resolve(resource.inputs)
    if UNKNOWN_PLACEHOLDER in json.dumps(inputs):
        raise MaterializeError(f"{resource.type_} {resource.name}: inputs hold unknown values")
    step = Step(run=run, resource=resource, inputs=inputs)
    try:
        real = create(step)
    except EmulatorUnsupportedError as error:
        run.result.skipped.append(Skipped(resource.type_, resource.name, str(error)))
        return
    except (ClientError, KeyError, MaterializeError) as error:
        raise MaterializeError(f"{resource.type_} {resource.name}: {error}") from error
    run.references.learn(run.references.mock_outputs(resource), real)
