"""Cold start: importing the handler builds no client and loads nothing a cold start does not need."""

from __future__ import annotations

import pytest
from import_cost import import_footprint


@pytest.mark.slow  # a fresh interpreter takes about a second
def test_importing_the_handler_is_cheap() -> None:
    # When the handler module is imported in a fresh interpreter (as Lambda's cold start does)
    footprint = import_footprint("workers.demand_stream_to_sqs.handler")

    # Then no AWS client or connection pool exists yet and the lazy packages stay unloaded
    assert footprint == {"loaded": [], "built": []}
