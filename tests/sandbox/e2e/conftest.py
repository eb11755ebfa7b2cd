"""End-to-end fixtures: one running pipeline per test module, left idle between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.pipeline import Pipeline
from tests.sandbox.e2e.flows import e2e_pipeline


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    """The local stack with fake vendors, started once for the module (the suite's env untouched)."""
    with e2e_pipeline() as running:
        yield running


@pytest.fixture(autouse=True)
def quiet_pipeline(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts on an idle pipeline without faults, and leaves it so."""
    if "pipeline" not in request.fixturenames:
        yield
        return
    running: Pipeline = request.getfixturevalue("pipeline")
    assert running.sandbox.wait_until_idle(deadline=30)
    yield
    running.vendors.clear_faults()
    running.sandbox.wait_until_idle(deadline=30)
