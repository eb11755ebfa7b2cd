"""What the capacity model reads: the stack's pipeline shape, per-record costs, external limits, the sale.

The shape comes from the committed stack config (`load_committed`), the costs from
`bench/capacity-costs.json` (written by `make bench`, or replaced by CloudWatch figures with
`--from-metrics`), the external limits (the SMS service's and SES's rates, the table's warm write
throughput) from `EXTERNAL_LIMITS` below or the command's options. docs/capacity.md explains each.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from infra.catalog import CATALOG, GeneratorTunables, SchedulerTunables, SendTunables
from infra.config import StackConfig
from infra.config.platform import StreamSettings
from infra.config.resolved_triggers import QueueTrigger, ScheduleTrigger, StreamTrigger
from infra.stack_files import PROJECT_ROOT

COSTS_FILE: Final = PROJECT_ROOT / "bench" / "capacity-costs.json"

# AWS figures (docs/capacity.md cites the pages): an on-demand Kinesis stream starts at 4 MB/s and
# 4,000 records/s of writes, the capacity of 4 shards; a shard takes 1,000 records/s.
ON_DEMAND_INITIAL_SHARDS: Final = 4
KINESIS_RECORDS_PER_SHARD: Final = 1000
# A DynamoDB partition serves at most 1,000 write units/s; the pending-notifications index has 16
# partition keys (`sweepShard`, workers/shared/keys.py SWEEP_SHARDS), so it takes 16,000 writes/s.
DYNAMODB_PARTITION_WRITES: Final = 1000
PENDING_INDEX_PARTITIONS: Final = 16
# Lambda's scaling rate: 1,000 execution environments every 10 seconds, per function.
LAMBDA_SCALING_ENVIRONMENTS: Final = 1000
LAMBDA_SCALING_SECONDS: Final = 10.0
# An SQS event-source mapping starts with 5 concurrent batches and adds up to 300 a minute.
SQS_INITIAL_CONCURRENCY: Final = 5
SQS_SCALING_PER_MINUTE: Final = 300
SQS_MAX_CONCURRENCY: Final = 1000
# Kinesis-for-DynamoDB copies a change into the stream in about a second; Lambda's poller reads a
# shard about once a second; SQS long polling hands a message over at once (one poll ~ 1 s at worst).
STREAM_COPY_SECONDS: Final = 1.0
STREAM_POLL_SECONDS: Final = 1.0
QUEUE_POLL_SECONDS: Final = 1.0
MAX_BACKOFF_SECONDS: Final = 300.0  # workers/notification_send: backoff(n) = min(base × 2^(n−1), 5 min)


class CapacityModel(BaseModel):
    """The model's values: immutable, camelCase in JSON files and `--json`."""

    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True, extra="forbid"
    )


class AwsCosts(CapacityModel):
    """Per-record costs on AWS: the workers' own CPU and the latency of each call they wait on."""

    generator_cpu_ms: float = Field(gt=0)
    """The generator's own time per notification (model, item, serialization, botocore)."""
    send_cpu_ms: float = Field(gt=0)
    """The sender's own time per record (decode, decisions, serialization, botocore)."""
    invocation_overhead_ms: float = Field(ge=0)
    """Per stream invocation: Lambda's poller hand-over, the batch's setup and metrics flush."""
    dynamodb_ms: float = Field(gt=0)
    """One DynamoDB item write or read, as the worker waits for it."""
    page_read_ms: float = Field(gt=0)
    """One demand page (a Query of `demandPageSize` items on the sale's index)."""
    sms_ms: float = Field(gt=0)
    """One SMS service request (SigV4, HTTPS, the service's answer)."""
    ses_ms: float = Field(gt=0)
    """One SES SendTemplatedEmail."""
    scheduler_seconds: float = Field(gt=0)
    """One scheduler run: the window's sales found, their events fetched, the jobs enqueued."""
    status_ms: float = Field(gt=0)
    """The status consumer's time per status event (one conditional write per message per batch)."""
    measured_send_ms: float | None = Field(default=None, gt=0)
    """From CloudWatch (`--from-metrics`): the sender's Duration per send attempt, everything included."""
    measured_generator_ms: float | None = Field(default=None, gt=0)
    """From CloudWatch: the generator's Duration per notification created (per job)."""


class EmulatorCosts(CapacityModel):
    """Real seconds each worker holds the sandbox's one process, per record (a demo's `held_ms`).

    Measured by `make bench` from a `dmd sandbox demo` report (`ops.capacity_demo_costs`), or read
    from any demo's report with `dmd capacity --stack local --from-report`. Held time is the time at
    least one of the worker's invocations ran (its lanes side by side count once), its first import
    apart: functions take turns in the process, so these add up.
    """

    generator_ms: float = Field(gt=0)
    """The generator's time per notification created."""
    send_ms: float = Field(gt=0)
    """The sender's time per record it handles (one send attempt: claim, vendor call, result)."""
    status_ms: float = Field(ge=0)
    """The status consumer's time per SMS status event."""
    scheduler_seconds: float = Field(gt=0)
    """One scheduler run (Discovery fake, event cache reads, one SendMessageBatch)."""
    sweeper_run_seconds: float = Field(ge=0)
    """One sweeper run (16 pending-index Queries)."""
    init_seconds: float = Field(ge=0)
    """The first import of the scheduler's, generator's, sender's and status consumer's handlers, together."""
    reference_seconds: float = Field(gt=0)
    """`reference_work()` when these figures were measured: `load_factor` compares a machine with it."""


