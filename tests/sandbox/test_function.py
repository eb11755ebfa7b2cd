"""In-process Lambda functions: lazy handlers, the context on the sandbox clock, per-worker environments."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from sandbox.clock import SandboxClock
from sandbox.environment import PROCESS_GATE, EnvironmentGate
from sandbox.function import FunctionSettings, HandlerImportError, LambdaContext, LambdaFunction
from tests.sandbox.conftest import FunctionFactory


def test_the_context_carries_lambdas_attributes_and_the_configured_timeout(
    make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a function with a 30 s timeout
    function = make_function("succeed", timeout_seconds=30, memory_mb=512)
    # When it is invoked
    function.invoke({"Records": []})
    context = handlers.invocations("succeed")[0].context
    # Then its context counts the 30 s down and carries Lambda's attributes
    assert 29_000 < context.get_remaining_time_in_millis() <= 30_000
    assert context.function_name == "prd3292-test-test_worker"
    assert context.invoked_function_arn.endswith(":function:prd3292-test-test_worker:live")
    assert (context.memory_limit_in_mb, context.function_version) == (512, "1")
    assert context.log_group_name == "/aws/lambda/prd3292-test-test_worker"
    assert len(context.aws_request_id) == 36


def test_the_context_counts_the_timeout_down_in_real_time_whatever_the_sandbox_speed() -> None:
    # Given a sandbox clock at speed 10 and a context with 30 s left
    wall = [1_700_000_000.0]
    clock = SandboxClock(speed=10, wall_time=lambda: wall[0])
    context = LambdaContext(
        function_name="f",
        function_version="1",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        memory_limit_in_mb=128,
        aws_request_id="r",
        log_group_name="/aws/lambda/f",
        log_stream_name="s",
        deadline=clock.wall_now() + 30,
        clock=clock,
    )
    # When 10 real seconds pass (100 on the sandbox clock), then the sandbox clock jumps an hour
    wall[0] += 10
    after_ten = context.get_remaining_time_in_millis()
    clock.advance(3600)
    after_jump = context.get_remaining_time_in_millis()
    wall[0] += 25
    # Then the handler lost 10 s of its 30, as its own clock (real time) says; jumps change nothing
    assert after_ten == after_jump == 20_000
    assert context.get_remaining_time_in_millis() == 0


def test_a_shut_down_function_tells_its_invocations_no_time_is_left(
    make_function: FunctionFactory, handlers: Any
) -> None:
    # Given a function with a 15-minute timeout that was invoked
    function = make_function("succeed", timeout_seconds=900)
    function.invoke({"Records": []})
    context = handlers.invocations("succeed")[0].context
    assert context.get_remaining_time_in_millis() > 890_000
    # When the function shuts down (its sandbox stopping)
    function.shut_down()
    # Then the invocation's context reports no time left, so a worker winds down instead of
    # outliving its sandbox
    assert context.get_remaining_time_in_millis() == 0


def test_a_missing_handler_is_a_function_error_at_invocation_not_at_construction(
    clock: SandboxClock,
) -> None:
    # Given a function whose handler module does not exist (a worker not written yet)
    settings = FunctionSettings(
        worker="future", function_name="future", handler="workers.not_there.handler.run"
    )
    function = LambdaFunction(settings, clock=clock, gate=EnvironmentGate())
    # When it is invoked
    with pytest.raises(HandlerImportError, match=r"cannot import module 'workers\.not_there\.handler'"):
        function.invoke({})
    # Then it counts as an invocation that failed
    counters = function.counters.snapshot()
    assert (counters.invocations, counters.function_errors) == (1, 1)


def test_each_worker_sees_its_own_environment_and_nothing_leaks_after(
    make_function: FunctionFactory, handlers: Any
) -> None:
    # Given two workers with different service names, invoked from several threads at once
    send = make_function("echo_environment", worker="notification_send")
    status = make_function("echo_environment", worker="sms_status_consumer")
    answers: list[tuple[str, dict[str, str]]] = []

    def call(function: LambdaFunction) -> None:
        answers.append((function.worker, function.invoke({})))

    threads = [threading.Thread(target=call, args=(function,)) for function in (send, status) * 10]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every invocation saw its own worker's variables and function name
    assert len(answers) == 20
    for worker, seen in answers:
        assert seen["service"] == worker
        assert seen["function"] == f"prd3292-test-{worker}"
    # And none of them remains once they are done
    assert "AWS_LAMBDA_FUNCTION_NAME" not in os.environ


def test_invocations_of_one_worker_run_concurrently_and_others_wait_their_turn() -> None:
    # Given a gate and one worker's invocations holding it
    gate = EnvironmentGate()
    inside = threading.Barrier(2, timeout=5)
    order: list[str] = []

    def same_worker() -> None:
        with gate.applied("a", {"DMD_SANDBOX_TEST": "a"}):
            inside.wait()  # both "a" invocations are inside at once, or this times out
            time.sleep(0.05)
            order.append("a")

    def other_worker() -> None:
        with gate.applied("b", {"DMD_SANDBOX_TEST": "b"}):
            order.append(f"b saw {os.environ['DMD_SANDBOX_TEST']}")

    first = [threading.Thread(target=same_worker) for _ in range(2)]
    for thread in first:
        thread.start()
    time.sleep(0.01)
    later = threading.Thread(target=other_worker)
    later.start()
    for thread in [*first, later]:
        thread.join(5)
    # Then "b" ran only after both "a" finished, with its own value applied; nothing remains after
    assert order == ["a", "a", "b saw b"]
    assert "DMD_SANDBOX_TEST" not in os.environ


def test_two_sandboxes_functions_of_one_name_take_turns_and_leave_the_environment_as_it_was(
    clock: SandboxClock,
) -> None:
    # Given two functions of the same name with different environments (two sandboxes in one
    # process, e.g. `dmd workers invoke` attached to a running `dmd sandbox up`) on the process gate
    def function(endpoint: str) -> LambdaFunction:
        settings = FunctionSettings(
            worker="test_worker",
            function_name="prd3292-test-test_worker",
            handler="tests.sandbox.handlers.echo_environment",
            environment={"POWERTOOLS_SERVICE_NAME": "test_worker", "AWS_ENDPOINT_URL": endpoint},
        )
        return LambdaFunction(settings, clock=clock, gate=PROCESS_GATE)

    first, second = function("http://127.0.0.1:1111"), function("http://127.0.0.1:2222")
    endpoints: list[tuple[str, str]] = []
    before = {key: os.environ.get(key) for key in ("AWS_ENDPOINT_URL", "POWERTOOLS_SERVICE_NAME")}

    def call(target: LambdaFunction, expected: str) -> None:
        for _ in range(20):
            endpoints.append((expected, target.invoke({})["endpoint"]))

    # When both are invoked from several threads at once
    threads = [
        threading.Thread(target=call, args=(target, expected))
        for target, expected in ((first, "http://127.0.0.1:1111"), (second, "http://127.0.0.1:2222")) * 3
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # Then each invocation saw its own function's endpoint, and the process environment is unchanged
    assert len(endpoints) == 120
    assert all(expected == seen for expected, seen in endpoints)
    assert {key: os.environ.get(key) for key in before} == before


def test_an_invocation_past_its_timeout_is_counted_and_reported(
    make_function: FunctionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a function with a 1 s timeout whose handler runs 50 ms longer
    function = make_function("overrun", timeout_seconds=1)
    # When it is invoked
    with caplog.at_level("WARNING", logger="sandbox.function"):
        function.invoke({})
    # Then it still returned (a thread cannot be stopped), but the overrun is counted and logged
    assert function.counters.snapshot().timeouts == 1
    assert "past its 1 s timeout" in caplog.text


def test_a_waiter_interrupted_while_waiting_gives_its_turn_up() -> None:
    # Given "a" holding the gate and "b" waiting for it, whose wait is interrupted (Ctrl-C)
    gate = EnvironmentGate()
    holding, release = threading.Event(), threading.Event()

    def hold_a() -> None:
        with gate.applied("a", {"DMD_SANDBOX_TEST": "a"}):
            holding.set()
            release.wait(5)

    first = threading.Thread(target=hold_a)
    first.start()
    assert holding.wait(5)
    original_wait = gate._condition.wait

    def interrupted_wait(timeout: float | None = None) -> bool:
        gate._condition.wait = original_wait  # type: ignore[method-assign]
        raise KeyboardInterrupt

    gate._condition.wait = interrupted_wait  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt), gate.applied("b", {"DMD_SANDBOX_TEST": "b"}):
        pass
    # When "a" finishes
    release.set()
    first.join(5)
    # Then "c" gets the gate (nobody waits for the interrupted "b")
    seen: list[str] = []

    def enter_c() -> None:
        with gate.applied("c", {"DMD_SANDBOX_TEST": "c"}):
            seen.append(os.environ["DMD_SANDBOX_TEST"])

    later = threading.Thread(target=enter_c)
    later.start()
    later.join(5)
    assert seen == ["c"]
    assert "DMD_SANDBOX_TEST" not in os.environ
