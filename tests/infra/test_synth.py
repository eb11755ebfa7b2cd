"""The offline synth harness, exercised with throwaway Pulumi programs written into tmp_path."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from infra.synth import (
    OUTPUT_TEMPLATES,
    SECRET_PLACEHOLDER,
    UNKNOWN_PLACEHOLDER,
    DuplicateUrnError,
    ExistingResourceReadError,
    InvokeNotAllowedError,
    ResourceGraph,
    Secret,
    SecureConfigError,
    StackFileError,
    TransformNotSupportedError,
    run_under_mocks,
    stack_config,
    synthesize,
)

DEMO_PROGRAM = """
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
settings = config.require_object("settings")
enabled = config.require_bool("enabled")
batch = config.require_int("batch")
window = config.require("window")


class Pipeline(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("demo:index:Pipeline", name, None, None)
        child = pulumi.ResourceOptions(parent=self)
        self.inbox = aws.sqs.Queue(f"{name}-inbox", name=f"{name}-inbox", opts=child)
        self.archive = aws.sqs.Queue(
            f"{name}-archive",
            name=f"{name}-archive",
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=[self.inbox]),
        )
        self.register_outputs({})


pipeline = Pipeline(settings["pipeline"])
role = aws.iam.Role("role", name=f"{settings['pipeline']}-role", assume_role_policy="{}")
function = aws.lambda_.Function(
    "fn",
    name=f"{settings['pipeline']}-fn",
    role=role.arn,
    runtime="python3.12",
    handler="app.handler",
    code=pulumi.FileArchive(str(Path(__file__).parent / "build" / "fn.zip")),
    publish=True,
    environment={
        "variables": {
            "SETTINGS": json.dumps(settings, sort_keys=True),
            "ENABLED": json.dumps(enabled),
            "BATCH": json.dumps(batch),
            "WINDOW": window,
        }
    },
    opts=pulumi.ResourceOptions(delete_before_replace=True, ignore_changes=["source_code_hash"]),
)
aws.lambda_.EventSourceMapping(
    "inbox-trigger", event_source_arn=pipeline.inbox.arn, function_name=function.arn, batch_size=batch
)
# AWS computes `last_modified`; the mocks leave it out, so it stays unknown in a preview.
aws.sqs.Queue("stamped", name=function.last_modified.apply(lambda stamp: f"stamped-{stamp}"))
pulumi.export("inbox_url", pipeline.inbox.url)
"""

S1_CONFIG = """
config:
  aws:region: eu-west-1
  settings:
    pipeline: orders
    sizes: [1, 2.0, 2.5]
    mode: on
  demo-proj:enabled: true
  batch: 25
  window: 10:30
"""

S2_CONFIG = """
config:
  aws:region: us-west-2
  settings:
    pipeline: refunds
    sizes: []
    mode: off
  enabled: false
  batch: 5
  window: "08:00"
"""


def _project(root: Path, program: str = DEMO_PROGRAM, **stacks: str) -> Path:
    """A throwaway Pulumi project: Pulumi.yaml, one file per stack, and `__main__.py`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text("name: demo-proj\nruntime: python\n", encoding="utf-8")
    for stack, config in (stacks or {"s1": S1_CONFIG}).items():
        (root / f"Pulumi.{stack}.yaml").write_text(textwrap.dedent(config), encoding="utf-8")
    (root / "__main__.py").write_text(textwrap.dedent(program), encoding="utf-8")
    return root


def _program(body: str) -> str:
    return "import pulumi\nimport pulumi_aws as aws\n\n" + textwrap.dedent(body)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return _project(tmp_path / "demo", s1=S1_CONFIG, s2=S2_CONFIG)


# --- stack config -----------------------------------------------------------------------------------


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
    root = _project(tmp_path / "p", s1="config:\n  batch: 3\n")
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
    root = _project(tmp_path / "p", s1="config:\n  vendor:\n    apiKey:\n      secure: v1:abc==\n")

    # When it is encoded
    # Then the refusal names the key and says why
    with pytest.raises(SecureConfigError, match="'demo-proj:vendor' holds an encrypted `secure:` value"):
        stack_config("s1", root)


# --- the recorded graph -----------------------------------------------------------------------------


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


def test_computed_outputs_are_realistic_and_flow_downstream(demo: Path) -> None:
    # Given resources whose ARNs and URLs AWS computes
    # When the program is synthesized in eu-west-1
    graph = synthesize("s1", project_root=demo)

    # Then downstream inputs receive realistic values, not None
    fn_arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders-fn"
    assert graph.named("fn").inputs["role"] == "arn:aws:iam::123456789012:role/orders-role"
    trigger = graph.named("inbox-trigger").inputs
    assert trigger["eventSourceArn"] == "arn:aws:sqs:eu-west-1:123456789012:orders-inbox"
    assert trigger["functionName"] == fn_arn
    assert trigger["batchSize"] == 25
    assert graph.outputs == {"inbox_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-inbox"}


