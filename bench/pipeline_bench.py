"""The pipeline benchmark: a big sale through the sandbox, against bare boto3 doing the same work.

**Pipeline.** `dmd sandbox demo` with one notifiable sale, N fans (the demo's mix of locales,
markets, contact methods, invalid numbers, suppressed artist and registration sale), speed 1 (the
sandbox clock runs in real time, so record ages and status delays are real) and no faults. Timed
from the scheduler tick until every notification is terminal; the API calls are those the emulator
counted over that time.

**Baseline.** A fresh emulator with the same materialized `local` stack (same table, indexes,
streams, SES identity and templates), and the same final notifications rebuilt by bare boto3 with
the minimum calls the product's data flow needs, at the APIs' batch maxima and with 16 threads for
per-item calls, in sequential phases:

1. read the sale's demand from the `demand-by-sale` index (Query pages of the generator's size; as
   many records as the notifiable sale has);
2. create every notification (conditional PutItem);
3. copy the table's changes into its Kinesis stream (DynamoDB Streams GetRecords, PutRecords) and
   read them as both table-stream consumers do (GetRecords);
4. send: claim (conditional UpdateItem returning the item), SendTemplatedEmail for email (the SMS
   service is not AWS: no call), record the outcome (conditional UpdateItem);
5. the SMS service's three status events per delivered SMS (PutRecord each, as the vendor does),
   read from the status stream and applied (conditional UpdateItem each);
6. copy and read the table's changes again.

The ratio is the pipeline's time over the baseline's: what the workers, the Lambda-like pollers
and the sandbox add over the emulator's own cost for the same outcome.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config
from rich.console import Console

from aws_clients import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY
from sandbox.api_calls import count_calls
from sandbox.demo import DemoOptions, DemoReport, run_demo
from sandbox.pipeline import Pipeline, PipelineMode

if TYPE_CHECKING:
    from mypy_boto3_kinesis.type_defs import PutRecordsRequestEntryTypeDef

PARALLELISM: Final = 16
STATUS_EVENTS: Final = ("QUEUED", "SENT", "DELIVERED")
DDB_STREAM_READ_LIMIT: Final = 1000
KINESIS_READ_LIMIT: Final = 10_000
KINESIS_PUT_LIMIT: Final = 500
STREAM_CONSUMERS: Final = 2  # notification_send and demand_stream_to_sqs read the table's stream
SEED: Final = 11


class BenchError(Exception):
    """The pipeline run did not end as it must for its timing to mean anything."""


@dataclass(frozen=True)
class PipelineBench:
    """One pipeline run and its baseline."""

    fans: int
    notifications: int
    delivered: int
    failed: int
    pipeline_seconds: float
    worker_calls: int
    sandbox_calls: int
    baseline_seconds: float
    baseline_calls: int
    baseline_by_operation: dict[str, int]
    worker_by_operation: dict[str, int]
    sandbox_by_operation: dict[str, int]
    status_events: int = 0  # records the SMS status consumer handled
    status_invocations: int = 0  # its invocations: events per invocation is how much there was to coalesce

    @property
    def throughput(self) -> float:
        """Notifications brought to a terminal state per second."""
        return self.notifications / self.pipeline_seconds

    @property
    def worker_calls_per_delivered(self) -> float:
        return self.worker_calls / self.delivered

    @property
    def all_calls_per_delivered(self) -> float:
        return (self.worker_calls + self.sandbox_calls) / self.delivered

    @property
    def baseline_calls_per_delivered(self) -> float:
        return self.baseline_calls / self.delivered

    def markdown(self) -> str:
        """The run's detail for bench/RESULTS.md: calls by operation on each side."""

        def table(calls: Mapping[str, int]) -> str:
            rows = [
                f"| {operation} | {count:,} | {count / self.delivered:.2f} |"
                for operation, count in calls.items()
            ]
            return "\n".join(["| operation | calls | per delivered |", "|---|---|---|", *rows])

        return "\n\n".join(
            [
                f"### Pipeline, {self.fans:,} fans: AWS calls by operation",
                "Method (`bench/pipeline_bench.py`): the pipeline is `dmd sandbox demo --sales 1 --speed 1` "
                "timed from the scheduler tick until every notification is terminal; the baseline rebuilds "
                "the same final notifications on a fresh emulator with the same materialized stack, with "
                "bare boto3 making the minimum calls of the same data flow (demand pages, conditional "
                "create, CDC copy and reads, claim/send/record, three SMS status events each), 16 "
                "threads for per-item calls, in sequential phases.",
                f"{self.notifications:,} notifications, {self.delivered:,} delivered (SMS delivered or email "
                f"accepted by SES), {self.failed:,} failed (invalid numbers); tick → every notification "
                f"terminal in {self.pipeline_seconds:,.1f} s ({self.throughput:,.1f}/s). "
                "Full run report: `build/bench/pipeline-report.json` (not committed).",
                f"Workers (the product's own calls): {self.worker_calls_per_delivered:.2f} per delivered "
                "reminder (target ≤ 4.0; floor: create, claim, result and one final status each)"
                + (
                    f"; the SMS status consumer applied {self.status_events:,} status events in "
                    f"{self.status_invocations:,} invocations "
                    f"({self.status_events / self.status_invocations:,.1f} per batch, one write per message "
                    "per batch)"
                    if self.status_invocations
                    else ""
                )
                + ":",
                table(self.worker_by_operation),
                "Sandbox (what AWS does for the product: CDC into Kinesis, Lambda's pollers, the SMS "
                "service's status events):",
                table(self.sandbox_by_operation),
                f"Baseline (bare boto3, {self.baseline_seconds:,.1f} s):",
                table(self.baseline_by_operation),
            ]
        )


