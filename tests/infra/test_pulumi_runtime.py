"""The SDK internals infra/pulumi_runtime.py relies on, pinned: an SDK upgrade that moves one fails here."""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime import rpc, settings

from infra import pulumi_runtime
from infra.synth import Secret, run_under_mocks

T = TypeVar("T")
ADAPTER = "infra/pulumi_runtime.py"


def in_fresh_context(body: Callable[[], T]) -> T:
    """Run `body` in an empty contextvars context, so the SDK's ambient state there never leaks out."""
    return contextvars.Context().run(body)


# --- per-run state ---------------------------------------------------------------------------------


def test_reset_run_state_gives_fresh_pending_outputs_lock_and_no_root_stack() -> None:
    # Given the SDK's ambient state left behind by an earlier run
    def scenario() -> tuple[object, object, object, object]:
        stale_lock = threading.Lock()
        settings.SETTINGS.outputs = {"a pending output task of an earlier run"}
        settings.SETTINGS.lock = stale_lock
        settings.ROOT.set(object())

        # When the run state is reset
        pulumi_runtime.reset_run_state()

        # Then what the SDK reads back is fresh
        root = pulumi.runtime.get_root_resource()
        return settings.SETTINGS.outputs, settings.SETTINGS.lock, stale_lock, root

    outputs, lock, stale_lock, root = in_fresh_context(scenario)
    assert outputs == set(), f"SETTINGS.outputs no longer holds the pending outputs ({ADAPTER})"
    assert lock is not stale_lock and hasattr(lock, "acquire"), f"SETTINGS.lock is gone ({ADAPTER})"
    assert root is None, f"get_root_resource() no longer reads settings.ROOT ({ADAPTER})"


def test_set_root_directory_is_what_get_root_directory_answers() -> None:
    # Given a fresh context
    # When the root directory is set through the adapter
    def scenario() -> str:
        pulumi_runtime.set_root_directory("/projects/fleet")
        return pulumi.runtime.get_root_directory()

    # Then the public getter answers it
    assert in_fresh_context(scenario) == "/projects/fleet", f"SETTINGS.root_directory moved ({ADAPTER})"


def test_wait_for_registrations_returns_after_every_registration_reached_the_mocks() -> None:
    # Given a build that registers resources without awaiting anything
    def build() -> None:
        for index in range(20):
            aws.sqs.Queue(f"q{index}")

    # When it runs under mocks (the harness awaits wait_for_registrations, then reads the mocks)
    graph = run_under_mocks(build)

    # Then every registration had reached the mocks by then
    assert len(graph.of_type("aws:sqs/queue:Queue")) == 20, f"stack.wait_for_rpcs returned early ({ADAPTER})"


# --- the wire request the mock monitor sees -------------------------------------------------------


class _Parent(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("pins:index:Parent", name, None, None)
        first = aws.sqs.Queue(f"{name}-first", opts=pulumi.ResourceOptions(parent=self))
        self.child = aws.sqs.Queue(
            f"{name}-child",
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=True,
                depends_on=[first],
                delete_before_replace=True,
                retain_on_delete=True,
                ignore_changes=["tags"],
                replace_on_changes=["name"],
                deleted_with=first,
                aliases=[pulumi.Alias(name="old-child")],
            ),
        )
        self.register_outputs({})


def test_registration_monitor_shows_the_wire_request_with_every_option_under_the_sdks_urn() -> None:
    # Given a component child with every resource option the graph records
    seen: dict[str, str] = {}

    def build() -> None:
        parent = _Parent("p")
        parent.child.urn.apply(lambda urn: seen.setdefault("urn", urn))

    # When it is registered through the adapter's monitor (the recording mocks use it)
    child = run_under_mocks(build, project="pins", stack="test").named("p-child")

    # Then the URN the monitor computed is the SDK's own, and the request carried every option
    assert child.urn == seen["urn"], f"MockMonitor.make_urn no longer matches the resource URN ({ADAPTER})"
    assert child.options == {
        "parent": "p",
        "protect": True,
        "depends_on": ["p-first"],
        "dependencies": ["p-first"],
        "delete_before_replace": True,
        "retain_on_delete": True,
        "ignore_changes": ["tags"],
        "replace_on_changes": ["name"],
        "deleted_with": "p-first",
        "aliases": [{"name": "old-child"}],
    }, f"MockMonitor.RegisterResource(request) fields changed ({ADAPTER})"


