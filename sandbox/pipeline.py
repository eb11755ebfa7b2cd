"""The sandbox with its fake vendors wired in: what `dmd sandbox up`, the demo and the end-to-end tests run.

`Pipeline.start()` starts the fake vendors (on the stack's ports, or free ones with the functions'
vendor URLs overridden, as its `PipelineMode` says), then the `Sandbox` on the same clock, and does
what an operator does once per environment: puts the vendor credentials into the stack's secrets,
verifies the SES sending domain, and points the SMS service's status events at the stack's SMS
status stream.

`ledger` follows every notification's status from the table's change stream (free progress checks).
It also reads the state back for reports and tests: notifications, dead-letter depths, and the
AWS API calls the workers made (counted by the emulator's server, see `sandbox.api_calls`; the
sandbox's own calls carry `app/dmd-sandbox` in their user agent and are counted apart).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from types import TracebackType
from typing import Any, Final

from aws_clients import AwsClients
from infra.naming import on_failure_queue_name
from infra.stack_files import load_committed
from infra.synth import ResourceGraph
from sandbox.api_calls import KEPT_OPERATIONS, ApiCalls
from sandbox.clock import SandboxClock
from sandbox.emulator import DEFAULT_PORT, Emulator
from sandbox.ledger import NotificationLedger
from sandbox.materialize import Kind
from sandbox.runtime import SANDBOX_USER_AGENT_APPID, Sandbox
from sandbox.vendors import (
    DEFAULT_DELAYS,
    NO_FAULTS,
    FaultPlan,
    KinesisStatusSink,
    SmsStatusDelays,
    VendorFakes,
    VendorPorts,
)
from workers.shared.models import deserialize_item, serialize_item

SEND_WORKER: Final = "notification_send"
STATUS_WORKER: Final = "sms_status_consumer"
# How much longer than the send worker's vendor timeout the SMS fake holds a "timeout" answer.
TIMEOUT_MARGIN_SECONDS: Final = 1.0
_BATCH_WRITE_LIMIT: Final = 25
_BATCH_WRITE_ATTEMPTS: Final = 10


class PipelineError(Exception):
    """The pipeline cannot be started or read as asked."""


class PipelineMode(Enum):
    """Whom a pipeline serves: the whole machine, one process, or one process step by step."""

    # SHARED is `dmd sandbox up`: the stack's emulator port (4566) and vendor ports, so `pulumi up -s
    # local`, the AWS CLI and other shells reach it, and this process's AWS environment points at it.
    SHARED = "shared"
    # PRIVATE is the demo and the end-to-end tests: free ports (the functions' vendor URLs overridden
    # to the fakes'), several side by side, the process environment untouched; CDC, pollers and
    # schedules run in background threads.
    PRIVATE = "private"
    # STEPPED is one invocation or query, and the benchmark's baseline: private, and nothing runs
    # unless the caller pumps it (`run_until`, `wait_until_idle`, `pump`).
    STEPPED = "stepped"

    @property
    def serves_stack_ports(self) -> bool:
        """Whether the fakes (and by default the emulator) listen on the stack's ports, else on free ones."""
        return self is PipelineMode.SHARED

    @property
    def runs_in_background(self) -> bool:
        """Whether CDC, pollers and schedules run in their own threads (else only when pumped)."""
        return self is not PipelineMode.STEPPED

    @property
    def points_process_at_emulator(self) -> bool:
        """Whether this process's AWS environment variables point at the emulator while it runs."""
        return self is PipelineMode.SHARED


