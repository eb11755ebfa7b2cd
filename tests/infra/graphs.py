"""The committed stacks, synthesized once per stack and mode per test process, and ways to read them."""

from __future__ import annotations

import functools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from infra.config import StackConfig
from infra.offline import synthesize_stack
from infra.stack_files import PROJECT_ROOT, committed_stacks, load_committed
from infra.synth import RecordedResource, ResourceGraph

STACKS: tuple[str, ...] = tuple(committed_stacks())
MODES: dict[str, bool] = {"up": False, "preview": True}


def stack_graph(stack: str, *, preview: bool = False) -> ResourceGraph:
    """The graph `__main__.py` declares for a committed stack (shared: never mutate it)."""
    return _synthesized(stack, preview)


@functools.cache
def _synthesized(stack: str, preview: bool) -> ResourceGraph:
    # Positional, so `stack_graph(s)` and `stack_graph(s, preview=False)` share one cache entry.
    return synthesize_stack(stack, preview=preview)


@functools.cache
def stack_config(stack: str) -> StackConfig:
    """The validated config of a committed stack, as the program resolves it."""
    return load_committed(stack)


def only(resources: list[RecordedResource], type_: str) -> RecordedResource:
    """The one resource of a type among `resources`; fails naming what was found instead."""
    matches = [resource for resource in resources if resource.type_ == type_]
    assert len(matches) == 1, f"expected one {type_}, found {[match.name for match in matches]}"
    return matches[0]


def of_type(resources: list[RecordedResource], type_: str) -> list[RecordedResource]:
    return [resource for resource in resources if resource.type_ == type_]


def document(resource: RecordedResource, key: str) -> Any:
    """A JSON-string input (policy, redrive policy, filter pattern) parsed."""
    return json.loads(resource.inputs[key])


@functools.cache
def runbook_anchors() -> frozenset[str]:
    """The `## <anchor>` section headings of docs/runbooks.md."""
    text = (PROJECT_ROOT / "docs" / "runbooks.md").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^## ([a-z0-9-]+)\s*$", text, flags=re.MULTILINE))


def synthesize_with_changes(tmp_path: Path, stack: str, changes: dict[str, Any]) -> ResourceGraph:
    """The graph of a committed stack file with `dmd-workers:` keys changed (dotted paths), in tmp_path."""
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    stack_file = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    config = stack_file["config"]
    for path, value in changes.items():
        top, *rest = path.split(".")
        node = config.setdefault(f"dmd-workers:{top}", {})
        for part in rest[:-1]:
            node = node.setdefault(part, {})
        node[rest[-1]] = value
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(stack_file), encoding="utf-8")
    return synthesize_stack(stack, project_root=tmp_path, program=PROJECT_ROOT / "__main__.py")
