"""Offline synth: run a Pulumi program under recording mocks with a stack's committed config."""

from __future__ import annotations

import asyncio
import contextlib
import json
import runpy
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, NoReturn

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc as pulumi_rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.settings import _shutdown_callbacks
from pulumi.runtime.stack import wait_for_rpcs

from infra.synth_config import (
    Project,
    SecureConfigError,
    StackFileError,
    SynthError,
    project_name,
    read_project,
    stack_config,
)
from infra.synth_outputs import (
    OUTPUT_TEMPLATES,
    RESOURCE_CLASSES,
    UNKNOWN_PLACEHOLDER,
    CloudContext,
    CloudOutputs,
    NotYetKnownError,
    Secret,
    generic_arn,
)

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "OUTPUT_TEMPLATES",
    "UNKNOWN_PLACEHOLDER",
    "CloudContext",
    "DuplicateUrnError",
    "ExistingResourceReadError",
    "InvokeNotAllowedError",
    "RecordedResource",
    "RecordingMocks",
    "ResourceGraph",
    "Secret",
    "SecureConfigError",
    "StackFileError",
    "SynthError",
    "TransformNotSupportedError",
    "project_name",
    "run_under_mocks",
    "stack_config",
    "synthesize",
]

DEFAULT_ACCOUNT_ID: Final = "123456789012"
DEFAULT_REGION: Final = "us-east-1"
SECRET_PLACEHOLDER: Final = "<secret>"  # noqa: S105 - a placeholder, not a password

_STACK_TYPE: Final = "pulumi:pulumi:Stack"
_STACK_REFERENCE_TYPE: Final = "pulumi:pulumi:StackReference"

# One program at a time: runpy swaps `sys.modules["__main__"]` and `sys.argv[0]`, and the harness edits
# `sys.path` and `sys.modules`, all of which are process-wide.
_RUN_LOCK: Final = threading.Lock()


class InvokeNotAllowedError(SynthError):
    """The program called a provider function (data source); config and outputs must serve instead."""


class ExistingResourceReadError(SynthError):
    """The program read an existing resource or stack reference, which needs a real cloud and backend."""


class TransformNotSupportedError(SynthError):
    """The program uses engine-side transforms, which mocks never run, so the graph would be wrong."""


class DuplicateUrnError(SynthError):
    """Two resources were registered with the same URN, which the real engine rejects."""


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
            "outputs": _jsonable(self.outputs),
            "resources": [
                {
                    "type": resource.type_,
                    "name": resource.name,
                    "parent": resource.parent,
                    "custom": resource.custom,
                    "provider": resource.provider,
                    "inputs": _jsonable(resource.inputs),
                    "options": _jsonable(resource.options),
                }
                for resource in sorted(self.resources, key=_resource_order)
            ],
        }
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)


def _resource_order(resource: RecordedResource) -> tuple[str, str, str]:
    return (resource.type_, resource.name, resource.parent or "")


