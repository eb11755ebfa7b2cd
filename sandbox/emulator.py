"""The embedded AWS emulator: moto's server in its own process on a loopback port, real HTTP."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from aws_clients import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY

HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 4566  # what Pulumi.local.yaml's provider endpoints point at
DEFAULT_REGION: Final = "us-east-1"
SERVER_MODULE: Final = "sandbox.emulator_server"  # moto's server without its per-request overheads
CALLS_PATH: Final = "/_dmd/calls"  # the server's call counter (`sandbox.emulator_server.CALLS_PATH`)
STATE_PATH: Final = "/_dmd/state"  # the state save of a restart (`sandbox.emulator_state.STATE_PATH`)
RESTORE_OPTION: Final = "--restore"  # the server's option to start from a saved state
THROTTLE_PATH: Final = "/_dmd/throttle"  # the throttle drill (`sandbox.emulator_throttle.THROTTLE_PATH`)
_STARTUP_SECONDS: Final = 30.0
_STOP_SECONDS: Final = 5.0
_POLL_SECONDS: Final = 0.02
_LISTENING: Final = re.compile(r"Running on http://[\d.]+:(\d+)")
_PR_SET_PDEATHSIG: Final = 1


@dataclass(frozen=True)
class CountedCalls:
    """AWS requests the emulator counted: (service, operation, caller's `app/` id) → how many; kept bodies."""

    counts: dict[tuple[str, str, str], int]
    kept: list[tuple[str, str]]  # (operation, request body), in arrival order

    def bodies(self, operation: str) -> list[str]:
        """The kept request bodies of one operation."""
        return [body for name, body in self.kept if name == operation]


@dataclass(frozen=True)
class ThrottledWrites:
    """The throttle drill's state: its rate and the workers' DynamoDB writes refused so far."""

    rate: float
    throttled: int
    by_operation: dict[str, int]
    by_table: dict[str, int]

    @classmethod
    def of(cls, answer: Mapping[str, Any]) -> ThrottledWrites:
        """Read the answer of `GET /_dmd/throttle`."""
        return cls(
            rate=float(answer.get("rate", 0.0)),
            throttled=int(answer.get("throttled", 0)),
            by_operation={str(key): int(value) for key, value in (answer.get("byOperation") or {}).items()},
            by_table={str(key): int(value) for key, value in (answer.get("byTable") or {}).items()},
        )


@dataclass(frozen=True)
class EmulatorRestart:
    """One restart: the server's pid before and after, what was saved, how long it took and was down."""

    old_pid: int
    new_pid: int
    saved: dict[str, Any]  # the save's summary (`sandbox.emulator_state.StateSummary.as_json`)
    saving_seconds: float  # from closing the door to the state written
    down_seconds: float  # from closing the door to the new server answering

    def as_json(self) -> dict[str, Any]:
        """The restart as a JSON object (camelCase keys)."""
        return {
            "oldPid": self.old_pid,
            "newPid": self.new_pid,
            "stateBytes": self.saved.get("sizeBytes"),
            "services": self.saved.get("services", []),
            "savingSeconds": round(self.saving_seconds, 3),
            "downSeconds": round(self.down_seconds, 3),
        }


class EmulatorError(Exception):
    """The emulator could not start, answer or reset."""


class Emulator:
    """moto's server as a child process (own core, own GIL) and the environment boto3 needs to reach it."""

    # A separate process because in-process the server shares the GIL with its clients (~460
    # PutItem/s). `port=0` lets the server pick a free port (read back from its startup line). While
    # running, `AWS_ENDPOINT_URL`, fake credentials, the region and account-id endpoints disabled are
    # set in this process's environment (restored on stop), so any boto3 client built afterwards talks
    # to the emulator. Stopping terminates its process group; a Linux parent-death signal and an
    # `atexit` hook cover the paths that skip `stop`.

    def __init__(
        self, *, port: int = DEFAULT_PORT, region: str = DEFAULT_REGION, configure_environment: bool = True
    ) -> None:
        self._requested_port = port
        self.region = region
        self._configure_environment = configure_environment
        self._process: subprocess.Popen[bytes] | None = None
        self._log_dir: tempfile.TemporaryDirectory[str] | None = None
        self._port: int | None = None
        self._saved_environment: dict[str, str | None] = {}
        self._restarts = 0

    # ---------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._port is None:
            raise EmulatorError("the emulator is not running")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """`http://127.0.0.1:PORT`, the endpoint for every service."""
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._process is None:
            raise EmulatorError("the emulator is not running")
        return self._process.pid

    def environment(self) -> dict[str, str]:
        """The variables that point boto3 at this emulator with fake credentials."""
        return emulator_environment(self.endpoint_url, self.region)

    # ---------------------------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Start the server, wait until it answers, set the environment; EmulatorError says why not."""
        if self._process is not None:
            raise EmulatorError("the emulator is already running")
        if self._requested_port:
            _refuse_taken_port(self._requested_port)
        self._log_dir = tempfile.TemporaryDirectory(prefix="dmd-emulator-")
        log_path = Path(self._log_dir.name) / "moto-server.log"
        self._launch(log_path, self._requested_port)
        atexit.register(self.stop)
        try:
            self._port = self._wait_for_port(log_path)
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise
        if self._configure_environment:
            self._apply_environment()
        return self

    def _launch(self, log_path: Path, port: int, *arguments: str) -> None:
        with log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                [sys.executable, "-m", SERVER_MODULE, "-H", HOST, "-p", str(port), *arguments],
                env=dict(os.environ),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a terminal's Ctrl-C reaches us, and we stop it after the pollers.
                start_new_session=True,
                preexec_fn=_die_with_parent_preexec(),  # noqa: PLW1509 - only calls prctl, see below
            )

    def restart(self, *, down_seconds: float = 0.0) -> EmulatorRestart:
        """Stop the server with its state saved, stay down `down_seconds`, start a new one from the state.

        The old server first closes its door (requests arriving from then on wait, and fail with
        the process: clients see a reset, then connection refused until the new server listens)
        and waits for the requests in flight to answer, so the saved state has every answered
        write and none half done (`sandbox.emulator_state`). The new process listens on the same
        port. Call it from a thread that lives as long as the sandbox: the new server's parent-death
        signal follows the thread that starts it. EmulatorError when the state cannot be saved (the
        old server then goes on serving) or the new server does not come up.
        """
        if self._process is None or self._log_dir is None or self._port is None:
            raise EmulatorError("the emulator is not running")
        old_pid, port = self._process.pid, self._port
        state_path = Path(self._log_dir.name) / "state.pickle"
        down_since = time.monotonic()
        try:
            saved = self._request("POST", STATE_PATH, {"path": str(state_path)})
        except urllib.error.HTTPError as error:
            reason = error.read().decode(errors="replace")
            raise EmulatorError(f"the emulator's state could not be saved: {reason}") from None
        except OSError as error:
            raise EmulatorError(f"the emulator's state could not be saved: {error}") from None
        stopped_at = time.monotonic()
        self._terminate()
        time.sleep(max(0.0, down_seconds))
        self._restarts += 1
        log_path = Path(self._log_dir.name) / f"moto-server-{self._restarts}.log"
        self._launch(log_path, port, RESTORE_OPTION, str(state_path))
        try:
            if self._wait_for_port(log_path) != port:
                raise EmulatorError(f"the restarted emulator did not listen on port {port}")
            self._wait_until_counting()
        except BaseException:
            self.stop()
            raise
        answering_at = time.monotonic()
        return EmulatorRestart(
            old_pid=old_pid,
            new_pid=self.pid,
            saved=saved,
            saving_seconds=stopped_at - down_since,
            down_seconds=answering_at - down_since,
        )

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=_STOP_SECONDS)
        else:
            process.wait()

    def _wait_until_counting(self) -> None:
        deadline = time.monotonic() + _STARTUP_SECONDS
        while True:
            try:
                self._request("GET", CALLS_PATH)
                return
            except OSError as error:
                if time.monotonic() > deadline:
                    raise EmulatorError(
                        f"the restarted emulator on {self.endpoint_url} does not answer: {error}"
                    ) from None
                time.sleep(_POLL_SECONDS)

    def start_counting(self, *, keep: Iterable[str] = ()) -> None:
        """Count the AWS requests received from now on (from zero), keeping `keep` operations' bodies."""
        self._request("POST", CALLS_PATH, {"keep": sorted(set(keep))})

    def counted_calls(self) -> CountedCalls:
        """The requests counted since `start_counting`."""
        answer = self._request("GET", CALLS_PATH)
        return CountedCalls(
            counts={
                (str(entry["service"]), str(entry["operation"]), str(entry["app"])): int(entry["count"])
                for entry in answer.get("counts", [])
            },
            kept=[(str(entry["operation"]), str(entry["body"])) for entry in answer.get("kept", [])],
        )

    def throttle_writes(self, rate: float, *, seed: int = 0) -> ThrottledWrites:
        """Refuse `rate` of the workers' DynamoDB writes from now on (0: none), counting from zero."""
        return ThrottledWrites.of(self._request("POST", THROTTLE_PATH, {"rate": rate, "seed": seed}))

    def throttled_writes(self) -> ThrottledWrites:
        """The throttle drill's rate and the writes it refused since it was set."""
        return ThrottledWrites.of(self._request("GET", THROTTLE_PATH))

    def reset(self) -> None:
        """Empty every service's state (moto's reset API)."""
        try:
            self._post("/moto-api/reset")
        except OSError as error:
            raise EmulatorError(f"reset failed at {self.endpoint_url}: {error}") from error

    def stop(self) -> None:
        """Stop the server process (terminate, then kill) and restore the environment; idempotent."""
        atexit.unregister(self.stop)
        self._restore_environment()
        self._terminate()
        if self._log_dir is not None:
            self._log_dir.cleanup()
            self._log_dir = None
        self._port = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------------------------------------

    def _wait_for_port(self, log_path: Path) -> int:
        deadline = time.monotonic() + _STARTUP_SECONDS
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            found = _LISTENING.search(text)
            if found:
                return int(found.group(1))
            if self._process is not None and self._process.poll() is not None:
                raise EmulatorError(_startup_failure(self._requested_port, text))
            time.sleep(_POLL_SECONDS)
        raise EmulatorError(f"moto server did not start within {_STARTUP_SECONDS:.0f} s")

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + _STARTUP_SECONDS
        while True:
            try:
                self._post("/moto-api/reset")
                return
            except OSError as error:
                if time.monotonic() > deadline:
                    raise EmulatorError(
                        f"moto server on {self.endpoint_url} does not answer: {error}"
                    ) from None
                time.sleep(_POLL_SECONDS)

    def _post(self, path: str) -> None:
        self._request("POST", path)

    def _request(self, method: str, path: str, document: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(document).encode() if document is not None else None
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.endpoint_url}{path}", data=data, method=method
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
            body = answer.read()
        decoded = json.loads(body) if body.strip().startswith(b"{") else {}
        return decoded if isinstance(decoded, dict) else {}

    def _apply_environment(self) -> None:
        for key, value in self.environment().items():
            self._saved_environment.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _restore_environment(self) -> None:
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environment = {}