def test_function_outputs_include_invoke_and_qualified_arns_of_the_published_version() -> None:
    # Given a published function and an alias on its version
    def build() -> None:
        function = aws.lambda_.Function(
            "fn", name="worker", role="arn:aws:iam::123456789012:role/r", publish=True
        )
        alias = aws.lambda_.Alias(
            "live", name="live", function_name=function.name, function_version=function.version
        )
        aws.sqs.Queue(
            "echo",
            tags={
                "invoke": function.invoke_arn,
                "qualified": function.qualified_arn,
                "version": function.version,
                "alias": alias.arn,
                "aliasInvoke": alias.invoke_arn,
            },
        )

    # When it is run under the recording mocks
    tags = run_under_mocks(build).named("echo").inputs["tags"]

    # Then the outputs look like the ones AWS returns
    arn = "arn:aws:lambda:us-east-1:123456789012:function:worker"
    invoke_prefix = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    assert tags == {
        "invoke": f"{invoke_prefix}{arn}/invocations",
        "qualified": f"{arn}:1",
        "version": "1",
        "alias": f"{arn}:live",
        "aliasInvoke": f"{invoke_prefix}{arn}:live/invocations",
    }


def test_a_table_has_a_stream_arn_only_when_streams_are_enabled() -> None:
    # Given one table with DynamoDB Streams and one without
    def build() -> None:
        streamed = aws.dynamodb.Table("streamed", name="a", hash_key="pk", stream_enabled=True)
        plain = aws.dynamodb.Table("plain", name="b", hash_key="pk")
        aws.sqs.Queue("echo", tags={"streamed": streamed.stream_arn, "plain": plain.stream_arn.apply(str)})

    # When it is run under the recording mocks
    tags = run_under_mocks(build).named("echo").inputs["tags"]

    # Then only the streamed table reports a stream ARN
    assert tags["streamed"].startswith("arn:aws:dynamodb:us-east-1:123456789012:table/a/stream/")
    assert tags["plain"] == "None"


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (
            lambda: aws.kinesis.Stream("s", name="clicks", shard_count=1),
            "arn:aws:kinesis:us-east-1:123456789012:stream/clicks",
        ),
        (
            lambda: aws.cloudwatch.LogGroup("g", name="/aws/lambda/worker"),
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/worker",
        ),
        (lambda: aws.sns.Topic("t", name="alarms"), "arn:aws:sns:us-east-1:123456789012:alarms"),
        (
            lambda: aws.cloudwatch.EventRule("r", name="tick", schedule_expression="rate(1 minute)"),
            "arn:aws:events:us-east-1:123456789012:rule/tick",
        ),
        (
            lambda: aws.lambda_.LayerVersion("l", layer_name="deps"),
            "arn:aws:lambda:us-east-1:123456789012:layer:deps:1",
        ),
        # No template: the generic ARN, because the SDK class has an `arn` property.
        (
            lambda: aws.sfn.StateMachine("m", name="flow", role_arn="r", definition="{}"),
            "arn:aws:sfn:us-east-1:123456789012:state-machine/flow",
        ),
    ],
)
def test_resources_with_an_arn_property_get_a_realistic_arn(build: Callable[[], Any], expected: str) -> None:
    # Given one resource of a type that has an `arn`
    def echo() -> None:
        aws.sqs.Queue("echo", tags={"arn": build().arn})

    # When it is run under the recording mocks
    # Then its ARN is the one AWS would report
    assert run_under_mocks(echo).named("echo").inputs["tags"]["arn"] == expected


def test_the_templates_cover_the_key_types_of_the_fleet() -> None:
    # Given the types the fleet's platform and workers declare
    key_types = {
        "aws:lambda/function:Function",
        "aws:lambda/alias:Alias",
        "aws:sqs/queue:Queue",
        "aws:kinesis/stream:Stream",
        "aws:dynamodb/table:Table",
        "aws:iam/role:Role",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:sns/topic:Topic",
        "aws:kms/key:Key",
        "aws:secretsmanager/secret:Secret",
        "aws:appsync/graphQLApi:GraphQLApi",
        "aws:lambda/layerVersion:LayerVersion",
        "aws:cloudwatch/eventRule:EventRule",
    }

    # When the template table is consulted
    # Then each has a realistic template rather than the generic fallback
    assert key_types <= set(OUTPUT_TEMPLATES)


