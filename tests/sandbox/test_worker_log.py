"""Where the workers' output goes: the run's log file, and each invocation's capture (for the log shipper)."""

from __future__ import annotations

import io
import logging
import sys
import threading
from pathlib import Path

from sandbox.worker_log import captured_output, routed_output, worker_output
from workers.shared.observability import LOGGER


def test_the_workers_logger_writes_through_the_routed_stream_and_is_given_back() -> None:
    # Given the workers' logger, already created, writing where it writes
    handler = LOGGER.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    before = handler.stream
    sink = io.StringIO()

    # When the output is routed into a buffer and an invocation logs inside its capture
    with routed_output(sink, sink), captured_output() as capture:
        LOGGER.info("Batch processed")
        routed_stream = handler.stream

    # Then the line reached the buffer and the capture, and the logger writes where it did before
    assert '"message":"Batch processed"' in sink.getvalue()
    assert [line for _, line in capture.finish() if "Batch processed" in line]
    assert routed_stream is not before
    assert handler.stream is before


def test_only_the_invocations_own_thread_is_captured() -> None:
    # Given routed output and an invocation's capture in this thread
    sink = io.StringIO()
    with routed_output(sink, sink), captured_output() as capture:
        # When this thread and another one print
        print("mine")
        other = threading.Thread(target=print, args=("someone else's",))
        other.start()
        other.join()

    # Then the capture holds this thread's line only; the output holds both
    assert [line for _, line in capture.finish()] == ["mine"]
    assert sink.getvalue() == "mine\nsomeone else's\n"


def test_outside_an_invocation_nothing_is_captured_and_stdout_comes_back(tmp_path: Path) -> None:
    # Given the worker log file of a run
    log = tmp_path / "workers.log"
    stdout = sys.stdout

    # When the sandbox logs and something prints during the run
    with worker_output(log):
        print("printed during the run")
        logging.getLogger("sandbox.test").warning("the sandbox's own line")

    # Then both are in the file, and stdout is the one from before
    text = log.read_text()
    assert "printed during the run" in text
    assert "WARNING sandbox.test the sandbox's own line" in text
    assert sys.stdout is stdout
