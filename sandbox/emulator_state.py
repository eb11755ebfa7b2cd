"""The emulator's state across a restart: moto's backends written to a file, and read back by a new process.

moto keeps every service's state in module-level `BackendDict`s (service → account → region →
backend object). `save_state` pickles the contents of every one the server has used in ONE pickle
(so objects two services share, such as a table and its stream, stay one object) and
`restore_state` puts them back into the new process's `BackendDict`s before it serves. The
`BackendDict`s themselves are never copied: wherever a backend refers to one, the pickle names it
(module and attribute) and the new process's own is used.

What moto's objects hold that pickle refuses, each written as something that rebuilds it (checked
on the services the sandbox uses: dynamodb, dynamodbstreams, kinesis, sqs, lambda, events,
secretsmanager, ssm, logs, sns, sts, iam, appsync, ses, cloudwatch, kms):

- locks (`threading.Lock`/`RLock`, SQS queues, Lambda functions): a fresh, unlocked one, since the
  server takes the snapshot with no request in flight (`RequestGate`);
- `weakref.WeakValueDictionary` (Lambda's ARN index): its entries, as a new weak dictionary (the
  functions stay referenced by the backend's own registry, which is pickled too);
- `defaultdict`s whose factory is a lambda (SSM's parameter tree): the factory's empty value as a
  template, copied for each new key;
- private keys of the `cryptography` package (KMS, IAM): PEM bytes, loaded back.

The server's own middlewares (the call counter, the throttle drill) carry their state over in the
same file (`layer_state`: their attributes but the wrapped application and callables).

Anything else pickle refuses (a thread, a socket, an open generator) fails the save with pickle's
reason (the object's type), and the old server goes on serving, rather than a restart that loses
state silently.

`RequestGate` is the server side of a consistent snapshot: requests pass while it is open; `freeze`
stops new ones at the door (they wait, and die with the process), waits until the requests in
flight have written their answers, and then nothing changes the backends any more.
"""

from __future__ import annotations

import copy
import functools
import importlib
import io
import json
import pickle
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType
from typing import Any, Final

from moto.core.base_backend import BackendDict

STATE_FORMAT: Final = 1
STATE_PATH: Final = "/_dmd/state"  # POST {"path": FILE}: freeze, save, stay frozen until the process stops
FREEZE_SECONDS: Final = 10.0  # the longest request in flight: an SQS long poll of the sandbox (1 s)
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_LOCK_TYPES: Final = (type(threading.Lock()), type(threading.RLock()))


class EmulatorStateError(Exception):
    """The emulator's state cannot be saved or restored; the message says which object and why."""


@dataclass(frozen=True)
class StateSummary:
    """What a save wrote or a restore read: the file's size, the services and how long it took."""

    path: str
    size_bytes: int
    services: tuple[str, ...]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        """The summary as a JSON object (camelCase keys)."""
        return {
            "path": self.path,
            "sizeBytes": self.size_bytes,
            "services": list(self.services),
            "seconds": round(self.seconds, 3),
        }


# -------------------------------------------------------------------------------------------------
# Rebuilding what pickle refuses


def _new_lock(reentrant: bool) -> Any:
    return threading.RLock() if reentrant else threading.Lock()


