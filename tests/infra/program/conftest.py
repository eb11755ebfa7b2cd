"""The `stack` fixture: every committed stack file, synthesized in preview and up modes."""

from __future__ import annotations

import pytest

from tests.infra.graphs import MODES, stack_config, stack_graph
from tests.infra.program.stack_under_test import CASES, Stack


@pytest.fixture(params=CASES, ids=[f"{stack}-{mode}" for stack, mode in CASES])
def stack(request: pytest.FixtureRequest) -> Stack:
    """One committed stack in one mode (every test taking it runs for each stack and mode)."""
    name, mode = request.param
    return Stack(
        name=name, mode=mode, graph=stack_graph(name, preview=MODES[mode]), config=stack_config(name)
    )