class Pipeline:
    """The local stack running with fake vendors; `with Pipeline(mode=PipelineMode.PRIVATE) as running: …`."""

    # `port` is the emulator's; by default the stack's (4566) when shared, a free one otherwise.
    # `ship_logs`: the functions' output goes into the emulator's log groups too (`dmd logs`).

    def __init__(
        self,
        graph: ResourceGraph | None = None,
        *,
        mode: PipelineMode,
        stack: str = "local",
        port: int | None = None,
        speed: float = 1.0,
        start_time: datetime | None = None,
        faults: FaultPlan = NO_FAULTS,
        seed: int = 0,
        status_delays: SmsStatusDelays = DEFAULT_DELAYS,
        environment_overrides: Mapping[str, str] | None = None,
        ship_logs: bool = False,
    ) -> None:
        self.mode = mode
        self.stack = load_committed(stack)
        self.clock = SandboxClock(speed=speed, start=start_time)
        vendors = self.stack.vendors
        ports = (
            VendorPorts.of_urls(
                sms=vendors.sms_service_url,
                bitly=vendors.bitly_url,
                discovery=vendors.discovery_url,
                accounts=vendors.accounts_url,
            )
            if mode.serves_stack_ports
            else VendorPorts()
        )
        self.vendors = VendorFakes(
            clock=self.clock, ports=ports, faults=faults, seed=seed, delays=status_delays
        )
        overrides = {} if mode.serves_stack_ports else self.vendors.environment_overrides()
        self._dead_letter_queues: list[str] | None = None
        self.status_stream = ""
        self.ledger = NotificationLedger()
        self.sandbox = Sandbox(
            graph,
            stack=stack,
            port=port if port is not None else DEFAULT_PORT if mode.serves_stack_ports else 0,
            clock=self.clock,
            environment_overrides={**overrides, **(environment_overrides or {})},
            background=mode.runs_in_background,
            configure_environment=mode.points_process_at_emulator,
            change_observers=(self.ledger.observe,),
            ship_logs=ship_logs,
            seed=seed,
        )

    # ---------------------------------------------------------------------------------------------

    def start(self) -> Pipeline:
        """Start the vendors and the sandbox, then install credentials, the SES domain and the status sink."""
        self.vendors.start()
        try:
            self.sandbox.start()
            self._install()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the sandbox, then the vendors; idempotent."""
        self.sandbox.stop()
        self.vendors.stop()

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _install(self) -> None:
        clients = self.sandbox.clients
        secrets = clients.client("secretsmanager")
        values = self.vendors.secret_values()
        for name, arn in self.sandbox.materialized.of(Kind.SECRET).items():
            value = values.get(name.rsplit("/", 1)[-1])
            if value is not None:
                secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(value))
        ses = clients.client("ses")
        ses.verify_domain_identity(Domain=self.stack.email.identity_domain)
        ses.verify_email_identity(EmailAddress=self.stack.email.from_address)
        status_stream = self.sandbox.pollers[STATUS_WORKER].mapping.event_source_arn.rsplit("/", 1)[-1]
        self.vendors.publisher.attach(KinesisStatusSink(clients.client("kinesis"), status_stream))
        self.status_stream = status_stream
        timeout = self.function_variable(SEND_WORKER, "VENDOR_TIMEOUT_SECONDS")
        self.vendors.sms.hang_seconds = float(timeout) + TIMEOUT_MARGIN_SECONDS

    # ---------------------------------------------------------------------------------------------

    @property
    def clients(self) -> AwsClients:
        """The sandbox's clients for the emulator."""
        return self.sandbox.clients

    def function_variable(self, worker: str, variable: str) -> str:
        """A function's environment variable as the sandbox runs it (stack value or override)."""
        environment = self.sandbox.function(worker).settings.environment
        if variable not in environment:
            raise PipelineError(f"{worker} has no variable {variable}")
        return environment[variable]

    @property
    def table_name(self) -> str:
        """The demand table."""
        return self.function_variable(SEND_WORKER, "DEMAND_TABLE_NAME")

    def queue_url(self, name: str) -> str:
        """A queue's URL in the emulator by name."""
        return self.sandbox.materialized.ref(Kind.QUEUE_URL, name)

    def on_failure_queue(self, worker: str) -> str:
        """The name of the on-failure destination of a worker's stream trigger."""
        return on_failure_queue_name(self.sandbox.functions[worker].settings.function_name)

    def dead_letter_queues(self) -> list[str]:
        """Every queue where records end that the pipeline could not process (DLQs, on-failure)."""
        if self._dead_letter_queues is None:
            self._dead_letter_queues = self._find_dead_letter_queues()
        return self._dead_letter_queues

    def _find_dead_letter_queues(self) -> list[str]:
        arns: set[str] = set()
        for request in self.sandbox.materialized.event_source_mappings.values():
            destination = ((request.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            if destination:
                arns.add(destination)
        sqs = self.clients.client("sqs")
        for url in self.sandbox.materialized.of(Kind.QUEUE_URL).values():
            policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
            redrive = (policy.get("Attributes") or {}).get("RedrivePolicy")
            if redrive:
                arns.add(json.loads(redrive)["deadLetterTargetArn"])
        events = self.clients.client("events")
        for rule in self.sandbox.materialized.of(Kind.RULE):
            for target in events.list_targets_by_rule(Rule=rule).get("Targets", []):
                destination = (target.get("DeadLetterConfig") or {}).get("Arn")
                if destination:
                    arns.add(destination)
        return sorted({arn.rsplit(":", 1)[-1] for arn in arns})

    def queue_depths(self, names: Iterable[str]) -> dict[str, int]:
        """Messages in each queue (visible, in flight and delayed)."""
        sqs = self.clients.client("sqs")
        depths: dict[str, int] = {}
        for name in names:
            attributes = sqs.get_queue_attributes(
                QueueUrl=self.queue_url(name),
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            depths[name] = sum(int(value) for value in attributes.values())
        return depths

    def background_errors(self) -> int:
        """Failed background rounds of the sandbox and of the SMS fake's status publisher."""
        return self.sandbox.background_errors() + self.vendors.publisher.errors

    def dlq_depths(self) -> dict[str, int]:
        """Messages in each dead-letter queue and on-failure destination."""
        return self.queue_depths(self.dead_letter_queues())

    # ---------------------------------------------------------------------------------------------

    def put_items(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Write plain items to the demand table with BatchWriteItem (25 at a time); how many written."""
        dynamodb = self.clients.client("dynamodb")
        pending = [{"PutRequest": {"Item": serialize_item(item)}} for item in items]
        written = len(pending)
        for start in range(0, len(pending), _BATCH_WRITE_LIMIT):
            chunk: list[Any] = pending[start : start + _BATCH_WRITE_LIMIT]
            for attempt in range(_BATCH_WRITE_ATTEMPTS):
                answer = dynamodb.batch_write_item(RequestItems={self.table_name: chunk})
                chunk = (answer.get("UnprocessedItems") or {}).get(self.table_name, [])
                if not chunk:
                    break
                time.sleep(0.05 * (attempt + 1))
            else:
                raise PipelineError(f"{len(chunk)} items could not be written to {self.table_name}")
        return written

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        """One item of the demand table as plain python, or None."""
        answer = self.clients.client("dynamodb").get_item(
            TableName=self.table_name, Key={"PK": {"S": pk}, "SK": {"S": sk}}, ConsistentRead=True
        )
        found = answer.get("Item")
        return deserialize_item(found) if found else None

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification item of the demand table (a Scan: fine for reports, not for progress checks)."""
        dynamodb = self.clients.client("dynamodb")
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#sk": "SK"},
            "ExpressionAttributeValues": {":prefix": {"S": "notification#"}},
            "ConsistentRead": True,
        }
        found: list[dict[str, Any]] = []
        while True:
            answer = dynamodb.scan(**request)
            found.extend(deserialize_item(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return found
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    # ---------------------------------------------------------------------------------------------

    def start_counting_api_calls(self) -> None:
        """Count the emulator's requests from now on (for `api_calls`; SES sends are kept whole)."""
        self._emulator().start_counting(keep=KEPT_OPERATIONS)

    def api_calls(self) -> ApiCalls:
        """The AWS API calls counted since `start_counting_api_calls`."""
        return ApiCalls.of(self._emulator().counted_calls(), sandbox_appid=SANDBOX_USER_AGENT_APPID)

    def _emulator(self) -> Emulator:
        if self.sandbox.emulator is None:
            raise PipelineError("the pipeline is not started")
        return self.sandbox.emulator
