"""A worker's Lambda function run in-process: its versions' handlers and environments, its counters."""

from __future__ import annotations

import dataclasses
import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from infra.naming import log_group_name
from sandbox.alias_routing import VersionRouter
from sandbox.clock import SandboxClock
from sandbox.drill_faults import TIMEOUT, SeededRate
from sandbox.environment import EnvironmentGate
from sandbox.log_shipper import InvocationLog, InvocationLogSink, LogDestination, environment_stream_name
from sandbox.platform_metrics import InvocationMetricsSink

Handler = Callable[[Any, Any], Any]
LOGGER: Final = logging.getLogger("sandbox.function")
RUNTIME: Final = "python3.12"


class HandlerImportError(Exception):
    """The handler path names no importable callable (Lambda's Runtime.ImportModuleError)."""


class InvocationTimeoutError(Exception):
    """The invocation timed out (the `timeout` drill): Lambda has no answer, only a function error."""


@dataclass
class LambdaContext:
    """The context object the Lambda runtime passes to a handler; its timeout runs in real time."""

    # A handler's work, sleeps and clock (`time.time`, backoffs, leases) are real here whatever the
    # sandbox's speed, so its timeout is too: counted on the sandbox clock at speed 10, a batch that
    # fits in AWS would run out of time ten times too soon, and the sender would defer it forever.

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float  # real (wall) epoch seconds
    clock: SandboxClock = field(repr=False)
    # Set when the sandbox stops: the invocation is told no time is left, so a worker that asks its
    # context before each step (the sender's waits, the generator's continuation) returns promptly.
    shutdown: threading.Event | None = field(default=None, repr=False)
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the configured timeout, in real time (never negative)."""
        if self.shutdown is not None and self.shutdown.is_set():
            return 0
        return max(0, int((self.deadline - self.clock.wall_now()) * 1000))


@dataclass
class WorkerCounters:
    """What a worker's invocations did, as the pollers saw it (per record, per attempt)."""

    invocations: int = 0
    function_errors: int = 0
    records_processed: int = 0
    records_failed: int = 0
    records_filtered: int = 0
    records_discarded: int = 0
    timeouts: int = 0  # invocations that ran past their timeout (real time), injected ones included
    timeouts_injected: int = 0  # invocations the `timeout` drill ended mid-batch
    records_in_timed_out_batches: int = 0  # their batches' records (each batch is retried whole)
    # Real time inside the environment gate (handler, init included; waiting for a turn is not):
    handler_ms: int = 0  # summed over invocations (Lambda's billed Duration, as the REPORT lines say)
    held_ms: int = 0  # while at least one invocation ran: the process's time spent on this worker
    init_ms: int = 0  # of which importing the handler (each version's first invocation)


class FunctionCounters:
    """Thread-safe `WorkerCounters`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = WorkerCounters()
        self._running = 0
        self._held_since = 0.0

    def add(self, **increments: int) -> None:
        """Add to named counters, e.g. `add(records_processed=3)`."""
        with self._lock:
            for name, amount in increments.items():
                setattr(self._counters, name, getattr(self._counters, name) + amount)

    @contextmanager
    def timed(self) -> Iterator[None]:
        """Count the block's time as an invocation's (`handler_ms`) and the worker's (`held_ms`)."""
        with self._lock:
            started = time.monotonic()
            if self._running == 0:
                self._held_since = started
            self._running += 1
        try:
            yield
        finally:
            ended = time.monotonic()
            with self._lock:
                self._running -= 1
                self._counters.handler_ms += round((ended - started) * 1000)
                if self._running == 0:
                    self._counters.held_ms += round((ended - self._held_since) * 1000)

    def snapshot(self) -> WorkerCounters:
        """A copy of the counters now."""
        with self._lock:
            return dataclasses.replace(self._counters)


@dataclass(frozen=True, kw_only=True)
class FunctionSettings:
    """The deployed function's settings the runtime needs (from the graph / the emulator's copy)."""

    worker: str
    function_name: str
    handler: str
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: int = 3
    memory_mb: int = 128
    version: str = "$LATEST"
    function_arn: str = ""
    invoked_arn: str = ""
    role_arn: str = ""
    region: str = "us-east-1"
    log_format: str = "Text"  # the function's LoggingConfig: how its platform records are written
    system_log_level: str = "INFO"


