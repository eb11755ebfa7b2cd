"""`dmd workers create|remove` in a copy of the repository: a working worker, and every file restored after.

The end-to-end tests run the new worker's tests, ruff and mypy in the copy (fresh interpreters, the
copy first on the path), so nothing here touches the repository itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.catalog import CATALOG
from infra.stack_files import PROJECT_ROOT
from ops.scaffold.edits import (
    Pin,
    ScaffoldError,
    add_catalog_entry,
    add_query_field,
    add_stack_block,
    answer_type,
    catalog_entry,
    catalog_workers,
    remove_catalog_entry,
    remove_query_field,
    remove_stack_block,
    stack_block,
)
from ops.scaffold.pins import PINS
from ops.scaffold.request import validate_request
from tests.ops.cli_output import flat, run_dmd

# What the copy needs: the program, its stacks, every package and the tests (with their pins).
COPIED = (
    "Pulumi.yaml",
    "__main__.py",
    "pyproject.toml",
    "aws_clients",
    "infra",
    "ops",
    "sandbox",
    "workers",
    "tests",
)
CACHES = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis")
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The repository's sources, stack files and tests, copied (no caches, no .git, no build)."""
    root = tmp_path / "repository"
    root.mkdir()
    for name in (*COPIED, *(path.name for path in PROJECT_ROOT.glob("Pulumi.*.yaml"))):
        source = PROJECT_ROOT / name
        if source.is_dir():
            # Not this module: it names the workers it creates, which `remove` would report as references.
            ignored = shutil.ignore_patterns(*CACHES, Path(__file__).name)
            shutil.copytree(source, root / name, ignore=ignored)
        else:
            shutil.copy2(source, root / name)
    return root


def with_mypy_cache(root: Path) -> None:
    """The repository's mypy cache in the copy (`make test` type-checks first): the copy's unchanged
    modules and its dependencies' stubs are cache hits (same content, same mtimes), so mypy checks
    only what a test added."""
    if (PROJECT_ROOT / ".mypy_cache").is_dir():
        shutil.copytree(PROJECT_ROOT / ".mypy_cache", root / ".mypy_cache")


def tree_hashes(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under `root` but caches (and the `skip` prefixes)."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and not set(path.relative_to(root).parts) & set(CACHES)
        and not path.relative_to(root).as_posix().startswith(skip)
    }


