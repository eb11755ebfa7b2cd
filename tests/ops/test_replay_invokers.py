"""How a replay invokes (ops/replay_invokers.py): the Lambda API read as Lambda reads it, and the sandbox."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from ops.replay_invokers import LambdaInvoker, SandboxInvoker
from sandbox.clock import SandboxClock
from sandbox.environment import PROCESS_GATE
from sandbox.function import FunctionSettings, LambdaFunction
from tests.ops.replay_harness import REGION, local_target
from tests.sandbox import handlers

FUNCTION = "prd3292-qa1-us-east-1-ntfcn-snd"
ROLE = "arn:aws:iam::343550350117:role/prd3292-qa1-us-east-1-ntfcn-snd"
EVENT = {"Records": [{"kinesis": {"sequenceNumber": "1"}}, {"kinesis": {"sequenceNumber": "2"}}]}
IDS = ("1", "2")


@pytest.fixture
def lambda_client() -> Iterator[tuple[Any, Stubber]]:
    """A Lambda client whose answers are scripted (moto cannot invoke without Docker)."""
    client = boto3.client(
        "lambda", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber


def answer(stubber: Stubber, payload: bytes, *, function_error: str | None = None) -> None:
    """Script one synchronous invocation of `live` with EVENT and its answer."""
    response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(payload), "ExecutedVersion": "7"}
    if function_error:
        response["FunctionError"] = function_error
    stubber.add_response(
        "invoke",
        response,
        {
            "FunctionName": FUNCTION,
            "Qualifier": "live",
            "InvocationType": "RequestResponse",
            "Payload": json.dumps(EVENT).encode(),
        },
    )


@pytest.mark.parametrize(
    ("payload", "function_error", "failed", "whole"),
    [
        (b'{"batchItemFailures": []}', None, (), False),
        (b"null", None, (), False),
        (b'{"batchItemFailures": [{"itemIdentifier": "2"}]}', None, ("2",), False),
        (b'{"batchItemFailures": [{"itemIdentifier": "9"}]}', None, IDS, True),
        (b"not json", None, IDS, True),
        (b'{"errorMessage": "boom", "errorType": "ValueError"}', "Unhandled", IDS, True),
    ],
    ids=["success", "no-response", "item-failure", "unknown-item", "unreadable", "function-error"],
)
def test_the_live_alias_answer_is_read_as_lambdas_poller_reads_it(
    lambda_client: tuple[Any, Stubber],
    payload: bytes,
    function_error: str | None,
    failed: tuple[str, ...],
    whole: bool,
) -> None:
    # Given a worker whose mapping reports batch-item failures, and its answer to one batch
    client, stubber = lambda_client
    answer(stubber, payload, function_error=function_error)
    invoker = LambdaInvoker(client, FUNCTION, role_arn=ROLE, report_item_failures=True)

    # When the batch is invoked
    result = invoker.invoke(EVENT, IDS)

    # Then the failed records (and whether the whole batch failed) are what Lambda would retry
    assert (result.failed, result.whole_batch, result.function_error) == (failed, whole, function_error)
    stubber.assert_no_pending_responses()


def test_item_failures_are_ignored_when_the_mapping_does_not_report_them(
    lambda_client: tuple[Any, Stubber],
) -> None:
    # Given a mapping without ReportBatchItemFailures, and an answer naming a failed item
    client, stubber = lambda_client
    answer(stubber, b'{"batchItemFailures": [{"itemIdentifier": "2"}]}')
    invoker = LambdaInvoker(client, FUNCTION, role_arn=ROLE, report_item_failures=False)

    # When the batch is invoked
    # Then it succeeded, as Lambda would read it
    assert invoker.invoke(EVENT, IDS).failed == ()


def test_an_aws_error_fails_the_batch_with_its_code(lambda_client: tuple[Any, Stubber]) -> None:
    # Given the Lambda API throttling the invocation
    client, stubber = lambda_client
    stubber.add_client_error("invoke", service_error_code="TooManyRequestsException", http_status_code=429)
    invoker = LambdaInvoker(client, FUNCTION, role_arn=ROLE, report_item_failures=True)

    # When the batch is invoked
    result = invoker.invoke(EVENT, IDS)

    # Then the whole batch failed, named by the error's code (the replay reports it and goes on)
    assert (result.failed, result.function_error) == (IDS, "TooManyRequestsException")


def sandbox_function(handler: str) -> LambdaFunction:
    """A sandbox function running one of the test doubles."""
    settings = FunctionSettings(
        worker="notification_send",
        function_name=FUNCTION,
        handler=f"{handlers.PATH}.{handler}",
        role_arn=ROLE,
    )
    return LambdaFunction(settings, clock=SandboxClock(), gate=PROCESS_GATE)


def kinesis_batch(*payloads: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A Kinesis event of these JSON payloads, and its sequence numbers."""
    records = [
        {
            "kinesis": {
                "sequenceNumber": str(number),
                "data": base64.b64encode(json.dumps(payload).encode()).decode(),
            }
        }
        for number, payload in enumerate(payloads, start=1)
    ]
    return {"Records": records}, [str(number) for number in range(1, len(payloads) + 1)]


@pytest.mark.parametrize(
    ("handler", "failed", "function_error"),
    [("succeed", (), None), ("report_poisoned", ("2",), None), ("always_raise", ("1", "2"), "Unhandled")],
)
def test_the_sandbox_invoker_runs_the_function_here_and_reads_its_answer(
    handler: str, failed: tuple[str, ...], function_error: str | None
) -> None:
    # Given the sandbox's function with a handler that succeeds, reports the poisoned record, or raises
    handlers.reset()
    event, identifiers = kinesis_batch({"fan": "a"}, {"fan": "b", "poison": True})
    log = io.StringIO()
    invoker = SandboxInvoker(sandbox_function(handler), report_item_failures=True, log=log)

    # When a batch is invoked through it
    result = invoker.invoke(event, identifiers)

    # Then the handler ran with the event, and its answer is read as the sandbox's poller reads it
    assert [call.event for call in handlers.invocations(handler)] == [event]
    assert (result.failed, result.function_error) == (failed, function_error)
    assert invoker.role_arn == ROLE


def test_the_invoker_of_a_deployed_worker_reads_its_role_and_waits_past_its_timeout(
    local_graph: ResourceGraph,
) -> None:
    # Given the send worker deployed (in moto) with a 120 s timeout, its `live` alias on version 1
    with mock_aws():
        clients = AwsClients.for_emulator(None, region=REGION)
        target = local_target(clients, local_graph)
        worker = target.fleet.worker("notification_send")
        role = clients.client("iam").create_role(RoleName="ntfcn-snd", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def lambda_handler(event, context):\n    return {}\n")
        functions = clients.client("lambda")
        functions.create_function(
            FunctionName=worker.function_name,
            Runtime="python3.12",
            Role=role,
            Handler="handler.lambda_handler",
            Code={"ZipFile": code.getvalue()},
            Timeout=120,
        )
        version = functions.publish_version(FunctionName=worker.function_name)["Version"]
        functions.create_alias(FunctionName=worker.function_name, Name="live", FunctionVersion=version)

        # When the replay's invoker for it is built
        invoker = LambdaInvoker.of(target, worker)

    # Then it carries the function's role into events, and its client waits past the timeout, never retrying
    assert invoker.role_arn == role
    config = invoker._client.meta.config
    assert (config.read_timeout, config.retries["total_max_attempts"]) == (150, 1)
