"""What each pipeline mode means for ports, background threads and the process environment."""

from __future__ import annotations

import pytest

from sandbox.pipeline import PipelineMode


@pytest.mark.parametrize(
    ("mode", "stack_ports", "background", "process_environment"),
    [
        (PipelineMode.SHARED, True, True, True),
        (PipelineMode.PRIVATE, False, True, False),
        (PipelineMode.STEPPED, False, False, False),
    ],
)
def test_only_the_shared_pipeline_takes_the_stack_ports_and_the_process_environment(
    mode: PipelineMode, stack_ports: bool, background: bool, process_environment: bool
) -> None:
    assert mode.serves_stack_ports is stack_ports
    assert mode.runs_in_background is background
    assert mode.points_process_at_emulator is process_environment
