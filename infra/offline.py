"""The offline synth of this project's stacks: its program under recording mocks, no network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.artifacts import OFFLINE_ENV
from infra.stack_files import PROJECT_ROOT, load_committed
from infra.synth import ResourceGraph, synthesize


@contextmanager
def _offline() -> Iterator[None]:
    previous = os.environ.get(OFFLINE_ENV)
    os.environ[OFFLINE_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(OFFLINE_ENV, None)
        else:
            os.environ[OFFLINE_ENV] = previous


def synthesize_stack(
    stack: str,
    *,
    preview: bool = False,
    project_root: Path = PROJECT_ROOT,
    program: Path | None = None,
) -> ResourceGraph:
    """Synthesize a committed stack: the dependency layer is declared from its spec, not built."""
    account_id = load_committed(stack, project_root).account_id
    with _offline():
        return synthesize(
            stack, project_root=project_root, preview=preview, program=program, account_id=account_id
        )
