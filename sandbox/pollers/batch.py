"""Invoking a function with a batch and reading its answer as Lambda does (partial batch responses)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sandbox.function import LambdaFunction

LOGGER: Final = logging.getLogger("sandbox.pollers")
UNHANDLED: Final = "Unhandled"


@dataclass(frozen=True)
class BatchResult:
    """How an invocation ended: the identifiers that failed, and whether the handler raised."""

    failed: tuple[str, ...]
    whole_batch: bool
    function_error: str | None = None


def invoke_batch(
    function: LambdaFunction, event: Mapping[str, Any], identifiers: Sequence[str], *, report: bool
) -> BatchResult:
    """Invoke and read the response as Lambda does (`batchItemFailures` only when reported)."""
    # The `timeout` drill: a chosen invocation handles the first part of its batch (its side effects
    # happen), then times out: no answer, a function error, the whole batch retried by the mapping.
    time_out = bool(identifiers) and function.injected_timeouts.hits(identifiers[0])
    try:
        if time_out:
            function.counters.add(records_in_timed_out_batches=len(identifiers))
        response = function.invoke(first_part(event) if time_out else event, time_out=time_out)
    except Exception as error:  # noqa: BLE001 - whatever the handler raises is a function error
        LOGGER.info("%s: function error %s: %s", function.worker, type(error).__name__, error)
        return BatchResult(tuple(identifiers), whole_batch=True, function_error=UNHANDLED)
    if not report:
        return BatchResult((), whole_batch=False)
    failed = reported_failures(response, identifiers)
    if failed is None:
        LOGGER.info("%s: invalid batchItemFailures, the whole batch failed: %r", function.worker, response)
        return BatchResult(tuple(identifiers), whole_batch=True)
    return BatchResult(failed, whole_batch=len(set(failed)) == len(identifiers))


def first_part(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event with the first half of its records (at least one): what a timed-out handler got through."""
    records = list(event.get("Records") or [])
    return {**event, "Records": records[: max(1, len(records) // 2)]}


def reported_failures(response: Any, identifiers: Sequence[str]) -> tuple[str, ...] | None:
    """The failed identifiers of a partial batch response; None when Lambda would fail the whole batch."""
    # An empty or absent list (or no response object) is a complete success; an item without a
    # non-empty `itemIdentifier` naming a record of the batch makes the whole batch a failure.
    if not isinstance(response, Mapping):
        return ()
    items = response.get("batchItemFailures")
    if items is None:
        return ()
    if not isinstance(items, list):
        return None
    known = set(identifiers)
    failed: list[str] = []
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not isinstance(identifier, str) or identifier not in known:
            return None
        failed.append(identifier)
    return tuple(failed)
