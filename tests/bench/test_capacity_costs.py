"""`make bench` writes the per-record costs `dmd capacity` reads, keeping what it did not measure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench.capacity_costs import COSTS, update_costs
from ops.capacity_inputs import load_costs


def test_a_run_replaces_the_figures_it_measured_and_keeps_the_rest(tmp_path: Path) -> None:
    # Given the committed cost file
    path = tmp_path / "capacity-costs.json"
    shutil.copy(COSTS, path)
    before = json.loads(path.read_text())
    # When a run measured the generator and the workers' calls
    written = update_costs(
        {"emulator": {"generatorMs": 9.87654}, "callsPerNotification": {"dynamodb:PutItem": 1.5}},
        commit="abc1234",
        path=path,
    )
    # Then those figures are replaced, the others kept, and the file still validates
    after = json.loads(path.read_text())
    assert written
    assert after["emulator"]["generatorMs"] == 9.877
    assert after["emulator"]["sendMs"] == before["emulator"]["sendMs"]
    assert after["callsPerNotification"] == {"dynamodb:PutItem": 1.5}
    assert after["aws"] == before["aws"]
    assert after["measured"].startswith("make bench ") and "abc1234" in after["measured"]
    assert load_costs(path).emulator.generator_ms == 9.877


def test_a_run_that_measured_nothing_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "capacity-costs.json"
    shutil.copy(COSTS, path)
    assert not update_costs({"emulator": {}}, commit="abc1234", path=path)
    assert path.read_bytes() == COSTS.read_bytes()
