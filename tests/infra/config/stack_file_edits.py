"""Stack-file values as the program receives them, and one-key changes to them, for config tests."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from infra.catalog import CATALOG
from infra.config import ConfigError, load_stack_config, stack_values
from infra.stack_files import PROJECT_ROOT

CATALOG_NAMES = sorted(spec.name for spec in CATALOG)
DELETED = object()  # with_change value that removes the key instead of setting it


class FakeConfig:
    """A pulumi.Config stand-in: `get(key)` returns the text the Pulumi CLI hands the program."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def get(self, key: str) -> str | None:
        """The text of one key, None when unset."""
        return self._values.get(key)


def _cli_text(value: Any) -> str:
    # The CLI passes structured stack-file values as JSON text and scalars as their plain text.
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _namespace(document: dict[str, Any], namespace: str) -> FakeConfig:
    prefix = f"{namespace}:"
    return FakeConfig(
        {
            key.removeprefix(prefix): _cli_text(value)
            for key, value in document.items()
            if key.startswith(prefix)
        }
    )


def stack_file_values(stack: str) -> dict[str, Any]:
    """The `dmd-workers:*` values of a committed stack file (plus `aws:region`), as the program gets them."""
    document = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]
    return stack_values(_namespace(document, "dmd-workers"), _namespace(document, "aws"))


def with_change(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `values` with the dotted `path` set to `value` (or removed for DELETED)."""
    changed = copy.deepcopy(values)
    *parents, leaf = path.split(".")
    node = changed
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETED:
        del node[leaf]
    else:
        node[leaf] = value
    return changed


def rejection(stack: str, values: dict[str, Any]) -> str:
    """The ConfigError message for `values`; fails the test when they are accepted."""
    with pytest.raises(ConfigError) as raised:
        load_stack_config(stack, values)
    return str(raised.value)


VALUES = {stack: stack_file_values(stack) for stack in ("qa1", "prod1", "local")}
