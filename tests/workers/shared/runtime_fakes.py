"""Loopback HTTP servers for the runtime tests: a scripted vendor API and an OTLP/HTTP receiver."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Scripted:
    """One scripted vendor response."""

    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


class ScriptedServer:
    """Answers requests from a script, in order, and records them; 500 once the script runs out."""

    def __init__(self) -> None:
        self.script: list[Scripted] = []
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def respond(self, *responses: Scripted) -> None:
        self.script.extend(responses)

    def _next(self, received: Received) -> Scripted:
        with self._lock:
            self.requests.append(received)
            return self.script.pop(0) if self.script else Scripted(status=500, body=b"unscripted")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received = Received(
                    self.command, self.path, dict(self.headers.items()), body, self.client_address[1]
                )
                scripted = server._next(received)
                if scripted.delay_seconds:
                    time.sleep(scripted.delay_seconds)
                try:
                    self.send_response(scripted.status)
                    for name, value in scripted.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(scripted.body)))
                    self.end_headers()
                    self.wfile.write(scripted.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server naming

            def log_message(self, format: str, *args: Any) -> None:
                """Silence the default stderr access log."""

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class ExportedSpan:
    """A span decoded from an OTLP/HTTP export."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    service_name: str
    status_code: int


class OtlpReceiver(ScriptedServer):
    """Accepts OTLP/HTTP protobuf trace exports like a collector would."""

    def spans(self) -> list[ExportedSpan]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        decoded: list[ExportedSpan] = []
        for request in self.requests:
            if request.path != "/v1/traces":
                continue
            export = ExportTraceServiceRequest()
            export.ParseFromString(request.body)
            for resource_spans in export.resource_spans:
                resource = {item.key: _any_value(item.value) for item in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    decoded.extend(
                        ExportedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={item.key: _any_value(item.value) for item in span.attributes},
                            service_name=str(resource.get("service.name")),
                            status_code=span.status.code,
                        )
                        for span in scope_spans.spans
                    )
        return decoded

    def _next(self, received: Received) -> Scripted:
        with self._lock:
            self.requests.append(received)
        return Scripted(status=200, body=b"", headers={"Content-Type": "application/x-protobuf"})


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None
