"""The committed per-stack snapshots: the offline, reviewable plan of what each stack deploys."""

from __future__ import annotations

import difflib
import json

import pytest

from infra.catalog import CATALOG
from infra.offline import synthesize_stack
from infra.snapshots import CODE_PLACEHOLDER, snapshot_path, snapshot_text
from ops.synth_commands import SNAPSHOT_DIR
from tests.infra.graphs import STACKS, stack_graph

DIFF_LINES = 60


def _program_snapshot(stack: str) -> str:
    return snapshot_text(json.loads(stack_graph(stack).to_json()))


def _short_diff(committed: str, program: str, stack: str) -> str:
    diff = difflib.unified_diff(
        committed.splitlines(),
        program.splitlines(),
        f"tests/infra/snapshots/{stack}.json (committed)",
        f"{stack} (program)",
        lineterm="",
    )
    lines = list(diff)
    shown = "\n".join(lines[:DIFF_LINES])
    more = f"\n... {len(lines) - DIFF_LINES} more diff lines" if len(lines) > DIFF_LINES else ""
    return f"{shown}{more}\nrun `make snapshots` and review the diff"


@pytest.mark.parametrize("stack", STACKS)
def test_program_matches_the_committed_snapshot(stack: str) -> None:
    # Given the committed snapshot of a stack
    path = snapshot_path(SNAPSHOT_DIR, stack)
    assert path.is_file(), f"{path} is missing: run `make snapshots` and review the diff"
    committed = path.read_text(encoding="utf-8")

    # When the program is synthesized for that stack
    program = _program_snapshot(stack)

    # Then it declares exactly what the snapshot shows
    if program != committed:
        pytest.fail(_short_diff(committed, program, stack), pytrace=False)


def test_every_snapshot_belongs_to_a_committed_stack() -> None:
    # Given the snapshot directory
    # When its files are listed
    snapshots = sorted(path.stem for path in SNAPSHOT_DIR.glob("*.json"))

    # Then there is one per committed stack and no stale leftovers
    assert snapshots == sorted(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_synthesis_is_deterministic(stack: str) -> None:
    # Given the stack synthesized once already
    first = _program_snapshot(stack)

    # When it is synthesized again from scratch
    second = snapshot_text(json.loads(synthesize_stack(stack).to_json()))

    # Then the snapshot text is byte-for-byte identical (fake ids, ARNs and order are stable)
    assert second == first


def test_snapshots_mask_worker_code_but_keep_everything_else() -> None:
    # Given a graph whose function carries a code archive and hash
    document = json.loads(stack_graph("prod1").to_json())

    # When it is turned into snapshot text
    snapshot = json.loads(snapshot_text(document))

    # Then worker code is masked (edits of workers/ do not churn snapshots) and nothing else changes
    functions = [r for r in snapshot["resources"] if r["type"] == "aws:lambda/function:Function"]
    assert len(functions) == len(CATALOG)
    assert {(f["inputs"]["code"], f["inputs"]["sourceCodeHash"]) for f in functions} == {
        (CODE_PLACEHOLDER, CODE_PLACEHOLDER)
    }
    for resource in (
        *functions,
        *(r for r in document["resources"] if r["type"] == "aws:lambda/function:Function"),
    ):
        resource["inputs"].pop("code")
        resource["inputs"].pop("sourceCodeHash")
    assert snapshot == document