def pipeline_vs_boto3(
    fans: int, *, out_dir: Path, deadline_seconds: float, console: Console, speed: float = 1.0
) -> PipelineBench:
    """Run the sale through the sandbox, then the baseline on a fresh emulator; both figures.

    The benchmark runs at `speed` 1 (sandbox seconds are real seconds, as its method says); a faster
    sandbox clock shortens only the waits (backoffs, visibility timeouts), never the calls made.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    options = DemoOptions(
        fans=fans,
        sales=1,
        speed=speed,
        seed=SEED,
        deadline_seconds=deadline_seconds,
        report_path=out_dir / "pipeline-report.json",
        worker_log=out_dir / "pipeline-workers.log",
    )
    report = run_demo(options, console)
    document = report.document
    if not report.ok or not document["run"].get("pipelineSeconds"):
        failed = [invariant.name for invariant in report.invariants if not invariant.ok]
        raise BenchError(f"the pipeline run did not finish cleanly ({', '.join(failed) or 'deadline'})")
    console.print("baseline: the same notifications with bare boto3 on a fresh emulator …")
    baseline_seconds, baseline_calls = run_baseline(report)
    notes = document["notifications"]
    calls = document["awsApiCalls"]
    status = document.get("workers", {}).get("sms_status_consumer", {})
    return PipelineBench(
        fans=fans,
        notifications=int(notes["created"]),
        delivered=int(notes["delivered"]),
        failed=int(notes["failed"]),
        pipeline_seconds=float(document["run"]["pipelineSeconds"]),
        worker_calls=int(calls["byWorkers"]),
        sandbox_calls=int(calls["bySandbox"]),
        baseline_seconds=baseline_seconds,
        baseline_calls=sum(baseline_calls.values()),
        baseline_by_operation=dict(baseline_calls.most_common()),
        worker_by_operation=dict(calls["byOperation"]),
        sandbox_by_operation=dict(calls["sandboxByOperation"]),
        status_events=int(status.get("records_processed", 0)),
        status_invocations=int(status.get("invocations", 0)),
    )


# --------------------------------------------------------------------------------------------------
# The baseline
# --------------------------------------------------------------------------------------------------


def run_baseline(report: DemoReport) -> tuple[float, Counter[str]]:
    """Rebuild the report's final notifications with bare boto3 on a fresh emulator: seconds, calls."""
    notifications = report.notifications
    # The demand the generator read: one record per fan and notifiable sale (a fan's SMS and email
    # reminders come from one record; suppressed-artist and registration-sale demand is never read).
    demand_records = len({(item["PK"], str(item["SK"]).rsplit("#", 1)[0]) for item in notifications})
    with Pipeline(mode=PipelineMode.STEPPED) as pipeline:
        bare = _Bare(pipeline)
        sale_position = bare.seed_demand(demand_records)
        bare.start_streams()
        pipeline.start_counting_api_calls()
        started = time.perf_counter()
        bare.read_demand(sale_position)
        bare.each(notifications, bare.create)
        bare.copy_changes()
        bare.each(notifications, bare.send)
        delivered = [item for item in notifications if item["status"]["id"] == "DELIVERED"]
        bare.publish_status_events(delivered)
        bare.read_status_events()
        bare.each(delivered, bare.apply_statuses)
        bare.copy_changes()
        seconds = time.perf_counter() - started
        calls = count_calls(pipeline.api_calls().counts)
    return seconds, calls


