"""Running a Pulumi program under recording mocks: its own thread, loops, config and module state."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import runpy
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import pulumi

from infra import pulumi_runtime
from infra.synth.declared_depends_on import DeclaredDependsOn
from infra.synth.errors import StackFileError
from infra.synth.event_loops import give_thread_a_loop, new_loop, shut_down
from infra.synth.graph import ResourceGraph, resource_order
from infra.synth.recording import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, RecordingMocks
from infra.synth.stack_config import Project, read_project, stack_config
from infra.synth.values import Secret, plain

# One program at a time: runpy swaps `sys.modules["__main__"]` and `sys.argv[0]`, and the harness edits
# `sys.path` and `sys.modules`, all of which are process-wide.
_RUN_LOCK: Final = threading.Lock()


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
        with (
            _RUN_LOCK,
            _imported_heap_frozen(),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="pulumi-synth") as runner,
        ):
            # A fresh thread starts with an empty contextvars context and no event loop, so nothing
            # the SDK keeps in context variables (settings, root stack, config) leaks between runs or
            # into the caller, and the caller's event loop is never touched.
            return runner.submit(self._execute).result()

    def _execute(self) -> ResourceGraph:
        loop = new_loop()
        asyncio.set_event_loop(loop)
        worker_loops: list[asyncio.AbstractEventLoop] = []
        # The mock monitor runs on executor threads and needs an event loop there; give each worker
        # one we can close, instead of the unclosed loops the SDK would create.
        executor = ThreadPoolExecutor(
            thread_name_prefix="pulumi-monitor", initializer=give_thread_a_loop, initargs=(worker_loops,)
        )
        loop.set_default_executor(executor)
        try:
            with _program_imports(self.root):
                self._configure()
                declared = DeclaredDependsOn()
                pulumi.runtime.register_stack_transformation(declared)
                loop.run_until_complete(self._run_body())
                depends_on = loop.run_until_complete(declared.by_urn())
                exports = loop.run_until_complete(_stack_exports(self.root))
        except BaseException:
            # Cleanup after a failure must never replace the program's own error.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                shut_down(loop, worker_loops)
            raise
        shut_down(loop, worker_loops)
        resources = tuple(
            sorted(
                (
                    replace(record, options={**record.options, "depends_on": depends_on.get(record.urn, [])})
                    if record.options
                    else record
                    for record in self.mocks.resources
                ),
                key=resource_order,
            )
        )
        return ResourceGraph(
            project=self.project, stack=self.stack, preview=self.preview, resources=resources, outputs=exports
        )

    def _configure(self) -> None:
        # `set_mocks` replaces the monitor and RPC manager but not the pending outputs, their lock or
        # the root stack; reset those so no task or lock from another run is ever awaited here.
        pulumi_runtime.reset_run_state()
        pulumi.runtime.set_all_config(self.config, secret_keys=[])
        pulumi.runtime.set_mocks(
            self.mocks,
            project=self.project,
            stack=self.stack,
            preview=self.preview,
            monitor=self.mocks.monitor(),
        )
        if self.root is not None:
            pulumi_runtime.set_root_directory(str(self.root))

    async def _run_body(self) -> None:
        # Run inside the loop, as the language host does, so synchronous invokes can pump it. If the
        # body raises, its exception propagates as is: nothing waits on registrations it left behind.
        self.body()
        await pulumi_runtime.wait_for_registrations()


async def _stack_exports(project_root: Path | None) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in pulumi_runtime.stack_exports().items():
        output = pulumi.Output.from_input(value)
        exported = plain(await output.future(with_unknowns=True), project_root)
        resolved[key] = Secret(exported) if await output.is_secret() else exported
    return resolved


@contextlib.contextmanager
def _imported_heap_frozen() -> Iterator[None]:
    """Keep the garbage collector's full passes off what existed before the run, for the run's length."""
    # A program allocates many short-lived cycles (outputs, futures, tasks), so the collector makes
    # full passes during the run, and each one walks every object of the process: the SDKs' modules
    # and types (about 260,000 objects once pulumi_aws is imported) dwarf what the run allocates. Frozen,
    # those are skipped; the run's own garbage is collected as before. A caller that froze the heap
    # itself keeps its freeze.
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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
