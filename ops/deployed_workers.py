"""What is actually deployed for each worker: the version behind `live` and the function's settings.

`pulumi up` publishes a new version on every code or configuration change but leaves `live` where
it is (the program ignores changes to the alias's version and routing): `dmd release` moves it. A
worker whose newest published version is not `live`'s has a release pending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field, computed_field

from aws_clients import AwsClients
from ops.operator_io import JsonModel
from ops.target import LIVE_ALIAS, FleetWorker, Target


class DeployedWorker(JsonModel):
    """One worker's function as Lambda reports it (`deployed: false` and nulls when there is none)."""

    worker: str
    function_name: str
    deployed: bool
    live_version: str | None = None  # the version `live` points at (what every trigger invokes)
    live_routing: dict[str, float] = Field(default_factory=dict)  # other versions `live` shares with
    newest_version: str | None = None  # the newest published version (what `dmd release` moves to)
    memory_mb: int | None = None
    timeout_seconds: int | None = None
    reserved_concurrency: int | None = None  # None: unreserved (the account's pool)
    last_modified: str | None = None  # as Lambda reports it (ISO-8601)
    state: str | None = None  # Pending | Active | Inactive | Failed
    last_update_status: str | None = None  # Successful | Failed | InProgress
    runtime: str | None = None
    architectures: tuple[str, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def release_pending(self) -> bool:
        """A newer published version than `live`'s, or `live` still sharing traffic with another."""
        if self.live_version is None or self.newest_version is None:
            return False
        return self.newest_version != self.live_version or bool(self.live_routing)


def published_versions(clients: AwsClients, function_name: str) -> list[str]:
    """The function's published versions, oldest first ($LATEST left out; every page read)."""
    paginator = clients.client("lambda").get_paginator("list_versions_by_function")
    versions = [
        str(item["Version"])
        for page in paginator.paginate(FunctionName=function_name)
        for item in page.get("Versions", [])
        if item.get("Version") != "$LATEST"
    ]
    return sorted(versions, key=int)


def newest_version(clients: AwsClients, function_name: str) -> str | None:
    """The newest published version, or None when the function has none."""
    versions = published_versions(clients, function_name)
    return versions[-1] if versions else None


def deployed_worker(target: Target, worker: FleetWorker) -> DeployedWorker:
    """One worker's function, alias and reserved concurrency (GetFunctionConfiguration, GetAlias, …)."""
    functions = target.clients.client("lambda")
    try:
        configuration: dict[str, Any] = functions.get_function_configuration(
            FunctionName=worker.function_name
        )
    except functions.exceptions.ResourceNotFoundException:
        return DeployedWorker(worker=worker.name, function_name=worker.function_name, deployed=False)
    try:
        alias: dict[str, Any] | None = functions.get_alias(FunctionName=worker.function_name, Name=LIVE_ALIAS)
    except functions.exceptions.ResourceNotFoundException:
        alias = None
    concurrency = functions.get_function_concurrency(FunctionName=worker.function_name)
    weights = ((alias or {}).get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return DeployedWorker(
        worker=worker.name,
        function_name=worker.function_name,
        deployed=True,
        live_version=alias.get("FunctionVersion") if alias else None,
        live_routing={str(version): float(weight) for version, weight in weights.items()},
        newest_version=newest_version(target.clients, worker.function_name),
        memory_mb=configuration.get("MemorySize"),
        timeout_seconds=configuration.get("Timeout"),
        reserved_concurrency=concurrency.get("ReservedConcurrentExecutions"),
        last_modified=configuration.get("LastModified"),
        state=configuration.get("State"),
        last_update_status=configuration.get("LastUpdateStatus"),
        runtime=configuration.get("Runtime"),
        architectures=tuple(configuration.get("Architectures") or ()),
    )


def deployed_workers(
    target: Target, *, on_worker: Callable[[FleetWorker], None] | None = None
) -> list[DeployedWorker]:
    """Every worker of the stack's fleet as deployed, in catalog order."""
    found = []
    for worker in target.fleet.workers.values():
        found.append(deployed_worker(target, worker))
        if on_worker is not None:
            on_worker(worker)
    return found