# --------------------------------------------------------------------------------------------------
# Recording mocks
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Registration:
    urn: str
    request: Any


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every registration and answer with the outputs AWS would compute."""

    def __init__(
        self,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        project_root: Path | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self._project_root = project_root
        self._records: list[RecordedResource] = []
        self._urns: set[str] = set()
        self._lock = threading.Lock()
        self._in_flight = threading.local()

    @property
    def resources(self) -> list[RecordedResource]:
        """The registrations recorded so far, in arrival order."""
        with self._lock:
            return list(self._records)

    @contextlib.contextmanager
    def _registering(self, registration: _Registration) -> Iterator[None]:
        """Make the wire request visible to `new_resource`, which runs on the same thread."""
        self._in_flight.registration = registration
        try:
            yield
        finally:
            self._in_flight.registration = None

    def call(self, args: MockCallArgs) -> NoReturn:
        """Refuse every invoke: stack config and resource outputs serve instead of data sources."""
        raise InvokeNotAllowedError(
            f"the program called the provider function {args.token!r}; an offline synth answers no "
            "data-source invokes (house rule: take account, region and ARNs from config and outputs)"
        )

    def register_transform(self, transform: pulumi.ResourceTransform) -> NoReturn:
        """Refuse stack transforms: the mock monitor never runs them, so the graph would silently differ."""
        raise TransformNotSupportedError(
            f"the program registers the transform {getattr(transform, '__name__', transform)!r}; engine-side "
            "transforms do not run under mocks, so the offline graph would not match a deployment"
        )

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Record the registration and return an id plus inputs merged with computed outputs."""
        if args.transforms:
            raise TransformNotSupportedError(
                f"{args.typ} {args.name!r} declares `transforms`; engine-side transforms do not run under "
                "mocks, so the offline graph would not match a deployment"
            )
        if args.custom is None:
            # Only `ReadResource` (Resource.get, StackReference) leaves `custom` unset.
            what = "a stack reference" if args.typ == _STACK_REFERENCE_TYPE else "an existing resource"
            raise ExistingResourceReadError(
                f"the program reads {what} ({args.typ} {args.name!r}), which needs a real backend; "
                "an offline synth cannot"
            )
        registration: _Registration | None = getattr(self._in_flight, "registration", None)
        inputs = _plain(args.inputs, self._project_root)
        options = _wire_options(registration.request) if registration is not None else {}
        record = RecordedResource(
            type_=args.typ,
            name=args.name,
            parent=options.get("parent"),
            custom=bool(args.custom),
            inputs=inputs,
            provider=_provider_name(args.provider),
            options=options,
            urn=registration.urn if registration is not None else "",
        )
        with self._lock:
            if record.urn and record.urn in self._urns:
                raise DuplicateUrnError(
                    f"duplicate resource URN {record.urn!r}; give the resource a unique name"
                )
            self._urns.add(record.urn)
            self._records.append(record)
        if not args.custom:
            # Components have no physical id; their outputs come from `register_outputs`.
            return "", dict(args.inputs)
        cloud = self._cloud_outputs(args.typ, args.name, inputs)
        return cloud.id, {**cloud.outputs, **args.inputs}

    def _cloud_outputs(self, token: str, name: str, inputs: dict[str, Any]) -> CloudOutputs:
        ctx = CloudContext(
            type_=token, logical_name=name, inputs=inputs, region=self.region, account=self.account_id
        )
        template = OUTPUT_TEMPLATES.get(token)
        if template is None and token.startswith("aws:") and RESOURCE_CLASSES.has_arn(token):
            template = generic_arn
        try:
            if template is not None:
                return template(ctx)
            return CloudOutputs(id=ctx.physical_name())
        except NotYetKnownError:
            # In a preview, outputs the mock leaves out resolve as unknown, as they would for real.
            return CloudOutputs(id=f"{name}-id")