class LambdaFunction:
    """Invokes a handler (imported lazily by dotted path) the way Lambda would, in this process."""

    # Each invocation runs with the function's environment applied (see `EnvironmentGate`) plus the
    # variables the Lambda runtime sets, and a `LambdaContext` whose remaining time counts down in
    # real time (the sandbox's speed scales the triggers' waits, not the handlers' work). The
    # timeout is reported (a warning and the `timeouts` counter), not enforced: a thread cannot be
    # killed. With a `log_sink`, each invocation's output and the platform's records around it go
    # there (the emulator's log group, see `sandbox.log_shipper`). With a `router`, each invocation
    # runs the version the alias routes it to (`sandbox.alias_routing`), in that version's own
    # execution environment (variables, log stream, handler); with `metrics`, each one is counted
    # as Lambda's `Invocations` and `Errors` (`sandbox.platform_metrics`). The `timeout` drill and
    # the counters are the function's, whatever version runs.

    def __init__(
        self,
        settings: FunctionSettings,
        *,
        clock: SandboxClock,
        gate: EnvironmentGate,
        log_sink: InvocationLogSink | None = None,
        router: VersionRouter[FunctionSettings] | None = None,
        metrics: InvocationMetricsSink | None = None,
    ) -> None:
        self._settings = settings
        self.counters = FunctionCounters()
        self._clock = clock
        self._gate = gate
        self._router = router
        self._metrics = metrics
        self._environments_lock = threading.Lock()
        self._environments: dict[str, ExecutionEnvironment] = {}
        self._shutdown = threading.Event()
        self._log_sink = log_sink
        # The first execution environment: the version the function was built with (the alias's).
        self.log_stream_name = self._environment_of(settings).log_stream_name
        # The `timeout` drill: which of the pollers' invocations time out mid-batch (rate 0: none).
        self.injected_timeouts = SeededRate(TIMEOUT)

    @property
    def settings(self) -> FunctionSettings:
        """The settings of the version the alias routes to first (as last read), or the function's own."""
        return self._router.primary if self._router is not None else self._settings

    @property
    def router(self) -> VersionRouter[FunctionSettings] | None:
        """How invocations are routed through the alias (None: every one runs `settings`)."""
        return self._router

    @property
    def worker(self) -> str:
        """The worker's catalog name."""
        return self._settings.worker

    @property
    def invoked_arn(self) -> str:
        """The ARN triggers invoke (the `live` alias when there is one)."""
        return self._settings.invoked_arn or self._settings.function_arn

    def shut_down(self) -> None:
        """Tell running invocations that no time is left (their contexts report 0 ms from now on)."""
        self._shutdown.set()

    def invoke(self, event: Any, *, time_out: bool = False) -> Any:
        """Run the handler with `event` and a fresh context; its exception propagates (a function error).

        The version that runs is the one the alias routes this invocation to (`VersionRouter`), with
        its own handler, environment, timeout and memory. `time_out`: the invocation times out once
        the handler is done with `event` (its side effects happen, its answer is lost):
        InvocationTimeoutError, counted and logged as Lambda's timeout.
        """
        settings = self._router.route() if self._router is not None else self._settings
        runtime = self._environment_of(settings)
        failed = True  # until the handler answers in time
        try:
            with self._gate.applied(runtime.gate_owner, runtime.variables), self.counters.timed():
                response, overran = self._run(runtime, event, time_out=time_out)
            failed = overran  # Lambda would have ended it at its timeout: an error
            return response
        finally:
            if self._metrics is not None:
                self._metrics.record(
                    function_name=settings.function_name,
                    alias=invoked_alias(settings),
                    version=settings.version,
                    error=failed,
                )

    def _run(self, runtime: ExecutionEnvironment, event: Any, *, time_out: bool) -> tuple[Any, bool]:
        """The handler's answer, and whether it ran past its timeout (its environment applied)."""
        settings = runtime.settings
        # The timeout runs from when the invocation starts, not from when it began waiting for
        # another function's environment to be released.
        context = LambdaContext(
            function_name=settings.function_name,
            function_version=settings.version,
            invoked_function_arn=settings.invoked_arn or settings.function_arn,
            memory_limit_in_mb=settings.memory_mb,
            aws_request_id=str(uuid.uuid4()),
            log_group_name=log_group_name(settings.function_name),
            log_stream_name=runtime.log_stream_name,
            deadline=self._clock.wall_now() + settings.timeout_seconds,
            clock=self._clock,
            shutdown=self._shutdown,
        )
        self.counters.add(invocations=1)
        overran = False
        with self._logged(runtime, context.aws_request_id) as log:
            try:
                handler, init_ms = runtime.resolve()
                if init_ms is not None:
                    self.counters.add(init_ms=round(init_ms))
                if log is not None:
                    log.handler_started(init_ms)
                response = handler(event, context)
            except Exception:
                self.counters.add(function_errors=1)
                if log is not None:
                    log.status = "error"
                raise
            finally:
                overrun = self._clock.wall_now() - context.deadline
                if overrun > 0:
                    overran = True
                    self.counters.add(timeouts=1)
                    if log is not None:
                        log.status = "timeout"
                    LOGGER.warning(
                        "%s: invocation %s ran %.1f s past its %d s timeout",
                        settings.worker,
                        context.aws_request_id,
                        overrun,
                        settings.timeout_seconds,
                    )
            if time_out:
                self.counters.add(timeouts=1, timeouts_injected=1, function_errors=1)
                if log is not None:
                    log.status = "timeout"
                raise InvocationTimeoutError(
                    f"{settings.worker}: invocation {context.aws_request_id} timed out "
                    f"(injected) after {settings.timeout_seconds} s"
                )
            return response, overran

    def _environment_of(self, settings: FunctionSettings) -> ExecutionEnvironment:
        """The execution environment of a version (one per version and function instance, made once)."""
        with self._environments_lock:
            runtime = self._environments.get(settings.version)
            if runtime is None or runtime.settings != settings:
                runtime = ExecutionEnvironment(settings, owner=f"{id(self):x}")
                self._environments[settings.version] = runtime
            return runtime

    @contextmanager
    def _logged(self, runtime: ExecutionEnvironment, request_id: str) -> Iterator[InvocationLog | None]:
        """The invocation's log for the sink (None without one: nothing is captured)."""
        if self._log_sink is None:
            yield None
            return
        settings = runtime.settings
        destination = LogDestination(
            log_group=log_group_name(settings.function_name),
            log_stream=runtime.log_stream_name,
            log_format=settings.log_format,
            system_log_level=settings.system_log_level,
        )
        with InvocationLog(
            self._log_sink,
            destination,
            request_id=request_id,
            function_name=settings.function_name,
            version=settings.version,
            memory_size_mb=settings.memory_mb,
        ) as log:
            yield log