def _weak_values(entries: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(entries)


def _default_dict(
    kind: type[defaultdict[Any, Any]], factory: Callable[[], Any] | None
) -> defaultdict[Any, Any]:
    # Subclasses (SSM's ParameterDict) take other constructor arguments: their attributes follow.
    rebuilt = defaultdict.__new__(kind)
    defaultdict.__init__(rebuilt, factory)
    return rebuilt


def _copies_of(template: Any) -> Callable[[], Any]:
    return functools.partial(copy.deepcopy, template)


def _private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def _is_private_key(value: object) -> bool:
    module = type(value).__module__
    return module.startswith("cryptography.") and hasattr(value, "private_bytes")


def _pem(value: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        value.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _is_local_function(value: object) -> bool:
    return isinstance(value, FunctionType) and "<locals>" in value.__qualname__


class _StatePickler(pickle.Pickler):
    """Pickles moto's backends: names the live `BackendDict`s; rebuilds locks, weak/default dicts, keys."""

    def __init__(self, file: io.BufferedIOBase, names: dict[int, tuple[str, str]]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._names = names

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, BackendDict):
            name = self._names.get(id(obj))
            if name is None:
                raise EmulatorStateError(f"a BackendDict of {obj.service_name} that no moto module holds")
            return name
        return None

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _LOCK_TYPES:
            return _new_lock, (kind is _LOCK_TYPES[1],)
        if kind is weakref.WeakValueDictionary:
            return _weak_values, (dict(obj.items()),)
        if isinstance(obj, defaultdict) and (
            kind is not defaultdict or _is_local_function(obj.default_factory)
        ):
            factory = obj.default_factory
            if factory is not None and _is_local_function(factory):
                factory = _copies_of(factory())
            state = vars(obj) if kind is not defaultdict else None
            return _default_dict, (kind, factory), state, None, iter(dict(obj).items())
        if _is_private_key(obj):
            return _private_key, (_pem(obj),)
        return NotImplemented


class _StateUnpickler(pickle.Unpickler):
    """Reads a saved state, resolving each named `BackendDict` to this process's own."""

    def persistent_load(self, pid: Any) -> Any:
        module_name, attribute = pid
        return getattr(importlib.import_module(module_name), attribute)


# -------------------------------------------------------------------------------------------------
# Saving and restoring


def _used_backend_dicts() -> list[BackendDict[Any]]:
    """moto's registry of the `BackendDict`s in use (those its reset API empties)."""
    registry: list[BackendDict[Any]] = BackendDict._instances  # type: ignore[misc]
    return registry


def used_backends() -> dict[tuple[str, str], BackendDict[Any]]:
    """Every `BackendDict` the process has used, by (module, attribute) of the moto module that holds it."""
    found: dict[tuple[str, str], BackendDict[Any]] = {}
    for backend_dict in list(_used_backend_dicts()):  # moto's registry of the services used
        module_name = backend_dict.backend.__module__
        module = importlib.import_module(module_name)
        attribute = next(
            (name for name, value in vars(module).items() if value is backend_dict),
            None,
        )
        if attribute is None:
            raise EmulatorStateError(
                f"no attribute of {module_name} holds the {backend_dict.service_name} backends"
            )
        found[(module_name, attribute)] = backend_dict
    return found


def dump_state(extra: dict[str, Any] | None = None) -> bytes:
    """Every used backend's accounts and regions (and `extra`) as one pickle."""
    backends = used_backends()
    document = {
        "format": STATE_FORMAT,
        "backends": {name: dict(backend_dict) for name, backend_dict in backends.items()},
        "services": sorted({backend_dict.service_name for backend_dict in backends.values()}),
        "extra": extra or {},
    }
    buffer = io.BytesIO()
    try:
        _StatePickler(buffer, {id(value): name for name, value in backends.items()}).dump(document)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise EmulatorStateError(f"the emulator's state cannot be saved: {error}") from error
    return buffer.getvalue()


def load_state(payload: bytes) -> dict[str, Any]:
    """Put a `dump_state` pickle's backends into this process's `BackendDict`s; its `extra`."""
    document = _StateUnpickler(io.BytesIO(payload)).load()
    if not isinstance(document, dict) or document.get("format") != STATE_FORMAT:
        raise EmulatorStateError("not an emulator state file of this version")
    for (module_name, attribute), accounts in document["backends"].items():
        live = getattr(importlib.import_module(module_name), attribute)
        live.clear()
        for account_id, account_backends in accounts.items():
            dict.__setitem__(live, account_id, account_backends)
        if live not in _used_backend_dicts():  # so moto's reset API empties it too
            _used_backend_dicts().append(live)
    extra = document.get("extra")
    return extra if isinstance(extra, dict) else {}


def save_state(path: Path, extra: dict[str, Any] | None = None) -> StateSummary:
    """Write the state to `path` (atomically: a new name, then renamed)."""
    started = time.monotonic()
    payload = dump_state(extra)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_bytes(payload)
    partial.replace(path)
    return StateSummary(
        str(path), len(payload), tuple(sorted(services_of(used_backends()))), time.monotonic() - started
    )


def restore_state(path: Path) -> tuple[StateSummary, dict[str, Any]]:
    """Read the state saved at `path` into this process's backends; its summary and `extra`."""
    started = time.monotonic()
    payload = path.read_bytes()
    extra = load_state(payload)
    summary = StateSummary(
        str(path), len(payload), tuple(sorted(services_of(used_backends()))), time.monotonic() - started
    )
    return summary, extra


def layer_state(layer: object) -> dict[str, Any]:
    """A middleware's state to carry over a restart: its attributes but the wrapped app and callables."""
    return {name: value for name, value in vars(layer).items() if name != "app" and not callable(value)}


def adopt_layer_state(layer: object, state: dict[str, Any] | None) -> None:
    """Give a new middleware the `layer_state` of its predecessor (nothing when there was none)."""
    if state:
        vars(layer).update(state)


def services_of(backends: dict[tuple[str, str], BackendDict[Any]]) -> Iterable[str]:
    """The service names of these backends."""
    return (backend_dict.service_name for backend_dict in backends.values())


# -------------------------------------------------------------------------------------------------
# The server's door


class RequestGate:
    """Requests pass while open; `freeze` closes the door and waits until the ones inside have answered."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._inside = 0
        self._frozen = False

    @property
    def frozen(self) -> bool:
        """Whether the door is closed for good (the process is about to stop)."""
        return self._frozen

    def enter(self) -> None:
        """Wait at the door while frozen (for ever: the process stops), else go in."""
        with self._condition:
            while self._frozen:
                self._condition.wait()
            self._inside += 1

    def leave(self) -> None:
        """One request has written its answer."""
        with self._condition:
            self._inside -= 1
            self._condition.notify_all()

    def thaw(self) -> None:
        """Open the door again (a save that failed: the process goes on serving)."""
        with self._condition:
            self._frozen = False
            self._condition.notify_all()

    def freeze(self, timeout: float) -> bool:
        """Close the door; whether every request inside answered within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._condition:
            self._frozen = True
            while self._inside:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._condition.wait(left)
        return True

    def passing(self, answer: Iterable[bytes]) -> Iterator[bytes]:
        """The answer's chunks, leaving the gate once the server has written (and closed) them."""
        return _LeavingAnswer(answer, self.leave)


class _LeavingAnswer:
    """A WSGI answer iterable that calls `leave` once, when the server closes it."""

    def __init__(self, answer: Iterable[bytes], leave: Callable[[], None]) -> None:
        self._answer = answer
        self._iterator = iter(answer)
        self._leave: Callable[[], None] | None = leave

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._iterator)

    def close(self) -> None:
        try:
            close = getattr(self._answer, "close", None)
            if close is not None:
                close()
        finally:
            leave, self._leave = self._leave, None
            if leave is not None:
                leave()


class StateControl:
    """WSGI middleware in front of the emulator: every request passes `gate`; `POST /_dmd/state` saves.

    The save freezes the gate first (no request in flight, none let in), writes the backends and
    `extra()` (the call counter's counts) to the file the request names, and answers its summary;
    the gate stays closed, since the process is about to be stopped and restarted from the file. A
    save that fails opens the gate again and answers 500 with the reason.
    """

    def __init__(self, app: WsgiApp, *, extra: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.gate = RequestGate()
        self._extra = extra

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # moto's application attributes (`debug`, …)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == STATE_PATH and environ.get("REQUEST_METHOD") == "POST":
            return self._save(environ, start_response)
        self.gate.enter()
        try:
            answer = self.app(environ, start_response)
        except BaseException:
            self.gate.leave()
            raise
        return self.gate.passing(answer)

    def _save(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}") if length > 0 else {}
        status, document = "200 OK", {}
        if not self.gate.freeze(FREEZE_SECONDS):
            self.gate.thaw()
            status, document = (
                "500 Internal Server Error",
                {"error": f"requests still in flight after {FREEZE_SECONDS:g} s"},
            )
        else:
            try:
                document = save_state(Path(str(request["path"])), self._extra()).as_json()
            except (EmulatorStateError, OSError, KeyError) as error:
                self.gate.thaw()
                status, document = "500 Internal Server Error", {"error": str(error)}
        payload = json.dumps(document).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]
