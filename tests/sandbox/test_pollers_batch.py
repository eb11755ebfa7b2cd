"""Reading a partial batch response as Lambda does: which records failed, or the whole batch."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.pollers import reported_failures

BATCH = ("1", "2", "3")


@pytest.mark.parametrize(
    "response",
    [None, "done", {}, {"batchItemFailures": None}, {"batchItemFailures": []}],
)
def test_no_reported_failure_is_a_complete_success(response: Any) -> None:
    # Given a response without failures (or no response object at all)
    # Then no record failed
    assert reported_failures(response, BATCH) == ()


def test_the_reported_identifiers_are_the_failures() -> None:
    # Given a response naming two records of the batch
    response = {"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]}
    # Then those two failed, in the order reported
    assert reported_failures(response, BATCH) == ("3", "2")


@pytest.mark.parametrize(
    "items",
    [
        "2",  # not a list
        [{"itemIdentifier": "9"}],  # not a record of the batch
        [{"itemIdentifier": ""}],  # empty
        [{"id": "2"}],  # no identifier
        ["2"],  # not an object
    ],
)
def test_an_invalid_failure_list_fails_the_whole_batch(items: Any) -> None:
    # Given a malformed batchItemFailures
    # Then Lambda treats the whole batch as failed (None)
    assert reported_failures({"batchItemFailures": items}, BATCH) is None
