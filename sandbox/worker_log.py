"""Where the workers' output goes while a sandbox runs: a file instead of the screen, and each invocation's.

In Lambda, whatever a function writes to stdout and stderr lands in its log group. Here every
function shares the process's streams, so `routed_output` puts streams in front of them that also
copy what an invocation's thread writes into that invocation's `OutputCapture` (`captured_output`,
which `sandbox.log_shipper.InvocationLog` holds around each invocation). Lines written by threads
a handler starts itself are not attributed to it (they still reach the file).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

_CAPTURE: contextvars.ContextVar[OutputCapture | None] = contextvars.ContextVar(
    "dmd_sandbox_invocation_output", default=None
)


class OutputCapture:
    """The complete lines one invocation wrote, each with the time (epoch ms) it was written."""

    def __init__(self) -> None:
        self._lines: list[tuple[int, str]] = []
        self._partial = ""

    def write(self, text: str) -> None:
        """Take written text: whole lines are kept with their time, a trailing fragment waits for more."""
        if "\n" not in text:
            self._partial += text
            return
        pieces = (self._partial + text).split("\n")
        self._partial = pieces.pop()
        stamp = int(time.time() * 1000)
        self._lines.extend((stamp, piece) for piece in pieces if piece.strip())

    def finish(self) -> list[tuple[int, str]]:
        """Every line written, the unterminated last one included."""
        if self._partial.strip():
            self._lines.append((int(time.time() * 1000), self._partial))
        self._partial = ""
        return self._lines


@contextlib.contextmanager
def captured_output() -> Iterator[OutputCapture]:
    """Capture what this thread writes through routed streams inside the block."""
    capture = OutputCapture()
    token = _CAPTURE.set(capture)
    try:
        yield capture
    finally:
        _CAPTURE.reset(token)


class RoutedStream:
    """A text stream that writes through to `downstream` and copies into the current thread's capture."""

    def __init__(self, downstream: TextIO) -> None:
        self.downstream = downstream

    def write(self, text: str) -> int:
        """Write to the downstream stream (and to the invocation's capture, inside one)."""
        capture = _CAPTURE.get()
        if capture is not None:
            capture.write(text)
        return self.downstream.write(text)

    def flush(self) -> None:
        """Flush the downstream stream."""
        self.downstream.flush()

    def __getattr__(self, name: str) -> Any:
        # encoding, isatty, fileno, …: the downstream stream's.
        return getattr(self.downstream, name)


def _worker_log_handler() -> logging.StreamHandler[Any] | None:
    """The workers' logger's stream handler, if their observability module is loaded."""
    observability = sys.modules.get("workers.shared.observability")
    handler = getattr(getattr(observability, "LOGGER", None), "registered_handler", None)
    return handler if isinstance(handler, logging.StreamHandler) else None


@contextlib.contextmanager
def routed_output(stdout: TextIO | None = None, stderr: TextIO | None = None) -> Iterator[None]:
    """Route stdout and stderr (to these streams, default the current ones) through `RoutedStream`s."""
    # The workers' logger writes to the sys.stdout of the moment it is created (first import of their
    # observability module, normally inside the first invocation, so inside the block); if it already
    # exists, its handler is pointed at the routed stream for the block.
    routed_out = RoutedStream(stdout if stdout is not None else sys.stdout)
    routed_err = RoutedStream(stderr if stderr is not None else sys.stderr)
    handler = _worker_log_handler()
    previous = handler.setStream(routed_out) if handler is not None else None
    try:
        with contextlib.redirect_stdout(routed_out), contextlib.redirect_stderr(routed_err):
            yield
    finally:
        current = _worker_log_handler()
        if current is not None and current.stream is routed_out:
            # Back to where it wrote before, or (created inside the block) to the restored stdout.
            current.setStream(previous if previous is not None else sys.stdout)


@contextlib.contextmanager
def worker_output(path: Path) -> Iterator[TextIO]:
    """Send the workers' JSON logs, metrics and the sandbox's own logs to a file for the run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sandbox_logger = logging.getLogger("sandbox")
    with path.open("w", encoding="utf-8") as log:
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        sandbox_logger.addHandler(handler)
        propagate, sandbox_logger.propagate = sandbox_logger.propagate, False
        try:
            with routed_output(log, log):
                yield log
        finally:
            sandbox_logger.removeHandler(handler)
            sandbox_logger.propagate = propagate