class ExecutionEnvironment:
    """One version's execution environment: its variables, log stream, gate turn and imported handler."""

    def __init__(self, settings: FunctionSettings, *, owner: str) -> None:
        self.settings = settings
        self.variables = {**settings.environment, **_runtime_variables(settings)}
        # The gate's turns are per version of a function instance: two sandboxes' functions of one
        # name differ, and so do two versions' environments.
        self.gate_owner = f"{settings.function_name}:{settings.version}@{owner}"
        # One execution environment per version, so one log stream, as Lambda names them.
        self.log_stream_name = environment_stream_name(settings.version)
        self._handler: Handler | None = None
        self._import_lock = threading.Lock()

    def resolve(self) -> tuple[Handler, float | None]:
        """The handler, and how long importing it took when this call did (the cold start's init)."""
        # Imported inside the gate: modules may read their environment at import time.
        with self._import_lock:
            if self._handler is None:
                began = time.perf_counter()
                self._handler = import_handler(self.settings.handler)
                return self._handler, (time.perf_counter() - began) * 1000
            return self._handler, None


def invoked_alias(settings: FunctionSettings) -> str | None:
    """The alias an invocation went through: the last part of an alias ARN (None: the function itself)."""
    arn = settings.invoked_arn
    if not arn or arn == settings.function_arn or not arn.startswith(f"{settings.function_arn}:"):
        return None
    qualifier = arn.rsplit(":", 1)[-1]
    return None if qualifier.isdigit() or qualifier == "$LATEST" else qualifier


def import_handler(path: str) -> Handler:
    """The callable a `module.function` handler path names; HandlerImportError says what is missing."""
    module_name, _, attribute = path.rpartition(".")
    if not module_name:
        raise HandlerImportError(f"handler {path!r} is not of the form 'module.function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise HandlerImportError(
            f"cannot import module {module_name!r} for handler {path!r}: {error}"
        ) from error
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise HandlerImportError(f"module {module_name!r} has no callable {attribute!r} (handler {path!r})")
    return handler  # type: ignore[no-any-return]


def _runtime_variables(settings: FunctionSettings) -> dict[str, str]:
    """What the Lambda runtime sets for every function (the sandbox adds the emulator's endpoint)."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": settings.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": settings.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(settings.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group_name(settings.function_name),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME}",
        "AWS_REGION": settings.region,
        "AWS_DEFAULT_REGION": settings.region,
        "_HANDLER": settings.handler,
    }
