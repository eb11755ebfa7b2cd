"""The fleet of the committed catalog and stacks, for tests whose expectations follow it.

The nine workers this repository ships are named literally (`SHIPPED_WORKERS`): tests keep exact
literal spot-checks on them. A worker `dmd workers create` scaffolds goes last in the catalog; tests
derive what it adds (its rows, resources, queues) from its catalog entry and its stack config, so
a scaffolded worker passes `make test` at once without weakening what the shipped fleet is held to.
"""

from __future__ import annotations

from typing import Final, Literal

from infra.catalog import CATALOG, QueueSource, ResolverSource, ScheduleSource, StreamSource, WorkerSpec
from infra.config import StackConfig
from infra.synth import RecordedResource, ResourceGraph

TriggerKind = Literal["stream", "queue", "schedule", "resolver"]

SHIPPED_WORKERS: Final = (
    "notification_scheduler",
    "notification_generator",
    "notification_send",
    "demand_stream_to_sqs",
    "shorten_event_url",
    "sms_status_consumer",
    "event_details",
    "proxy_tm_account_service",
    "notification_sweeper",
)
"""The shipped fleet, in catalog order (tests/infra/test_fleet.py holds the catalog to it)."""

LOCAL_PREFIX: Final = "prd3292-local-us-east-1-"
"""The physical-name prefix of the `local` stack."""


def trigger_kind(spec: WorkerSpec) -> TriggerKind:
    """What invokes a worker, from its catalog source."""
    match spec.source:
        case StreamSource():
            return "stream"
        case QueueSource():
            return "queue"
        case ScheduleSource():
            return "schedule"
        case ResolverSource():
            return "resolver"
    raise AssertionError(f"{spec.name}: unknown source {spec.source!r}")


def added_workers() -> tuple[WorkerSpec, ...]:
    """The catalog's workers beyond the shipped ones (scaffolded), in catalog order."""
    return tuple(spec for spec in CATALOG if spec.name not in SHIPPED_WORKERS)


def worker_names(*kinds: TriggerKind, workers: tuple[WorkerSpec, ...] = CATALOG) -> list[str]:
    """Names of the workers of these trigger kinds (every kind when none), in catalog order."""
    return [spec.name for spec in workers if not kinds or trigger_kind(spec) in kinds]


def added_names(*kinds: TriggerKind) -> list[str]:
    """Names of the scaffolded workers of these trigger kinds (every kind when none), in catalog order."""
    return worker_names(*kinds, workers=added_workers())


def trigger_enabled(config: StackConfig, name: str) -> bool:
    """Whether the stack config enables the worker's mapping or schedule rule (a resolver: always)."""
    trigger = config.worker(name).resolved_trigger
    return trigger.kind == "resolver" or bool(getattr(trigger.settings, "enabled", True))


def held_queues_of_added() -> list[tuple[str, str, str]]:
    """(queue without the stack prefix, worker, kind) of each queue of given-up work a scaffolded worker owns.

    A stream worker has its on-failure queue, a schedule its target's DLQ; a queue worker consumes a
    platform queue whose DLQ belongs to that queue's first consumer, and a resolver has none.
    """
    rows = []
    for spec in added_workers():
        kind = trigger_kind(spec)
        if kind == "stream":
            rows.append((f"{spec.inventory_code}-on-failure", spec.name, "on-failure"))
        elif kind == "schedule":
            rows.append((f"{spec.inventory_code}-schedule-dlq", spec.name, "schedule-dlq"))
    return rows


def owner(graph: ResourceGraph, resource: RecordedResource) -> str | None:
    """The worker a resource belongs to (the worker's component or its descendant); None: the platform's."""
    workers = {spec.name for spec in CATALOG}
    parents = {item.name: item.parent for item in graph.resources}
    name: str | None = resource.name
    while name is not None and name not in workers:
        name = parents.get(name)
    return name


def shipped_graph(graph: ResourceGraph) -> ResourceGraph:
    """The graph without the scaffolded workers' resources: the platform and the shipped fleet."""
    added = {spec.name for spec in added_workers()}
    kept = tuple(resource for resource in graph.resources if owner(graph, resource) not in added)
    return ResourceGraph(
        project=graph.project, stack=graph.stack, preview=graph.preview, resources=kept, outputs=graph.outputs
    )
