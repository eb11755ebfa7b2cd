"""A behavioural Discovery API v2 on 127.0.0.1: events by id, per-event failures, call counts."""

from __future__ import annotations

import copy
import json
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loopback_http import Answer, LoopbackServer, Request

EVENTS = Path(__file__).resolve().parents[1] / "events"
API_KEY = "test-discovery-api-key"
BASE_PATH = "/discovery/v2"
# The third act of discovery-event-festival-multi.json; tests configure it as a suppressed artist.
SUPPRESSED_ARTIST_ID = "K8vZ9175BhV"


def discovery_payload(name: str) -> dict[str, Any]:
    """A fixture from tests/events/discovery-event-<name>.json (a fresh copy)."""
    loaded: dict[str, Any] = json.loads((EVENTS / f"discovery-event-{name}.json").read_text())
    return loaded


def not_found_body(event_id: str) -> dict[str, Any]:
    """Discovery's 404 body (tests/events/discovery-event-not-found.json) for this id."""
    body = discovery_payload("not-found")
    detail = body["errors"][0]["detail"]
    body["errors"][0]["detail"] = detail[: detail.index("id=") + 3] + f"{event_id})"
    return body


@dataclass(frozen=True)
class Failure:
    """A scripted error answer for one event id."""

    status: int
    times: int | None = None  # None: every time


class FakeDiscovery(LoopbackServer):
    """GET {BASE_PATH}/events/{id}.json like Discovery: 401 without the key, 404 for unknown ids."""

    def __init__(self) -> None:
        super().__init__()
        self.events: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, Failure] = {}
        self.calls: Counter[str] = Counter()
        self._failures_lock = threading.Lock()

    @property
    def url(self) -> str:
        """The DISCOVERY_URL of this fake."""
        return f"{self.origin}{BASE_PATH}"

    @property
    def queries(self) -> list[dict[str, list[str]]]:
        """The query parameters of every request, in order."""
        return [parse_qs(urlsplit(request.path).query) for request in self.requests]

    def add(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Serve this event payload under its id (a copy: later edits need another `add`)."""
        self.events[str(payload["id"])] = copy.deepcopy(payload)
        return payload

    def fail(self, event_id: str, status: int = 503, *, times: int | None = None) -> None:
        """Answer `status` for this event: every time, or for the next `times` requests."""
        self.failures[event_id] = Failure(status, times)

    def route(self, request: Request) -> Answer:
        parts = urlsplit(request.path)
        if parse_qs(parts.query).get("apikey") != [API_KEY]:
            return Answer(401, {"fault": {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "x"}}})
        prefix, suffix = f"{BASE_PATH}/events/", ".json"
        if request.method != "GET" or not (parts.path.startswith(prefix) and parts.path.endswith(suffix)):
            return Answer(404, {"errors": [{"code": "DIS1001", "detail": f"No route for {parts.path}"}]})
        event_id = parts.path[len(prefix) : -len(suffix)]
        with self._failures_lock:
            self.calls[event_id] += 1
            failure = self.failures.get(event_id)
            if failure is not None and failure.times is not None:
                if failure.times > 1:
                    self.failures[event_id] = Failure(failure.status, failure.times - 1)
                else:
                    del self.failures[event_id]
        if failure is not None:
            return Answer(failure.status, {"fault": {"faultstring": "Service temporarily unavailable"}})
        if event_id not in self.events:
            return Answer(404, not_found_body(event_id))
        return Answer(200, self.events[event_id])
