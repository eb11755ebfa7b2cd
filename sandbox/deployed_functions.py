"""The workers' functions as the emulator holds them: each version's settings, routed through the alias.

For each function of the graph, `deployed_functions` reads the emulator's copy: the alias (`live`)
and the configuration of each version it routes to (`get_function_configuration(Qualifier=…)`),
and builds the `LambdaFunction` that runs them (`VersionRouter` re-reads the alias while running).
The sandbox's own overrides apply to every version:

- environment overrides replace the values of variables a version declares (the vendors' fakes on
  free ports, fast retries); where they change what the function declares, the sandbox first does
  what `pulumi config set` of that tunable and a deploy would: updates the function, publishes a
  version and points the alias at it, so whoever reads the emulator (`attach`, the AWS CLI, a
  release) sees what runs and a version published later carries them;
- a handler override replaces the program's handler (a test double); a version published with
  another handler (a deliberately failing release) runs its own;
- the emulator's endpoint is added to every version's environment, as Lambda injects credentials.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aws_clients import AwsClients
from infra.synth import RecordedResource, ResourceGraph
from sandbox.alias_routing import REFRESH_SECONDS, VersionRouter
from sandbox.clock import SandboxClock
from sandbox.environment import EnvironmentGate
from sandbox.function import FunctionSettings, LambdaFunction
from sandbox.log_shipper import InvocationLogSink
from sandbox.platform_metrics import InvocationMetricsSink

FUNCTION: Final = "aws:lambda/function:Function"
ALIAS: Final = "aws:lambda/alias:Alias"


class DeployedFunctionError(Exception):
    """The functions cannot be built as asked (an override names no worker or no declared variable)."""


@dataclass(frozen=True, kw_only=True)
class FunctionRuntime:
    """What the sandbox runs its functions with: overrides, shared gate, clock, sinks, routing seed."""

    clock: SandboxClock
    gate: EnvironmentGate
    region: str
    emulator_environment: Mapping[str, str] = field(default_factory=dict)
    handler_overrides: Mapping[str, str] = field(default_factory=dict)
    environment_overrides: Mapping[str, str] = field(default_factory=dict)
    log_sink: InvocationLogSink | None = None
    metrics: InvocationMetricsSink | None = None
    seed: int = 0
    refresh_seconds: float = REFRESH_SECONDS


def deployed_functions(
    graph: ResourceGraph, clients: AwsClients, runtime: FunctionRuntime
) -> dict[str, LambdaFunction]:
    """Worker → its function, built from the emulator's copy of each function of the graph."""
    lambda_ = clients.client("lambda")
    aliases = {alias.inputs["functionName"]: alias.inputs["name"] for alias in graph.of_type(ALIAS)}
    functions: dict[str, LambdaFunction] = {}
    declared_variables: set[str] = set()  # what the functions declare (not what the sandbox adds)
    for resource in graph.of_type(FUNCTION):
        worker = worker_of(resource)
        name = resource.inputs["name"]
        latest = lambda_.get_function_configuration(FunctionName=name)
        declared_variables.update((latest.get("Environment") or {}).get("Variables", {}))
        alias_name = aliases.get(name)
        _deploy_overrides(lambda_, latest, alias_name, runtime.environment_overrides)

        function_arn = unqualified(latest["FunctionArn"])
        if alias_name is None:
            settings = version_settings(resource, worker, latest, runtime, invoked_arn=function_arn)
            functions[worker] = _function(settings, runtime, router=None)
            continue
        alias_arn = f"{function_arn}:{alias_name}"
        router = VersionRouter(
            lambda_,
            function_name=name,
            alias=alias_name,
            settings_of=functools.partial(
                version_settings, resource, worker, runtime=runtime, invoked_arn=alias_arn
            ),
            refresh_seconds=runtime.refresh_seconds,
            seed=runtime.seed,
        )
        functions[worker] = _function(router.primary, runtime, router=router)
    unknown = set(runtime.handler_overrides) - set(functions)
    if unknown:
        raise DeployedFunctionError(f"handler overrides for unknown workers: {', '.join(sorted(unknown))}")
    undeclared = set(runtime.environment_overrides) - declared_variables
    if undeclared:
        raise DeployedFunctionError(
            f"environment overrides for variables no function declares: {', '.join(sorted(undeclared))}"
        )
    return functions


def version_settings(
    resource: RecordedResource,
    worker: str,
    configuration: Mapping[str, Any],
    runtime: FunctionRuntime,
    *,
    invoked_arn: str,
) -> FunctionSettings:
    """What one version of a function runs: its configuration, with the sandbox's overrides applied."""
    declared = dict((configuration.get("Environment") or {}).get("Variables", {}))
    declared.update(
        {variable: value for variable, value in runtime.environment_overrides.items() if variable in declared}
    )
    program_handler = resource.inputs["handler"]
    handler = configuration.get("Handler") or program_handler
    if handler == program_handler:  # a test double replaces the program's handler, not a version's own
        handler = runtime.handler_overrides.get(worker, handler)
    logging = resource.inputs.get("loggingConfig") or {}
    return FunctionSettings(
        worker=worker,
        function_name=configuration["FunctionName"],
        handler=handler,
        # As Lambda injects credentials: the emulator's endpoint, whatever the process env holds.
        environment={**declared, **runtime.emulator_environment},
        timeout_seconds=int(configuration.get("Timeout", 3)),
        memory_mb=int(configuration.get("MemorySize", 128)),
        version=str(configuration.get("Version", "$LATEST")),
        function_arn=unqualified(configuration["FunctionArn"]),
        invoked_arn=invoked_arn,
        role_arn=configuration.get("Role", ""),
        region=runtime.region,
        # moto keeps no LoggingConfig: the program's says how the platform's records look.
        log_format=logging.get("logFormat", "Text"),
        system_log_level=logging.get("systemLogLevel", "INFO"),
    )


def unqualified(function_arn: str) -> str:
    """A function ARN without its version or alias (`arn:aws:lambda:…:function:NAME`)."""
    return ":".join(function_arn.split(":")[:7])


def worker_of(resource: RecordedResource) -> str:
    """The worker a resource belongs to: its parent `Worker` component's name."""
    if resource.parent is None:
        raise DeployedFunctionError(f"{resource.type_} {resource.name} belongs to no worker")
    return resource.parent


def _deploy_overrides(
    lambda_: Any, latest: Mapping[str, Any], alias_name: str | None, overrides: Mapping[str, str]
) -> None:
    """Overrides that change what the function declares: updated, published and made live (a deploy)."""
    declared = (latest.get("Environment") or {}).get("Variables", {})
    overridden = {
        variable: value
        for variable, value in overrides.items()
        if variable in declared and declared[variable] != value
    }
    if not overridden:
        return
    name = latest["FunctionName"]
    lambda_.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**declared, **overridden}}
    )
    if alias_name is not None:
        version = lambda_.publish_version(FunctionName=name, Description="sandbox overrides")["Version"]
        lambda_.update_alias(FunctionName=name, Name=alias_name, FunctionVersion=str(version))


def _function(
    settings: FunctionSettings, runtime: FunctionRuntime, *, router: VersionRouter[FunctionSettings] | None
) -> LambdaFunction:
    return LambdaFunction(
        settings,
        clock=runtime.clock,
        gate=runtime.gate,
        log_sink=runtime.log_sink,
        router=router,
        metrics=runtime.metrics,
    )
