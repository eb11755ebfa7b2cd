"""The committed `Pulumi.<stack>.yaml` files, read the way the program receives them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infra.config import PROJECT, ConfigError, StackConfig, load_stack_config

# The folder of Pulumi.yaml: the one definition every layer (infra, ops, tests) uses.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def committed_stacks(project_root: Path = PROJECT_ROOT) -> list[str]:
    """Names of the stacks with a committed `Pulumi.<stack>.yaml`, sorted."""
    return sorted(path.name.split(".")[1] for path in project_root.glob("Pulumi.*.yaml"))


def stack_file_values(stack: str, project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The `dmd-workers:*` values of a stack file (region from `aws:region`)."""
    path = project_root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = ", ".join(committed_stacks(project_root)) or "none"
        raise ConfigError(f"{path.name}: no such stack file (committed stacks: {known})")
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    config = document.get("config") or {}
    values = {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith(f"{PROJECT}:")}
    if "aws:region" in config:
        values["region"] = config["aws:region"]
    return values


def load_committed(stack: str, project_root: Path = PROJECT_ROOT) -> StackConfig:
    """Validate a committed stack file."""
    return load_stack_config(stack, stack_file_values(stack, project_root))
