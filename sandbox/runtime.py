"""The sandbox engine: the local stack's fleet on one machine, from its synthesized resource graph.

`Sandbox.start()` starts the emulator (moto server, own process), materializes the graph into it
(event-source mappings included, as API objects only: the emulator's process keeps moto from
invoking from them), and wires what AWS would run around the functions: a CDC tailer per table →
Kinesis route, one poller per mapping, the scheduled rules on the sandbox clock, and the AppSync
resolvers. Pollers and schedules follow their mapping's and rule's state in the emulator: disabled
(`dmd maintenance start`), they poll and fire nothing until enabled again. Handlers run in this
process, imported lazily from the function's `handler` in the graph (or an override per worker),
each with its own environment from the emulator's copy of the function (see `EnvironmentGate` for
how environments take turns).

Several sandboxes may run in one process (the tests keep one running while others come and go):
they share the process's environment gate, and the workers' module-level caches (AWS clients,
settings), which every sandbox resets when it starts and stops. Real workers should therefore run in
one sandbox at a time; the others can run test doubles or sit idle.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Final

from aws_clients import AwsClients
from infra.offline import synthesize_stack
from infra.stack_files import load_committed
from infra.synth import RecordedResource, ResourceGraph
from sandbox.appsync import AppSyncResolver
from sandbox.cdc import CdcTailer, ChangeObserver, Precision
from sandbox.clock import SandboxClock
from sandbox.deployed_functions import DeployedFunctionError, FunctionRuntime, deployed_functions, worker_of
from sandbox.emulator import DEFAULT_PORT, Emulator, EmulatorRestart
from sandbox.emulator import emulator_environment as sandbox_emulator_environment
from sandbox.environment import PROCESS_GATE
from sandbox.function import LambdaFunction, WorkerCounters
from sandbox.log_shipper import LogShipper
from sandbox.materialize import Kind, Materialized, materialize
from sandbox.platform_metrics import PlatformMetrics
from sandbox.pollers import EventSourceMapping, KinesisPoller, SqsPoller
from sandbox.schedule import Schedule
from sandbox.trigger_state import mapping_state, rule_state

RULE: Final = "aws:cloudwatch/eventRule:EventRule"
RULE_TARGET: Final = "aws:cloudwatch/eventTarget:EventTarget"
RESOLVER: Final = "aws:appsync/resolver:Resolver"
KINESIS_DESTINATION: Final = "aws:dynamodb/kinesisStreamingDestination:KinesisStreamingDestination"
RUN_UNTIL_PAUSE_SECONDS: Final = 0.02
# The sandbox's own AWS calls (pollers, CDC, seeding) carry `app/dmd-sandbox` in their user agent, so a
# recording of the emulator's requests tells them from the workers' calls.
SANDBOX_USER_AGENT_APPID: Final = "dmd-sandbox"
IDLE_CHECK_SECONDS: Final = 0.1
# Background stream readers read each shard at most this often (real seconds), as AWS's limits make
# its pollers do (Kinesis: 5 reads/s per shard; DynamoDB Streams: 4): the emulator is one process,
# and reads at the tip of an idle stream would otherwise take its time from the workers' calls.
STREAM_READ_INTERVAL_SECONDS: Final = 0.25
# Module-level caches of the workers' runtime (clients bound to an endpoint, settings read once):
# every sandbox starts its functions cold, so they are cleared when already loaded.
COLD_START_RESETS: Final = (
    ("workers.shared.clients", "reset_clients"),
    ("workers.shared.settings", "clear_settings_cache"),
    ("workers.shared.observability", "reset_tracing"),
)

Poller = KinesisPoller | SqsPoller


class SandboxError(Exception):
    """The sandbox cannot be built from the graph as asked."""


class Sandbox:
    """The local stack running on this machine; `with Sandbox() as sandbox: …` starts and stops it all."""

    # `environment_overrides` replaces stack values of function variables (only where a function
    # declares the variable, as `pulumi config set` of that tunable would): the vendor URLs of fakes
    # on free ports, a shorter send backoff for demos. `clock` shares a clock with other components.
    # `change_observers` see every table change the CDC tailers copy (see `CdcTailer`). `ship_logs`
    # puts each invocation's output into the emulator's log group of its function (`LogShipper`).
    # Every invocation runs the version the function's `live` alias routes it to (its weights drawn
    # from `seed`), and is counted in the emulator's CloudWatch as Lambda counts it (`metrics`).

    def __init__(
        self,
        graph: ResourceGraph | None = None,
        *,
        stack: str = "local",
        port: int = DEFAULT_PORT,
        speed: float = 1.0,
        start_time: datetime | None = None,
        handlers: Mapping[str, str] | None = None,
        background: bool = True,
        configure_environment: bool = True,
        clock: SandboxClock | None = None,
        environment_overrides: Mapping[str, str] | None = None,
        change_observers: Sequence[ChangeObserver] = (),
        ship_logs: bool = False,
        seed: int = 0,
    ) -> None:
        self._graph = graph
        self._seed = seed
        self.metrics: PlatformMetrics | None = None
        self._ship_logs = ship_logs
        self.log_shipper: LogShipper | None = None
        self._change_observers = tuple(change_observers)
        self._environment_overrides = dict(environment_overrides or {})
        self._configure_environment = configure_environment
        self._stack = graph.stack if graph is not None else stack
        self._port = port
        self._handler_overrides = dict(handlers or {})
        self._background = background
        self.clock = clock if clock is not None else SandboxClock(speed=speed, start=start_time)
        self.emulator: Emulator | None = None
        self.materialized = Materialized()
        self.functions: dict[str, LambdaFunction] = {}
        self.tailers: list[CdcTailer] = []
        self.pollers: dict[str, Poller] = {}
        self.schedules: list[Schedule] = []
        self.resolvers: dict[tuple[str, str], AppSyncResolver] = {}
        self._gate = PROCESS_GATE
        self._clients: AwsClients | None = None
        self._attached_endpoint: str | None = None
        self._region = ""
        self._account_id = ""

    # ---------------------------------------------------------------------------------------------

    @property
    def clients(self) -> AwsClients:
        """boto3 clients for the emulator."""
        if self._clients is None:
            raise SandboxError("the sandbox is not started")
        return self._clients

    @property
    def endpoint_url(self) -> str:
        """The emulator's endpoint."""
        if self.emulator is None:
            if self._attached_endpoint:
                return self._attached_endpoint
            raise SandboxError("the sandbox is not started")
        return self.emulator.endpoint_url

    def start(self) -> Sandbox:
        """Start the emulator, materialize the graph and start CDC, pollers and schedules."""
        graph = self._graph if self._graph is not None else synthesize_stack(self._stack)
        stack = load_committed(self._stack)
        self._region, self._account_id = stack.region, stack.account_id
        _cold_start()
        self.emulator = Emulator(
            port=self._port, region=self._region, configure_environment=self._configure_environment
        )
        self.emulator.start()
        try:
            self._clients = AwsClients.for_emulator(
                self.emulator.endpoint_url, region=self._region, user_agent_appid=SANDBOX_USER_AGENT_APPID
            )
            self.materialized = materialize(
                graph,
                self._clients,
                graph_account_id=self._account_id,
                graph_region=self._region,
            )
            if self._ship_logs:
                self.log_shipper = LogShipper(self._clients).start()
            self.metrics = PlatformMetrics(self._clients).start()
            self.functions = self._functions(graph)
            self.tailers = self._tailers(graph)
            self.pollers = self._pollers(graph)
            self.schedules = self._schedules(graph)
            self.resolvers = self._resolvers(graph)
            if self._background:
                for component in self._components():
                    component.start()
        except BaseException:
            self.stop()
            raise
        return self

    def attach(self, endpoint_url: str) -> Sandbox:
        """Use a sandbox running elsewhere (`dmd sandbox up`): its functions and resolvers, nothing started.

        Invocations run here, against that emulator and the vendor URLs its functions are configured
        with (the stack's, which `dmd sandbox up` serves), routed through each function's alias and
        counted in its CloudWatch; `stop()` sends the last counts.
        """
        graph = self._graph if self._graph is not None else synthesize_stack(self._stack)
        stack = load_committed(self._stack)
        self._region, self._account_id = stack.region, stack.account_id
        _cold_start()
        self._attached_endpoint = endpoint_url
        self._clients = AwsClients.for_emulator(
            endpoint_url, region=self._region, user_agent_appid=SANDBOX_USER_AGENT_APPID
        )
        self.metrics = PlatformMetrics(self._clients).start()
        self.functions = self._functions(graph)
        self.resolvers = self._resolvers(graph)
        return self

    def detach(self) -> None:
        """Leave a sandbox used through `attach`: its invocations' last metric counts are sent."""
        if self.metrics is not None:
            self.metrics.stop()
            self.metrics = None

    def stop(self) -> None:
        """Stop schedules, pollers and tailers (after their current round), then the emulator; idempotent."""
        components = list(reversed(self._components()))
        for function in self.functions.values():
            function.shut_down()  # in-flight invocations wind down instead of outliving the sandbox
        for component in components:
            component.stop(wait=False)  # all at once, then wait for their current rounds
        for component in components:
            component.stop()
        self.schedules, self.pollers, self.tailers = [], {}, []
        if self.log_shipper is not None:  # the last invocations' lines, before the emulator goes
            self.log_shipper.stop()
            self.log_shipper = None
        if self.metrics is not None:  # and their counts
            self.metrics.stop()
            self.metrics = None
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        self._clients = None
        _cold_start()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------------------------------------

    def invoke(self, worker: str, event: Any) -> Any:
        """Invoke a worker's handler directly (RequestResponse) with `event`; its exception propagates."""
        return self.function(worker).invoke(event)

    def function(self, worker: str) -> LambdaFunction:
        """A worker's function; KeyError names the workers there are."""
        if worker not in self.functions:
            raise KeyError(f"no worker {worker!r} (have: {', '.join(sorted(self.functions))})")
        return self.functions[worker]

    def schedules_of(self, worker: str) -> list[Schedule]:
        """The scheduled rules that invoke `worker` (none when it has no schedule trigger)."""
        return [schedule for schedule in self.schedules if schedule.worker == worker]

    def query(
        self,
        field: str,
        arguments: Mapping[str, Any],
        *,
        type_name: str = "Query",
        selection_set: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Resolve a GraphQL field through its Lambda resolver, as AppSync would; the GraphQL response."""
        resolver = self.resolvers.get((type_name, field))
        if resolver is None:
            known = ", ".join(f"{parent}.{name}" for parent, name in sorted(self.resolvers))
            raise KeyError(f"no resolver for {type_name}.{field} (have: {known})")
        return resolver.resolve(arguments, selection_set=selection_set)

    def pump(self) -> int:
        """One round of every component (CDC, schedules, pollers) in this thread; the work done."""
        return sum(component.poll_once() for component in self._components())

    def run_until(self, predicate: Callable[[], bool], deadline: float = 30.0) -> bool:
        """Wait until `predicate()` holds, at most `deadline` real seconds (pumping unless in background)."""
        give_up = time.monotonic() + deadline
        while True:
            if predicate():
                return True
            if time.monotonic() >= give_up:
                return False
            if self._background or not self.pump():
                time.sleep(RUN_UNTIL_PAUSE_SECONDS)

    def inject_timeouts(self, rate: float, *, seed: int = 0) -> None:
        """The `timeout` drill: `rate` of the pollers' invocations time out mid-batch from now on."""
        for function in self.functions.values():
            function.injected_timeouts.configure(rate=rate, seed=seed)

    def counters(self) -> dict[str, WorkerCounters]:
        """Per worker: invocations, function errors, records processed, failed, filtered and discarded."""
        return {worker: function.counters.snapshot() for worker, function in sorted(self.functions.items())}

    def idle(self) -> bool:
        """Whether nothing is in flight: CDC copied, streams read to their tips, queues empty, no retries."""
        if not all(tailer.caught_up for tailer in self.tailers):
            return False
        if not all(schedule.idle() for schedule in self.schedules):
            return False
        return all(poller.idle() for poller in self.pollers.values())

    def wait_until_idle(self, *, stable_for: float = 0.6, deadline: float = 60.0) -> bool:
        """Wait until `idle()` holds for `stable_for` real seconds in a row (at most `deadline`)."""
        # Held for a while, not seen once: each component reports its last round, and a change just
        # written may not have been polled yet (rounds are at most 0.2 s apart when idle).
        give_up = time.monotonic() + deadline
        idle_since: float | None = None
        while time.monotonic() < give_up:
            if not self._background:
                self.pump()
            if self.idle():
                idle_since = idle_since if idle_since is not None else time.monotonic()
                if time.monotonic() - idle_since >= stable_for:
                    return True
            else:
                idle_since = None
            time.sleep(IDLE_CHECK_SECONDS)
        return False

    def background_errors(self) -> int:
        """Failed background rounds (emulator or delivery errors, not function errors)."""
        return sum(component.errors for component in self._components())

    def restart_emulator(self, *, down_seconds: float = 0.0) -> EmulatorRestart:
        """Restart the emulator with its state (`Emulator.restart`); pollers resume from their checkpoints.

        Lambda's side pauses first: the event-source pollers and the schedules finish the
        invocations they are in (against the running emulator) and invoke nothing while it is
        down, as Lambda does not invoke what a mapping cannot read (no retry attempt spent); then
        they go on from where they were (their shard positions, buffered and pending batches are
        this process's, the queues' in-flight messages and their visibility the restored
        emulator's; schedule firings that fell due meanwhile fire at once). An invocation cut off
        mid-call is the `timeout` drill's subject, not this one's. The CDC copy and every other
        client (the vendors' status publisher, log shipping, progress checks) keep running and
        retry their calls until the emulator answers again. Call it from the thread that started
        the sandbox (the new server's parent-death signal follows that thread).
        """
        if self.emulator is None:
            raise SandboxError("the sandbox is not started")
        paused: list[Schedule | Poller] = (
            [*self.schedules, *self.pollers.values()] if self._background else []
        )
        for component in paused:
            component.stop(wait=False)  # all at once, then wait for their current rounds
        for component in paused:
            component.stop()
        try:
            return self.emulator.restart(down_seconds=down_seconds)
        finally:
            for component in paused:
                component.start()

    # ---------------------------------------------------------------------------------------------

    def _components(self) -> list[CdcTailer | Schedule | Poller]:
        return [*self.tailers, *self.schedules, *self.pollers.values()]

    def _functions(self, graph: ResourceGraph) -> dict[str, LambdaFunction]:
        emulator_environment = (
            self.emulator.environment()
            if self.emulator is not None
            else sandbox_emulator_environment(self._attached_endpoint, self._region)
            if self._attached_endpoint
            else {}
        )
        runtime = FunctionRuntime(
            clock=self.clock,
            gate=self._gate,
            region=self._region,
            emulator_environment=emulator_environment,
            handler_overrides=self._handler_overrides,
            environment_overrides=self._environment_overrides,
            log_sink=self.log_shipper,
            metrics=self.metrics,
            seed=self._seed,
        )
        try:
            return deployed_functions(graph, self.clients, runtime)
        except DeployedFunctionError as error:
            raise SandboxError(str(error)) from error

    def _tailers(self, graph: ResourceGraph) -> list[CdcTailer]:
        precisions: dict[str, Precision] = {
            destination.inputs["tableName"]: destination.inputs.get("approximateCreationDateTimePrecision")
            or "MILLISECOND"
            for destination in graph.of_type(KINESIS_DESTINATION)
        }
        return [
            CdcTailer(
                route,
                self.clients,
                precision=precisions.get(route.table, "MILLISECOND"),
                min_poll_interval=STREAM_READ_INTERVAL_SECONDS if self._background else 0.0,
                observers=self._change_observers,
            )
            for route in self.materialized.cdc_routes
        ]

    def _pollers(self, graph: ResourceGraph) -> dict[str, Poller]:
        pollers: dict[str, Poller] = {}
        for logical_name, request in self.materialized.event_source_mappings.items():
            function = self.function(_worker_of(graph.named(logical_name)))
            if function.worker in pollers:
                raise SandboxError(f"{function.worker} has more than one event source mapping")
            if request.get("TumblingWindowInSeconds"):
                raise SandboxError(
                    f"{logical_name}: tumbling windows are not emulated by the sandbox's pollers"
                )
            mapping = EventSourceMapping.from_request(request)
            service = mapping.event_source_arn.split(":")[2]
            state = mapping_state(
                self.clients.client("lambda"), self.materialized.ref(Kind.EVENT_SOURCE_MAPPING, logical_name)
            )
            if service == "kinesis":
                pollers[function.worker] = KinesisPoller(
                    mapping,
                    function,
                    self.clients,
                    self.clock,
                    min_read_interval=STREAM_READ_INTERVAL_SECONDS if self._background else 0.0,
                    state=state,
                )
            elif service == "sqs":
                pollers[function.worker] = SqsPoller(mapping, function, self.clients, self.clock, state=state)
            else:
                raise SandboxError(f"{logical_name}: the sandbox has no poller for {service} sources")
        return pollers

    def _schedules(self, graph: ResourceGraph) -> list[Schedule]:
        schedules: list[Schedule] = []
        for rule in graph.of_type(RULE):
            expression = rule.inputs.get("scheduleExpression")
            if not expression or rule.inputs.get("state", "ENABLED") != "ENABLED":
                continue
            name = rule.inputs["name"]
            for target in (item for item in graph.of_type(RULE_TARGET) if item.inputs["rule"] == name):
                function = self.function(_worker_of(target))
                schedules.append(
                    Schedule(
                        rule_name=name,
                        rule_arn=self.materialized.ref(Kind.RULE, name),
                        expression=expression,
                        target=function.invoke,
                        clock=self.clock,
                        worker=function.worker,
                        account_id=self._account_id,
                        region=self._region,
                        state=rule_state(self.clients.client("events"), name),
                    )
                )
        return schedules

    def _resolvers(self, graph: ResourceGraph) -> dict[tuple[str, str], AppSyncResolver]:
        resolvers: dict[tuple[str, str], AppSyncResolver] = {}
        for resource in graph.of_type(RESOLVER):
            type_name, field = resource.inputs["type"], resource.inputs["field"]
            resolvers[(type_name, field)] = AppSyncResolver(
                type_name=type_name,
                field_name=field,
                invoke=self.function(_worker_of(resource)).invoke,
                account_id=self._account_id,
                region=self._region,
            )
        return resolvers


def _worker_of(resource: RecordedResource) -> str:
    """The worker a resource belongs to: its parent `Worker` component's name."""
    try:
        return worker_of(resource)
    except DeployedFunctionError as error:
        raise SandboxError(str(error)) from error


def _cold_start() -> None:
    for module_name, function_name in COLD_START_RESETS:
        module = sys.modules.get(module_name)
        if module is not None:
            getattr(module, function_name)()
