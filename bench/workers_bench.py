"""Worker benchmark: the generator against a bare boto3 conditional-write loop on the emulator."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from infra.naming import Naming

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from infra.synth import ResourceGraph
    from workers.shared.bitly import Bitlink

# ---------------------------------------------------------------------------------------------
# Generator vs bare boto3
# ---------------------------------------------------------------------------------------------

EVENT_ID = "vvG1zZ9benchEvt"
SALE_ID = "public"
PARALLELISM = 16
PAGE_SIZE = 1000
EMULATOR_READ_TIMEOUT_SECONDS = 60


class _ShortUrlCached:
    """The benchmark's event has its short URL stored: the generator never asks Bitly."""

    def shorten(self, long_url: str) -> Bitlink:
        raise AssertionError(f"the benchmark event has a short URL; nothing should shorten {long_url}")


def _seed(client: DynamoDBClient, table: str, fans: int, sale_start: datetime) -> None:
    from workers.shared.models import serialize_item

    event = {
        "PK": f"event:{EVENT_ID}",
        "SK": "event#details",
        "type": "event",
        "id": EVENT_ID,
        "name": "Bench Tour 2027",
        "url": "https://www.ticketmaster.com/event/vvG1zZ9benchEvt",
        "shortUrl": "https://bit.ly/dmdbench",
        "locale": "en-us",
        "timezone": "America/New_York",
        "eventStartDateTime": (sale_start + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "venueName": "Madison Square Garden",
        "venueCity": "New York",
        "venueStateCode": "NY",
        "countryCode": "US",
        "classification": "music",
        "artistName": "The Benchmarks",
        "artistId": "K8vZ9bench",
        "attractions": [{"id": "K8vZ9bench", "name": "The Benchmarks"}],
        "isSuppressed": False,
        "expiresAt": int((sale_start + timedelta(days=60)).timestamp()),
    }
    sale = {
        "PK": f"event:{EVENT_ID}",
        "SK": f"sale#{SALE_ID}",
        "type": "sale",
        "id": SALE_ID,
        "eventId": EVENT_ID,
        "name": "Public Onsale",
        "saleStartDateTime": sale_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "saleStartDate": sale_start.strftime("%Y-%m-%d"),
        "saleTypes": ["PUBLIC"],
        "isSuppressed": False,
        "expiresAt": int((sale_start + timedelta(days=60)).timestamp()),
    }
    client.put_item(TableName=table, Item=serialize_item(event))
    client.put_item(TableName=table, Item=serialize_item(sale))
    demand = (
        {
            "PK": f"fan:bench{index:06d}",
            "SK": f"demand#{EVENT_ID}-{SALE_ID}",
            "type": "demand",
            "fanId": f"bench{index:06d}",
            "eventId": EVENT_ID,
            "saleId": SALE_ID,
            "phoneNumber": f"+1212555{index % 10000:04d}",
            "contactMethod": "sms",
            "marketId": "TM_US",
            "locale": "en-us",
        }
        for index in range(fans)
    )
    batch: list[dict[str, Any]] = []
    for item in demand:
        batch.append({"PutRequest": {"Item": serialize_item(item)}})
        if len(batch) == 25:
            client.batch_write_item(RequestItems={table: batch})  # type: ignore[dict-item]
            batch = []
    if batch:
        client.batch_write_item(RequestItems={table: batch})  # type: ignore[dict-item]


def generator_vs_boto3(fans: int) -> tuple[float, float, int]:
    """Seconds for the generator to create `fans` notifications, and for bare boto3 to write them."""
    from infra.offline import synthesize_stack
    from workers.shared import clients

    graph = synthesize_stack("local")
    # The emulator answers an index page in O(page) now (sandbox/emulator_index.py), but on this
    # one-process emulator a page read of a 50,000-fan sale still passed the workers' 5 s read
    # timeout in two of three runs (mid-sale; DynamoDB answers in milliseconds): the benchmark's
    # client waits longer, as before.
    stack_timeout = clients.DYNAMODB_READ_TIMEOUT_SECONDS
    clients.DYNAMODB_READ_TIMEOUT_SECONDS = EMULATOR_READ_TIMEOUT_SECONDS
    try:
        return _generator_vs_boto3(graph, fans)
    finally:
        clients.DYNAMODB_READ_TIMEOUT_SECONDS = stack_timeout
        clients.reset_clients()


def _generator_vs_boto3(graph: ResourceGraph, fans: int) -> tuple[float, float, int]:
    from aws_clients import AwsClients
    from sandbox.emulator import Emulator
    from sandbox.materialize import materialize
    from workers.notification_generator.logic import Deadline, generate
    from workers.shared import clients
    from workers.shared.messages import GenerationJob
    from workers.shared.repository import DemandRepository

    with Emulator(port=0) as emulator:
        clients.reset_clients()
        materialize(
            graph,
            AwsClients.for_emulator(emulator.endpoint_url, region="us-east-1"),
            register_event_source_mappings=False,
        )
        table = Naming(environment="local", region="us-east-1").table_name
        client = clients.dynamodb()
        sale_start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        _seed(client, table, fans, sale_start)
        repository = DemandRepository(table, sales_index="sales", demand_index="demand-by-sale")
        job = GenerationJob(
            event_id=EVENT_ID,
            sale_id=SALE_ID,
            sale_start_date_time=sale_start,
            window_start=sale_start,
            window_end=sale_start + timedelta(minutes=30),
        )
        started = time.perf_counter()
        outcome = generate(
            job,
            repository,
            page_size=PAGE_SIZE,
            write_parallelism=PARALLELISM,
            deadline=Deadline(remaining_millis=lambda: 900_000, margin_seconds=20),
            continue_with=lambda _job: None,
            shortener=_ShortUrlCached(),
            late_grace=timedelta(minutes=5),
        )
        generator_seconds = time.perf_counter() - started
        created = outcome.created
        items = _notifications(client, table)
        started = time.perf_counter()
        _bare_conditional_writes(client, table, items)
        baseline_seconds = time.perf_counter() - started
        clients.reset_clients()
    return generator_seconds, baseline_seconds, created


def _notifications(client: DynamoDBClient, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    paginator = client.get_paginator("scan")
    for page in paginator.paginate(TableName=table):
        items += [item for item in page["Items"] if item["SK"]["S"].startswith("notification#")]
    # Same items under another partition, so the baseline's conditions all succeed like the generator's.
    return [{**item, "PK": {"S": "bare:" + item["PK"]["S"]}} for item in items]


def _bare_conditional_writes(client: DynamoDBClient, table: str, items: list[dict[str, Any]]) -> None:
    def put(item: dict[str, Any]) -> None:
        client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(PK)")

    with ThreadPoolExecutor(max_workers=PARALLELISM) as pool:
        list(pool.map(put, items))
