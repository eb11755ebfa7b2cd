"""Settings are read one way: only the settings models and the observability module read the environment."""

from __future__ import annotations

import ast
from pathlib import Path

WORKERS = Path(__file__).resolve().parents[2] / "workers"
# settings.py: the pydantic-settings models; observability.py: Powertools' and OpenTelemetry's own
# variables, read at import before any settings model is loaded.
READERS = frozenset({"shared/settings.py", "shared/observability.py"})


def _reads(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in {"environ", "environb", "getenv", "putenv"}
    if isinstance(node, ast.ImportFrom) and node.module == "os":
        return bool({alias.name for alias in node.names} & {"environ", "environb", "getenv"})
    return False


def environment_reads(source: str) -> list[int]:
    """Lines of `source` that touch `os.environ` / `os.getenv` (also imported by name)."""
    return [node.lineno for node in ast.walk(ast.parse(source)) if _reads(node)]


def test_only_the_settings_and_observability_modules_read_the_environment() -> None:
    # Given every module of the workers
    # When their environment reads are collected
    readers = {
        path.relative_to(WORKERS).as_posix(): lines
        for path in sorted(WORKERS.rglob("*.py"))
        if (lines := environment_reads(path.read_text(encoding="utf-8")))
    }

    # Then only the modules that say why read it (settings.py through pydantic-settings); every
    # worker setting goes through a settings model
    assert set(readers) <= READERS
    assert "shared/observability.py" in readers


def test_a_read_by_name_is_found() -> None:
    # Given a module that imports getenv by name / Then the read is reported
    assert environment_reads("from os import getenv\n\nTABLE = getenv('DEMAND_TABLE_NAME')\n") == [1]
    assert environment_reads("import os\n\nTABLE = os.environ['DEMAND_TABLE_NAME']\n") == [3]
