"""Imports run one way: ops → sandbox → workers, ops/sandbox → infra, everyone → aws_clients."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

from infra.stack_files import PROJECT_ROOT

# What each layer of the product may import besides itself (the house rules, rule 15).
ALLOWED: Mapping[str, frozenset[str]] = {
    "aws_clients": frozenset(),
    "workers": frozenset(),
    "infra": frozenset(),
    "policy": frozenset(),
    "sandbox": frozenset({"workers", "infra", "aws_clients"}),
    "ops": frozenset({"sandbox", "workers", "infra", "aws_clients", "policy"}),
}
LAYERS = frozenset(ALLOWED) | {"bench", "tests"}


def imported_layers(source: str) -> Iterator[tuple[int, str]]:
    """(line, top-level project package) of every import in `source`, lazy ones included."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in LAYERS:
                yield node.lineno, top


def upward_imports(root: Path) -> list[str]:
    """Every import under `root` that leaves its layer's allowed set, as `path:line: a -> b`."""
    found = []
    for layer, allowed in ALLOWED.items():
        for path in sorted((root / layer).rglob("*.py")):
            for line, target in imported_layers(path.read_text(encoding="utf-8")):
                if target != layer and target not in allowed:
                    found.append(f"{path.relative_to(root)}:{line}: {layer} -> {target}")
    return sorted(found)


def test_no_product_module_imports_a_layer_above_it() -> None:
    # Given every module of the product's layers
    # When their imports (top-level and lazy) are read
    violations = upward_imports(PROJECT_ROOT)

    # Then none runs back up
    assert violations == []


def test_the_composition_root_imports_only_the_pulumi_side() -> None:
    # Given __main__.py
    source = (PROJECT_ROOT / "__main__.py").read_text(encoding="utf-8")

    # Then it composes infra/ alone
    assert {target for _, target in imported_layers(source)} == {"infra"}


def test_an_upward_import_is_reported_with_its_place(tmp_path: Path) -> None:
    # Given a tree where a worker lazily imports the sandbox and the sandbox imports ops
    for layer in ALLOWED:
        (tmp_path / layer).mkdir()
    (tmp_path / "workers" / "handler.py").write_text(
        "import json\n\ndef handler():\n    from sandbox.clock import SandboxClock\n", encoding="utf-8"
    )
    (tmp_path / "sandbox" / "engine.py").write_text(
        "from ops.cli import main\nimport workers\n", encoding="utf-8"
    )

    # When the imports are checked
    violations = upward_imports(tmp_path)

    # Then both are reported and the allowed downward import is not
    assert violations == ["sandbox/engine.py:1: sandbox -> ops", "workers/handler.py:4: workers -> sandbox"]
