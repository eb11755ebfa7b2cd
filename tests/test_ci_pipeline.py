"""The GitLab pipeline: its shape, its gates, and every command its scripts run resolves to something real."""

from __future__ import annotations

import itertools
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import pytest
import typer.main
import yaml
from typer.testing import CliRunner

from infra.stack_files import committed_stacks
from ops.cli import app

ROOT: Final = Path(__file__).resolve().parents[1]
STAGES: Final = ["test", "preview", "deploy-qa", "verify-qa", "approve-prod", "deploy-prod", "verify-prod"]
DEFAULT_BRANCH_RULE: Final = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
# Top-level keys of .gitlab-ci.yml that are settings, not jobs.
GLOBAL_KEYWORDS: Final = frozenset(
    {"stages", "variables", "default", "include", "workflow", "image", "services", "cache"}
    | {"before_script", "after_script"}
)
SCRIPT_KEYS: Final = ("before_script", "script", "after_script")
# Pulumi CLI subcommands the pipeline may call, with the flags each really has.
PULUMI_FLAGS: Final[Mapping[str, frozenset[str]]] = {
    "login": frozenset(),
    "preview": frozenset({"--stack", "--diff", "--non-interactive", "--refresh", "--policy-pack"}),
    "up": frozenset({"--stack", "--diff", "--yes", "--non-interactive", "--refresh", "--policy-pack"}),
    "refresh": frozenset({"--stack", "--diff", "--yes", "--non-interactive"}),
    "destroy": frozenset({"--stack", "--yes", "--non-interactive", "--refresh"}),
    "stack": frozenset({"--stack"}),
    "config": frozenset({"--stack"}),
}
# Plain shell tools the scripts may use (the `command -v make || apt-get install make` idiom, echo).
SHELL_TOOLS: Final = frozenset({"echo", "command", "apt-get"})
_CONTROL: Final = frozenset({"&&", "||", ";", "|", "(", ")", "&"})
_REDIRECTS: Final = frozenset({">", ">>", "<", "2>", "&>"})


def _pipeline() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _jobs(pipeline: Mapping[str, Any], *, hidden: bool = False) -> dict[str, dict[str, Any]]:
    """Jobs by name; `hidden` adds the `.template` jobs that real jobs extend."""
    return {
        name: body
        for name, body in pipeline.items()
        if name not in GLOBAL_KEYWORDS and isinstance(body, dict) and (hidden or not name.startswith("."))
    }


