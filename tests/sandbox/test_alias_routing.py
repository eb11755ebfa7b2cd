"""The `live` alias in the sandbox: weighted routing per invocation, each version as published, refreshes."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from aws_clients import AwsClients
from infra.synth import RecordedResource, ResourceGraph
from sandbox.alias_routing import AliasRouting, AliasRoutingError, VersionRouter
from sandbox.clock import SandboxClock
from sandbox.deployed_functions import (
    ALIAS,
    FUNCTION,
    DeployedFunctionError,
    FunctionRuntime,
    deployed_functions,
)
from sandbox.environment import EnvironmentGate
from sandbox.function import FunctionSettings, InvocationTimeoutError, LambdaFunction
from sandbox.materialize.lambda_ import placeholder_archive
from tests.sandbox import handlers as doubles

WORKER = "routed_worker"
NAME = "prd3292-test-routed-worker"
PROGRAM_HANDLER = "workers.routed_worker.handler.lambda_handler"


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def deploy(aws: AwsClients, *, environment: Mapping[str, str] | None = None) -> str:
    """The function as the program deploys it: version 1 published, `live` on it; the alias ARN."""
    role = aws.client("iam").create_role(RoleName=NAME, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    functions = aws.client("lambda")
    functions.create_function(
        FunctionName=NAME,
        Runtime="python3.12",
        Role=role,
        Handler=PROGRAM_HANDLER,
        Code={"ZipFile": placeholder_archive(PROGRAM_HANDLER)},
        Timeout=30,
        MemorySize=512,
        Environment={"Variables": {"POWERTOOLS_SERVICE_NAME": WORKER, **(environment or {})}},
        Publish=True,
    )
    return str(functions.create_alias(FunctionName=NAME, Name="live", FunctionVersion="1")["AliasArn"])


def publish(aws: AwsClients, **configuration: Any) -> str:
    """A new version with this configuration (handler, environment, timeout): its number."""
    functions = aws.client("lambda")
    functions.update_function_configuration(FunctionName=NAME, **configuration)
    return str(functions.publish_version(FunctionName=NAME)["Version"])


def route(aws: AwsClients, weights: Mapping[str, float], *, version: str = "1") -> None:
    """Point `live` at `version` with these additional weights (empty: cleared, as a rollback does)."""
    aws.client("lambda").update_alias(
        FunctionName=NAME,
        Name="live",
        FunctionVersion=version,
        RoutingConfig={"AdditionalVersionWeights": dict(weights)},
    )


def graph() -> ResourceGraph:
    """A graph with the one worker's function and its `live` alias."""
    function = RecordedResource(
        FUNCTION, f"{WORKER}-function", WORKER, True, {"name": NAME, "handler": PROGRAM_HANDLER}
    )
    alias = RecordedResource(ALIAS, f"{WORKER}-live", WORKER, True, {"functionName": NAME, "name": "live"})
    return ResourceGraph(project="dmd-workers", stack="test", preview=False, resources=(function, alias))


def runtime(**overrides: Any) -> FunctionRuntime:
    """How the test runs its functions: a private gate, a fresh clock."""
    return FunctionRuntime(clock=SandboxClock(), gate=EnvironmentGate(), region="us-east-1", **overrides)


def build(aws: AwsClients, **overrides: Any) -> LambdaFunction:
    """The worker's function as the sandbox builds it from the emulator."""
    return deployed_functions(graph(), aws, runtime(**overrides))[WORKER]