def run_in(root: Path, *command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A command of this virtualenv in the copy, the copy first on the import path."""
    environment = {**os.environ, "PYTHONPATH": str(root)}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode caches: fresh interpreters import faster
    return subprocess.run(
        list(command), cwd=root, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )


def create(root: Path, *arguments: str) -> dict[str, object]:
    """`dmd workers create ARGUMENTS --project-root ROOT --json`, its document."""
    result = run_dmd("workers", "create", *arguments, "--project-root", str(root), "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def _unused_worker(name: str, code: str) -> tuple[str, str]:
    """`name` and `code` if no catalog worker has them, else the first free `name_b`/`code-b`, … pair."""
    names = {spec.name for spec in CATALOG}
    codes = {spec.inventory_code for spec in CATALOG}
    for suffix in ("", *"bcdefghijklmnopqrstuvwxyz"):
        candidate = (f"{name}_{suffix}", f"{code}-{suffix}") if suffix else (name, code)
        if candidate[0] not in names and candidate[1] not in codes:
            return candidate
    raise AssertionError(f"no free worker name like {name!r}")


# The worker these tests create: the help's example (fan_digest), unless the catalog already has one
# by that name or code (a worker scaffolded from the example), then the first free variant.
NAME, CODE = _unused_worker("fan_digest", "fan-dgst")
FIELD = NAME.split("_")[0] + "".join(part.capitalize() for part in NAME.split("_")[1:])
ANSWER = "".join(part.capitalize() for part in NAME.split("_")) + "Answer"


# ------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["FanDigest", "--trigger", "schedule", "--code", "fan-dgst"], "'FanDigest' is not a worker name"),
        (["class", "--trigger", "schedule", "--code", "fan-dgst"], "'class' is not a worker name"),
        (["a" * 31, "--trigger", "schedule", "--code", "fan-dgst"], "at most 30 characters"),
        (["shared", "--trigger", "schedule", "--code", "fan-dgst"], "'shared' is already a worker"),
        (
            ["notification_send", "--trigger", "schedule", "--code", "x-y"],
            "is already a worker of the catalog",
        ),
        (
            [NAME, "--trigger", "schedule", "--code", "Fan_Dgst"],
            "--code 'Fan_Dgst': an inventory code",
        ),
        (
            [NAME, "--trigger", "schedule", "--code", "ntfcn-snd"],
            "'ntfcn-snd' is notification_send's",
        ),
        ([NAME, "--trigger", "resolver", "--code", "f" * 40], "use at most 32 characters"),
        ([NAME, "--trigger", "queue", "--code", CODE], "a queue worker reads one of short_url"),
        (
            [NAME, "--trigger", "stream", "--code", "f", "--source", "kinesis"],
            "one of table, sms_status",
        ),
        (
            [NAME, "--trigger", "schedule", "--code", "f", "--source", "every hour"],
            "is not an EventBridge",
        ),
        (
            [NAME, "--trigger", "resolver", "--code", "f", "--source", "tmAccount"],
            "Query.tmAccount exists",
        ),
        ([NAME, "--trigger", "resolver", "--code", "f", "--source", "Fan"], "is not a GraphQL field"),
        ([NAME, "--trigger", "schedule", "--code", "f", "--description", "x" * 81], "--description"),
    ],
)
def test_a_bad_request_is_refused_naming_the_problem(copy: Path, arguments: list[str], reason: str) -> None:
    # Given the repository (a copy) / When the worker is asked for with a bad name, code or source
    before = tree_hashes(copy)
    result = run_dmd("workers", "create", *arguments, "--project-root", str(copy))

    # Then it exits 2 with the reason and writes nothing
    assert result.exit_code == 2, result.output
    assert reason in flat(result.stderr)
    assert tree_hashes(copy) == before


def test_a_dry_run_lists_every_file_and_writes_nothing(copy: Path) -> None:
    # Given the repository (a copy)
    before = tree_hashes(copy)

    # When a resolver worker is created as a dry run
    document = create(copy, NAME, "--trigger", "resolver", "--code", CODE, "--dry-run")

    # Then the plan names the package, its tests and every wired-in file, and nothing changed
    files = {item["path"]: item["action"] for item in document["files"]}  # type: ignore[attr-defined]
    assert files == {
        **{
            f"workers/{NAME}/{name}.py": "create"
            for name in ("__init__", "handler", "logic", "models", "settings")
        },
        f"tests/workers/{NAME}/test_{NAME}_logic.py": "create",
        f"tests/workers/{NAME}/test_{NAME}_handler.py": "create",
        "infra/catalog.py": "update",
        "infra/schema.graphql": "update",
        **{f"Pulumi.{stack}.yaml": "update" for stack in ("local", "prod1", "qa1")},
        **{
            pin.pin.path: "update"
            for pin in PINS
            if pin.pin.path != "tests/infra/program/test_program_alarms.py"
        },
    }
    assert document["source"] == FIELD and document["snapshots"] == "dry-run"
    assert tree_hashes(copy) == before


def test_a_queue_another_worker_consumes_gets_a_disabled_mapping_and_a_warning(copy: Path) -> None:
    # When a worker of the short-url queue (shorten_event_url's) is created
    arguments = ["--trigger", "queue", "--code", CODE, "--source", "short_url", "--no-snapshots"]
    document = create(copy, NAME, *arguments)

    # Then its mapping is disabled in every stack file, and the operator is told why
    assert "the short_url queue is consumed by shorten_event_url" in document["warnings"][0]  # type: ignore[index]
    for stack in ("local", "prod1", "qa1"):
        text = (copy / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")
        assert f"    {NAME}:\n      memoryMb: 512\n      trigger:\n        batchSize: 10\n" in text
        assert "        enabled: false\n" in text


# ---------------------------------------------------------------------------- the text edits


def test_a_catalog_entry_is_added_last_and_removed_exactly() -> None:
    # Given the catalog's text
    text = (PROJECT_ROOT / "infra/catalog.py").read_text(encoding="utf-8")
    entry = catalog_entry(
        name=NAME,
        code=CODE,
        description='Counts "fans"',
        source="ScheduleSource()",
        access="frozenset({Access.TABLE_READ})",
    )

    # When the entry is added / Then it is the last worker, its quotes escaped, and removal restores the text
    added = add_catalog_entry(text, entry, "infra/catalog.py")
    assert list(catalog_workers(added))[-1] == NAME
    assert catalog_workers(added)[NAME].source == "ScheduleSource()"
    assert 'description="Counts \\"fans\\"",' in added
    assert remove_catalog_entry(added, NAME, "infra/catalog.py") == text
    with pytest.raises(ScaffoldError, match="no WorkerSpec named 'nope'"):
        remove_catalog_entry(text, "nope", "infra/catalog.py")


@pytest.mark.parametrize("stack", ["local", "prod1", "qa1"])
def test_a_stack_block_goes_last_under_workers_and_comes_out_exactly(stack: str) -> None:
    text = (PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")
    block = stack_block(NAME, ["trigger:", "  scheduleExpression: rate(1 hour)"])
    added = add_stack_block(text, block, f"Pulumi.{stack}.yaml")
    workers = added.split("  dmd-workers:workers:\n", 1)[1].split("\n  dmd-workers:", 1)[0]
    assert workers.endswith(block.rstrip("\n"))
    assert remove_stack_block(added, NAME) == text


def test_a_query_field_and_its_type_come_and_go_exactly() -> None:
    text = (PROJECT_ROOT / "infra/schema.graphql").read_text(encoding="utf-8")
    definition = answer_type(ANSWER, FIELD)
    added = add_query_field(text, field=FIELD, type_name=ANSWER, definition=definition, where="schema")
    query = added.split("type Query {", 1)[1].split("}", 1)[0]
    assert query.rstrip().endswith(f"{FIELD}(eventId: ID!): {ANSWER}")
    assert f"type {ANSWER} {{" in added.split("type Query {", 1)[0]
    assert remove_query_field(added, field=FIELD, definition=definition) == text
    with pytest.raises(ScaffoldError, match="already has a field 'eventDetails'"):
        add_query_field(text, field="eventDetails", type_name="X", definition="", where="schema")


def test_a_pin_gains_the_workers_line_in_order_and_loses_it_exactly() -> None:
    # Given a test literal that pins the fleet, sorted
    text = 'NAMES = [\n    "alpha",\n    "omega",\n]\nOTHER = 1\n'
    pin = Pin("t.py", "NAMES = [", sorted_items=True)

    # When a worker's line is added / Then it sits in order, and removal gives the text back
    added = pin.add(text, ['    "fan_digest",'])
    assert added == 'NAMES = [\n    "alpha",\n    "fan_digest",\n    "omega",\n]\nOTHER = 1\n'
    assert pin.remove(added, "fan_digest") == text
    assert pin.remove(added, "fan") == added  # a prefix of the name is another worker
    with pytest.raises(ScaffoldError, match=re.escape("t.py: no line 'MISSING = [' to anchor the edit on")):
        Pin("t.py", "MISSING = [").add(text, ['    "x",'])


def test_every_pin_is_found_in_the_repository() -> None:
    # Given the test literals that pin the fleet / Then each is where the scaffold looks for it
    for worker_pin in PINS:
        worker_pin.pin.check((PROJECT_ROOT / worker_pin.pin.path).read_text(encoding="utf-8"))


def test_each_trigger_adds_its_lines_to_the_pins_that_concern_it() -> None:
    # Given one request per trigger
    lines = {}
    for trigger, source in (
        ("queue", "short_url"),
        ("stream", "table"),
        ("schedule", None),
        ("resolver", None),
    ):
        request = validate_request(
            PROJECT_ROOT, name=NAME, trigger=trigger, code=CODE, source=source, description=None
        )
        lines[trigger] = {pin.pin.path: pin.lines(request) for pin in PINS if pin.lines(request)}

    # Then every worker is named, batch workers are the error-rate alarm's, resolvers skip two resources
    assert lines["schedule"]["tests/sandbox/test_runtime.py"] == [f'    "{NAME}": "sweep",']
    assert lines["stream"]["tests/ops/test_workers_commands.py"] == [f'        "{NAME}": "stream table",']
    assert "tests/infra/program/test_program_alarms.py" in lines["queue"]
    assert "tests/infra/program/test_program_alarms.py" not in lines["resolver"]
    assert lines["resolver"]["tests/sandbox/test_materialize.py"] == [
        f'        "{NAME}-data-source",',
        f'        "{NAME}-resolver",',
    ]
    assert lines["resolver"]["tests/infra/program/test_program_triggers.py"] == [
        f'    "{NAME}": ("Query", "{FIELD}"),'
    ]


# ------------------------------------------------------------------------------ end to end


@pytest.mark.slow  # two synths of every stack, the worker's tests, ruff and mypy in fresh interpreters
def test_a_created_queue_worker_passes_its_tests_lint_types_and_synth_and_remove_restores_every_file(
    copy: Path,
) -> None:
    # Given the copy; its snapshots and build outputs are regenerated below, so they are compared apart
    # (the committed snapshots may lag behind infra edits not yet committed)
    generated = ("tests/infra/snapshots/", "build/")
    before = tree_hashes(copy, skip=generated)
    with_mypy_cache(copy)

    # When a queue worker of the generation queue is created (snapshots regenerated by the command)
    document = create(
        copy, "presale_digest", "--trigger", "queue", "--code", "prsl-dgst", "--source", "generation"
    )
    assert document["snapshots"] == "updated"

    # Then its tests pass in the copy (logic on moto, handler with the environment the local stack declares)
    tests = run_in(
        copy, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/workers/presale_digest"
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "4 passed" in tests.stdout
    # And ruff and mypy accept the generated files
    files = ["workers/presale_digest", "tests/workers/presale_digest"]
    assert run_in(copy, str(VENV_BIN / "ruff"), "check", *files).returncode == 0
    assert run_in(copy, str(VENV_BIN / "ruff"), "format", "--check", *files).returncode == 0
    types = run_in(copy, str(VENV_BIN / "mypy"), "workers/presale_digest")
    assert types.returncode == 0, types.stdout
    # And every stack's synth declares its function and mapping (the snapshots the command wrote)
    for stack in ("local", "prod1", "qa1"):
        named = {resource["name"]: resource for resource in _snapshot(copy, stack)["resources"]}
        assert named["presale_digest-function"]["inputs"]["name"] == f"prd3292-{stack}-us-east-1-prsl-dgst"
        assert named["presale_digest-trigger"]["inputs"]["eventSourceArn"].endswith(
            f"prd3292-{stack}-us-east-1-generation-jobs"
        )
        assert named["presale_digest-trigger"]["inputs"]["enabled"] is False  # the generator consumes it

    # When it is removed again
    result = run_dmd("workers", "remove", "presale_digest", "--project-root", str(copy), "--yes", "--json")

    # Then every file is as before, byte for byte, the regenerated snapshots no longer name it, nor
    # does build/ keep its archive, and the pulumi up that destroys it is named
    assert result.exit_code == 0, result.output
    assert tree_hashes(copy, skip=generated) == before
    for stack in ("local", "prod1", "qa1"):
        assert "presale_digest" not in json.dumps(_snapshot(copy, stack))
    assert not (copy / "build/code/presale_digest.zip").exists()
    removed = json.loads(result.stdout)
    assert removed["pulumiUp"] == [
        "pulumi up --stack local",
        "pulumi up --stack prod1",
        "pulumi up --stack qa1",
    ]
    assert removed["destroyed"]["prod1"] == {
        "function": "prd3292-prod1-us-east-1-prsl-dgst",
        "logGroup": "/aws/lambda/prd3292-prod1-us-east-1-prsl-dgst",
        "queues": [],
    }
    assert removed["references"] == []


def _snapshot(root: Path, stack: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (root / f"tests/infra/snapshots/{stack}.json").read_text(encoding="utf-8")
    )
    return document


@pytest.mark.slow  # the workers' tests in a fresh interpreter (one synth of the local stack)
def test_stream_schedule_and_resolver_workers_pass_their_tests_lint_and_types(copy: Path) -> None:
    # Given a worker of each other trigger (and source) created in the copy
    workers = {
        "status_audit": ["--trigger", "stream", "--code", "sts-adt", "--source", "table"],
        "delivery_reader": ["--trigger", "stream", "--code", "dlvry-rdr", "--source", "sms_status"],
        "hourly_sales": ["--trigger", "schedule", "--code", "hrly-sls", "--source", "rate(2 hours)"],
        "a_long_name_for_the_resolver_x": ["--trigger", "resolver", "--code", "lng-rslvr"],
    }
    with_mypy_cache(copy)
    for name, arguments in workers.items():
        create(copy, name, *arguments, "--no-snapshots")

    # When their tests (logic and handler) run in the copy, with ruff and mypy over what was generated
    folders = [f"tests/workers/{name}" for name in workers]
    tests = run_in(copy, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *folders)
    packages = [f"workers/{name}" for name in workers]
    lint = run_in(copy, str(VENV_BIN / "ruff"), "check", *packages, *folders)
    formatting = run_in(copy, str(VENV_BIN / "ruff"), "format", "--check", *packages, *folders)
    types = run_in(copy, str(VENV_BIN / "mypy"), *packages)

    # Then all pass
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert lint.returncode == 0, lint.stdout
    assert formatting.returncode == 0, formatting.stdout
    assert types.returncode == 0, types.stdout
    # And the resolver's field, with its default name, is in the schema and the catalog
    schema = (copy / "infra/schema.graphql").read_text(encoding="utf-8")
    assert "  aLongNameForTheResolverX(eventId: ID!): ALongNameForTheResolverXAnswer\n" in schema
    catalog = catalog_workers((copy / "infra/catalog.py").read_text(encoding="utf-8"))
    assert catalog["a_long_name_for_the_resolver_x"].source == (
        'ResolverSource(type_name="Query", field_name="aLongNameForTheResolverX")'
    )
    assert catalog["hourly_sales"].code == "hrly-sls"
    assert "        scheduleExpression: rate(2 hours)\n" in (copy / "Pulumi.qa1.yaml").read_text(
        encoding="utf-8"
    )


def test_removing_an_unknown_worker_is_bad_input(copy: Path) -> None:
    result = run_dmd("workers", "remove", "nope", "--project-root", str(copy), "--yes")
    assert result.exit_code == 2
    assert "no worker 'nope' in infra/catalog.py" in flat(result.stderr)


def test_removing_a_hand_written_worker_lists_what_still_names_it(copy: Path) -> None:
    # When a worker the scaffold did not write is removed as a dry run
    result = run_dmd(
        "workers", "remove", "shorten_event_url", "--project-root", str(copy), "--dry-run", "--json"
    )

    # Then the plan deletes its package and tests, and names the other files that mention it
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document["removedFolders"]) == {"workers/shorten_event_url", "tests/workers/shorten_event_url"}
    assert {"tests/infra/config/test_config_resolved_triggers.py", "tests/infra/test_triggers.py"} <= set(
        document["references"]
    )
    assert document["destroyed"]["qa1"]["function"] == "prd3292-qa1-us-east-1-shortn-evnt-url"
    assert (copy / "workers/shorten_event_url/handler.py").exists()


def test_a_declined_remove_changes_nothing(copy: Path) -> None:
    # Given a scaffolded worker
    create(copy, NAME, "--trigger", "schedule", "--code", CODE, "--no-snapshots")
    before = tree_hashes(copy)

    # When its removal is declined
    result = run_dmd("workers", "remove", NAME, "--project-root", str(copy), "--no-snapshots", input="n\n")

    # Then nothing changed, and it exits 1
    assert result.exit_code == 1
    assert "aborted: nothing changed" in result.stderr
    assert tree_hashes(copy) == before