def test_run_under_mocks_gives_the_build_function_the_config_it_is_handed() -> None:
    # Given a build function that reads config, and config for its project
    def build() -> None:
        aws.sqs.Queue(
            "q", name=pulumi.Config().require("queue"), delay_seconds=pulumi.Config().require_int("delay")
        )

    # When it is run under the recording mocks
    graph = run_under_mocks(build, project="unit", config={"unit:queue": "jobs", "unit:delay": "5"})

    # Then the resource saw the config
    assert graph.named("q").inputs == {"name": "jobs", "delaySeconds": 5}


def test_a_run_leaves_the_callers_pulumi_state_untouched(demo: Path) -> None:
    # Given the caller's own Pulumi runtime state
    stack_before = pulumi.get_stack()

    # When a stack is synthesized
    synthesize("s1", project_root=demo)

    # Then the caller's context still has no root stack, no config and its own stack name
    assert pulumi.runtime.get_root_resource() is None
    assert pulumi.runtime.get_config("demo-proj:batch") is None
    assert pulumi.get_stack() == stack_before


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


# --- modes and runs ---------------------------------------------------------------------------------


def test_preview_serializes_unknown_values_as_a_stable_placeholder(demo: Path) -> None:
    # Given an input derived from an output the mocks do not compute
    # When the program is synthesized in preview and in up mode
    preview = synthesize("s1", project_root=demo, preview=True)
    up = synthesize("s1", project_root=demo)

    # Then preview marks it unknown (and serializes), while up mode resolves it (to None, as mocks do)
    assert preview.preview is True
    assert preview.named("stamped").inputs["name"] == UNKNOWN_PLACEHOLDER
    assert json.loads(preview.to_json())["preview"] is True
    assert up.named("stamped").inputs["name"] == "stamped-None"
    # and every computed output the mocks do supply stays known in preview
    assert preview.named("inbox-trigger").inputs == up.named("inbox-trigger").inputs


def test_two_runs_in_one_process_are_independent(demo: Path) -> None:
    # Given two stacks with different config
    # When they are synthesized back to back, in both modes, and the first again
    first = synthesize("s1", project_root=demo)
    second = synthesize("s2", project_root=demo, preview=True)
    first_again = synthesize("s1", project_root=demo)

    # Then each graph reflects only its own stack
    assert (first.stack, second.stack) == ("s1", "s2")
    assert {resource.name for resource in second.resources} == {
        "refunds",
        "refunds-inbox",
        "refunds-archive",
        "role",
        "fn",
        "inbox-trigger",
        "stamped",
    }
    assert second.named("inbox-trigger").inputs["batchSize"] == 5
    assert second.named("inbox-trigger").inputs["eventSourceArn"].startswith("arn:aws:sqs:us-west-2:")
    assert json.loads(second.named("fn").inputs["environment"]["variables"]["ENABLED"]) is False
    assert len(first.resources) == len(second.resources) == 7
    assert first_again.to_json() == first.to_json()


def test_the_program_imports_its_own_project_packages_fresh_each_run(tmp_path: Path) -> None:
    # Given two projects whose programs import a same-named local module with different content
    program = _program(
        """
        from demo_names import QUEUE

        aws.sqs.Queue("q", name=QUEUE)
        """
    )
    first = _project(tmp_path / "first", program)
    second = _project(tmp_path / "second", program)
    (first / "demo_names.py").write_text('QUEUE = "from-first"\n', encoding="utf-8")
    (second / "demo_names.py").write_text('QUEUE = "from-second"\n', encoding="utf-8")

    # When both are synthesized in one process
    names = [synthesize("s1", project_root=root).named("q").inputs["name"] for root in (first, second)]

    # Then each run imported its own project's module
    assert names == ["from-first", "from-second"]


def test_two_hundred_resources_synthesize_in_about_a_second(tmp_path: Path) -> None:
    # Given a program with 20 components of 10 resources each (200 in all)
    program = _program(
        """
        class Worker(pulumi.ComponentResource):
            def __init__(self, name):
                super().__init__("demo:index:Worker", name, None, None)
                child = pulumi.ResourceOptions(parent=self)
                logs = aws.cloudwatch.LogGroup(f"{name}-logs", name=f"/aws/lambda/{name}", opts=child)
                role = aws.iam.Role(f"{name}-role", name=f"{name}-role", assume_role_policy="{}", opts=child)
                queue = aws.sqs.Queue(f"{name}-queue", name=f"{name}-queue", opts=child)
                policy = aws.iam.RolePolicy(
                    f"{name}-policy",
                    role=role.name,
                    policy=pulumi.Output.json_dumps({"Statement": [{"Resource": queue.arn}]}),
                    opts=child,
                )
                function = aws.lambda_.Function(
                    f"{name}-fn", name=name, role=role.arn, publish=True,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[logs, policy]),
                )
                alias = aws.lambda_.Alias(
                    f"{name}-live", name="live", function_name=function.name,
                    function_version=function.version, opts=child,
                )
                aws.lambda_.EventSourceMapping(
                    f"{name}-esm", event_source_arn=queue.arn, function_name=alias.arn, opts=child
                )
                for metric in ("Errors", "Throttles"):
                    aws.cloudwatch.MetricAlarm(
                        f"{name}-{metric}", name=f"{name}-{metric}", metric_name=metric,
                        comparison_operator="GreaterThanThreshold", evaluation_periods=1, threshold=0,
                        opts=child,
                    )
                self.register_outputs({})


        for index in range(20):
            Worker(f"w{index:02d}")
        """
    )
    root = _project(tmp_path / "fleet", program)
    synthesize("s1", project_root=root)  # warm the SDK imports, as a test session would

    # When it is synthesized
    started = time.perf_counter()
    graph = synthesize("s1", project_root=root)
    elapsed = time.perf_counter() - started

    # Then all 200 are recorded, within a bound loose enough for a loaded CI runner (about 0.4 s here)
    assert len(graph.resources) == 200
    assert graph.named("w07-fn").options["depends_on"] == ["w07-logs", "w07-policy"]
    assert elapsed < 5.0


