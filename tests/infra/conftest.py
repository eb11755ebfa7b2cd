"""Infra fixtures: the offline synth of the real program, bound to this repository."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pytest

from infra.offline import synthesize_stack
from infra.synth import ResourceGraph

REPO_ROOT = Path(__file__).resolve().parents[2]


class Synth(Protocol):
    """Synthesizes one committed stack of this repository."""

    def __call__(self, stack: str, preview: bool = False) -> ResourceGraph: ...


@pytest.fixture
def synth() -> Synth:
    """Run the repository's `__main__.py` under recording mocks with a committed stack, fresh each call."""

    def run(stack: str, preview: bool = False) -> ResourceGraph:
        # The project's own entry point: offline layer declaration (no PyPI) and the stack's account id.
        return synthesize_stack(stack, preview=preview, project_root=REPO_ROOT)

    return run
