"""A background thread that calls a `poll_once` until stopped, backing off while there is nothing to do."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

LOGGER: Final = logging.getLogger("sandbox")
# What botocore raises while nothing listens on the emulator's port, or a connection dies with it.
UNREACHABLE_ERRORS: Final = (BotoConnectionError, HTTPClientError)
IDLE_MIN_SECONDS: Final = 0.005
IDLE_MAX_SECONDS: Final = 0.2
JOIN_SECONDS: Final = 30.0


class PollingThread:
    """Runs `poll_once` (returns how much work it did) on a daemon thread; errors are logged and counted."""

    # Idle rounds double the pause up to `idle_max` (each idle poll is an emulator request that
    # competes with the pipeline's own); a round that did work resets it.

    def __init__(
        self,
        name: str,
        poll_once: Callable[[], int],
        *,
        idle_min: float = IDLE_MIN_SECONDS,
        idle_max: float = IDLE_MAX_SECONDS,
    ) -> None:
        self.name = name
        self._poll_once = poll_once
        self._idle_min = idle_min
        self._idle_max = idle_max
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    def start(self) -> None:
        """Start polling on a daemon thread."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    @property
    def stopping(self) -> bool:
        """Whether the loop was asked to stop (a long round checks it between its steps)."""
        return self._stopping.is_set()

    def stop(self, *, wait: bool = True, timeout: float = JOIN_SECONDS) -> None:
        """Ask the loop to stop; with `wait`, wait for its current round to finish."""
        self._stopping.set()
        thread = self._thread
        if not wait or thread is None:
            return
        self._thread = None
        if thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                LOGGER.warning("%s did not stop within %.0f s", self.name, timeout)

    def _run(self) -> None:
        pause = self._idle_min
        while not self._stopping.is_set():
            try:
                done = self._poll_once()
            except UNREACHABLE_ERRORS as error:
                # The emulator is down (a restart): one line, not a traceback per round; retried.
                self.errors += 1
                LOGGER.warning("%s: emulator unreachable, retrying: %s", self.name, error)
                done = 0
                pause = self._idle_max
            except Exception:
                self.errors += 1
                LOGGER.exception("%s: poll failed", self.name)
                done = 0
                pause = self._idle_max
            if done:
                pause = self._idle_min
                continue
            self._stopping.wait(pause)
            pause = min(pause * 2, self._idle_max)


class PolledInBackground:
    """Start, stop and error count of a component whose rounds run on one `PollingThread` (`_thread`)."""

    _thread: PollingThread

    def start(self) -> None:
        """Run the rounds on a background thread."""
        self._thread.start()

    def stop(self, *, wait: bool = True) -> None:
        """Stop the background thread (after its current round, when waiting)."""
        self._thread.stop(wait=wait)

    @property
    def errors(self) -> int:
        """Failed background rounds (a round that raised; it is logged and the next one runs)."""
        return self._thread.errors
