"""Where the workers' output goes while a sandbox runs in the foreground: a log file instead of the screen."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def worker_output(path: Path) -> Iterator[TextIO]:
    """Send the workers' JSON logs, metrics and the sandbox's own logs to a file for the run."""
    # The workers' logger writes to the sys.stdout of the moment it is created (first import of
    # their observability module, normally inside the first invocation, so inside the redirect);
    # if it already exists, its handler is pointed at the file for the run.
    path.parent.mkdir(parents=True, exist_ok=True)
    sandbox_logger = logging.getLogger("sandbox")
    observability = sys.modules.get("workers.shared.observability")
    worker_handler = getattr(getattr(observability, "LOGGER", None), "registered_handler", None)
    with path.open("w", encoding="utf-8") as log:
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        sandbox_logger.addHandler(handler)
        propagate, sandbox_logger.propagate = sandbox_logger.propagate, False
        previous = (
            worker_handler.setStream(log) if isinstance(worker_handler, logging.StreamHandler) else None
        )
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield log
        finally:
            if previous is not None and isinstance(worker_handler, logging.StreamHandler):
                worker_handler.setStream(previous)
            sandbox_logger.removeHandler(handler)
            sandbox_logger.propagate = propagate
