"""The synth benchmark's baseline program registers the same resources as the program it replays."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.stack_files import PROJECT_ROOT
from infra.synth import synthesize

RAW_PROGRAM = PROJECT_ROOT / "bench" / "raw_program.py"


@pytest.mark.parametrize("mode", ["untyped", "typed"])
def test_the_raw_baseline_registers_every_custom_resource_with_the_inputs_the_program_gave_it(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # Given the graph of a program with components, nested inputs and a code archive
    graph = synthesize("s1", project_root=demo)
    recorded = tmp_path / "graph.json"
    recorded.write_text(graph.to_json(), encoding="utf-8")
    monkeypatch.setenv("DMD_BENCH_GRAPH", str(recorded))
    monkeypatch.setenv("DMD_BENCH_RAW", mode)

    # When the baseline program replays it, by bare registrations or through the typed classes
    replayed = synthesize("s1", project_root=demo, program=RAW_PROGRAM)

    # Then it registered the same custom resources with the same inputs, and no component
    expected = {(r.type_, r.name): r.inputs for r in graph.resources if r.custom}
    assert {(r.type_, r.name): r.inputs for r in replayed.resources} == expected
    assert len(expected) == len(graph.resources) - 1  # the demo's one component is left out