def emulator_environment(endpoint_url: str, region: str) -> dict[str, str]:
    """The variables that point boto3 at an emulator's endpoint with fake credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_KEY,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }


def answers(endpoint_url: str, timeout: float = 1.0) -> bool:
    """Whether an emulator (moto server) answers at `endpoint_url`."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=timeout) as answer:  # noqa: S310
            return bool(answer.status < 500)
    except OSError:
        return False


def _refuse_taken_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server binds: a port left in TIME_WAIT by a previous run is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise EmulatorError(_port_taken(port)) from None
            raise EmulatorError(f"cannot listen on {HOST}:{port}: {error}") from None


def _port_taken(port: int) -> str:
    return (
        f"port {port} on {HOST} is already in use (another sandbox or emulator?): stop that process, "
        "or choose another port (0 picks a free one)"
    )


def _startup_failure(port: int, log: str) -> str:
    if "address already in use" in log.lower():
        return _port_taken(port)
    tail = "\n".join(log.strip().splitlines()[-10:])
    return f"moto server exited during startup:\n{tail}"


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def _die_with_parent_preexec() -> Callable[[], None] | None:
    """A preexec hook asking Linux to SIGTERM the child when its parent dies (even by SIGKILL)."""
    # Resolved before the fork, so the child makes one libc call only. The signal follows the thread
    # that started the server: start the emulator from a thread that lives as long as the sandbox.
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return preexec