# --- failures ---------------------------------------------------------------------------------------


def test_a_program_error_propagates_with_its_type_and_message(tmp_path: Path) -> None:
    # Given a program that registers a resource and then fails validation
    root = _project(
        tmp_path / "p",
        _program(
            """
            aws.sqs.Queue("q")
            raise ValueError("batch must be at most 10")
            """
        ),
    )

    # When it is synthesized
    # Then the caller gets the program's own exception
    with pytest.raises(ValueError, match=r"^batch must be at most 10$"):
        synthesize("s1", project_root=root)


def test_an_error_inside_an_apply_propagates(tmp_path: Path) -> None:
    # Given a program whose apply callback raises
    root = _project(
        tmp_path / "p",
        _program(
            """
            queue = aws.sqs.Queue("q")
            queue.arn.apply(lambda arn: int(arn))
            """
        ),
    )

    # When it is synthesized
    # Then the callback's exception reaches the caller
    with pytest.raises(ValueError, match="invalid literal for int"):
        synthesize("s1", project_root=root)


@pytest.mark.parametrize(
    "invoke",
    ["aws.get_caller_identity()", "aws.sqs.Queue('q', name=aws.get_caller_identity_output().account_id)"],
)
def test_an_invoke_fails_with_a_message_naming_the_token(tmp_path: Path, invoke: str) -> None:
    # Given a program that calls a data source, plainly or as an output
    root = _project(tmp_path / "p", _program(invoke))

    # When it is synthesized
    # Then the error names the function's token
    with pytest.raises(InvokeNotAllowedError, match=r"'aws:index/getCallerIdentity:getCallerIdentity'"):
        synthesize("s1", project_root=root)


def test_reading_an_existing_resource_is_refused(tmp_path: Path) -> None:
    # Given a program that looks up an existing bucket
    root = _project(tmp_path / "p", _program('aws.s3.Bucket.get("logs", "logs-bucket")'))

    # When it is synthesized
    # Then the error says why an offline synth cannot do that
    with pytest.raises(ExistingResourceReadError, match=r"aws:s3/bucket:Bucket 'logs'"):
        synthesize("s1", project_root=root)


def test_transforms_are_refused_because_mocks_never_run_them(tmp_path: Path) -> None:
    # Given a program that relies on an engine-side transform
    root = _project(
        tmp_path / "p",
        _program('aws.sqs.Queue("q", opts=pulumi.ResourceOptions(transforms=[lambda args: None]))'),
    )

    # When it is synthesized
    # Then it fails rather than produce a graph the deployment would not match
    with pytest.raises(TransformNotSupportedError, match="aws:sqs/queue:Queue 'q' declares `transforms`"):
        synthesize("s1", project_root=root)


def test_duplicate_urns_fail_as_the_engine_would(tmp_path: Path) -> None:
    # Given a program that registers two queues with the same name
    root = _project(tmp_path / "p", _program('aws.sqs.Queue("q")\naws.sqs.Queue("q")'))

    # When it is synthesized
    # Then the duplicate is reported
    with pytest.raises(DuplicateUrnError, match="duplicate resource URN"):
        synthesize("s1", project_root=root)


def test_a_failed_run_leaves_the_next_run_unaffected(demo: Path, tmp_path: Path) -> None:
    # Given a program that failed half-way through its registrations
    broken = _project(tmp_path / "broken", _program('aws.sqs.Queue("q")\nraise RuntimeError("boom")'))
    with pytest.raises(RuntimeError, match="boom"):
        synthesize("s1", project_root=broken)

    # When a healthy program is synthesized next
    graph: ResourceGraph = synthesize("s1", project_root=demo)

    # Then it sees nothing of the failed run
    assert "q" not in {resource.name for resource in graph.resources}
    assert len(graph.resources) == 7