def test_the_registration_hook_runs_around_the_registration_on_the_thread_of_new_resource() -> None:
    # Given mocks that note the thread of each hook and of each new_resource
    hook_threads: list[int] = []
    mock_threads: list[int] = []

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            mock_threads.append(threading.get_ident())
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
            return {}

    @contextmanager
    def hook(urn: str, request: Any) -> Iterator[None]:
        assert urn.endswith(f"::{request.name}")
        hook_threads.append(threading.get_ident())
        yield

    # When a resource registers through the adapter's monitor
    monitor = pulumi_runtime.RegistrationMonitor(Mocks(), hook)
    request = _request_of_a_queue_named("solo")
    monitor.RegisterResource(request)

    # Then the hook ran on the thread that called new_resource (a thread-local can carry the request)
    assert hook_threads == mock_threads == [threading.get_ident()], (
        f"MockMonitor.RegisterResource no longer calls Mocks.new_resource on its own thread ({ADAPTER})"
    )


def _request_of_a_queue_named(name: str) -> Any:
    from pulumi.runtime.proto import resource_pb2

    return resource_pb2.RegisterResourceRequest(type="aws:sqs/queue:Queue", name=name, custom=True)


# --- deserialized values ----------------------------------------------------------------------------


def test_unknowns_are_recognized_in_both_wire_forms() -> None:
    # Given the SDK's two forms of a not-yet-known value, and a known one
    # When they are classified
    # Then both unknown forms are unknown and the known one is not
    assert pulumi_runtime.is_unknown(rpc.UNKNOWN), f"rpc.UNKNOWN changed ({ADAPTER})"
    assert pulumi_runtime.is_unknown(pulumi.UNKNOWN), f"output.Unknown changed ({ADAPTER})"
    assert not pulumi_runtime.is_unknown("known")


def test_a_preview_hands_new_resource_an_unknown_the_adapter_recognizes() -> None:
    # Given an input computed from an output the mocks leave unknown in a preview
    def build() -> None:
        source = aws.sqs.Queue("source")
        aws.sqs.Queue("sink", name=source.policy.apply(lambda policy: f"{policy}-sink"))

    # When it runs in preview
    sink = run_under_mocks(build, preview=True).named("sink")

    # Then the recorded input is marked unknown
    assert sink.inputs["name"] == "<unknown>", f"unknown inputs arrive in a new wire form ({ADAPTER})"


def test_secret_inputs_arrive_wrapped_and_unwrap_to_their_value() -> None:
    # Given the SDK's wire form of a secret
    wrapped = rpc.wrap_rpc_secret({"token": "s3cr3t"})

    # When it is classified and unwrapped, and a secret input is recorded
    def build() -> None:
        aws.sqs.Queue("q", tags={"token": pulumi.Output.secret("s3cr3t")})

    recorded = run_under_mocks(build).named("q").inputs["tags"]

    # Then the adapter sees the secret and its value
    assert pulumi_runtime.is_secret(wrapped), f"rpc.is_rpc_secret changed ({ADAPTER})"
    unwrapped = pulumi_runtime.secret_value(wrapped)
    assert unwrapped == {"token": "s3cr3t"}, f"rpc.unwrap_rpc_secret changed ({ADAPTER})"
    assert not pulumi_runtime.is_secret({"token": "s3cr3t"})
    assert recorded == Secret({"token": "s3cr3t"}), f"secret inputs arrive in a new wire form ({ADAPTER})"


# --- config and exports -----------------------------------------------------------------------------


def test_configured_keys_lists_keys_set_by_the_host_and_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given config set as the language host does, and more in PULUMI_CONFIG
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"fleet:fromEnv": "1"}))

    def scenario() -> set[str]:
        pulumi.runtime.set_all_config({"fleet:fromHost": "2", "aws:region": "us-east-1"})
        return pulumi_runtime.configured_keys()

    # When the configured keys are listed
    keys = in_fresh_context(scenario)

    # Then every key is there, whichever way it was set
    assert keys == {"fleet:fromEnv", "fleet:fromHost", "aws:region"}, f"config.CONFIG moved ({ADAPTER})"


def test_stack_exports_are_what_the_program_exported() -> None:
    # Given a program that exports a plain value and an output
    def build() -> None:
        queue = aws.sqs.Queue("q", name="jobs")
        pulumi.export("count", 3)
        pulumi.export("queue_name", queue.name)

    # When it runs (the harness reads the exports through the adapter)
    outputs = run_under_mocks(build).outputs

    # Then both exports are there, resolved
    assert outputs == {"count": 3, "queue_name": "jobs"}, f"the root stack's `outputs` moved ({ADAPTER})"


def test_stopping_callback_servers_succeeds_when_none_was_started() -> None:
    # Given a loop on which no hook or transform started a callback server
    import asyncio

    # When the servers are stopped
    # Then it completes (every run calls it on the way out)
    asyncio.run(pulumi_runtime.stop_callback_servers())