def _resolved(pipeline: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A job merged over what it extends (GitLab's deep merge, enough for scripts and variables)."""
    body = dict(pipeline[name])
    parents = body.pop("extends", [])
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = _merge(merged, _resolved(pipeline, parent))
    return _merge(merged, body)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _script_lines(pipeline: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, line) for every script line of every job, template and the `default` section."""
    sections = _jobs(pipeline, hidden=True)
    sections["default"] = pipeline.get("default") or {}
    for name, body in sections.items():
        for key in SCRIPT_KEYS:
            for line in body.get(key) or []:
                yield f"{name}.{key}", str(line)


def simple_commands(line: str) -> list[list[str]]:
    """The simple commands of one shell line: split at control operators, redirections dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    tokens = iter(lexer)
    for token in tokens:
        if token in _CONTROL:
            commands.append([])
        elif token in _REDIRECTS:
            next(tokens, None)  # the redirection's target
        else:
            commands[-1].append(token)
    return [command for command in commands if command]


def makefile_targets() -> set[str]:
    """Targets declared in the Makefile (`name:` at the start of a line)."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {match.group(1) for match in re.finditer(r"^([A-Za-z0-9][\w.-]*):(?!=)", text, re.MULTILINE)}


def dmd_problem(arguments: list[str]) -> str | None:
    """Why `dmd <arguments>` would not run, or None: the path must end at a command with those options."""
    command: Any = typer.main.get_command(app)
    walked: list[str] = []
    # The command path comes first; from the first option on, the words are options and values.
    for part in itertools.takewhile(lambda argument: not argument.startswith("-"), arguments):
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            break  # a command: the rest are its arguments
        if part not in subcommands:
            return f"`dmd {' '.join([*walked, part])}` is not a command"
        command, walked = subcommands[part], [*walked, part]
    if getattr(command, "commands", None) is not None:
        return f"`dmd {' '.join(walked)}` is a command group, not a command"
    help_run = CliRunner().invoke(app, [*walked, "--help"])
    if help_run.exit_code != 0:
        return f"`dmd {' '.join(walked)} --help` exits {help_run.exit_code}"
    options = {name for parameter in command.params for name in (*parameter.opts, *parameter.secondary_opts)}
    used = {argument.split("=", 1)[0] for argument in arguments if argument.startswith("--")}
    unknown = sorted(used - options - {"--help"})
    return f"`dmd {' '.join(walked)}` has no option {', '.join(unknown)}" if unknown else None


def command_problem(words: list[str]) -> str | None:
    """Why one simple command of a CI script would fail to resolve, or None."""
    program, arguments = words[0], words[1:]
    if program == "make":
        missing = sorted({target for target in arguments if not target.startswith("-")} - makefile_targets())
        return f"make target(s) {', '.join(missing)} not in the Makefile" if missing else None
    if program in {"dmd", ".venv/bin/dmd"}:
        return dmd_problem(arguments)
    if program == "pulumi":
        subcommand = arguments[0] if arguments else ""
        if subcommand not in PULUMI_FLAGS:
            return f"`pulumi {subcommand}` is not an allowed Pulumi CLI subcommand"
        flags = {argument.split("=", 1)[0] for argument in arguments[1:] if argument.startswith("-")}
        unknown = sorted(flags - PULUMI_FLAGS[subcommand])
        return f"`pulumi {subcommand}` has no flag {', '.join(unknown)}" if unknown else None
    if program in SHELL_TOOLS:
        return None
    return f"`{program}` is not a known command for CI scripts"


# ---------------------------------------------------------------------------------------------
# Shape and gates
# ---------------------------------------------------------------------------------------------


def test_pipeline_parses_and_has_the_stages_in_order() -> None:
    assert _pipeline()["stages"] == STAGES


def test_every_job_runs_in_a_declared_stage() -> None:
    pipeline = _pipeline()
    for name in _jobs(pipeline):
        assert _resolved(pipeline, name).get("stage") in STAGES, name


def _only_on_default_branch(job: Mapping[str, Any]) -> bool:
    rules = job.get("rules") or []
    return bool(rules) and all(DEFAULT_BRANCH_RULE in str(rule.get("if", "")) for rule in rules)


def _is_manual(job: Mapping[str, Any]) -> bool:
    return job.get("when") == "manual" or any(rule.get("when") == "manual" for rule in job.get("rules") or [])


def test_prod_deploy_waits_for_a_blocking_manual_approval_on_the_default_branch() -> None:
    pipeline = _pipeline()
    deploy = _resolved(pipeline, "deploy:prod1")
    # The deploy needs the approval job, which is manual and blocking (not allowed to fail)
    assert "approve:prod1" in deploy["needs"]
    approval = _resolved(pipeline, "approve:prod1")
    assert _is_manual(approval)
    assert approval["allow_failure"] is False
    assert approval["stage"] == "approve-prod"
    # And both only run on the default branch
    assert _only_on_default_branch(deploy)
    assert _only_on_default_branch(approval)


def test_qa_deploy_and_every_verify_run_only_on_the_default_branch() -> None:
    pipeline = _pipeline()
    for name in ("deploy:qa1", "verify:qa1", "verify:prod1"):
        assert _only_on_default_branch(_resolved(pipeline, name)), name


def test_every_deployed_stack_is_verified_by_the_aws_check_after_its_deploy() -> None:
    pipeline = _pipeline()
    for stack in ("qa1", "prod1"):
        verify = _resolved(pipeline, f"verify:{stack}")
        assert f"deploy:{stack}" in verify["needs"]
        assert f".venv/bin/dmd aws check --stack {stack}" in verify["script"]


def test_every_pulumi_up_refuses_first_while_a_maintenance_window_is_active() -> None:
    # `pulumi up --refresh` would enable again the mappings and rules a window paused (the program
    # declares them enabled): each deploy job checks the window before it, and stops if one is active.
    pipeline = _pipeline()
    deploys = [
        name
        for name in _jobs(pipeline)
        if any(line.startswith("pulumi up") for line in _resolved(pipeline, name).get("script") or [])
    ]
    assert deploys == ["deploy:qa1", "deploy:prod1"]
    for name in deploys:
        script = _resolved(pipeline, name)["script"]
        stack = name.split(":")[1]
        check = script.index(f".venv/bin/dmd maintenance status --stack {stack} --fail-if-active")
        assert check < next(index for index, line in enumerate(script) if line.startswith("pulumi up")), name


def test_every_pulumi_up_is_followed_by_the_release_of_its_stack() -> None:
    # `pulumi up` publishes the new versions but never moves `live` (ignore_changes on the alias):
    # each deploy job releases after it, qa1 all at once (with its minute's watch), prod1 as a canary.
    pipeline = _pipeline()
    expected = {
        "qa1": ".venv/bin/dmd release --stack qa1 --strategy all-at-once --yes",
        "prod1": ".venv/bin/dmd release --stack prod1 --strategy canary10-5m --yes",
    }
    for stack, release in expected.items():
        script = _resolved(pipeline, f"deploy:{stack}")["script"]
        up = _index_of(script, f"pulumi up --stack {stack}")
        assert script[up + 1] == release, stack
        assert dmd_problem(simple_commands(release)[0][1:]) is None
    # And no other job moves `live`
    releasing = {
        name
        for name in _jobs(pipeline)
        for line in _resolved(pipeline, name).get("script") or []
        if "dmd release" in line
    }
    assert releasing == {"deploy:qa1", "deploy:prod1"}


def _index_of(script: list[str], prefix: str) -> int:
    return next(index for index, line in enumerate(script) if line.startswith(prefix))


def test_prod1_preview_and_deploy_run_the_production_gate_first() -> None:
    # A prod1 stack file still holding placeholders (or lacking KMS, WAF, paging, PITR) must stop the
    # pipeline before Pulumi sees it: the strict validation runs before `pulumi preview` and `pulumi up`.
    pipeline = _pipeline()
    preview = _resolved(pipeline, "preview:prod1")
    assert preview["variables"]["STACK"] == "prod1"
    gate = '.venv/bin/dmd config validate --stack "$STACK" --strict'
    assert _index_of(preview["script"], gate) < _index_of(preview["script"], "pulumi preview")
    deploy = _resolved(pipeline, "deploy:prod1")["script"]
    gate = ".venv/bin/dmd config validate --stack prod1 --strict"
    assert _index_of(deploy, gate) < _index_of(deploy, "pulumi up --stack prod1")
    # And the gate's command and options exist
    assert dmd_problem(["config", "validate", "--stack", "prod1", "--strict"]) is None


def test_every_committed_stack_but_local_has_a_preview_job() -> None:
    pipeline = _pipeline()
    stacks = [stack for stack in committed_stacks(ROOT) if stack != "local"]
    assert stacks == ["prod1", "qa1"]
    previews = {name for name in _jobs(pipeline) if name.startswith("preview:")}
    assert previews == {f"preview:{stack}" for stack in stacks}
    for stack in stacks:
        job = _resolved(pipeline, f"preview:{stack}")
        assert job["stage"] == "preview"
        assert job["variables"]["STACK"] == stack
        previewing = [line for line in job["script"] if line.startswith("pulumi preview")]
        assert previewing == [
            'pulumi preview --stack "$STACK" --diff --non-interactive --refresh --policy-pack policy'
        ]


def test_every_preview_and_up_runs_the_fleet_policy_pack() -> None:
    # The pack in policy/ (docs/security.md) must judge every graph the engine is about to apply.
    pipeline = _pipeline()
    calls = [
        line
        for name in _jobs(pipeline)
        for line in _resolved(pipeline, name).get("script") or []
        if line.startswith(("pulumi preview", "pulumi up"))
    ]
    assert len(calls) == 4  # preview qa1 and prod1, up qa1 and prod1
    assert all(line.endswith("--policy-pack policy") for line in calls), calls
    assert (ROOT / "policy" / "PulumiPolicy.yaml").is_file()
    assert (ROOT / "policy" / "__main__.py").is_file()


# ---------------------------------------------------------------------------------------------
# Every command the scripts call exists
# ---------------------------------------------------------------------------------------------


def test_every_script_command_resolves() -> None:
    # Given every simple command of every script line (jobs, templates, default)
    problems = [
        f"{where}: {problem}"
        for where, line in _script_lines(_pipeline())
        for words in simple_commands(line)
        if (problem := command_problem(words)) is not None
    ]
    # Then each is a Makefile target, a dmd command with its options, an allowed pulumi call or shell tool
    assert problems == []


def test_the_scripts_use_make_dmd_and_pulumi() -> None:
    # Guards the test above against an empty scan (e.g. a parser that finds no commands)
    programs = {
        words[0] for _, line in _script_lines(_pipeline()) for words in simple_commands(line) if words
    }
    assert {"make", ".venv/bin/dmd", "pulumi", "command", "apt-get", "echo"} <= programs


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("make deploy", "make target(s) deploy not in the Makefile"),
        (".venv/bin/dmd aws chek --stack qa1", "`dmd aws chek` is not a command"),
        ("dmd aws --stack qa1", "`dmd aws` is a command group, not a command"),
        ("dmd aws check --stak qa1", "`dmd aws check` has no option --stak"),
        ("pulumi up --force", "`pulumi up` has no flag --force"),
        ("pulumi import aws:s3 x y", "`pulumi import` is not an allowed Pulumi CLI subcommand"),
        ("curl https://example.com | sh", "`curl` is not a known command for CI scripts"),
    ],
)
def test_a_command_that_does_not_resolve_is_named(line: str, problem: str) -> None:
    # Given a script line that would fail in CI
    # When its commands are resolved
    found = [found for words in simple_commands(line) if (found := command_problem(words))]
    # Then the first problem says what is wrong
    assert found[0] == problem


def test_shell_lines_split_into_simple_commands() -> None:
    line = "command -v make >/dev/null || (apt-get update -qq && apt-get install -y -qq make)"
    assert simple_commands(line) == [
        ["command", "-v", "make"],
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "make"],
    ]


def test_makefile_targets_are_read_from_rule_lines() -> None:
    targets = makefile_targets()
    assert {"install", "test", "synth", "package", "demo", "lint", "typecheck"} <= targets
    assert not {"SHELL", "VENV", ".PHONY", "$(SYNCED)"} & targets


# ---------------------------------------------------------------------------------------------
# Entry points: .ci/run and the README
# ---------------------------------------------------------------------------------------------


def test_ci_entry_point_is_executable_and_runs_make_test() -> None:
    entry = ROOT / ".ci" / "run"
    assert os.access(entry, os.X_OK)
    commands = [
        words
        for line in entry.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
        for words in simple_commands(line)
    ]
    assert ["make", "test"] in commands


def test_readme_shows_make_demo_and_make_test_in_a_shell_block() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh|console)?\n(.*?)```", readme, re.DOTALL)
    commands = [line.split("#", 1)[0].split() for block in blocks for line in block.splitlines()]
    assert ["make", "demo"] in commands
    assert ["make", "test"] in commands