class RecordingMetrics:
    """An invocation metrics sink that keeps what it is told."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, str | None, str, bool]] = []

    def record(self, *, function_name: str, alias: str | None, version: str, error: bool) -> None:
        self.recorded.append((function_name, alias, version, error))


# ------------------------------------------------------------------------------------------ routing


def test_a_routing_reads_the_alias_and_picks_additional_versions_by_their_weights() -> None:
    # Given an alias on version 3 with 10 % routed to version 4
    routing = AliasRouting.of(
        {"FunctionVersion": "3", "RoutingConfig": {"AdditionalVersionWeights": {"4": 0.1}}}
    )
    # Then draws below 0.1 land on 4, the rest on 3; both may run
    assert (routing.pick(0.0), routing.pick(0.099), routing.pick(0.1), routing.pick(0.99)) == (
        "4",
        "4",
        "3",
        "3",
    )
    assert routing.versions == ("3", "4")
    # And an alias without routing (or with it cleared) runs its version only
    assert AliasRouting.of({"FunctionVersion": "3", "RoutingConfig": None}).versions == ("3",)
    assert (
        AliasRouting.of({"FunctionVersion": "3", "RoutingConfig": {"AdditionalVersionWeights": {}}}).pick(0)
        == "3"
    )


def test_weights_above_one_are_refused() -> None:
    # Given routing weights that add up past 1
    alias = {"FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.7, "3": 0.6}}}
    # Then the routing cannot be read
    with pytest.raises(AliasRoutingError, match="above 1"):
        AliasRouting.of(alias)


def test_ten_percent_routed_to_a_new_version_runs_it_for_about_a_tenth_of_the_invocations(
    aws: AwsClients,
) -> None:
    # Given the function's live alias sending 10 % to version 2
    deploy(aws)
    second = publish(aws, Description="next release")
    route(aws, {second: 0.1})
    router = VersionRouter(
        aws.client("lambda"), function_name=NAME, alias="live", settings_of=lambda c: c["Version"], seed=7
    )
    # When it routes 2,000 invocations
    versions = Counter(router.route() for _ in range(2000))
    # Then about 10 % ran version 2 (seeded: the same seed draws the same sequence)
    assert versions.keys() == {"1", "2"}
    assert 0.08 <= versions["2"] / 2000 <= 0.12
    again = VersionRouter(
        aws.client("lambda"), function_name=NAME, alias="live", settings_of=lambda c: c["Version"], seed=7
    )
    router.seed(7)
    assert [router.route() for _ in range(50)] == [again.route() for _ in range(50)]


def test_an_alias_change_is_seen_after_the_refresh_interval_with_one_read_per_interval(
    aws: AwsClients,
) -> None:
    # Given a router reading the alias at most once a second, on version 1
    deploy(aws)
    second = publish(aws, Description="next release")
    clock = Clock()
    router = VersionRouter(
        aws.client("lambda"),
        function_name=NAME,
        alias="live",
        settings_of=lambda c: c["Version"],
        monotonic=clock,
    )
    assert router.route() == "1"
    # When a release (in another process) shifts all traffic to version 2
    route(aws, {}, version=second)
    # Then invocations within the interval still run 1, with no further read of the alias
    clock.now += 0.5
    assert {router.route() for _ in range(20)} == {"1"}
    assert router.refreshes == 1
    # And the first invocation once the interval has passed runs 2, after one read
    clock.now += 0.5
    assert {router.route() for _ in range(20)} == {second}
    assert router.refreshes == 2


class UnreachableAfterFirst:
    """A Lambda client that answers from the emulator once, then as if the emulator were down."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.reads = 0

    def get_alias(self, **request: Any) -> Any:
        self.reads += 1
        if self.reads > 1:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        return self._client.get_alias(**request)

    def get_function_configuration(self, **request: Any) -> Any:
        return self._client.get_function_configuration(**request)


def test_while_the_emulator_does_not_answer_invocations_keep_the_routing_last_read(aws: AwsClients) -> None:
    # Given a router that read the alias, then the emulator going down
    deploy(aws)
    clock = Clock()
    client = UnreachableAfterFirst(aws.client("lambda"))
    router = VersionRouter(
        client, function_name=NAME, alias="live", settings_of=lambda c: c["Version"], monotonic=clock
    )
    # When invocations come after the refresh interval
    clock.now += 1.0
    versions = {router.route() for _ in range(5)}
    # Then they run the version last read, and the failed read is counted, not retried at once
    assert versions == {"1"}
    assert (router.refresh_errors, client.reads) == (1, 2)


