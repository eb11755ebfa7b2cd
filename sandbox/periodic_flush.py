"""A background thread that flushes a buffer every few seconds, and once more when it stops."""

from __future__ import annotations

import threading
from collections.abc import Callable


class PeriodicFlush:
    """Calls `flush` every `seconds` on a daemon thread named `name`; `stop` joins it, then flushes."""

    def __init__(self, flush: Callable[[], object], *, seconds: float, name: str) -> None:
        self._flush = flush
        self._seconds = seconds
        self._name = name
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread, then flush what is left (idempotent)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._flush()

    def _run(self) -> None:
        while not self._stopping.wait(self._seconds):
            self._flush()
