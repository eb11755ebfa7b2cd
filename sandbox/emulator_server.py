"""The emulator's process: moto's server (`python -m moto.server`) without its per-request overheads.

`python -m sandbox.emulator_server -H HOST -p PORT` runs `moto.server.main` after:

- listing moto's service packages once: its domain dispatcher lists the package directory (and
  `isdir`s each of its ~170 entries) on every request to match the host against them, about 8 % of
  the server's time under the pipeline's load; the list cannot change while the server runs;
- not logging a line per request (werkzeug's access log, ~2 %, which nobody reads here); startup
  and errors still go to the log (the emulator reads its port from the startup line);
- making a Kinesis shard's PutRecord and GetRecords independent of how many records the shard
  holds: moto 5.2 copies the shard's key list to find its last sequence number on every put, and
  walks the shard from its first record on every read, so a run that writes a few hundred thousand
  changes slows down quadratically. Sequence numbers in a moto shard are consecutive integers, so
  the next records after N are N+1, N+2, …; where they are not (a gap), moto's own walk runs;
- writing the answers of DynamoDB's item operations and of DynamoDB Streams GetRecords as JSON
  directly: moto's generic, model-driven serializer walks every attribute of every item and image
  (about 1 ms per change record, a third of the server's time under the pipeline's load), while
  moto already holds them in the wire format; the documents are the same (absent members are
  left out, as the serializer does);
- registering Lambda event-source mappings as API objects only: moto attaches a created mapping
  to its Kinesis stream, SQS queue or DynamoDB table and, from then on, invokes the function
  through Docker on every PutRecord (failing without Docker) and receives the queue's messages
  itself. Detached, a mapping is created, read, listed, updated (enabled or disabled) and deleted
  as in AWS, and the sandbox's own pollers consume the sources, reading the mapping's state to
  pause while it is disabled (`dmd maintenance start`).

It also puts `CallCounter` in front of moto's application: `POST /_dmd/calls` starts counting the
AWS requests the server receives by service, operation and caller (the `app/…` id of the user
agent), keeping the bodies of the operations asked for; `GET /_dmd/calls` returns them as JSON.
Counting is O(1) per request (moto's own request recorder appends each request, body and headers,
to a file: about 8 % of the server's time, and gigabytes for a 50,000-fan run).

Behind the counter, `sandbox.emulator_throttle.WriteThrottle` refuses a seeded share of the workers'
DynamoDB writes with `ProvisionedThroughputExceededException` while `POST /_dmd/throttle` set a rate
(the `ddb-throttle` drill).

In front of everything, `sandbox.emulator_state.StateControl` lets every request through a gate
that `POST /_dmd/state` closes to save moto's backends (and the counts) to a file; `--restore FILE`
starts a new server from such a file (the `emulator-restart` drill, `Emulator.restart`).

Behaviour is otherwise moto's own: same application, request handler and backends.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from moto import backends, server
from moto.core.responses import ActionResult
from moto.core.serialize import TimestampSerializer
from moto.dynamodb.models.table import Table as DynamoDbTable
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.kinesis import models as kinesis_models
from moto.moto_server import werkzeug_app
from moto.sqs.models import Queue as SqsQueue

from sandbox import emulator_index
from sandbox.emulator_state import StateControl, adopt_layer_state, layer_state, restore_state
from sandbox.emulator_throttle import WriteThrottle

_MOTO_SHARD_GET_RECORDS = kinesis_models.Shard.get_records
CONTROL_PREFIX: Final = "/_dmd/"
CALLS_PATH: Final = "/_dmd/calls"
# moto's event sources that hold the mappings it invokes from (`lambda_event_source_mappings`).
MAPPING_SOURCES: Final = (kinesis_models.Stream, SqsQueue, DynamoDbTable)
MAPPING_HOOK: Final = "lambda_event_source_mappings"
_counting_installed = False
RESTORE_OPTION: Final = "--restore"
_restored_layers: dict[str, Any] = {}  # the middlewares' state read by `--restore`, for the new ones

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class CallCounter:
    """WSGI middleware in front of moto: counts AWS requests while on, keeps the bodies asked for."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._counting = False
        self._keep: frozenset[str] = frozenset()
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._kept: list[dict[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # moto's application attributes (`debug`, …)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == CALLS_PATH:
            return self._control(environ, start_response)
        # The sandbox's other control paths (`/_dmd/…`, e.g. the throttle drill's) are no AWS calls.
        if self._counting and not str(environ.get("PATH_INFO", "")).startswith(CONTROL_PREFIX):
            self._count(environ)
        return self.app(environ, start_response)

    def _count(self, environ: dict[str, Any]) -> None:
        service, operation, body = classify(environ)
        agent = str(environ.get("HTTP_USER_AGENT", ""))
        app = next((token[4:] for token in agent.split() if token.startswith("app/")), "")
        with self._lock:
            self._counts[(service, operation, app)] += 1
            if operation in self._keep:
                self._kept.append(
                    {"operation": operation, "body": body if body is not None else _body(environ)}
                )

    def _control(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            request = json.loads(_body(environ) or "{}")
            with self._lock:
                self._counts.clear()
                self._kept = []
                self._keep = frozenset(request.get("keep", []))
                self._counting = True
            answer: dict[str, Any] = {"counting": True}
        else:
            with self._lock:
                answer = {
                    "counts": [
                        {"service": service, "operation": operation, "app": app, "count": count}
                        for (service, operation, app), count in sorted(self._counts.items())
                    ],
                    "kept": list(self._kept),
                }
        payload = json.dumps(answer).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        )
        return [payload]


def classify(environ: dict[str, Any]) -> tuple[str, str, str | None]:
    """(service from the SigV4 scope, operation, the body when it had to be read) of a request."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    scope = authorization.partition("Credential=")[2].split(",", 1)[0].split("/")
    service = scope[3] if len(scope) > 3 else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, str(target).rsplit(".", 1)[-1], None
    body = _body(environ)
    action = (
        parse_qs(body).get("Action") if "x-www-form-urlencoded" in str(environ.get("CONTENT_TYPE")) else None
    )
    if action:
        return service, action[0], body
    return service, f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '')}", body


def _body(environ: dict[str, Any]) -> str:
    """The request body as text, left readable for moto."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return ""
    raw = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(raw)
    return bytes(raw).decode(errors="replace")


def _quiet_log_request(self: Any, code: int | str = "-", size: int | str = "-") -> None:
    """No access log line per request."""


def _first_sequence_number(self: kinesis_models.Shard) -> int:
    return next(iter(self.records), 0)


def _last_sequence_number(self: kinesis_models.Shard) -> int:
    return next(reversed(self.records), 0)


def _get_records(
    self: kinesis_models.Shard, last_sequence_id: str, limit: int | None
) -> tuple[list[kinesis_models.Record], int, int]:
    """moto's `Shard.get_records`, reading from the position instead of from the shard's start."""
    records = self.records
    last = int(last_sequence_id)
    if not records:
        return [], last, 0
    first, newest = next(iter(records)), next(reversed(records))
    position = max(last + 1, first)
    results: list[kinesis_models.Record] = []
    while position <= newest and (limit is None or len(results) < limit):
        record = records.get(position)
        if record is None:  # not consecutive here: moto's own walk
            return _MOTO_SHARD_GET_RECORDS(self, last_sequence_id, limit)
        results.append(record)
        position += 1
    if not results:
        return [], last, 0
    behind = records[newest].created_at - results[-1].created_at
    return results, position - 1, int(behind * 1000)


def _stream_records(self: DynamoDBStreamsHandler) -> str:
    """moto's DynamoDB Streams GetRecords, its result written as JSON directly."""
    limit = self._get_param("Limit")
    result = self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit)
    return json.dumps(_without_none(result), default=_json_value, separators=(",", ":"))


DYNAMODB_ITEM_OPERATIONS: Final = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
)


