"""The HTTP side of every vendor fake: a JSON server on 127.0.0.1, the requests it logs, scripted replies.

A fake subclasses `VendorServer` and says two things: which endpoint and key a request names, or
its answer to a route it does not have (`route`), and its answer to a routed request (`decide`).
The base serves, logs the most recent requests, answers scripted replies first and counts every
routed answer per endpoint and key.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Final, NamedTuple
from urllib.parse import parse_qs, urlsplit

from sandbox.clock import SandboxClock
from sandbox.vendors.counters import VendorCounters
from sandbox.vendors.faults import Effect, VendorFaults

LOGGER: Final = logging.getLogger(__name__)
HOST: Final = "127.0.0.1"
# Enough to inspect what a test or a demo step sent, bounded so a 50,000-fan run does not hoard bodies.
REQUEST_LOG_SIZE: Final = 1_000
_SHUTDOWN_SECONDS: Final = 5.0


class Headers(Mapping[str, str]):
    """HTTP headers whose names match case-insensitively (kept in lower case)."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._values = {name.lower(): value for name, value in items}

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({self._values!r})"


@dataclass(frozen=True)
class VendorRequest:
    """One request as a fake received it (header names match in any case)."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Headers
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON; None when empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass(frozen=True)
class Reply:
    """An answer: status, JSON body, extra headers, and real seconds to hold it before answering."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    hold_seconds: float = 0.0


class Route(NamedTuple):
    """What a request names: the endpoint it is counted under and its key (None: it names none)."""

    endpoint: str
    key: str | None


def is_sigv4_signed(headers: Mapping[str, str]) -> bool:
    """Whether `headers` (lower-case names) carry an execute-api SigV4 signature of session credentials."""
    authorization = headers.get("authorization", "")
    return (
        authorization.startswith("AWS4-HMAC-SHA256 Credential=")
        and "/execute-api/aws4_request" in authorization
        and "SignedHeaders=" in authorization
        and "x-api-key" in authorization  # the API key is among the signed headers
        and bool(headers.get("x-amz-date"))
        and bool(headers.get("x-amz-security-token"))
    )


class ScriptedReplies:
    """Replies given verbatim instead of a fake's own: to the next requests, or to every request of a key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: deque[Reply] = deque()
        self._by_key: dict[str, Reply] = {}

    def queue_next(self, replies: Iterable[Reply]) -> None:
        """Answer the next requests with these, in order, whatever they name."""
        with self._lock:
            self._next.extend(replies)

    def for_key(self, key: str, reply: Reply) -> None:
        """Answer every request of `key` with `reply` until cleared."""
        with self._lock:
            self._by_key[key] = reply

    def clear(self) -> None:
        """No scripted replies from now on."""
        with self._lock:
            self._next.clear()
            self._by_key.clear()

    def take(self, key: str | None) -> Reply | None:
        """The scripted reply to a request of `key`, if any: the next-request queue first."""
        with self._lock:
            if self._next:
                return self._next.popleft()
            return self._by_key.get(key) if key is not None else None


class VendorServer(ABC):
    """A fake vendor on 127.0.0.1: a ThreadingHTTPServer that routes, decides and counts each request."""

    vendor: ClassVar[str]

    def __init__(
        self, *, port: int = 0, faults: VendorFaults | None = None, request_log_size: int = REQUEST_LOG_SIZE
    ) -> None:
        self.faults = faults if faults is not None else VendorFaults(self.vendor, clock=SandboxClock())
        self.counters = VendorCounters()
        self._scripted = ScriptedReplies()
        self._log: deque[VendorRequest] = deque(maxlen=request_log_size)
        self._log_lock = threading.Lock()
        self._server = ThreadingHTTPServer((HOST, port), _handler_for(self))
        self._server.daemon_threads = True  # a held (timeout) answer never blocks shutdown
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the fake listens on."""
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL the workers are configured with."""
        return self.origin

    @property
    def requests(self) -> list[VendorRequest]:
        """The most recent requests received (up to `request_log_size`), oldest first."""
        with self._log_lock:
            return list(self._log)

    def reply_next(self, *replies: Reply) -> None:
        """Answer the next requests with these replies verbatim, in order, before the fake's own rules."""
        self._scripted.queue_next(replies)

    def reply_for(self, key: str, reply: Reply) -> None:
        """Answer every request of `key` (SMS reference, event id, member id) with `reply` verbatim."""
        self._scripted.for_key(key, reply)

    def clear_replies(self) -> None:
        """No scripted replies from now on: the fake answers by its own rules again."""
        self._scripted.clear()

    def start(self) -> None:
        """Serve on a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name=f"vendor:{self.vendor}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port; idempotent."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._server.shutdown()
            thread.join(_SHUTDOWN_SECONDS)
        self._server.server_close()

    def handle(self, request: VendorRequest) -> Reply:
        """The reply to one request: a scripted reply when one is due, else the fake's own; counted."""
        with self._log_lock:
            self._log.append(request)
        route = self.route(request)
        scripted = self._scripted.take(route.key if isinstance(route, Route) else None)
        if isinstance(route, Reply):
            return scripted if scripted is not None else route
        fault: Effect | None = None
        if scripted is None:
            reply, fault = self.decide(request, route.key)
        else:
            reply = scripted
        self.counters.record(route.endpoint, route.key, reply.status, fault)
        return reply

    @abstractmethod
    def route(self, request: VendorRequest) -> Route | Reply:
        """What the request names, or the vendor's answer (404) when it has no such route."""

    @abstractmethod
    def decide(self, request: VendorRequest, key: str | None) -> tuple[Reply, Effect | None]:
        """The vendor's answer to a routed request, and the fault it injected (if any)."""

    def _latency(self) -> None:
        if self.faults.latency:
            time.sleep(self.faults.latency)


def _handler_for(server: VendorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm the body would wait for the
        # client's delayed ACK (40 ms per request on Linux).
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = VendorRequest(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers=Headers(self.headers.items()),
                body=body,
            )
            try:
                reply = server.handle(request)
            except Exception:  # a fake's bug must answer 500, not hang the worker's request
                LOGGER.exception("%s fake failed on %s %s", server.vendor, self.command, parts.path)
                reply = Reply(500, {"message": "fake vendor error"})
            if reply.hold_seconds:
                time.sleep(reply.hold_seconds)
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:
            """No access log on stderr."""

    return Handler