# ------------------------------------------------------------------------------ versions as published


def test_a_routed_version_runs_its_own_handler_and_environment_with_lambdas_context(
    aws: AwsClients, handlers: Any
) -> None:
    # Given version 2 published with a failing handler, a variable of its own and a shorter timeout
    alias_arn = deploy(aws, environment={"DMD_ENVIRONMENT": "v1"})
    failing = publish(
        aws,
        Handler=f"{doubles.PATH}.always_raise",
        Environment={"Variables": {"POWERTOOLS_SERVICE_NAME": WORKER, "DMD_ENVIRONMENT": "v2"}},
        Timeout=10,
    )
    # And the live alias sending everything to version 2 while staying on version 1
    route(aws, {failing: 1.0})
    # When the sandbox's function (a test double for the program's handler) is invoked
    metrics = RecordingMetrics()
    function = build(aws, handler_overrides={WORKER: f"{doubles.PATH}.succeed"}, metrics=metrics)
    with pytest.raises(ValueError, match="always fails"):
        function.invoke({"Records": []})
    # Then version 2 ran its own handler (the double replaces the program's only) and environment
    (call,) = handlers.invocations("always_raise")
    assert call.environment["DMD_ENVIRONMENT"] == "v2"
    assert call.context.function_version == failing
    assert call.context.invoked_function_arn == alias_arn
    assert 9_000 < call.context.get_remaining_time_in_millis() <= 10_000
    # And the invocation counted as an error of version 2 through the alias
    assert metrics.recorded == [(NAME, "live", failing, True)]
    # When routing is cleared, as a rollback does, and the alias is read again
    route(aws, {})
    assert function.router is not None
    function.router.refresh()
    function.invoke({"Records": []})
    # Then version 1 runs the double with version 1's environment
    (good,) = handlers.invocations("succeed")
    assert (good.context.function_version, good.environment["DMD_ENVIRONMENT"]) == ("1", "v1")
    assert metrics.recorded[-1] == (NAME, "live", "1", False)


def test_environment_overrides_are_deployed_as_a_new_live_version_and_apply_to_every_version(
    aws: AwsClients, handlers: Any
) -> None:
    # Given the function declaring DMD_ENVIRONMENT=stack, and a version published before the sandbox
    deploy(aws, environment={"DMD_ENVIRONMENT": "stack"})
    earlier = publish(aws, Handler=f"{doubles.PATH}.echo_environment", Description="earlier")
    # When the sandbox builds it with DMD_ENVIRONMENT overridden
    function = build(aws, environment_overrides={"DMD_ENVIRONMENT": "sandbox"})
    # Then, as a deploy of that setting would, a version with it was published and made live
    functions = aws.client("lambda")
    live = functions.get_alias(FunctionName=NAME, Name="live")["FunctionVersion"]
    assert live not in {"1", earlier}
    deployed = functions.get_function_configuration(FunctionName=NAME, Qualifier=live)
    assert deployed["Environment"]["Variables"]["DMD_ENVIRONMENT"] == "sandbox"
    assert function.settings.version == live
    # And a version that predates it still runs with the override (its other settings its own)
    route(aws, {earlier: 1.0}, version=live)
    assert function.router is not None
    function.router.refresh()
    function.invoke({})
    (call,) = handlers.invocations("echo_environment")
    assert (call.context.function_version, call.environment["DMD_ENVIRONMENT"]) == (earlier, "sandbox")


def test_overrides_must_name_a_worker_and_a_declared_variable(aws: AwsClients) -> None:
    # Given the deployed function
    deploy(aws)
    # Then a handler override for another worker, or of a variable nobody declares, is refused
    with pytest.raises(DeployedFunctionError, match="unknown workers: other"):
        build(aws, handler_overrides={"other": f"{doubles.PATH}.succeed"})
    with pytest.raises(DeployedFunctionError, match="no function declares: NOPE"):
        build(aws, environment_overrides={"NOPE": "1"})