_ITEM_OPERATIONS: Final = threading.Lock()


def _as_json(operation: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A moto handler method whose ActionResult is written as JSON directly."""

    @functools.wraps(operation)
    def operation_as_json(self: Any) -> Any:
        # moto applies an update's actions one by one to the live item: without the lock, a read in
        # another server thread can see half of one write (a status set, its error not yet
        # appended), which DynamoDB never shows. One item operation at a time, as DynamoDB's
        # per-item atomicity promises (the GIL serializes them anyway).
        with _ITEM_OPERATIONS:
            answer = operation(self)
        if not isinstance(answer, ActionResult):
            return answer
        return json.dumps(_without_none(answer.result), default=_json_value, separators=(",", ":"))

    operation_as_json.__wrapped_as_json__ = True  # type: ignore[attr-defined]
    return operation_as_json


def _without_none(value: Any) -> Any:
    """Members whose value is None are absent from the wire document."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


def _json_value(value: Any) -> int | float | str:
    """Timestamps and blobs as the JSON protocol writes them (moto's own conversions); else an error."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return TimestampSerializer._timestamp_unixtimestamp(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class _DetachedMappings:
    """Stands in for a source's `lambda_event_source_mappings`: always empty, attaching is a no-op."""

    # A data descriptor on the class wins over the attribute moto's constructors assign, so every
    # source (existing or new) reads an empty dict: no invocation on PutRecord/SendMessage, and
    # CreateEventSourceMapping's attachment lands in a throwaway dict.

    def __get__(self, instance: object, owner: type | None = None) -> dict[str, Any]:
        return {}

    def __set__(self, instance: object, value: object) -> None:
        """moto's constructors assign a fresh dict: ignored."""


def detach_event_source_mappings() -> None:
    """Keep moto's event-source mappings as API objects only: it never invokes from them (idempotent)."""
    for source in MAPPING_SOURCES:
        if not isinstance(source.__dict__.get(MAPPING_HOOK), _DetachedMappings):
            setattr(source, MAPPING_HOOK, _DetachedMappings())


def tune() -> None:
    """Apply the changes to the imported moto modules (idempotent)."""
    modules: tuple[str, ...] = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> Iterable[str]:
        return modules

    backends.list_of_moto_modules = list_of_moto_modules
    werkzeug_app.MotoRequestHandler.log_request = _quiet_log_request  # type: ignore[method-assign]
    shard = kinesis_models.Shard
    shard.get_min_sequence_number = _first_sequence_number  # type: ignore[method-assign]
    shard.get_max_sequence_number = _last_sequence_number  # type: ignore[method-assign]
    shard.get_records = _get_records  # type: ignore[method-assign]
    DynamoDBStreamsHandler.get_records = _stream_records  # type: ignore[method-assign,assignment]
    emulator_index.install()
    for name in DYNAMODB_ITEM_OPERATIONS:
        method = getattr(DynamoHandler, name)
        if not getattr(method, "__wrapped_as_json__", False):
            setattr(DynamoHandler, name, _as_json(method))
    detach_event_source_mappings()
    global _counting_installed  # noqa: PLW0603 - once per process
    if not _counting_installed:
        dispatcher = werkzeug_app.DomainDispatcherApplication

        def counted_application(create_app: Any) -> StateControl:
            # Counted first, so a throttled request is still a call (`sandbox.emulator_throttle`).
            throttle = WriteThrottle(dispatcher(create_app), read_body=_body)
            counter = CallCounter(throttle)
            # Across a restart the counts and the throttle's rate and counts go on where they were.
            layers: dict[str, Any] = {"calls": counter, "throttle": throttle}
            for name, layer in layers.items():
                adopt_layer_state(layer, _restored_layers.get(name))
            # Every request passes the state gate (a save sees no request half done).
            return StateControl(
                counter, extra=lambda: {name: layer_state(layer) for name, layer in layers.items()}
            )

        # `moto.server.main` builds its application from this name.
        server.DomainDispatcherApplication = counted_application  # type: ignore[attr-defined,assignment]
        _counting_installed = True


def main(argv: list[str] | None = None) -> None:
    """Run moto's server with `argv` (moto's own options)."""
    arguments = list(argv if argv is not None else sys.argv[1:])
    tune()
    if RESTORE_OPTION in arguments:
        at = arguments.index(RESTORE_OPTION)
        path = Path(arguments[at + 1])
        del arguments[at : at + 2]
        summary, extra = restore_state(path)
        _restored_layers.update(extra)
        print(
            f"dmd: restored {', '.join(summary.services)} from {path} in {summary.seconds:.2f} s", flush=True
        )
    server.main(arguments)


if __name__ == "__main__":
    main()
