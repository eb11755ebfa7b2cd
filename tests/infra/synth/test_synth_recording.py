"""The recorded graph: every registration with its parent, options and inputs, secrets kept out of JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.synth import SECRET_PLACEHOLDER, Secret, run_under_mocks, synthesize


def test_children_of_a_component_record_it_as_parent(demo: Path) -> None:
    # Given a component with two child queues
    # When the program is synthesized
    graph = synthesize("s1", project_root=demo)

    # Then the children name the component as parent, and the component is a non-custom resource
    assert sorted(child.name for child in graph.children_of("orders")) == ["orders-archive", "orders-inbox"]
    assert graph.named("orders").type_ == "demo:index:Pipeline"
    assert graph.named("orders").custom is False
    assert graph.named("orders").parent is None
    assert graph.named("orders-inbox").options["parent"] == "orders"


def test_options_of_component_children_are_recorded(demo: Path) -> None:
    # Given a child declared with protect=True and depends_on its sibling
    # When the program is synthesized
    archive = synthesize("s1", project_root=demo).named("orders-archive")

    # Then the options the mocks do not carry are on the record
    assert archive.options["protect"] is True
    assert archive.options["depends_on"] == ["orders-inbox"]
    assert archive.options["dependencies"] == ["orders-inbox"]


def test_options_of_top_level_resources_are_recorded_with_wire_names(demo: Path) -> None:
    # Given a function with delete_before_replace and ignore_changes on a snake_case property
    # When the program is synthesized
    graph = synthesize("s1", project_root=demo)

    # Then the options are recorded as the engine receives them
    function = graph.named("fn")
    assert function.options["delete_before_replace"] is True
    assert function.options["ignore_changes"] == ["sourceCodeHash"]
    assert function.options["protect"] is False
    assert function.options["depends_on"] == []
    # and inputs that use other resources' outputs show up as dependencies
    assert graph.named("inbox-trigger").options["dependencies"] == ["fn", "orders-inbox"]


def test_secret_inputs_are_recorded_but_never_serialized_in_clear() -> None:
    # Given a resource with a secret input
    def build() -> None:
        aws.sqs.Queue("q", tags={"token": pulumi.Output.secret("s3cr3t")})

    # When it is recorded and serialized
    graph = run_under_mocks(build)

    # Then tests can read it, while the JSON shows a placeholder
    assert graph.named("q").inputs["tags"] == Secret({"token": "s3cr3t"})
    assert "s3cr3t" not in graph.to_json()
    assert json.loads(graph.to_json())["resources"][0]["inputs"]["tags"] == SECRET_PLACEHOLDER


def test_to_json_is_sorted_and_identical_across_runs(demo: Path) -> None:
    # Given two synths of the same stack
    first = synthesize("s1", project_root=demo).to_json()
    second = synthesize("s1", project_root=demo).to_json()

    # When the JSON is compared
    document = json.loads(first)
    order = [(resource["type"], resource["name"]) for resource in document["resources"]]

    # Then it is byte-identical, sorted by (type, name), with paths relative to the project
    assert first == second
    assert order == sorted(order)
    assert set(document) == {"project", "stack", "preview", "outputs", "resources"}
    fn = next(resource for resource in document["resources"] if resource["name"] == "fn")
    assert set(fn) == {"type", "name", "parent", "custom", "provider", "inputs", "options"}
    assert fn["inputs"]["code"] == {"fileArchive": "build/fn.zip"}
