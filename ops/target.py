"""The stack an operator command acts on: its validated config, AWS clients and the fleet's names.

`--stack qa1|prod1` reaches real AWS with the usual credential chain (`AWS_PROFILE`, environment,
SSO, instance role); `--stack local` reaches a running `dmd sandbox up` at the emulator endpoint of
`Pulumi.local.yaml` (fake credentials). The fleet's physical names come from the stack's
synthesized graph, so a command names exactly what the program deploys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

import yaml

from aws_clients import AwsClients
from infra.catalog import CATALOG, QueueSource, ResolverSource, ScheduleSource, StreamSource, WorkerSpec
from infra.config import ConfigError, StackConfig
from infra.naming import Naming
from infra.offline import synthesize_stack
from infra.stack_files import PROJECT_ROOT, committed_stacks, load_committed
from infra.synth import ResourceGraph, StackFileError

LIVE_ALIAS: Final = "live"
_QUEUE: Final = "aws:sqs/queue:Queue"
_ALARM: Final = "aws:cloudwatch/metricAlarm:MetricAlarm"
_SECRET: Final = "aws:secretsmanager/secret:Secret"  # noqa: S105 - a type token
_STREAM: Final = "aws:kinesis/stream:Stream"


class TargetError(Exception):
    """The stack cannot be acted on as asked; the message is the one line to show."""


@dataclass(frozen=True, kw_only=True)
class FleetWorker:
    """One deployed worker's names and trigger, as the stack's program declares them."""

    name: str
    spec: WorkerSpec
    function_name: str
    log_group: str
    trigger: str  # "stream" | "queue" | "schedule" | "resolver"
    event_source_arn: str | None = None  # stream or queue ARN of the event-source mapping
    mapping_name: str | None = None  # the mapping's logical name in the graph
    mapping: dict[str, Any] = field(default_factory=dict)  # its inputs (batch size, filters, …)
    on_failure_queue: str | None = None  # stream workers: where Lambda sends given-up batches
    source_queue: str | None = None  # queue workers: the queue they consume
    dead_letter_queue: str | None = None  # queue workers: its DLQ; schedules: the target's DLQ
    schedule_rule: str | None = None

    @property
    def alias(self) -> str:
        """`function:live`, what every trigger invokes."""
        return f"{self.function_name}:{LIVE_ALIAS}"

    @property
    def batch_size(self) -> int:
        """The mapping's batch size (1 for workers without a mapping)."""
        return int(self.mapping.get("batchSize") or 1)

    @property
    def filter_patterns(self) -> list[dict[str, Any]]:
        """The mapping's filter patterns, decoded (empty: every record)."""
        filters = (self.mapping.get("filterCriteria") or {}).get("filters") or []
        return [json.loads(item["pattern"]) for item in filters]


@dataclass(frozen=True)
class Fleet:
    """Every worker of a stack with its names, and the platform's names."""

    workers: dict[str, FleetWorker]
    table_name: str
    queues: tuple[str, ...]  # every SQS queue: work queues, DLQs, on-failure queues
    dead_letter_queues: tuple[str, ...]  # the queues that hold given-up work (DLQs, on-failure)
    streams: tuple[str, ...]
    secrets: tuple[str, ...]
    alarms: tuple[str, ...]

    def worker(self, name: str) -> FleetWorker:
        """One worker by name; TargetError lists the known ones."""
        if name not in self.workers:
            raise TargetError(f"no worker {name!r} (workers: {', '.join(sorted(self.workers))})")
        return self.workers[name]


