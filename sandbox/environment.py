"""Per-function environment variables in one process: one function's environment applied at a time.

`os.environ` belongs to the process, so the gate that guards it does too: every sandbox in a process
uses `PROCESS_GATE` (two gates would each restore what the other applied, and leave it behind). Each
time it applies another function's environment, it re-binds the workers' logger and metrics to that
worker: they bind once at import, as in Lambda where a process hosts a single function.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Final


class EnvironmentGate:
    """Applies a function's environment to `os.environ` while its invocations run, and restores it after."""

    # `os.environ` is process-wide, so two functions with different variables cannot run at the same
    # time: invocations of the function whose environment is applied run concurrently (up to their
    # mapping's concurrency); another function waits until they finish. Turns are fair: once another
    # function waits, the current one admits no new invocations, and the waiter goes next. A turn
    # admits every invocation of its function waiting when it begins (a stream's lanes queued behind
    # another function run side by side, as Lambda runs them), none that arrive after another waits.

    def __init__(self, *, on_switch: Callable[[], None] | None = None) -> None:
        # `on_switch` runs once another function's environment is applied, before its invocations enter.
        self._on_switch = on_switch
        self._condition = threading.Condition()
        self._owner: str | None = None
        self._active = 0
        self._waiting: deque[str] = deque()
        self._next: str | None = None
        self._saved: dict[str, str | None] = {}
        self._admitted = 0  # the turn's own waiters, from when it began, not yet in

    @contextmanager
    def applied(self, owner: str, environment: Mapping[str, str]) -> Iterator[None]:
        """Run the block with `environment` applied on behalf of `owner`."""
        with self._condition:
            self._waiting.append(owner)
            try:
                while not self._may_enter(owner):
                    self._condition.wait()
            except BaseException:
                # Interrupted while waiting (Ctrl-C in `sandbox.invoke`): give the turn up, or the
                # functions queued behind this one would wait for it forever.
                self._waiting.remove(owner)
                if self._owner is None and self._next == owner:
                    self._next = next(iter(self._waiting), None)
                self._condition.notify_all()
                raise
            self._waiting.remove(owner)
            switched = self._owner is None
            if switched:
                self._apply(environment)
                self._owner = owner
                self._next = None
                self._admitted = sum(1 for name in self._waiting if name == owner)
                if self._admitted:
                    self._condition.notify_all()
            elif self._admitted:
                self._admitted -= 1
            self._active += 1
            try:
                if switched and self._on_switch is not None:
                    self._on_switch()
            except BaseException:
                self._leave()
                raise
        try:
            yield
        finally:
            with self._condition:
                self._leave()

    def _leave(self) -> None:
        # Called with the condition held: the last invocation out restores and passes the turn on.
        self._active -= 1
        if self._active == 0:
            self._restore()
            self._admitted = 0
            released, self._owner = self._owner, None
            self._next = next((name for name in self._waiting if name != released), None)
            self._condition.notify_all()

    def _may_enter(self, owner: str) -> bool:
        if self._owner is None:
            return self._next in (None, owner)
        if self._owner != owner:
            return False
        return self._admitted > 0 or all(name == owner for name in self._waiting)

    def _apply(self, environment: Mapping[str, str]) -> None:
        self._saved = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)

    def _restore(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved = {}


def bind_worker_identity() -> None:
    """Point the workers' logger and metrics at the worker whose environment was just applied."""
    # Imported on the first switch, not with the sandbox: the CLI's commands that run no worker
    # never load Powertools.
    from workers.shared.observability import bind_identity_from_environment

    bind_identity_from_environment()


PROCESS_GATE: Final = EnvironmentGate(on_switch=bind_worker_identity)
