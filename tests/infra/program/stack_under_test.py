"""One committed stack as the program declares it, and the names and grants its config implies.

Expected values come from the committed stack config (never from the code under test); a few
literal spot checks per stack catch a config merge that silently takes the wrong value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from infra.catalog import (
    CATALOG,
    Access,
    QueueSource,
    ResolverSource,
    ScheduleSource,
    StreamSource,
    WorkerSpec,
)
from infra.config import ExternalStreamSettings, StackConfig, WorkerConfig
from infra.synth import RecordedResource, ResourceGraph
from tests.infra.graphs import MODES, STACKS, stack_config, stack_graph

QUEUE_SUFFIXES = {"short_url": "event-short-url", "generation": "generation-jobs"}
VENDOR_ACCESS = {
    Access.SMS_SERVICE: ("sms-service", "SMS_SERVICE"),
    Access.BITLY: ("bitly", "BITLY"),
    Access.DISCOVERY: ("discovery", "DISCOVERY"),
    Access.ACCOUNTS: ("accounts", "ACCOUNTS"),
}


@dataclass(frozen=True)
class Stack:
    """One committed stack: its synthesized graph, its config, and the names both imply."""

    name: str
    mode: str
    graph: ResourceGraph
    config: StackConfig

    @property
    def environment(self) -> str:
        return self.config.environment

    @property
    def prefix(self) -> str:
        return f"prd3292-{self.config.environment}-{self.config.region}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.config.region}:{self.config.account_id}:{resource}"

    def role_arn(self, role_name: str) -> str:
        return f"arn:aws:iam::{self.config.account_id}:role/{role_name}"

    def queue_arn(self, queue_name: str) -> str:
        return self.arn("sqs", queue_name)

    def function_name(self, spec: WorkerSpec) -> str:
        return f"{self.prefix}-{spec.inventory_code}"

    def alias_arn(self, spec: WorkerSpec) -> str:
        return self.arn("lambda", f"function:{self.function_name(spec)}:live")

    def log_group_name(self, spec: WorkerSpec) -> str:
        return f"/aws/lambda/{self.function_name(spec)}"

    def log_group_arn(self, spec: WorkerSpec) -> str:
        return self.arn("logs", f"log-group:{self.log_group_name(spec)}")

    def table_name(self) -> str:
        return f"{self.prefix}-demand-table"

    def table_arn(self) -> str:
        return self.arn("dynamodb", f"table/{self.table_name()}")

    def table_stream_arn(self) -> str:
        return self.arn("kinesis", f"stream/prd3292-{self.environment}-dmnd-table-stream")

    def source_stream_arn(self, spec: WorkerSpec) -> str:
        assert isinstance(spec.source, StreamSource)
        if spec.source.stream == "table":
            return self.table_stream_arn()
        settings = self.config.platform.sms_status_stream
        if isinstance(settings, ExternalStreamSettings):
            return settings.existing_arn
        return self.arn("kinesis", f"stream/{self.prefix}-sms-status")

    def source_stream_kms_key_arn(self, spec: WorkerSpec) -> str | None:
        """The customer key of another team's source stream (the program's own use the stack's key)."""
        assert isinstance(spec.source, StreamSource)
        settings = self.config.platform.stream(spec.source.stream)
        return settings.kms_key_arn if isinstance(settings, ExternalStreamSettings) else None

    @property
    def kms_key_arn(self) -> str | None:
        """The stack's customer-managed key: `platform.kms.keyArn`, or the key the stack creates
        (named by the id its alias targets); None when the stack has no `platform.kms`."""
        kms = self.config.platform.kms
        if kms is None:
            return None
        if kms.key_arn is not None:
            return kms.key_arn
        return self.arn("kms", f"key/{self.graph.named('platform-kms-alias').inputs['targetKeyId']}")

    def queue_encryption(self) -> dict[str, Any]:
        """The encryption inputs every queue of the stack has: the stack's key, else SSE-SQS."""
        key = self.kms_key_arn
        if key is None:
            return {"sqsManagedSseEnabled": True}
        return {"kmsMasterKeyId": key, "kmsDataKeyReusePeriodSeconds": 300}

    def work_queue_name(self, queue: str) -> str:
        return f"{self.prefix}-{QUEUE_SUFFIXES[queue]}"

    def worker(self, spec: WorkerSpec) -> WorkerConfig:
        return self.config.workers[spec.name]

    def children(self, spec: WorkerSpec) -> list[RecordedResource]:
        return self.graph.children_of(spec.name)

    def child(self, spec: WorkerSpec, suffix: str) -> RecordedResource:
        resource = self.graph.named(f"{spec.name}-{suffix}")
        assert resource.parent == spec.name, f"{resource.name} is not a child of the {spec.name} Worker"
        return resource

    def alarm(self, spec: WorkerSpec, suffix: str) -> dict[str, Any]:
        return self.child(spec, f"alarm-{suffix}").inputs

    def environment_variables(self, spec: WorkerSpec) -> dict[str, str]:
        variables: dict[str, str] = self.child(spec, "function").inputs["environment"]["variables"]
        return variables

    def tags(self, inventory_code: str) -> dict[str, str]:
        return {
            "ProductCode": "PRD3292",
            "Environment": self.environment,
            "InventoryCode": inventory_code,
            "ProductName": "demand-capture",
            "Repository": "demand-capture/dmd-workers",
        }


T = TypeVar("T")
CASES = [(stack, mode) for stack in STACKS for mode in MODES]
SPECS = {spec.name: spec for spec in CATALOG}
STREAM_WORKERS = [spec for spec in CATALOG if isinstance(spec.source, StreamSource)]
QUEUE_WORKERS = [spec for spec in CATALOG if isinstance(spec.source, QueueSource)]
SCHEDULE_WORKERS = [spec for spec in CATALOG if isinstance(spec.source, ScheduleSource)]
RESOLVER_WORKERS = [spec for spec in CATALOG if isinstance(spec.source, ResolverSource)]


def ids_of(specs: list[WorkerSpec]) -> list[str]:
    """Test ids for a parametrization over workers: their names."""
    return [spec.name for spec in specs]


def up_stack(name: str) -> Stack:
    """A committed stack synthesized in up mode (for the per-stack spot checks)."""
    return Stack(name=name, mode="up", graph=stack_graph(name), config=stack_config(name))


def statements_of(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of a parsed IAM policy document."""
    statements: list[dict[str, Any]] = policy["Statement"]
    return statements


def listed(value: str | list[str]) -> list[str]:
    """An IAM Action/Resource value (one string or a list) as a list."""
    return [value] if isinstance(value, str) else list(value)


def grants_of(policy: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (action, resource) pair an identity policy allows."""
    pairs: set[tuple[str, str]] = set()
    for statement in statements_of(policy):
        assert statement["Effect"] == "Allow", statement
        pairs |= {
            (action, resource)
            for action in listed(statement["Action"])
            for resource in listed(statement["Resource"])
        }
    return pairs


def fleet(value: Callable[[WorkerSpec], T]) -> dict[str, T]:
    """One value per worker of the catalog, keyed by name, so a failure names the worker."""
    return {spec.name: value(spec) for spec in CATALOG}
