"""The emulator's DynamoDB throttling drill (`--faults ddb-throttle=RATE`): a share of writes refused.

`WriteThrottle` sits in the emulator's process between the call counter and moto's application.
While a rate is set (`POST /_dmd/throttle {"rate": 0.1, "seed": 7}`), that share of the workers'
DynamoDB writes — PutItem, UpdateItem, DeleteItem and BatchWriteItem — is answered as DynamoDB
answers a request over the table's throughput: HTTP 400 with

    {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "message": "…"}

and moto never sees the request (nothing is written). BatchWriteItem is refused whole, which is what
DynamoDB does when none of the batch's items can be written; the partial answer (`UnprocessedItems`
for some items) is not modelled: the sandbox's workers write one item per request. botocore's
standard and legacy retry modes both treat the error as throttling and retry it with backoff (the
workers' clients: standard mode, 3 attempts, `workers/shared/clients.py`); a request throttled on
every attempt reaches the worker as a `ClientError`.

Only the workers' requests are throttled: the sandbox's own (seeding, CDC, pollers) carry
`app/dmd-sandbox` in their user agent and pass. Which request is throttled is a pure function of the
seed, the request body and how many identical bodies came before (`SeededRate`), so a botocore retry
of a throttled request draws anew. `GET /_dmd/throttle` answers the rate and how many requests were
throttled, by operation and by table.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Final

from sandbox.drill_faults import DDB_THROTTLE, SeededRate

THROTTLE_PATH: Final = "/_dmd/throttle"
THROTTLED_OPERATIONS: Final = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})
EXEMPT_APP: Final = "dmd-sandbox"  # the sandbox's own calls (`sandbox.runtime.SANDBOX_USER_AGENT_APPID`)
_TARGET_PREFIX: Final = "DynamoDB_20120810."
THROTTLE_ERROR_TYPE: Final = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
THROTTLE_MESSAGE: Final = (
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API."
)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
BodyReader = Callable[[dict[str, Any]], str]


class WriteThrottle:
    """WSGI middleware: refuses a seeded share of the workers' DynamoDB writes as DynamoDB throttling does."""

    def __init__(self, app: WsgiApp, *, read_body: BodyReader) -> None:
        self.app = app
        self._read_body = read_body  # reads the body and leaves it readable for moto
        self._rate = SeededRate(DDB_THROTTLE)
        self._lock = threading.Lock()
        self._throttled: Counter[tuple[str, str]] = Counter()  # (operation, table) → requests refused

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # moto's application attributes (`debug`, …)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == THROTTLE_PATH:
            return self._control(environ, start_response)
        if self._rate.rate:
            operation = _throttled_operation(environ)
            if operation is not None:
                body = self._read_body(environ)
                if self._rate.hits(f"{operation}|{body}"):
                    with self._lock:
                        self._throttled[(operation, _table_of(body))] += 1
                    return _throttled(start_response)
        return self.app(environ, start_response)

    def _control(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            request = json.loads(self._read_body(environ) or "{}")
            try:
                self._rate.configure(rate=float(request.get("rate", 0.0)), seed=int(request.get("seed", 0)))
            except (TypeError, ValueError) as error:
                return _answer(start_response, "400 Bad Request", {"error": str(error)})
            with self._lock:
                self._throttled.clear()
        with self._lock:
            answer = {
                "rate": self._rate.rate,
                "throttled": sum(self._throttled.values()),
                "byOperation": _totals(self._throttled, 0),
                "byTable": _totals(self._throttled, 1),
            }
        return _answer(start_response, "200 OK", answer)


def _throttled_operation(environ: dict[str, Any]) -> str | None:
    """The DynamoDB write a worker's request makes, or None (another call, or the sandbox's own)."""
    target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
    if not target.startswith(_TARGET_PREFIX):
        return None
    operation = target.removeprefix(_TARGET_PREFIX)
    if operation not in THROTTLED_OPERATIONS:
        return None
    agent = str(environ.get("HTTP_USER_AGENT", ""))
    if f"app/{EXEMPT_APP}" in agent.split():
        return None
    return operation


def _table_of(body: str) -> str:
    try:
        request = json.loads(body or "{}")
    except ValueError:
        return ""
    if not isinstance(request, dict):
        return ""
    if "TableName" in request:
        return str(request["TableName"])
    return ",".join(sorted(request.get("RequestItems") or {}))


def _totals(counts: Counter[tuple[str, str]], index: int) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for key, count in counts.items():
        totals[key[index]] += count
    return dict(sorted(totals.items()))


def _throttled(start_response: StartResponse) -> Iterable[bytes]:
    payload = json.dumps({"__type": THROTTLE_ERROR_TYPE, "message": THROTTLE_MESSAGE}).encode()
    start_response(
        "400 Bad Request",
        [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(payload)))],
    )
    return [payload]


def _answer(start_response: StartResponse, status: str, document: dict[str, Any]) -> Iterable[bytes]:
    payload = json.dumps(document).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]
