"""Helpers of the vendor fakes' tests: one HTTP call as a client makes it, a status sink that keeps."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any


class Published:
    """A status sink that keeps what it was given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.events.extend(dict(event) for event in events)


def call(
    method: str, url: str, body: Any = None, headers: Mapping[str, str] | None = None, timeout: float = 5
) -> tuple[int, Any]:
    """Status and JSON body of one request (error statuses too)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
