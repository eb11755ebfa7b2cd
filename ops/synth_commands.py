"""`dmd synth`: the offline resource graph of a stack, as the real program declares it."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra.config import ConfigError
from infra.offline import synthesize_stack
from infra.snapshots import snapshot_path, snapshot_text
from infra.stack_files import PROJECT_ROOT, committed_stacks
from infra.synth import StackFileError

# Where the committed snapshots live: tested by tests/infra/test_snapshots.py, refreshed by `make snapshots`.
SNAPSHOT_DIR = PROJECT_ROOT / "tests" / "infra" / "snapshots"


def synth(
    *,
    stack: Annotated[str | None, typer.Option(help="Stack to synthesize (Pulumi.<stack>.yaml).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the graph JSON here (default: stdout).")] = None,
    preview: Annotated[bool, typer.Option(help="Run in preview mode (unknown outputs).")] = False,
    update_snapshots: Annotated[
        bool,
        typer.Option(help="Rewrite the snapshot <snapshot-dir>/<stack>.json of every (or the given) stack."),
    ] = False,
    check: Annotated[bool, typer.Option(help="Exit 1 and show a diff if a snapshot is out of date.")] = False,
    snapshot_dir: Annotated[
        Path, typer.Option(help="Folder of the snapshots.", show_default="tests/infra/snapshots")
    ] = SNAPSHOT_DIR,
) -> None:
    """Run __main__.py under recording mocks with a stack's committed config; print the graph."""
    console = Console(stderr=True)
    stacks = [stack] if stack else committed_stacks()
    if not (update_snapshots or check) and len(stacks) != 1:
        raise typer.BadParameter(
            "name one --stack (or use --update-snapshots / --check)", param_hint="--stack"
        )
    stale = False
    for name in stacks:
        try:
            graph = synthesize_stack(name, preview=preview)
        except (ConfigError, StackFileError) as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
        document = json.loads(graph.to_json())
        if update_snapshots or check:
            path = snapshot_path(snapshot_dir, name)
            wanted = snapshot_text(document)
            current = path.read_text(encoding="utf-8") if path.exists() else ""
            if update_snapshots and current != wanted:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(wanted, encoding="utf-8")
                shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
                console.print(f"updated {shown} — review the diff before committing")
            elif check and current != wanted:
                stale = True
                diff = difflib.unified_diff(
                    current.splitlines(),
                    wanted.splitlines(),
                    f"{name} (committed)",
                    f"{name} (program)",
                    lineterm="",
                )
                console.print("\n".join(list(diff)[:200]), markup=False, highlight=False)
            continue
        functions = len(graph.of_type("aws:lambda/function:Function"))
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        console.print(f"{name}: {len(graph.resources)} resources, {functions} functions → {out or 'stdout'}")
    if stale:
        console.print("[red]snapshots are stale: run `make snapshots` and review the diff[/red]")
        raise typer.Exit(1)