class CapacityCosts(CapacityModel):
    """The committed per-record costs (`bench/capacity-costs.json`)."""

    measured: str
    """When and how the figures were measured."""
    aws: AwsCosts
    emulator: EmulatorCosts
    calls_per_notification: dict[str, float] = Field(default_factory=dict)
    """The workers' AWS calls per delivered notification by operation (bench: pipeline)."""


def load_costs(path: Path = COSTS_FILE) -> CapacityCosts:
    """The committed cost file, validated."""
    return CapacityCosts.model_validate(json.loads(path.read_text(encoding="utf-8")))


class ExternalLimits(CapacityModel):
    """Limits outside the stack file: the vendors' rates and the table's warm write throughput."""

    sms_per_second: float = Field(gt=0)
    """Requests per second the SMS service accepts from the fleet before answering 429."""
    ses_per_second: float = Field(gt=0)
    """The account's SES sending rate (Service Quotas: `Sending rate`)."""
    table_writes_per_second: float = Field(gt=0)
    """Write units per second the on-demand table takes without throttling (its warm throughput)."""


# Agreed or assumed per stack (docs/capacity.md, "External limits"): replace with the contract's
# figures; `--sms-rate`, `--ses-rate` and `--table-writes` override them for one run.
EXTERNAL_LIMITS: Final = {
    "prod1": ExternalLimits(sms_per_second=500, ses_per_second=200, table_writes_per_second=40_000),
    "qa1": ExternalLimits(sms_per_second=50, ses_per_second=14, table_writes_per_second=4_000),
    "local": ExternalLimits(sms_per_second=1_000, ses_per_second=1_000, table_writes_per_second=40_000),
}
DEFAULT_LIMITS: Final = ExternalLimits(sms_per_second=100, ses_per_second=14, table_writes_per_second=4_000)


class FaultRates(CapacityModel):
    """Shares of requests that fail, as `--faults` of `dmd sandbox demo` names them."""

    sms_transient: float = Field(default=0.0, ge=0, lt=1)
    """SMS requests answered 5xx/429 or timing out (retried with backoff): sms, sms-429, sms-timeout."""
    sms_permanent: float = Field(default=0.0, ge=0, le=1)
    """SMS requests rejected for good (FAILED at once): sms-invalid, sms-blocked."""
    ddb_throttle: float = Field(default=0.0, ge=0, lt=1)
    """DynamoDB writes refused with ProvisionedThroughputExceeded (retried by the SDK, 50 ms doubling)."""
    timeout: float = Field(default=0.0, ge=0, lt=1)
    """Stream invocations that time out half-way (Lambda retries the whole batch)."""

    def sms_attempts(self, max_attempts: int) -> float:
        """Expected SMS requests per SMS notification: retried while transient, at most `max_attempts`."""
        p = self.sms_transient
        return float(max_attempts) if p >= 1 else float((1 - p**max_attempts) / (1 - p))

    def write_factor(self) -> float:
        """Expected attempts per DynamoDB write under throttling (each refusal is one more request)."""
        return 1 / (1 - self.ddb_throttle)

    def throttle_delay_ms(self) -> float:
        """Expected extra wait per write: the SDK's 50 ms, 100 ms, … backoff over the refusals."""
        p, delay, total = self.ddb_throttle, 50.0, 0.0
        for refusals in range(1, 7):
            total += p**refusals * delay
            delay *= 2
        return total


SMS_TRANSIENT_KINDS: Final = ("sms", "sms-429", "sms-timeout", "sms-lost-answer")
SMS_PERMANENT_KINDS: Final = ("sms-invalid", "sms-blocked")


def fault_rates(spec: str) -> FaultRates:
    """`--faults` read with the sandbox's fault language (`sms=0.25,ddb-throttle=0.1,timeout=0.02`)."""
    from sandbox.vendors import parse_faults

    rates = parse_faults(spec).rates if spec else {}
    return FaultRates(
        sms_transient=sum(rates.get(kind, 0.0) for kind in SMS_TRANSIENT_KINDS),
        sms_permanent=sum(rates.get(kind, 0.0) for kind in SMS_PERMANENT_KINDS),
        ddb_throttle=rates.get("ddb-throttle", 0.0),
        timeout=rates.get("timeout", 0.0),
    )


