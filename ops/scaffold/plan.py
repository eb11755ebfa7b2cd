"""Plans of `dmd workers create|remove`: every file written, computed before anything is; and applying them.

`plan_create` renders the worker's package and tests and the edits that wire it in: its catalog
entry, its block in every stack file, the GraphQL field of a resolver, and the test literals that pin
the fleet (`PINS`). `plan_remove` is the exact inverse for a scaffolded worker (and removes the same
places for any other). Everything is relative to a project root (the repository, or a copy in tests).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.stack_files import committed_stacks
from ops.scaffold.edits import (
    ScaffoldError,
    add_catalog_entry,
    add_query_field,
    add_stack_block,
    answer_type,
    catalog_workers,
    has_stack_block,
    remove_catalog_entry,
    remove_query_field,
    remove_stack_block,
    stack_block,
)
from ops.scaffold.pins import PINS
from ops.scaffold.render import catalog_entry_of, stack_body, worker_files
from ops.scaffold.request import CATALOG_FILE, SCHEMA_FILE, WorkerRequest, read_project_file


@dataclass(frozen=True)
class FileChange:
    """One file of a plan: created (`before` None), changed, or deleted (`after` None)."""

    path: str  # relative to the project root, POSIX
    before: str | None
    after: str | None

    @property
    def action(self) -> str:
        """create | update | delete."""
        if self.before is None:
            return "create"
        return "delete" if self.after is None else "update"


@dataclass(frozen=True)
class Plan:
    """Every file a create or remove writes, and the folders a remove deletes."""

    changes: tuple[FileChange, ...]
    removed_folders: tuple[str, ...] = ()
    removed_artifacts: tuple[str, ...] = ()  # remove: build outputs of the worker (git-ignored)
    references: tuple[str, ...] = ()  # remove: files outside the worker that still name it


def plan_create(root: Path, request: WorkerRequest) -> Plan:
    """The files of the new worker and the edits that wire it in (nothing written yet)."""
    changes = [FileChange(path, None, text) for path, text in worker_files(request).items()]
    catalog = read_project_file(root, CATALOG_FILE)
    changes.append(
        FileChange(CATALOG_FILE, catalog, add_catalog_entry(catalog, catalog_entry_of(request), CATALOG_FILE))
    )
    block = stack_block(request.name, stack_body(request))
    for stack in committed_stacks(root):
        relative = f"Pulumi.{stack}.yaml"
        text = read_project_file(root, relative)
        changes.append(FileChange(relative, text, add_stack_block(text, block, relative)))
    if request.trigger == "resolver":
        schema = read_project_file(root, SCHEMA_FILE)
        definition = answer_type(request.answer_type, request.source)
        edited = add_query_field(
            schema,
            field=request.source,
            type_name=request.answer_type,
            definition=definition,
            where=SCHEMA_FILE,
        )
        changes.append(FileChange(SCHEMA_FILE, schema, edited))
    for worker_pin in PINS:
        lines = worker_pin.lines(request)
        if lines:
            text = read_project_file(root, worker_pin.pin.path)
            changes.append(FileChange(worker_pin.pin.path, text, worker_pin.pin.add(text, lines)))
    return Plan(changes=tuple(changes))


def plan_remove(root: Path, name: str) -> Plan:
    """Every place the worker is wired in, undone, and its package and tests deleted (nothing written yet)."""
    catalog = read_project_file(root, CATALOG_FILE)
    workers = catalog_workers(catalog)
    if name not in workers:
        raise ScaffoldError(f"no worker {name!r} in {CATALOG_FILE} (workers: {', '.join(sorted(workers))})")
    source = workers[name].source
    changes = [FileChange(CATALOG_FILE, catalog, remove_catalog_entry(catalog, name, CATALOG_FILE))]
    for stack in committed_stacks(root):
        relative = f"Pulumi.{stack}.yaml"
        text = read_project_file(root, relative)
        if has_stack_block(text, name):
            changes.append(FileChange(relative, text, remove_stack_block(text, name)))
    field = re.search(r'field_name="([^"]+)"', source)
    if field is not None:
        schema = read_project_file(root, SCHEMA_FILE)
        pascal = "".join(part.capitalize() for part in name.split("_"))
        definition = answer_type(f"{pascal}Answer", field.group(1))
        edited = remove_query_field(schema, field=field.group(1), definition=definition)
        if edited != schema:
            changes.append(FileChange(SCHEMA_FILE, schema, edited))
    for worker_pin in PINS:
        path = root / worker_pin.pin.path
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            edited = worker_pin.pin.remove(text, name)
            if edited != text:
                changes.append(FileChange(worker_pin.pin.path, text, edited))
    folders = tuple(
        folder for folder in (f"workers/{name}", f"tests/workers/{name}") if (root / folder).is_dir()
    )
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                changes.append(
                    FileChange(path.relative_to(root).as_posix(), path.read_text(encoding="utf-8"), None)
                )
    touched = {change.path for change in changes}
    # The synth (and `dmd package`) leave the worker's code archive in build/.
    artifacts = tuple(path for path in (f"build/code/{name}.zip",) if (root / path).is_file())
    return Plan(
        changes=tuple(changes),
        removed_folders=folders,
        removed_artifacts=artifacts,
        references=_references(root, name, touched),
    )


def _references(root: Path, name: str, touched: set[str]) -> tuple[str, ...]:
    """Files outside the plan that still name the worker (a hand-written worker's other wiring)."""
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    found = []
    for folder in ("infra", "workers", "ops", "sandbox", "aws_clients", "bench", "tests", "docs"):
        for path in sorted((root / folder).rglob("*")):
            relative = path.relative_to(root).as_posix()
            if (
                path.suffix in (".py", ".md", ".graphql", ".yaml")
                and "__pycache__" not in path.parts
                and relative not in touched
                and not relative.startswith((f"workers/{name}/", f"tests/workers/{name}/"))
                and pattern.search(path.read_text(encoding="utf-8"))
            ):
                found.append(relative)
    return tuple(found)


def apply(root: Path, plan: Plan) -> None:
    """Write the plan under `root`: files created, changed, deleted; a remove's folders deleted."""
    for change in plan.changes:
        path = root / change.path
        if change.after is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(change.after, encoding="utf-8")
    for folder in plan.removed_folders:
        shutil.rmtree(root / folder, ignore_errors=True)
    for artifact in plan.removed_artifacts:
        (root / artifact).unlink(missing_ok=True)


def update_snapshots(root: Path) -> subprocess.CompletedProcess[str]:
    """`dmd synth --update-snapshots` of the project at `root`, in a fresh interpreter.

    A fresh process: this one imported the catalog before the edit (and, in tests, from another root).
    """
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", "from ops.cli import main; main()", "synth", "--update-snapshots"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