class _Bare:
    """The baseline's calls: plain boto3 clients on the pipeline's emulator and resources."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        session = boto3.session.Session(
            region_name=pipeline.clients.region,
            aws_access_key_id=EMULATOR_ACCESS_KEY,
            aws_secret_access_key=EMULATOR_SECRET_KEY,
        )
        config = Config(
            max_pool_connections=PARALLELISM,
            retries={"mode": "standard", "max_attempts": 1},
            account_id_endpoint_mode="disabled",
        )
        endpoint = pipeline.sandbox.endpoint_url
        self._ddb = session.client("dynamodb", endpoint_url=endpoint, config=config)
        self._streams = session.client("dynamodbstreams", endpoint_url=endpoint, config=config)
        self._kinesis = session.client("kinesis", endpoint_url=endpoint, config=config)
        self._ses = session.client("ses", endpoint_url=endpoint, config=config)
        self.table = pipeline.table_name
        route = pipeline.sandbox.materialized.cdc_routes[0]
        self._table_stream_arn = route.table_stream_arn
        self._kinesis_stream = route.kinesis_stream_arn.rsplit("/", 1)[-1]
        self._status_stream = pipeline.status_stream
        self._template_prefix = pipeline.function_variable("notification_send", "EMAIL_TEMPLATE_PREFIX")
        self._from_address = pipeline.function_variable("notification_send", "EMAIL_FROM_ADDRESS")
        self._demand_index = pipeline.function_variable("notification_generator", "DEMAND_TABLE_DEMAND_INDEX")
        self._page_size = int(pipeline.function_variable("notification_generator", "DEMAND_PAGE_SIZE"))
        self._ddb_iterator = ""
        self._readers: dict[str, list[str]] = {}

    # ---------------------------------------------------------------------------------------------

    def each(self, items: Sequence[Any], action: Callable[[Any], None]) -> None:
        """`action` for every item on 16 threads (like the generator's write parallelism)."""
        with ThreadPoolExecutor(max_workers=PARALLELISM) as pool:
            for _ in pool.map(action, items):
                pass

    def seed_demand(self, count: int) -> tuple[str, str]:
        """Untimed: the sale's demand records as the fan-facing writer writes them; their index keys."""
        sale_position = ("BenchEvent", "demand#BenchEvent-public")  # demand-by-sale: eventId, SK
        self._pipeline.put_items(
            {
                "PK": f"fan:bench{index:06d}",
                "SK": "demand#BenchEvent-public",
                "type": "demand",
                "fanId": f"bench{index:06d}",
                "eventId": "BenchEvent",
                "saleId": "public",
                "contactMethod": "sms",
                "phoneNumber": f"+1212555{index % 10000:04d}",
                "locale": "en-us",
                "marketId": "TM_US",
            }
            for index in range(count)
        )
        return sale_position

    def start_streams(self) -> None:
        """Untimed: read positions at the streams' tips (the seeding's changes are not the baseline's)."""
        shard = self._streams.describe_stream(StreamArn=self._table_stream_arn)["StreamDescription"][
            "Shards"
        ][0]
        self._ddb_iterator = self._streams.get_shard_iterator(
            StreamArn=self._table_stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
        )["ShardIterator"]
        for stream, readers in ((self._kinesis_stream, STREAM_CONSUMERS), (self._status_stream, 1)):
            shard_id = self._kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
            self._readers[stream] = [
                self._kinesis.get_shard_iterator(
                    StreamName=stream, ShardId=shard_id, ShardIteratorType="LATEST"
                )["ShardIterator"]
                for _ in range(readers)
            ]

    # ---------------------------------------------------------------------------------------------

    def read_demand(self, sale_position: tuple[str, str]) -> None:
        event_id, sort_key = sale_position
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": self._demand_index,
            "KeyConditionExpression": "eventId = :event AND SK = :sk",
            "ExpressionAttributeValues": {":event": {"S": event_id}, ":sk": {"S": sort_key}},
            "Limit": self._page_size,
        }
        while True:
            answer = self._ddb.query(**request)
            if "LastEvaluatedKey" not in answer:
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def create(self, item: Mapping[str, Any]) -> None:
        from workers.shared.models import serialize_item

        created = {key: value for key, value in item.items() if key not in _SEND_ATTRIBUTES}
        created["status"] = {"id": "CREATED"}
        self._ddb.put_item(
            TableName=self.table,
            Item=serialize_item(created),
            ConditionExpression="attribute_not_exists(PK)",
        )

    def send(self, item: Mapping[str, Any]) -> None:
        key = _key(item)
        self._ddb.update_item(
            TableName=self.table,
            Key=key,
            UpdateExpression="SET claimId = :claim, sendAttempts = :one, #status.#id = :sending",
            ConditionExpression="#status.#id = :created AND attribute_not_exists(claimId)",
            ExpressionAttributeNames={"#status": "status", "#id": "id"},
            ExpressionAttributeValues={
                ":claim": {"S": "bench-claim"},
                ":one": {"N": "1"},
                ":sending": {"S": "SENDING"},
                ":created": {"S": "CREATED"},
            },
            ReturnValues="ALL_NEW",
        )
        outcome = "FAILED" if item["status"]["id"] == "FAILED" else "TRIGGERED"
        if item.get("contactMethod") == "email":
            self._ses.send_templated_email(
                Source=self._from_address,
                Destination={"ToAddresses": [str(item.get("email", ""))]},
                Template=f"{self._template_prefix}-{item.get('locale', 'en-us')}",
                TemplateData=json.dumps(item.get("templateVariables") or {}, separators=(",", ":")),
            )
        self._ddb.update_item(
            TableName=self.table,
            Key=key,
            UpdateExpression=(
                "SET #status.#id = :outcome, messageId = :message, #date.triggered = :now REMOVE claimId"
            ),
            ConditionExpression="claimId = :claim",
            ExpressionAttributeNames={"#status": "status", "#id": "id", "#date": "date"},
            ExpressionAttributeValues={
                ":outcome": {"S": outcome},
                ":message": {"S": str(item.get("messageId") or "none")},
                ":now": {"S": _now()},
                ":claim": {"S": "bench-claim"},
            },
        )

    def publish_status_events(self, delivered: Iterable[Mapping[str, Any]]) -> None:
        def publish(event: tuple[Mapping[str, Any], str]) -> None:
            item, status = event
            message_id = str(item.get("messageId") or item["PK"])
            self._kinesis.put_record(
                StreamName=self._status_stream,
                PartitionKey=message_id,
                Data=json.dumps({"messageId": message_id, "status": status, "at": _now()}).encode(),
            )

        self.each([(item, status) for item in delivered for status in STATUS_EVENTS], publish)

    def read_status_events(self) -> None:
        self._read(self._status_stream)

    def apply_statuses(self, item: Mapping[str, Any]) -> None:
        """One SMS's status events in order (one item's events never race each other)."""
        for status in STATUS_EVENTS:
            self._ddb.update_item(
                TableName=self.table,
                Key=_key(item),
                UpdateExpression=f"SET #status.#id = :status, #date.{status.lower()} = :now",
                ConditionExpression="#status.#id <> :delivered",
                ExpressionAttributeNames={"#status": "status", "#id": "id", "#date": "date"},
                ExpressionAttributeValues={
                    ":status": {"S": status},
                    ":now": {"S": _now()},
                    ":delivered": {"S": "DELIVERED"},
                },
            )

    def copy_changes(self) -> None:
        """The table's changes so far into its Kinesis stream, then read by both consumers."""
        while True:
            answer = self._streams.get_records(ShardIterator=self._ddb_iterator, Limit=DDB_STREAM_READ_LIMIT)
            self._ddb_iterator = answer["NextShardIterator"]
            records = answer.get("Records", [])
            for start in range(0, len(records), KINESIS_PUT_LIMIT):
                self._kinesis.put_records(
                    StreamName=self._kinesis_stream,
                    Records=[_change_record(record) for record in records[start : start + KINESIS_PUT_LIMIT]],
                )
            if len(records) < DDB_STREAM_READ_LIMIT:
                break
        self._read(self._kinesis_stream)

    def _read(self, stream: str) -> None:
        """Each of the stream's consumers reads to the tip."""
        iterators = self._readers[stream]
        for index in range(len(iterators)):
            while True:
                answer = self._kinesis.get_records(ShardIterator=iterators[index], Limit=KINESIS_READ_LIMIT)
                iterators[index] = answer["NextShardIterator"]
                if len(answer.get("Records", [])) < KINESIS_READ_LIMIT:
                    break


_SEND_ATTRIBUTES: Final = frozenset({"messageId", "claimId", "sendAttempts", "errors", "nextAttemptAt"})


def _change_record(record: Mapping[str, Any]) -> PutRecordsRequestEntryTypeDef:
    """A table change as a Kinesis record: the change as JSON, partitioned by the item's key."""
    change = {"eventName": record["eventName"], "dynamodb": record["dynamodb"]}
    return {
        "Data": json.dumps(change, default=str).encode(),
        "PartitionKey": record["dynamodb"]["Keys"]["PK"]["S"],
    }


def _key(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"PK": {"S": str(item["PK"])}, "SK": {"S": str(item["SK"])}}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
