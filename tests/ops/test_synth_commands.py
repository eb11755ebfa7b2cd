"""`dmd synth`: the offline resource graph of a stack, from the operator's side of the CLI."""

from __future__ import annotations

import functools
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from infra.catalog import CATALOG
from infra.config import ConfigError
from infra.offline import synthesize_stack
from infra.snapshots import snapshot_path
from infra.stack_files import PROJECT_ROOT, load_committed
from ops import synth_commands
from ops.cli import app
from tests.infra.graphs import stack_graph

TRIGGER_TYPES = frozenset(
    {
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:appsync/resolver:Resolver",
    }
)


@pytest.fixture
def shared_graphs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI synthesizes through the suite's per-process graphs (same program, same config, once)."""
    monkeypatch.setattr(
        synth_commands, "synthesize_stack", lambda stack, preview=False: stack_graph(stack, preview=preview)
    )


def _run(*arguments: str) -> Result:
    return CliRunner().invoke(app, list(arguments))


def _flat(text: str) -> str:
    """Output with Rich's line wrapping undone."""
    return " ".join(text.split())


def _siblings(document: dict[str, Any], parent: str) -> Counter[str]:
    return Counter(resource["type"] for resource in document["resources"] if resource["parent"] == parent)


def test_synth_writes_the_graph_of_one_stack(tmp_path: Path) -> None:
    # Given an output path
    out = tmp_path / "graph" / "g.json"

    # When prod1 is synthesized into it
    result = _run("synth", "--stack", "prod1", "--out", str(out))

    # Then the command succeeds and the JSON lists one function per catalog worker, each inside a
    # Worker with its role, log group, alias, a trigger and at least six alarms
    assert result.exit_code == 0, result.output
    assert "prod1:" in result.output and f"{len(CATALOG)} functions" in result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert (document["stack"], document["preview"]) == ("prod1", False)
    functions = [r for r in document["resources"] if r["type"] == "aws:lambda/function:Function"]
    assert len(functions) == len(CATALOG)
    for function in functions:
        worker = function["parent"]
        siblings = _siblings(document, worker)
        assert siblings["aws:iam/role:Role"] >= 1, worker
        assert siblings["aws:cloudwatch/logGroup:LogGroup"] == 1, worker
        assert siblings["aws:lambda/alias:Alias"] == 1, worker
        assert sum(siblings[trigger] for trigger in TRIGGER_TYPES) == 1, worker
        assert siblings["aws:cloudwatch/metricAlarm:MetricAlarm"] >= 6, worker


@pytest.mark.usefixtures("shared_graphs")
def test_synth_check_passes_with_the_committed_snapshots() -> None:
    # Given the committed snapshots of every stack
    # When the check runs over all of them
    result = _run("synth", "--check")

    # Then none is stale
    assert result.exit_code == 0, result.output
    assert "stale" not in result.output


@pytest.mark.usefixtures("shared_graphs")
def test_synth_check_fails_with_a_diff_when_a_snapshot_is_stale(tmp_path: Path) -> None:
    # Given a prod1 snapshot that disagrees with the program on one value
    committed = snapshot_path(synth_commands.SNAPSHOT_DIR, "prod1").read_text(encoding="utf-8")
    stale = committed.replace('"memorySize": 2048', '"memorySize": 1024', 1)
    assert stale != committed
    (tmp_path / "prod1.json").write_text(stale, encoding="utf-8")

    # When the check runs against that snapshot folder
    result = _run("synth", "--stack", "prod1", "--check", "--snapshot-dir", str(tmp_path))

    # Then it fails, shows the changed line and says how to refresh the snapshots
    assert result.exit_code == 1
    changed = [line for line in result.output.splitlines() if line[:1] in "-+" and "memorySize" in line]
    assert [(line[0], line[1:].strip()) for line in changed] == [
        ("-", '"memorySize": 1024,'),
        ("+", '"memorySize": 2048,'),
    ]
    assert "run `make snapshots` and review the diff" in _flat(result.output)


def test_synth_of_an_unknown_stack_names_the_missing_stack_file() -> None:
    # Given no Pulumi.nope.yaml
    # When it is synthesized
    result = _run("synth", "--stack", "nope")

    # Then the command fails naming the file and the stacks that exist
    assert result.exit_code != 0
    assert "Pulumi.nope.yaml" in result.output
    assert "local, prod1, qa1" in _flat(result.output)


def test_synth_needs_a_stack_unless_checking_or_updating() -> None:
    # Given several committed stacks
    # When synth runs without --stack
    result = _run("synth")

    # Then it refuses with a usage error naming the option
    assert result.exit_code == 2
    assert "--stack" in result.output


def test_synth_of_a_broken_stack_file_exits_2_with_the_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a copy of the project whose prod1 stack file gives notification_send 64 MB of memory
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    stack_file = (PROJECT_ROOT / "Pulumi.prod1.yaml").read_text(encoding="utf-8")
    assert stack_file.count("memoryMb: 2048") == 1
    (tmp_path / "Pulumi.prod1.yaml").write_text(
        stack_file.replace("memoryMb: 2048", "memoryMb: 64"), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as expected:
        load_committed("prod1", tmp_path)
    monkeypatch.setattr(
        synth_commands, "synthesize_stack", functools.partial(synthesize_stack, project_root=tmp_path)
    )

    # When that stack is synthesized
    result = _run("synth", "--stack", "prod1")

    # Then the command exits 2 with the validation message naming file, key, rule and value
    assert result.exit_code == 2
    assert _flat(str(expected.value)) in _flat(result.output)
    assert (
        "Pulumi.prod1.yaml: dmd-workers:workers.notification_send.memoryMb: "
        "Input should be greater than or equal to 128 (got 64)"
    ) in _flat(result.output)
