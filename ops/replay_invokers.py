"""How a replay invokes the worker's `live` alias: the Lambda API, or the running sandbox in this process."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ops.target import LIVE_ALIAS, FleetWorker, Target
from sandbox.pollers.batch import BatchResult, invoke_batch, reported_failures

if TYPE_CHECKING:
    from sandbox.function import LambdaFunction

_INVOKE_MARGIN_SECONDS: Final = 30
LOCAL_WORKER_LOG: Final = Path("build/sandbox/replay-workers.log")


class Invoker(Protocol):
    """Invokes the worker's `live` alias with one batch event and reads the answer as Lambda does."""

    @property
    def role_arn(self) -> str:
        """The function's execution role (the event's `invokeIdentityArn`)."""
        ...

    def invoke(self, event: dict[str, Any], identifiers: Sequence[str]) -> BatchResult:
        """One synchronous invocation: which records failed, and the function error if any."""
        ...


class LambdaInvoker:
    """`lambda.invoke(FunctionName, Qualifier="live")`, RequestResponse, never repeated by botocore."""

    def __init__(self, client: Any, function_name: str, *, role_arn: str, report_item_failures: bool) -> None:
        self._client = client
        self._function_name = function_name
        self._role_arn = role_arn
        self._report = report_item_failures

    @classmethod
    def of(cls, target: Target, worker: FleetWorker) -> LambdaInvoker:
        """The invoker of a deployed worker (its role and timeout read from the alias)."""
        deployed = target.clients.client("lambda").get_function_configuration(
            FunctionName=worker.function_name, Qualifier=LIVE_ALIAS
        )
        client = target.clients.unretried_client(
            "lambda", read_timeout_seconds=int(deployed.get("Timeout", 900)) + _INVOKE_MARGIN_SECONDS
        )
        return cls(
            client,
            worker.function_name,
            role_arn=str(deployed.get("Role", "")),
            report_item_failures=reports_item_failures(worker),
        )

    @property
    def role_arn(self) -> str:
        """The function's execution role."""
        return self._role_arn

    def invoke(self, event: dict[str, Any], identifiers: Sequence[str]) -> BatchResult:
        """Invoke; an AWS error (throttled, unreachable) fails the whole batch with its code."""
        everything = tuple(identifiers)
        try:
            answer = self._client.invoke(
                FunctionName=self._function_name,
                Qualifier=LIVE_ALIAS,
                InvocationType="RequestResponse",
                Payload=json.dumps(event).encode(),
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            return BatchResult(everything, whole_batch=True, function_error=str(code))
        except BotoCoreError as error:
            return BatchResult(everything, whole_batch=True, function_error=type(error).__name__)
        payload = answer["Payload"].read()
        if answer.get("FunctionError"):
            return BatchResult(everything, whole_batch=True, function_error=str(answer["FunctionError"]))
        if not self._report:
            return BatchResult((), whole_batch=False)
        try:
            response = json.loads(payload) if payload else None
        except ValueError:
            response = {"batchItemFailures": "unreadable"}
        failed = reported_failures(response, identifiers)
        if failed is None:  # Lambda fails the whole batch on an invalid partial response
            return BatchResult(everything, whole_batch=True)
        return BatchResult(failed, whole_batch=len(set(failed)) == len(everything))


class SandboxInvoker:
    """The sandbox's in-process function (moto cannot invoke without Docker): the poller's own call."""

    def __init__(
        self, function: LambdaFunction, *, report_item_failures: bool, log: IO[str] | None = None
    ) -> None:
        self._function = function
        self._report = report_item_failures
        self._log = log

    @property
    def role_arn(self) -> str:
        """The function's execution role."""
        return self._function.settings.role_arn

    def invoke(self, event: dict[str, Any], identifiers: Sequence[str]) -> BatchResult:
        """Invoke in this process; the workers' output goes to the log, not to the command's stdout."""
        with contextlib.ExitStack() as output:
            if self._log is not None:
                output.enter_context(contextlib.redirect_stdout(self._log))
            return invoke_batch(self._function, event, identifiers, report=self._report)


def reports_item_failures(worker: FleetWorker) -> bool:
    """Whether the mapping reads `batchItemFailures` (ReportBatchItemFailures)."""
    return "ReportBatchItemFailures" in (worker.mapping.get("functionResponseTypes") or [])


@contextlib.contextmanager
def invoker_for(
    target: Target, worker: FleetWorker, *, log_path: Path = LOCAL_WORKER_LOG
) -> Iterator[Invoker]:
    """AWS: the `live` alias through the Lambda API. Emulated: the running sandbox's handler here."""
    if not target.emulated:
        yield LambdaInvoker.of(target, worker)
        return
    # The sandbox engine only for the local stack.
    from sandbox.runtime import Sandbox

    sandbox = Sandbox(target.graph, configure_environment=False).attach(str(target.endpoint_url))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log_path.open("a", encoding="utf-8") as log:
            yield SandboxInvoker(
                sandbox.function(worker.name), report_item_failures=reports_item_failures(worker), log=log
            )
    finally:
        sandbox.detach()  # the invocations' Lambda metrics, into the sandbox's CloudWatch
