"""`make bench` → bench/capacity-costs.json: the measured per-record costs `dmd capacity` reads.

Only the figures a benchmark of this run measured are replaced (the emulator's per-notification
costs, the cold start, the workers' calls per notification); the rest of the file (the assumed AWS
latencies, the sandbox figures read from a demo's worker log) is kept. docs/capacity.md says which
figure comes from where.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.stack_files import PROJECT_ROOT

COSTS = PROJECT_ROOT / "bench" / "capacity-costs.json"
_SECTIONS = ("emulator", "callsPerNotification")


def update_costs(measured: Mapping[str, Mapping[str, float]], *, commit: str, path: Path = COSTS) -> bool:
    """Merge this run's figures (section → key → value) into the cost file; False when there were none."""
    figures = {
        section: dict(values) for section, values in measured.items() if values and section in _SECTIONS
    }
    if not figures:
        return False
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for section, values in figures.items():
        if section == "callsPerNotification":
            document[section] = {key: round(value, 3) for key, value in values.items()}
        else:
            document[section].update({key: round(value, 3) for key, value in values.items()})
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    document["measured"] = (
        f"make bench {stamp} at commit {commit or 'unknown'} ({', '.join(sorted(figures))}); "
        + document["measured"].split("; ", 1)[-1]
    )
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return True
