"""`dmd config`: validate a stack file into its resolved worker settings, and keep the reference current."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import config_docs
from infra.catalog import CATALOG
from infra.stack_files import PROJECT_ROOT, committed_stacks, load_committed, stack_file_values
from ops import config_commands
from tests.infra.config.filled_prod1 import PROD1_PLACEHOLDERS, filled_project
from tests.ops.cli_output import command_json, flat, run_dmd, table_rows

COLUMNS = ("worker", "memory", "timeout", "arch", "reserved", "logs", "trigger")


def _project_with(tmp_path: Path, stack: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the project's stack files in which `edit` changed the stack's workers block."""
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    document = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    edit(document["config"]["dmd-workers:workers"])
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return tmp_path


def _validate_in(monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    monkeypatch.setattr(
        config_commands, "load_committed", functools.partial(load_committed, project_root=project)
    )


@pytest.mark.parametrize("stack", committed_stacks())
def test_validate_lists_every_catalog_worker_of_a_committed_stack(stack: str) -> None:
    # Given a committed stack file
    # When it is validated
    result = run_dmd("config", "validate", "--stack", stack)

    # Then it is valid, and the table has one row per worker of the catalog
    assert result.exit_code == 0, result.output
    assert f"{stack}: resolved worker settings" in result.output
    assert sorted(table_rows(result.output, COLUMNS)) == sorted(spec.name for spec in CATALOG)


def test_validate_shows_the_resolved_values_of_the_stack_file() -> None:
    # Given prod1's sizes, log settings and triggers (read off Pulumi.prod1.yaml and its defaults)
    # When it is validated
    rows = table_rows(run_dmd("config", "validate", "--stack", "prod1").output, COLUMNS)

    # Then each row shows the merged values, and each trigger is summarized by its kind
    assert rows["notification_send"] == {
        "worker": "notification_send",
        "memory": "2048 MB",
        "timeout": "60 s",
        "arch": "arm64",
        "reserved": "100",
        "logs": "30 d + stream",
        "trigger": "batch 200 · window 1s · x10 · retries 3 · age 3600s · 1 filter(s)",
    }
    assert rows["notification_generator"]["trigger"] == "batch 1 · window 0s · max 10"
    assert rows["notification_scheduler"]["trigger"] == "cron(0/30 * * * ? *)"
    assert rows["event_details"]["trigger"] == "AppSync resolver"


def test_validate_marks_a_disabled_trigger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given qa1 with the sender's stream trigger and the scheduler's schedule switched off
    def disable(workers: dict[str, Any]) -> None:
        for name in ("notification_send", "notification_scheduler"):
            workers.setdefault(name, {}).setdefault("trigger", {})["enabled"] = False

    _validate_in(monkeypatch, _project_with(tmp_path, "qa1", disable))

    # When it is validated
    rows = table_rows(run_dmd("config", "validate", "--stack", "qa1").output, COLUMNS)

    # Then exactly those two triggers say so (besides any the committed file keeps disabled)
    disabled = {name for name, row in rows.items() if row["trigger"].startswith("DISABLED ")}
    committed = load_committed("qa1").workers.items()
    already = {name for name, worker in committed if not getattr(worker.trigger, "enabled", True)}
    assert disabled == {"notification_send", "notification_scheduler"} | already


def test_validate_of_an_invalid_stack_file_exits_2_with_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given qa1 giving the sender 64 MB of memory
    def shrink(workers: dict[str, Any]) -> None:
        workers["notification_send"]["memoryMb"] = 64

    _validate_in(monkeypatch, _project_with(tmp_path, "qa1", shrink))

    # When it is validated
    result = run_dmd("config", "validate", "--stack", "qa1")

    # Then it exits 2 naming the file, the key, the rule and the value, and prints no table
    assert result.exit_code == 2
    assert (
        "Pulumi.qa1.yaml: dmd-workers:workers.notification_send.memoryMb: "
        "Input should be greater than or equal to 128 (got 64)"
    ) in flat(result.output)
    assert table_rows(result.output, COLUMNS) == {}


def test_validate_of_an_unknown_stack_names_the_missing_file() -> None:
    # Given no Pulumi.nope.yaml
    # When it is validated
    result = run_dmd("config", "validate", "--stack", "nope")

    # Then it exits 2 naming the file and the stacks that exist
    assert result.exit_code == 2
    assert "Pulumi.nope.yaml" in result.output
    assert "local, prod1, qa1" in flat(result.output)


def test_docs_check_passes_for_the_committed_reference() -> None:
    # Given the committed docs/configuration.md
    # When it is checked against the models
    result = run_dmd("config", "docs", "--check")

    # Then it is current and nothing is written
    assert result.exit_code == 0, result.output
    assert result.output == ""


def test_docs_check_fails_for_a_stale_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a reference that no longer matches the models
    stale = tmp_path / "configuration.md"
    stale.write_text(config_docs.render().replace("batchSize", "batch_size"), encoding="utf-8")
    monkeypatch.setattr(config_docs, "DOC_PATH", stale)

    # When it is checked
    result = run_dmd("config", "docs", "--check")

    # Then it fails and says how to refresh it
    assert result.exit_code == 1
    assert "docs/configuration.md is stale: run `dmd config docs`" in result.output


def test_docs_writes_the_reference_once_then_reports_it_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no reference yet at the target path
    target = tmp_path / "configuration.md"
    monkeypatch.setattr(config_docs, "write", functools.partial(config_docs.write, target))

    # When the docs command runs twice
    first, second = run_dmd("config", "docs"), run_dmd("config", "docs")

    # Then the first run writes the rendered reference and the second finds nothing to change
    assert (first.exit_code, second.exit_code) == (0, 0)
    assert first.output == "docs/configuration.md updated\n"
    assert second.output == "docs/configuration.md already up to date\n"
    assert target.read_text(encoding="utf-8") == config_docs.render()


# ---------------------------------------------------------------------------------------------
# --strict: the production deploy gate
# ---------------------------------------------------------------------------------------------


def _gate_in(monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    """Make the command read stack files from `project` (model validation and the gate's raw values)."""
    _validate_in(monkeypatch, project)
    monkeypatch.setattr(
        config_commands, "stack_file_values", functools.partial(stack_file_values, project_root=project)
    )


def test_strict_fails_the_committed_prod1_template_naming_every_key() -> None:
    # Given the committed prod1 file (a template: REPLACE_ME, example.com, sample account and ids)
    # When the gate runs
    result = run_dmd("config", "validate", "--stack", "prod1", "--strict")

    # Then it exits 1: one line per problem with the full key path, a summary, the one-line reason
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    pagerduty = "dmd-workers:platform.alarmTopic.subscriptions[1].endpoint"
    assert f'Pulumi.prod1.yaml: {pagerduty}: placeholder "REPLACE_ME"' in lines
    assert 'Pulumi.prod1.yaml: dmd-workers:email.identityDomain: placeholder domain "example.com"' in lines
    named = [line.split(": ")[1] for line in lines if line.startswith("Pulumi.prod1.yaml: ")]
    assert [key for key, _ in PROD1_PLACEHOLDERS] == [key for key in named if key in dict(PROD1_PLACEHOLDERS)]
    summary = "prod1 is not ready for production: 16 placeholder(s), 0 missing production requirement(s)"
    assert summary in result.stdout
    assert "dmd: production gate: Pulumi.prod1.yaml has" in flat(result.stderr)


def test_strict_json_lists_each_problem_with_key_rule_and_value() -> None:
    # Given the committed prod1 template
    # When the gate runs for a script
    result = run_dmd("config", "validate", "--stack", "prod1", "--strict", "--json")

    # Then the document says it failed and lists key, rule and value of each problem
    assert result.exit_code == 1
    document = command_json(result.stdout)
    assert (document["stack"], document["production"], document["strict"], document["passed"]) == (
        "prod1",
        True,
        True,
        False,
    )
    assert {
        "key": "dmd-workers:accountId",
        "rule": "sample-account-id",
        "value": "210987654321",
        "message": 'placeholder account id "210987654321"',
        "failing": True,
    } in document["problems"]
    assert document["workers"]["notification_send"]["reservedConcurrency"] == 100


def test_strict_passes_prod1_once_the_team_filled_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given prod1 with real-looking values for every placeholder, its KMS key and the WAF
    _gate_in(monkeypatch, filled_project(tmp_path))

    # When the gate runs
    result = run_dmd("config", "validate", "--stack", "prod1", "--strict")

    # Then it passes
    assert result.exit_code == 0, result.output
    assert "prod1: production gate passed" in result.stdout


def test_strict_lists_qa1_placeholders_without_failing() -> None:
    # Given qa1, not a production stack, with reserved domains and fake vendor account ids
    # When the gate runs
    result = run_dmd("config", "validate", "--stack", "qa1", "--strict")

    # Then they are listed, and the stack passes because only production stacks are held to them
    assert result.exit_code == 0, result.output
    assert 'dmd-workers:vendors.accountsRoleArn: placeholder account id "222222222222"' in result.stdout
    assert "not failing: qa1 is not a production stack" in flat(result.stdout)


def test_without_strict_prod1_template_is_valid_and_gets_no_gate() -> None:
    # Given the committed prod1 template; When validated without --strict (what synth and CI's tests do)
    result = run_dmd("config", "validate", "--stack", "prod1", "--json")

    # Then it is valid and no gate problem is listed
    assert result.exit_code == 0, result.output
    document = command_json(result.stdout)
    assert (document["strict"], document["passed"], document["problems"]) == (False, True, [])