class _RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, showing each wire request (options, parent, dependencies) to the mocks."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self._recorder = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        """Register as the SDK's monitor does, with the request visible to `new_resource`."""
        if request.type == _STACK_TYPE:
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._recorder._registering(_Registration(urn=urn, request=request)):
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def _urn_name(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<qualified type>::<name>; the name may itself contain "::".
    return urn.split("::", 3)[3] if urn.count("::") >= 3 else urn


def _urn_type(urn: str) -> str:
    return urn.split("::", 3)[2].rsplit("$", 1)[-1] if urn.count("::") >= 3 else ""


def _parent_name(parent_urn: str) -> str | None:
    if not parent_urn or _urn_type(parent_urn) == _STACK_TYPE:
        return None
    return _urn_name(parent_urn)


def _provider_name(provider_ref: str | None) -> str | None:
    # A provider reference is "<provider urn>::<provider id>"; "" means the default provider.
    if not provider_ref:
        return None
    return _urn_name(provider_ref.rsplit("::", 1)[0])


def _wire_options(request: Any) -> dict[str, Any]:
    aliases: list[dict[str, Any]] = [{"urn": urn} for urn in request.aliasURNs]
    for alias in request.aliases:
        if alias.HasField("urn"):
            aliases.append({"urn": alias.urn})
        else:
            spec = alias.spec
            described = {
                key: getattr(spec, key)
                for key in ("name", "type", "stack", "project", "parentUrn")
                if getattr(spec, key)
            }
            if spec.noParent:
                described["noParent"] = True
            aliases.append(described)
    return {
        "parent": _parent_name(request.parent),
        "protect": bool(request.protect),
        "depends_on": [],
        "dependencies": sorted({_urn_name(urn) for urn in request.dependencies}),
        "delete_before_replace": bool(request.deleteBeforeReplace),
        "retain_on_delete": bool(request.retainOnDelete),
        "ignore_changes": sorted(request.ignoreChanges),
        "replace_on_changes": sorted(request.replaceOnChanges),
        "deleted_with": _urn_name(request.deletedWith) if request.deletedWith else None,
        "aliases": aliases,
    }


def _plain(value: Any, project_root: Path | None) -> Any:
    """A deserialized wire value as plain data: unknowns and secrets marked, assets as path records."""
    if isinstance(value, Unknown):
        return UNKNOWN_PLACEHOLDER
    if isinstance(value, str):
        return UNKNOWN_PLACEHOLDER if value == pulumi_rpc.UNKNOWN else value
    if isinstance(value, float) and value.is_integer():
        # The wire carries every number as a double; integral ones read better (and diff less) as ints.
        return int(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        if pulumi_rpc.is_rpc_secret(value):
            return Secret(_plain(pulumi_rpc.unwrap_rpc_secret(value), project_root))
        return {str(key): _plain(item, project_root) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [_plain(item, project_root) for item in value]
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        kind = "fileAsset" if isinstance(value, pulumi.FileAsset) else "fileArchive"
        return {kind: _project_relative(str(value.path), project_root)}
    if isinstance(value, pulumi.StringAsset):
        return {"stringAsset": value.text}
    if isinstance(value, pulumi.RemoteAsset | pulumi.RemoteArchive):
        return {"remoteAsset" if isinstance(value, pulumi.RemoteAsset) else "remoteArchive": value.uri}
    if isinstance(value, pulumi.AssetArchive):
        return {"assetArchive": {key: _plain(item, project_root) for key, item in value.assets.items()}}
    if isinstance(value, pulumi.Resource):
        # A resource reference; the SDK rebuilt it from its URN, whose name it keeps privately.
        return {"resource": pulumi.get_type_token(type(value)), "name": getattr(value, "_name", None)}
    return repr(value)


def _project_relative(path: str, project_root: Path | None) -> str:
    if project_root is None:
        return path
    candidate = Path(path)
    if candidate.is_absolute() and candidate.is_relative_to(project_root):
        return candidate.relative_to(project_root).as_posix()
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, Secret):
        return SECRET_PLACEHOLDER
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


# --------------------------------------------------------------------------------------------------
# Resource options the wire request does not carry as declared
# --------------------------------------------------------------------------------------------------


class _DeclaredDependsOn:
    """A legacy stack transformation: it runs in-process (so under mocks) and sees each `depends_on`."""

    def __init__(self) -> None:
        self._declared: list[tuple[pulumi.Resource, Any]] = []

    def __call__(self, args: pulumi.ResourceTransformationArgs) -> None:
        # `opts.urn` marks a lookup of a resource that already exists (e.g. a rebuilt reference).
        if args.opts.urn is None and args.opts.depends_on is not None:
            self._declared.append((args.resource, args.opts.depends_on))

    async def by_urn(self) -> dict[str, list[str]]:
        """Each resource's URN with the names it declared in `depends_on`."""
        declared: dict[str, list[str]] = {}
        for resource, depends_on in self._declared:
            # A constructor that failed after this transformation (and was caught) never registered.
            if not hasattr(resource, "urn"):
                continue
            urn = await resource.urn.future()
            resolved = await pulumi.Output.from_input(depends_on).future()
            items = resolved if isinstance(resolved, Sequence) else [resolved]
            names = [
                _urn_name(str(await item.urn.future())) for item in items if isinstance(item, pulumi.Resource)
            ]
            if urn:
                declared[urn] = sorted(names)
        return declared


async def _stack_exports(project_root: Path | None) -> dict[str, Any]:
    root = pulumi_settings.get_root_resource()
    exports: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
    resolved: dict[str, Any] = {}
    for key, value in exports.items():
        output = pulumi.Output.from_input(value)
        plain = _plain(await output.future(with_unknowns=True), project_root)
        resolved[key] = Secret(plain) if await output.is_secret() else plain
    return resolved


# --------------------------------------------------------------------------------------------------
# Running a program
# --------------------------------------------------------------------------------------------------


def synthesize(
    stack: str,
    *,
    project_root: Path,
    preview: bool = False,
    program: Path | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> ResourceGraph:
    """Run the project's program under recording mocks with the stack's committed config."""
    root = project_root.resolve()
    project = read_project(root)
    config = stack_config(stack, root)
    entry = program if program is not None else _entry_point(root, project)
    if not entry.is_file():
        raise StackFileError(f"program {entry} not found")
    run = _ProgramRun(
        body=lambda: runpy.run_path(str(entry), run_name="__main__"),
        project=project.name,
        stack=stack,
        preview=preview,
        config=config,
        mocks=RecordingMocks(
            account_id=account_id, region=config.get("aws:region", DEFAULT_REGION), project_root=root
        ),
        root=root,
    )
    return run.in_own_thread()


def run_under_mocks(
    build: Callable[[], object],
    *,
    project: str = "test-project",
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    preview: bool = False,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
) -> ResourceGraph:
    """Call `build` (e.g. construct one component) under recording mocks and return what it registered."""
    run = _ProgramRun(
        body=build,
        project=project,
        stack=stack,
        preview=preview,
        config=dict(config or {}),
        mocks=RecordingMocks(account_id=account_id, region=region),
        root=None,
    )
    return run.in_own_thread()


def _entry_point(root: Path, project: Project) -> Path:
    main = root / project.main if project.main else root
    return main / "__main__.py" if main.is_dir() else main


@dataclass(frozen=True)
class _ProgramRun:
    body: Callable[[], object]
    project: str
    stack: str
    preview: bool
    config: dict[str, str]
    mocks: RecordingMocks
    root: Path | None

    def in_own_thread(self) -> ResourceGraph:
        with _RUN_LOCK, ThreadPoolExecutor(max_workers=1, thread_name_prefix="pulumi-synth") as runner:
            # A fresh thread starts with an empty contextvars context and no event loop, so nothing
            # the SDK keeps in context variables (settings, root stack, config) leaks between runs or
            # into the caller, and the caller's event loop is never touched.
            return runner.submit(self._execute).result()

    def _execute(self) -> ResourceGraph:
        loop = _new_loop()
        asyncio.set_event_loop(loop)
        worker_loops: list[asyncio.AbstractEventLoop] = []
        # The mock monitor runs on executor threads and needs an event loop there; give each worker
        # one we can close, instead of the unclosed loops the SDK would create.
        executor = ThreadPoolExecutor(
            thread_name_prefix="pulumi-monitor", initializer=_give_thread_a_loop, initargs=(worker_loops,)
        )
        loop.set_default_executor(executor)
        try:
            with _program_imports(self.root):
                self._configure()
                declared = _DeclaredDependsOn()
                pulumi.runtime.register_stack_transformation(declared)
                loop.run_until_complete(self._run_body())
                depends_on = loop.run_until_complete(declared.by_urn())
                exports = loop.run_until_complete(_stack_exports(self.root))
        except BaseException:
            # Cleanup after a failure must never replace the program's own error.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                _shut_down(loop, worker_loops)
            raise
        _shut_down(loop, worker_loops)
        resources = tuple(
            sorted(
                (
                    replace(record, options={**record.options, "depends_on": depends_on.get(record.urn, [])})
                    if record.options
                    else record
                    for record in self.mocks.resources
                ),
                key=_resource_order,
            )
        )
        return ResourceGraph(
            project=self.project, stack=self.stack, preview=self.preview, resources=resources, outputs=exports
        )

    def _configure(self) -> None:
        settings = pulumi_settings.SETTINGS
        # `set_mocks` replaces the monitor and RPC manager but not these; set them so no task or lock
        # from another run is ever awaited here.
        settings.outputs = set()
        settings.lock = threading.Lock()
        pulumi_settings.ROOT.set(None)
        pulumi.runtime.set_all_config(self.config, secret_keys=[])
        pulumi.runtime.set_mocks(
            self.mocks,
            project=self.project,
            stack=self.stack,
            preview=self.preview,
            monitor=_RecordingMonitor(self.mocks),
        )
        if self.root is not None:
            settings.root_directory = str(self.root)

    async def _run_body(self) -> None:
        # Run inside the loop, as the language host does, so synchronous invokes can pump it. If the
        # body raises, its exception propagates as is: nothing waits on registrations it left behind.
        self.body()
        await wait_for_rpcs()


@contextlib.contextmanager
def _program_imports(root: Path | None) -> Iterator[None]:
    """Let the program import the project's packages, and forget them afterwards."""
    if root is None:
        yield
        return
    modules_before = set(sys.modules)
    added_to_path = str(root) not in sys.path
    if added_to_path:
        sys.path.insert(0, str(root))
    try:
        yield
    finally:
        if added_to_path:
            sys.path.remove(str(root))
        _forget_program_modules(modules_before, root)


def _new_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_drop_unretrieved_failures)
    return loop


def _drop_unretrieved_failures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Skip asyncio's report of a failed future nobody awaited; report anything else as usual."""
    # After a failed run, every output that depended on the failure holds a copy of its exception. The
    # caller already has the first one, and logging each copy when the garbage collector finds it means
    # formatting tracebacks (so `ast.parse`) on arbitrary threads, which races with pytest's import
    # hook on CPython < 3.11.8 (gh-106905: "AST constructor recursion depth mismatch").
    future = context.get("future")
    failed = (
        isinstance(future, asyncio.Future)
        and future.done()
        and not future.cancelled()
        and future.exception() is not None
    )
    if not failed:
        loop.default_exception_handler(context)


def _give_thread_a_loop(worker_loops: list[asyncio.AbstractEventLoop]) -> None:
    worker_loop = _new_loop()
    asyncio.set_event_loop(worker_loop)
    worker_loops.append(worker_loop)


def _shut_down(loop: asyncio.AbstractEventLoop, worker_loops: list[asyncio.AbstractEventLoop]) -> None:
    """Stop callback servers, cancel what a failed program left behind, release executor and loops."""
    try:
        # Resource hooks and transforms start a gRPC callback server on this loop; stop it before its
        # tasks are cancelled below (the SDK only stops servers created on the current loop).
        loop.run_until_complete(_shutdown_callbacks())  # type: ignore[no-untyped-call]
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        for worker_loop in worker_loops:
            worker_loop.close()


def _forget_program_modules(modules_before: set[str], root: Path) -> None:
    """Drop modules the program imported from the project, so the next run starts from clean module state."""
    # A virtualenv inside the project (.venv) holds the SDKs, whose modules register themselves with
    # the Pulumi runtime once per process and must stay imported.
    environments = {Path(prefix).resolve() for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    for name in set(sys.modules) - modules_before:
        location = getattr(sys.modules.get(name), "__file__", None)
        if location is None:
            continue
        path = Path(location).resolve()
        if not path.is_relative_to(root) or any(path.is_relative_to(env) for env in environments):
            continue
        relative_parts = path.relative_to(root).parts
        if any(part.startswith(".") or part == "site-packages" for part in relative_parts):
            continue
        del sys.modules[name]
