"""Stack files are encoded exactly as the Pulumi CLI hands config to a program, or refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.synth import SecureConfigError, StackFileError, stack_config, synthesize
from tests.infra.synth.demo_project import write_project


def test_stack_config_encodes_values_as_the_cli_hands_them_to_the_program(demo: Path) -> None:
    # Given a stack file with namespaced and bare keys, an object, a bool, an int and a YAML 1.1 lookalike
    # When it is encoded
    config = stack_config("s1", demo)

    # Then bare keys get the project prefix, scalars keep their text, structures become JSON
    assert config == {
        "aws:region": "eu-west-1",
        "demo-proj:settings": '{"mode":"on","pipeline":"orders","sizes":[1,2,2.5]}',
        "demo-proj:enabled": "true",
        "demo-proj:batch": "25",
        "demo-proj:window": "10:30",
    }


def test_config_values_round_trip_through_pulumi_config(demo: Path) -> None:
    # Given the demo program reads an object, a bool, an int and a string with pulumi.Config
    # When it is synthesized
    graph = synthesize("s1", project_root=demo)

    # Then each value reaches the program with its type (the program echoes them as JSON)
    variables = graph.named("fn").inputs["environment"]["variables"]
    assert json.loads(variables["SETTINGS"]) == {"mode": "on", "pipeline": "orders", "sizes": [1, 2, 2.5]}
    assert json.loads(variables["ENABLED"]) is True
    assert json.loads(variables["BATCH"]) == 25
    assert variables["WINDOW"] == "10:30"


def test_project_config_defaults_apply_unless_the_stack_overrides_them(tmp_path: Path) -> None:
    # Given Pulumi.yaml declares defaults, one of which the stack overrides
    root = write_project(tmp_path / "p", s1="config:\n  batch: 3\n")
    (root / "Pulumi.yaml").write_text(
        "name: demo-proj\nruntime: python\nconfig:\n"
        "  batch:\n    type: integer\n    default: 10\n"
        "  window: '09:00'\n"
        "  required:\n    type: string\n",
        encoding="utf-8",
    )

    # When the stack config is encoded
    config = stack_config("s1", root)

    # Then the stack value wins, the other default applies, and a declaration without a value adds nothing
    assert config == {"demo-proj:batch": "3", "demo-proj:window": "09:00"}


def test_a_missing_stack_file_raises_stack_file_error_naming_it(demo: Path) -> None:
    # Given a project without Pulumi.prod.yaml
    # When that stack is synthesized
    # Then the error names the missing file and the stacks that exist
    with pytest.raises(StackFileError, match=r"Pulumi\.prod\.yaml not found.*Pulumi\.s1\.yaml"):
        synthesize("prod", project_root=demo)


def test_secure_values_are_refused_with_the_key_named(tmp_path: Path) -> None:
    # Given a stack file with an encrypted value nested inside an object
    root = write_project(tmp_path / "p", s1="config:\n  vendor:\n    apiKey:\n      secure: v1:abc==\n")

    # When it is encoded
    # Then the refusal names the key and says why
    with pytest.raises(SecureConfigError, match="'demo-proj:vendor' holds an encrypted `secure:` value"):
        stack_config("s1", root)