def test_every_version_has_its_own_execution_environment_and_log_stream(
    aws: AwsClients, handlers: Any
) -> None:
    # Given versions 1 and 2 (another handler), half the traffic each
    deploy(aws)
    second = publish(aws, Handler=f"{doubles.PATH}.sweep")
    route(aws, {second: 0.5})
    function = build(aws, handler_overrides={WORKER: f"{doubles.PATH}.succeed"})
    # When it is invoked 40 times
    for _ in range(40):
        function.invoke({"Records": []})
    # Then both versions ran, each in its own log stream named after it
    streams = {
        (call.context.function_version, call.context.log_stream_name)
        for call in [*handlers.invocations("succeed"), *handlers.invocations("sweep")]
    }
    assert {version for version, _ in streams} == {"1", second}
    assert len(streams) == 2
    assert all(f"/[{version}]" in stream for version, stream in streams)


# ------------------------------------------------------------------------------------- outcomes


def counted_function(
    handler: str, metrics: RecordingMetrics, *, invoked_arn: str | None = None
) -> LambdaFunction:
    """A test-double function of version 1 whose invocations go to `metrics`."""
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{NAME}"
    return LambdaFunction(
        FunctionSettings(
            worker=WORKER,
            function_name=NAME,
            handler=f"{doubles.PATH}.{handler}",
            version="1",
            function_arn=arn,
            invoked_arn=f"{arn}:live" if invoked_arn is None else invoked_arn,
        ),
        clock=SandboxClock(),
        gate=EnvironmentGate(),
        metrics=metrics,
    )


@pytest.mark.parametrize(
    ("handler", "time_out", "raised"),
    [
        pytest.param("succeed", False, None, id="success"),
        pytest.param("always_raise", False, ValueError, id="raised"),
        pytest.param("succeed", True, InvocationTimeoutError, id="timed-out"),
    ],
)
def test_an_invocation_that_raises_or_times_out_is_counted_as_an_error(
    handlers: Any, handler: str, time_out: bool, raised: type[Exception] | None
) -> None:
    # Given a function invoked through its live alias, its outcomes counted
    metrics = RecordingMetrics()
    function = counted_function(handler, metrics)
    # When it is invoked
    with pytest.raises(raised) if raised is not None else contextlib.nullcontext():
        function.invoke({"Records": [{"messageId": "m1", "body": "{}"}]}, time_out=time_out)
    # Then one invocation of version 1 through `live` is counted, as an error when it raised or timed out
    assert metrics.recorded == [(NAME, "live", "1", raised is not None)]


def test_an_invocation_past_its_timeout_is_counted_as_an_error(handlers: Any) -> None:
    # Given a function whose handler runs past its timeout (Lambda would have ended it: an error)
    metrics = RecordingMetrics()
    function = LambdaFunction(
        FunctionSettings(
            worker=WORKER, function_name=NAME, handler=f"{doubles.PATH}.overrun", timeout_seconds=0
        ),
        clock=SandboxClock(),
        gate=EnvironmentGate(),
        metrics=metrics,
    )
    # When it is invoked
    function.invoke({})
    # Then the invocation is an error of the function (invoked by its own ARN: no alias)
    assert metrics.recorded == [(NAME, None, "$LATEST", True)]


def test_an_invocation_of_the_function_itself_is_counted_without_an_alias(handlers: Any) -> None:
    # Given a function invoked by its own ARN (no alias)
    metrics = RecordingMetrics()
    function = counted_function("succeed", metrics, invoked_arn="")
    # When it is invoked
    function.invoke({})
    # Then it is counted for the function only
    assert metrics.recorded == [(NAME, None, "1", False)]
