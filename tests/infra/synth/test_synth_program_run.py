"""Running a program under the mocks: modes, isolation between runs, speed, and failures."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from infra.synth import (
    UNKNOWN_PLACEHOLDER,
    DuplicateUrnError,
    ExistingResourceReadError,
    InvokeNotAllowedError,
    ResourceGraph,
    TransformNotSupportedError,
    run_under_mocks,
    synthesize,
)
from tests.infra.synth.demo_project import program_source, write_project


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


def test_a_run_keeps_the_collector_off_what_existed_before_it_and_leaves_it_as_it_found_it() -> None:
    # Given a caller that has not frozen the heap
    assert gc.get_freeze_count() == 0
    frozen_during_run: list[int] = []

    # When a program runs under the mocks
    run_under_mocks(lambda: frozen_during_run.append(gc.get_freeze_count()))

    # Then the objects that existed before were frozen for the run, and are not any more
    assert frozen_during_run[0] > 10_000
    assert gc.get_freeze_count() == 0


def test_a_run_keeps_a_freeze_the_caller_made() -> None:
    # Given a caller that froze the heap itself
    gc.freeze()
    try:
        # When a program runs under the mocks
        run_under_mocks(lambda: None)

        # Then the caller's freeze is still in place (less what was freed meanwhile)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


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
    program = program_source(
        """
        from demo_names import QUEUE

        aws.sqs.Queue("q", name=QUEUE)
        """
    )
    first = write_project(tmp_path / "first", program)
    second = write_project(tmp_path / "second", program)
    (first / "demo_names.py").write_text('QUEUE = "from-first"\n', encoding="utf-8")
    (second / "demo_names.py").write_text('QUEUE = "from-second"\n', encoding="utf-8")

    # When both are synthesized in one process
    names = [synthesize("s1", project_root=root).named("q").inputs["name"] for root in (first, second)]

    # Then each run imported its own project's module
    assert names == ["from-first", "from-second"]


def test_two_hundred_resources_in_twenty_components_are_all_recorded(tmp_path: Path) -> None:
    # Given a program with 20 components of 10 resources each (200 in all)
    program = program_source(
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
    root = write_project(tmp_path / "fleet", program)

    # When it is synthesized (how long that takes is measured by `make bench`, against raw registrations)
    graph = synthesize("s1", project_root=root)

    # Then all 200 are recorded with their dependencies
    assert len(graph.resources) == 200
    assert graph.named("w07-fn").options["depends_on"] == ["w07-logs", "w07-policy"]


# --- failures ---------------------------------------------------------------------------------------


def test_a_program_error_propagates_with_its_type_and_message(tmp_path: Path) -> None:
    # Given a program that registers a resource and then fails validation
    root = write_project(
        tmp_path / "p",
        program_source(
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
    root = write_project(
        tmp_path / "p",
        program_source(
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
    root = write_project(tmp_path / "p", program_source(invoke))

    # When it is synthesized
    # Then the error names the function's token
    with pytest.raises(InvokeNotAllowedError, match=r"'aws:index/getCallerIdentity:getCallerIdentity'"):
        synthesize("s1", project_root=root)


def test_reading_an_existing_resource_is_refused(tmp_path: Path) -> None:
    # Given a program that looks up an existing bucket
    root = write_project(tmp_path / "p", program_source('aws.s3.Bucket.get("logs", "logs-bucket")'))

    # When it is synthesized
    # Then the error says why an offline synth cannot do that
    with pytest.raises(ExistingResourceReadError, match=r"aws:s3/bucket:Bucket 'logs'"):
        synthesize("s1", project_root=root)


def test_transforms_are_refused_because_mocks_never_run_them(tmp_path: Path) -> None:
    # Given a program that relies on an engine-side transform
    root = write_project(
        tmp_path / "p",
        program_source('aws.sqs.Queue("q", opts=pulumi.ResourceOptions(transforms=[lambda args: None]))'),
    )

    # When it is synthesized
    # Then it fails rather than produce a graph the deployment would not match
    with pytest.raises(TransformNotSupportedError, match="aws:sqs/queue:Queue 'q' declares `transforms`"):
        synthesize("s1", project_root=root)


def test_duplicate_urns_fail_as_the_engine_would(tmp_path: Path) -> None:
    # Given a program that registers two queues with the same name
    root = write_project(tmp_path / "p", program_source('aws.sqs.Queue("q")\naws.sqs.Queue("q")'))

    # When it is synthesized
    # Then the duplicate is reported
    with pytest.raises(DuplicateUrnError, match="duplicate resource URN"):
        synthesize("s1", project_root=root)


def test_a_failed_run_leaves_the_next_run_unaffected(demo: Path, tmp_path: Path) -> None:
    # Given a program that failed half-way through its registrations
    broken = write_project(
        tmp_path / "broken", program_source('aws.sqs.Queue("q")\nraise RuntimeError("boom")')
    )
    with pytest.raises(RuntimeError, match="boom"):
        synthesize("s1", project_root=broken)

    # When a healthy program is synthesized next
    graph: ResourceGraph = synthesize("s1", project_root=demo)

    # Then it sees nothing of the failed run
    assert "q" not in {resource.name for resource in graph.resources}
    assert len(graph.resources) == 7
