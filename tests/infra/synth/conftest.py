"""Synth fixtures: the demo project written into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.synth.demo_project import S1_CONFIG, S2_CONFIG, write_project


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """The demo project with stacks s1 and s2."""
    return write_project(tmp_path / "demo", s1=S1_CONFIG, s2=S2_CONFIG)
