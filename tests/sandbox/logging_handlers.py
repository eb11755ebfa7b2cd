"""Test-double handlers that write output the way workers do (referenced by dotted path)."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

PATH = "tests.sandbox.logging_handlers"


def print_lines(event: Any, context: Any) -> dict[str, int]:
    """Prints each of `event["lines"]` to stdout (a JSON line per dict), then one partial line to stderr."""
    for line in event.get("lines", []):
        print(json.dumps(line) if isinstance(line, dict) else line)
    if event.get("stderr"):
        sys.stderr.write(str(event["stderr"]))  # no newline: the capture keeps the fragment too
    return {"printed": len(event.get("lines", []))}


def print_then_raise(event: Any, context: Any) -> None:
    """Prints a line, then fails (a function error)."""
    print("about to fail")
    raise RuntimeError("boom")


def print_from_a_thread(event: Any, context: Any) -> None:
    """Prints one line itself and one from a thread it starts (which is not attributed to it)."""
    print("from the handler")
    helper = threading.Thread(target=print, args=("from a helper thread",))
    helper.start()
    helper.join()


def overrun(event: Any, context: Any) -> None:
    """Runs 50 ms past the context's remaining time."""
    time.sleep(context.get_remaining_time_in_millis() / 1000 + 0.05)
