"""The Discovery API v2 fake: `GET /discovery/v2/events/{id}.json?apikey=…` serving seeded events.

It speaks the contract of the workers' Discovery client: the key as the `apikey` query parameter
(401 in Apigee's shape without it), the event payload as seeded, and Discovery's 404 DIS1004 body,
naming the requested locale and id, for an id it does not know.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final, TypeVar

from sandbox.vendors.faults import Effect, VendorFaults
from sandbox.vendors.server import Reply, Route, VendorRequest, VendorServer

DISCOVERY_API_KEY: Final = "sandbox-discovery-api-key"
DISCOVERY_BASE_PATH: Final = "/discovery/v2"
_EVENTS_ENDPOINT: Final = "events"
_EVENT_PREFIX: Final = f"{DISCOVERY_BASE_PATH}/events/"
_EVENT_SUFFIX: Final = ".json"

Payload = TypeVar("Payload", bound=Mapping[str, Any])


class Discovery(VendorServer):
    """Discovery API v2 `GET /discovery/v2/events/{id}.json?apikey=…`: the seeded events, 404 otherwise."""

    vendor = "discovery"

    def __init__(
        self, *, port: int = 0, faults: VendorFaults | None = None, api_key: str = DISCOVERY_API_KEY
    ) -> None:
        super().__init__(port=port, faults=faults)
        self.api_key = api_key
        self._events: dict[str, dict[str, Any]] = {}
        self._state = threading.Lock()

    @property
    def url(self) -> str:
        return f"{self.origin}{DISCOVERY_BASE_PATH}"

    def add(self, payload: Payload, *, event_id: str | None = None) -> Payload:
        """Serve a copy of this payload under `event_id` (default: its own `id`); returns `payload`."""
        with self._state:
            self._events[event_id or str(payload["id"])] = copy.deepcopy(dict(payload))
        return payload

    @staticmethod
    def unavailable() -> Reply:
        """Discovery's 503 answer (Apigee's fault shape)."""
        return Reply(503, {"fault": {"faultstring": "Service temporarily unavailable"}})

    def event_ids(self) -> list[str]:
        """The ids of the events served."""
        with self._state:
            return list(self._events)

    @property
    def calls(self) -> Counter[str]:
        """Event requests per event id."""
        return self.counters.keys_of(_EVENTS_ENDPOINT)

    def calls_for(self, event_id: str) -> int:
        """How many event requests named this id."""
        return self.counters.of_key(_EVENTS_ENDPOINT, event_id)

    def route(self, request: VendorRequest) -> Route | Reply:
        path = request.path
        if request.method != "GET" or not (path.startswith(_EVENT_PREFIX) and path.endswith(_EVENT_SUFFIX)):
            return Reply(404, {"errors": [{"code": "DIS1001", "detail": f"No route for {request.path}"}]})
        return Route(_EVENTS_ENDPOINT, path[len(_EVENT_PREFIX) : -len(_EVENT_SUFFIX)])

    def decide(self, request: VendorRequest, key: str | None) -> tuple[Reply, Effect | None]:
        if request.query.get("apikey") != [self.api_key]:
            invalid = {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}
            return Reply(401, {"fault": invalid}), None
        event_id = key or ""
        self._latency()
        fault = self.faults.decide(event_id)
        if fault is not None:
            return self.unavailable(), fault
        with self._state:
            payload = copy.deepcopy(self._events.get(event_id))
        if payload is None:
            locale = request.query.get("locale", ["en-us"])[0]
            return Reply(404, _not_found_body(event_id, locale)), None
        return Reply(200, payload), None


def _not_found_body(event_id: str, locale: str) -> dict[str, Any]:
    detail = f"Resource not found with provided criteria (locale={locale}, id={event_id})"
    about = {"about": {"href": f"{DISCOVERY_BASE_PATH}/errors.html#DIS1004"}}
    return {"errors": [{"code": "DIS1004", "detail": detail, "status": "404", "_links": about}]}