def fleet_of(graph: ResourceGraph) -> Fleet:
    """The fleet's names from a stack's synthesized graph."""
    queues = {resource.name: str(resource.inputs["name"]) for resource in graph.of_type(_QUEUE)}
    workers = {}
    for spec in CATALOG:
        children = {resource.name: resource for resource in graph.children_of(spec.name)}
        function = children[f"{spec.name}-function"]
        mapping = children.get(f"{spec.name}-trigger")
        rule = children.get(f"{spec.name}-schedule")
        match spec.source:
            case StreamSource():
                trigger = "stream"
            case QueueSource():
                trigger = "queue"
            case ScheduleSource():
                trigger = "schedule"
            case ResolverSource():
                trigger = "resolver"
        on_failure = queues.get(f"{spec.name}-on-failure")
        source_queue = dead_letters = None
        if mapping is not None and trigger == "queue":
            source_arn = str(mapping.inputs["eventSourceArn"])
            source_queue = source_arn.rsplit(":", 1)[1]
            dead_letters = next(
                (name for name in queues.values() if name == f"{source_queue}-dlq"),
                None,
            )
        if trigger == "schedule":
            dead_letters = queues.get(f"{spec.name}-schedule-dlq")
        workers[spec.name] = FleetWorker(
            name=spec.name,
            spec=spec,
            function_name=str(function.inputs["name"]),
            log_group=f"/aws/lambda/{function.inputs['name']}",
            trigger=trigger,
            event_source_arn=str(mapping.inputs["eventSourceArn"]) if mapping is not None else None,
            mapping_name=mapping.name if mapping is not None else None,
            mapping=dict(mapping.inputs) if mapping is not None else {},
            on_failure_queue=on_failure,
            source_queue=source_queue,
            dead_letter_queue=dead_letters,
            schedule_rule=str(rule.inputs["name"]) if rule is not None else None,
        )
    held = tuple(sorted(name for name in queues.values() if name.endswith(("-dlq", "-on-failure"))))
    return Fleet(
        workers=workers,
        table_name=str(graph.of_type("aws:dynamodb/table:Table")[0].inputs["name"]),
        queues=tuple(sorted(queues.values())),
        dead_letter_queues=held,
        streams=tuple(sorted(str(resource.inputs["name"]) for resource in graph.of_type(_STREAM))),
        secrets=tuple(sorted(str(resource.inputs["name"]) for resource in graph.of_type(_SECRET))),
        alarms=tuple(sorted(str(resource.inputs["name"]) for resource in graph.of_type(_ALARM))),
    )


def local_endpoint(stack: str = "local") -> str | None:
    """The emulator endpoint a stack file points the AWS provider at (`aws:endpoints`), if any."""
    path = PROJECT_ROOT / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    endpoints = (document.get("config") or {}).get("aws:endpoints") or []
    urls = {str(url) for entry in endpoints for url in (entry or {}).values()}
    return min(urls) if urls else None


@dataclass
class Target:
    """One stack to operate on: config, clients, and (synthesized on first use) the fleet's names."""

    stack: str
    config: StackConfig
    clients: AwsClients
    endpoint_url: str | None = None

    @property
    def production(self) -> bool:
        """A production stack (`production: true`): destructive test-data commands refuse it."""
        return self.config.production

    @property
    def emulated(self) -> bool:
        """The stack lives in an AWS emulator (the sandbox), not in AWS."""
        return self.endpoint_url is not None

    @property
    def naming(self) -> Naming:
        """The stack's physical-name builder."""
        return Naming(environment=self.config.environment, region=self.config.region)

    @cached_property
    def graph(self) -> ResourceGraph:
        """The stack's resource graph (the offline synth of its committed config)."""
        return synthesize_stack(self.stack)

    @cached_property
    def fleet(self) -> Fleet:
        """The fleet's names in this stack."""
        return fleet_of(self.graph)


def resolve_target(stack: str, *, endpoint_url: str | None = None, region: str | None = None) -> Target:
    """The stack named by `--stack`: TargetError (one line) for an unknown or invalid stack file.

    An emulator endpoint comes from `endpoint_url`, else from the stack file's `aws:endpoints`
    (`local`); without one the clients reach AWS with the default credential chain.
    """
    if stack not in committed_stacks():
        raise TargetError(f"unknown stack {stack!r} (stacks: {', '.join(committed_stacks())})")
    try:
        config = load_committed(stack)
    except (ConfigError, StackFileError) as error:
        raise TargetError(str(error).splitlines()[0]) from None
    endpoint = endpoint_url or local_endpoint(stack)
    target_region = region or config.region
    clients = (
        AwsClients.for_emulator(endpoint, region=target_region)
        if endpoint
        else AwsClients(region=target_region, user_agent_appid="dmd")
    )
    return Target(stack=stack, config=config, clients=clients, endpoint_url=endpoint)