class Workload(CapacityModel):
    """The sale (or sales) to plan for."""

    fans: int = Field(ge=1, le=10_000_000)
    """Fans who asked for a reminder."""
    sales: int = Field(default=1, ge=1, le=1000)
    """Sales in the scheduler window, the fans spread evenly over them."""
    reminders_per_fan: float = Field(default=1.0, ge=1.0, le=2.0)
    """Notifications per fan (a fan with SMS and email gets two)."""
    sms_share: float = Field(default=0.6, ge=0.0, le=1.0)
    """Share of the notifications sent by SMS (the rest by email)."""
    faults: FaultRates = FaultRates()

    @property
    def notifications(self) -> int:
        """Notifications the sale creates and sends."""
        return math.ceil(self.fans * self.reminders_per_fan)


class PipelineShape(CapacityModel):
    """The stack config the model reads, one flat value (what a suggested fix changes)."""

    stack: str
    lead_seconds: float
    """The scheduler's leadMinutes: the first sale of the window opens this long after the tick."""
    generator_concurrency: int
    """Generation jobs at once: the queue mapping's maximumConcurrency and the reserved concurrency."""
    write_parallelism: int
    demand_page_size: int
    stream_shards: int
    stream_on_demand: bool
    send_batch_size: int
    send_window_seconds: float
    parallelization_factor: int
    send_reserved: int
    """-1: unreserved (the account's unreserved pool caps it)."""
    send_timeout_seconds: int
    max_send_attempts: int
    retry_backoff_seconds: float
    account_unreserved: int
    """The account's concurrency limit less every worker's reservation."""
    status_window_seconds: float
    status_batch_size: int
    status_parallelization_factor: int

    @property
    def lanes(self) -> int:
        """Concurrent send batches the table stream allows: shards × parallelization factor."""
        return self.stream_shards * self.parallelization_factor

    @property
    def send_concurrency(self) -> int:
        """The sender's concurrency: its lanes, capped by its reservation (or the unreserved pool)."""
        cap = self.send_reserved if self.send_reserved >= 0 else self.account_unreserved
        return max(0, min(self.lanes, cap))

    def backoff(self, attempt: int) -> float:
        """Seconds before the next attempt after the `attempt`-th failed one."""
        return float(min(self.retry_backoff_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))


def _shards(stream: object) -> tuple[int, bool]:
    if isinstance(stream, StreamSettings) and stream.mode == "PROVISIONED" and stream.shard_count:
        return stream.shard_count, False
    return ON_DEMAND_INITIAL_SHARDS, True


def shape_of(config: StackConfig) -> PipelineShape:
    """The pipeline shape of a validated stack config."""
    scheduler = config.worker("notification_scheduler")
    generator = config.worker("notification_generator")
    sender = config.worker("notification_send")
    status = config.worker("sms_status_consumer")
    assert isinstance(scheduler.resolved_trigger, ScheduleTrigger)
    assert isinstance(generator.resolved_trigger, QueueTrigger)
    assert isinstance(sender.resolved_trigger, StreamTrigger)
    assert isinstance(status.resolved_trigger, StreamTrigger)
    schedule = SchedulerTunables.model_validate(_tunables(scheduler.tunables))
    generation = GeneratorTunables.model_validate(_tunables(generator.tunables))
    sending = SendTunables.model_validate(_tunables(sender.tunables))
    queue = generator.resolved_trigger.settings
    generator_cap = [queue.maximum_concurrency or SQS_MAX_CONCURRENCY]
    if generator.reserved_concurrency >= 0:
        generator_cap.append(generator.reserved_concurrency)
    shards, on_demand = _shards(config.platform.table_stream)
    reserved = sum(max(worker.reserved_concurrency, 0) for worker in config.workers.values())
    stream = sender.resolved_trigger.settings
    status_stream = status.resolved_trigger.settings
    return PipelineShape(
        stack=config.stack,
        lead_seconds=schedule.lead_minutes * 60.0,
        generator_concurrency=min(generator_cap),
        write_parallelism=generation.write_parallelism,
        demand_page_size=generation.demand_page_size,
        stream_shards=shards,
        stream_on_demand=on_demand,
        send_batch_size=stream.batch_size,
        send_window_seconds=float(stream.maximum_batching_window_seconds),
        parallelization_factor=stream.parallelization_factor,
        send_reserved=sender.reserved_concurrency,
        send_timeout_seconds=sender.timeout_seconds,
        max_send_attempts=sending.max_send_attempts,
        retry_backoff_seconds=float(sending.retry_backoff_seconds),
        account_unreserved=config.platform.alarm_topic.account_concurrency_limit - reserved,
        status_window_seconds=float(status_stream.maximum_batching_window_seconds),
        status_batch_size=status_stream.batch_size,
        status_parallelization_factor=status_stream.parallelization_factor,
    )


def _tunables(environment: dict[str, str]) -> dict[str, str]:
    # The resolved config holds the tunables as environment variables (UPPER_SNAKE); back to fields.
    return {key.lower(): value for key, value in environment.items()}


# The catalog must still have the workers the model reads (a rename fails here, not at run time).
_MODELLED = {"notification_scheduler", "notification_generator", "notification_send", "sms_status_consumer"}
assert {spec.name for spec in CATALOG} >= _MODELLED
