"""Test-double Lambda handlers, referenced by dotted path (`tests.sandbox.handlers.<name>`).

They record every invocation in `INVOCATIONS` and decide their outcome from the records'
payloads: a Kinesis record whose JSON data has `"poison": true`, or an SQS body that does,
is one the double cannot process. `reset()` forgets the invocations (the `handlers` fixture).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

PATH = "tests.sandbox.handlers"


@dataclass
class Invocation:
    """One call of a double: its event, context, and the environment variables it saw."""

    handler: str
    event: Any
    context: Any
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def identifiers(self) -> list[str]:
        """The batch's record ids (Kinesis sequence numbers or SQS message ids)."""
        return [_identifier(record) for record in self.event.get("Records", [])]


INVOCATIONS: list[Invocation] = []
_LOCK = threading.Lock()
# How many more times each poisoned record fails before the double accepts it (None: forever).
FAILURES_LEFT: dict[str, int | None] = {}


def reset(*, failures_per_poisoned_record: int | None = None) -> None:
    """Forget invocations; poisoned records then fail this many times (None: always)."""
    PARTNERS.reset()
    with _LOCK:
        INVOCATIONS.clear()
        RUNNING.update(now=0, peak=0)
        FAILURES_LEFT.clear()
        FAILURES_LEFT["default"] = failures_per_poisoned_record


def invocations(handler: str) -> list[Invocation]:
    """The recorded calls of one double."""
    with _LOCK:
        return [call for call in INVOCATIONS if call.handler == handler]


def succeed(event: Any, context: Any) -> dict[str, Any]:
    """Accepts everything."""
    _record("succeed", event, context)
    return {"batchItemFailures": []}


def sweep(event: Any, context: Any) -> dict[str, Any]:
    """A minutely scheduled worker: recorded under its own name, so it never shows among `succeed`'s calls."""
    _record("sweep", event, context)
    return {}


def report_poisoned(event: Any, context: Any) -> dict[str, Any]:
    """Reports each poisoned record as a batch item failure (until its failures are used up)."""
    _record("report_poisoned", event, context)
    failed = [_identifier(record) for record in event["Records"] if _still_failing(record)]
    return {"batchItemFailures": [{"itemIdentifier": identifier} for identifier in failed]}


def raise_on_poisoned(event: Any, context: Any) -> None:
    """Raises when the batch holds a poisoned record (a function error for the whole batch)."""
    _record("raise_on_poisoned", event, context)
    if any(_still_failing(record) for record in event["Records"]):
        raise RuntimeError("poisoned record in batch")


def always_raise(event: Any, context: Any) -> None:
    """Fails every invocation."""
    _record("always_raise", event, context)
    raise ValueError("this double always fails")


PARTNERS = threading.Barrier(2, timeout=5)


def meet_partner(event: Any, context: Any) -> None:
    """Returns only once a second invocation is running at the same time (else fails after 5 s)."""
    _record("meet_partner", event, context)
    PARTNERS.wait()


RUNNING = {"now": 0, "peak": 0}


def overlap(event: Any, context: Any) -> dict[str, Any]:
    """Accepts everything after a moment, counting how many invocations ran at the same time."""
    _record("overlap", event, context)
    with _LOCK:
        RUNNING["now"] += 1
        RUNNING["peak"] = max(RUNNING["peak"], RUNNING["now"])
    time.sleep(0.05)
    with _LOCK:
        RUNNING["now"] -= 1
    return {"batchItemFailures": []}


def overrun(event: Any, context: Any) -> None:
    """Runs 50 ms past the function's timeout (a real wait: the timeout runs in real time)."""
    _record("overrun", event, context)
    time.sleep(context.get_remaining_time_in_millis() / 1000 + 0.05)


def echo_environment(event: Any, context: Any) -> dict[str, str]:
    """Answers with the worker-specific variables it sees (read twice, a moment apart)."""
    _record("echo_environment", event, context)
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    time.sleep(0.001)  # lets other invocations in: what it reads must not change meanwhile
    return {
        "service": os.environ.get("POWERTOOLS_SERVICE_NAME", ""),
        "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
        "endpoint": endpoint if endpoint == os.environ.get("AWS_ENDPOINT_URL", "") else "changed",
    }


class EventNotFoundError(Exception):
    """What a resolver raises for an unknown event."""


def resolve_event(event: Any, context: Any) -> dict[str, Any]:
    """An AppSync resolver double: echoes the event id, raises for `missing`."""
    _record("resolve_event", event, context)
    event_id = event["arguments"]["eventId"]
    if event_id == "missing":
        raise EventNotFoundError(f"no event {event_id}")
    return {"eventId": event_id, "field": event["info"]["fieldName"]}


def _record(handler: str, event: Any, context: Any) -> None:
    seen = {
        key: os.environ[key]
        for key in (
            "POWERTOOLS_SERVICE_NAME",
            "AWS_LAMBDA_FUNCTION_NAME",
            "DMD_ENVIRONMENT",
            "AWS_ENDPOINT_URL",
        )
        if key in os.environ
    }
    with _LOCK:
        INVOCATIONS.append(Invocation(handler, event, context, seen))


def _identifier(record: dict[str, Any]) -> str:
    return str(record["kinesis"]["sequenceNumber"] if "kinesis" in record else record["messageId"])


def _payload(record: dict[str, Any]) -> Any:
    text = base64.b64decode(record["kinesis"]["data"]) if "kinesis" in record else record["body"]
    try:
        return json.loads(text)
    except ValueError:
        return None


def _still_failing(record: dict[str, Any]) -> bool:
    payload = _payload(record)
    if not (isinstance(payload, dict) and payload.get("poison")):
        return False
    identifier = _identifier(record)
    with _LOCK:
        left = FAILURES_LEFT.get(identifier, FAILURES_LEFT.get("default"))
        if left is None:
            return True
        if left <= 0:
            return False
        FAILURES_LEFT[identifier] = left - 1
        return True
