"""Per-stack resource-graph snapshots: the offline, reviewable "plan" of each stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CODE_PLACEHOLDER = "<worker code archive>"

# Worker code changes with every edit of workers/: the snapshot is about infrastructure, so the
# archive's hash and path are masked (a code change still redeploys; `dmd synth` shows the hash).
_MASKED_INPUTS = {"aws:lambda/function:Function": ("sourceCodeHash", "code")}


def snapshot_path(directory: Path, stack: str) -> Path:
    """The snapshot file of `stack` in `directory` (the caller knows where snapshots are kept)."""
    return directory / f"{stack}.json"


def snapshot_text(graph: dict[str, Any]) -> str:
    """The graph as committed: stable order, worker code masked, trailing newline."""
    masked = json.loads(json.dumps(graph))
    for resource in masked.get("resources", []):
        for key in _MASKED_INPUTS.get(resource.get("type", ""), ()):
            if key in resource.get("inputs", {}):
                resource["inputs"][key] = CODE_PLACEHOLDER
    return json.dumps(masked, indent=2, sort_keys=True) + "\n"
