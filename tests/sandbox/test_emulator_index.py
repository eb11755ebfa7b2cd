"""The emulator's index queries answer, page by page, exactly what moto's own `Table.query` answers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.dynamodb.exceptions import ConditionalCheckFailed
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from sandbox import emulator_index

ACCOUNT, REGION = "123456789012", "us-east-1"
Query = Callable[..., tuple[list[Any], int, dict[str, Any] | None]]


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBBackend]:
    # moto's classes as imported (the test process is not the server): restored after each test.
    monkeypatch.setattr(Table, "query", Table.query)
    for name in (*emulator_index.ITEM_WRITES, *emulator_index.TABLE_WRITES):
        monkeypatch.setattr(DynamoDBBackend, name, getattr(DynamoDBBackend, name))
    dynamo = dynamodb_backends[ACCOUNT][REGION]
    yield dynamo
    dynamo.reset()


def _demand_table(backend: DynamoDBBackend, name: str = "demand") -> Table:
    return backend.create_table(
        name,
        schema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        attr=[{"AttributeName": key, "AttributeType": "S"} for key in ("PK", "SK", "eventId", "sweepAt")],
        throughput=None,
        billing_mode="PAY_PER_REQUEST",
        global_indexes=[
            {
                "IndexName": "demand-by-sale",
                "KeySchema": [
                    {"AttributeName": "eventId", "KeyType": "HASH"},
                    {"AttributeName": "SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {  # sparse, hash only: items without `sweepAt` are not in it
                "IndexName": "by-sweep",
                "KeySchema": [{"AttributeName": "sweepAt", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        indexes=[],
        streams=None,
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )


def _item(fan: int, event: str, sale: str, *, sweep: str | None = None, size: int = 0) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": {"S": f"fan#{fan:05d}"},
        "SK": {"S": f"demand#{event}#{sale}"},
        "eventId": {"S": event},
        "phone": {"S": f"+1555{fan:07d}"},
    }
    if sweep is not None:
        item["sweepAt"] = {"S": sweep}
    if size:
        item["padding"] = {"S": "x" * size}
    return item


def _pages(query: Query, table: Table, limit: int | None, forward: bool, **condition: Any) -> list[Any]:
    """Every page of a query, as (item keys, scanned count, last evaluated key) per page."""
    pages: list[Any] = []
    start: dict[str, Any] | None = None
    while True:
        items, scanned, last = query(
            table,
            None,
            limit=limit,
            exclusive_start_key=start,
            scan_index_forward=forward,
            projection_expressions=None,
            **condition,
        )
        pages.append(([item.to_json()["Attributes"] for item in items], scanned, last))
        if not last or len(pages) > 200:
            return pages
        start = {
            name: value.to_json() if isinstance(value, DynamoType) else value for name, value in last.items()
        }


def _sale(event: str, sale: str, comparison: str = "EQ") -> dict[str, Any]:
    value = [DynamoType({"S": f"demand#{event}#{sale}"})]
    if comparison == "BETWEEN":
        value = [*value, DynamoType({"S": f"demand#{event}#{sale}-2"})]
    return {
        "range_comparison": comparison,
        "range_objs": value,
        "index_name": "demand-by-sale",
        "hash_key_conditions": [("eventId", DynamoType({"S": event}))],
        "range_key_conditions": [("SK", comparison, value)],
    }


demand = st.lists(
    st.tuples(
        st.integers(0, 300),
        st.sampled_from(["e1", "e2"]),
        st.sampled_from(["public", "public-2", "presale"]),
        st.sampled_from([None, "2026-12-01T10:00", "2026-12-01T11:00"]),
    ),
    max_size=120,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=demand,
    limit=st.sampled_from([None, 1, 2, 7, 50]),
    forward=st.booleans(),
    comparison=st.sampled_from(["EQ", "BEGINS_WITH", "LT", "LE", "GT", "GE", "BETWEEN"]),
)
def test_every_page_of_an_index_query_is_what_moto_answers(
    backend: DynamoDBBackend,
    rows: list[tuple[int, str, str, str | None]],
    limit: int | None,
    forward: bool,
    comparison: str,
) -> None:
    # Given a table whose demand index holds fans of several events and sales (some fans twice)
    backend.reset()
    table = _demand_table(backend)
    for fan, event, sale, sweep in rows:
        table.put_item(_item(fan, event, sale, sweep=sweep))
    for condition in (_sale("e1", "public", comparison), _sale("e2", "presale", comparison)):
        # When both read every page, in either direction, with or without a Limit
        ours = _pages(emulator_index.query, table, limit, forward, **condition)
        moto = _pages(emulator_index._MOTO_QUERY, table, limit, forward, **condition)
        # Then the pages, their counts and their LastEvaluatedKeys are moto's
        assert ours == moto


def test_a_hash_only_sparse_index_and_a_filter_answer_what_moto_answers(backend: DynamoDBBackend) -> None:
    # Given a sparse keys-only index on `sweepAt` (the base table's key orders its items)
    table = _demand_table(backend)
    for fan in range(40):
        table.put_item(_item(fan, "e1", "public", sweep=None if fan % 3 else "2026-12-01T10:00"))
    condition = {
        "range_comparison": None,
        "range_objs": [],
        "index_name": "by-sweep",
        "hash_key_conditions": [("sweepAt", DynamoType({"S": "2026-12-01T10:00"}))],
        "range_key_conditions": None,
    }
    for limit in (None, 1, 5):
        for forward in (True, False):
            # When both read every page
            # Then they agree, page by page
            assert _pages(emulator_index.query, table, limit, forward, **condition) == _pages(
                emulator_index._MOTO_QUERY, table, limit, forward, **condition
            )


def test_pages_stop_at_the_result_size_limit_as_moto_does(backend: DynamoDBBackend) -> None:
    # Given a sale whose items are 100 kB each (about ten fit in DynamoDB's 1 MB page)
    table = _demand_table(backend)
    for fan in range(35):
        table.put_item(_item(fan, "e1", "public", size=100_000))
    # When both read every page without a Limit (a COUNT query's way)
    ours = _pages(emulator_index.query, table, None, True, **_sale("e1", "public"))
    moto = _pages(emulator_index._MOTO_QUERY, table, None, True, **_sale("e1", "public"))
    # Then they cut the pages at the same items
    assert ours == moto
    assert len(ours) == 4


def test_a_write_between_pages_is_seen_by_the_next_page(backend: DynamoDBBackend) -> None:
    # Given the emulator's index queries installed and a sale read once (its matches now cached)
    emulator_index.install()
    table = _demand_table(backend)
    for fan in range(10):
        backend.put_item("demand", _item(fan, "e1", "public"))
    sale = _sale("e1", "public")

    def keys() -> list[str]:
        return [
            page_item["PK"]["S"]
            for items, _, _ in _pages(Table.query, table, 4, True, **sale)
            for page_item in items
        ]

    assert keys() == [f"fan#{fan:05d}" for fan in range(10)]
    # When fans are added, moved to another sale, and removed through each kind of write
    backend.put_item("demand", _item(20, "e1", "public"))
    backend.update_item(
        "demand",
        {"PK": {"S": "fan#00003"}, "SK": {"S": "demand#e1#public"}},
        update_expression="SET eventId = :other",
        expression_attribute_names={},
        expression_attribute_values={":other": {"S": "e9"}},
    )
    backend.delete_item("demand", {"PK": {"S": "fan#00004"}, "SK": {"S": "demand#e1#public"}})
    backend.transact_write_items([{"Put": {"TableName": "demand", "Item": _item(21, "e1", "public")}}])
    backend.execute_statement(
        "INSERT INTO demand VALUE {'PK': 'fan#00022', 'SK': 'demand#e1#public', 'eventId': 'e1'}",
        parameters=[],
    )
    # Then the next read sees every change (the cached matches were dropped)
    expected = [f"fan#{fan:05d}" for fan in (0, 1, 2, 5, 6, 7, 8, 9, 20, 21, 22)]
    assert keys() == expected


def test_the_matches_kept_per_table_are_bounded(backend: DynamoDBBackend) -> None:
    # Given one table queried with more distinct key conditions than the cache keeps
    table = _demand_table(backend)
    for fan in range(5):
        table.put_item(_item(fan, f"e{fan}", "public"))
    for event in range(emulator_index.MATCHES_PER_TABLE + 5):
        _pages(emulator_index.query, table, 10, True, **_sale(f"e{event}", "public"))
    # Then only the most recent ones are kept
    cached = table.__dict__[emulator_index._CACHE]
    assert len(cached) == emulator_index.MATCHES_PER_TABLE


writes = st.lists(
    st.tuples(
        st.sampled_from(["put", "move", "delete", "conditional-create"]),
        st.integers(0, 40),
        st.sampled_from(["e1", "e2"]),
        st.sampled_from(["public", "public-2"]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=writes, forward=st.booleans())
def test_the_kept_matches_follow_every_kind_of_write(
    backend: DynamoDBBackend, operations: list[tuple[str, int, str, str]], forward: bool
) -> None:
    # Given the emulator's index queries installed and a table read after every write
    emulator_index.install()
    backend.reset()
    table = _demand_table(backend)
    for fan in range(0, 40, 3):
        backend.put_item("demand", _item(fan, "e1", "public"))
    for kind, fan, event, sale in operations:
        # When an item is written, moved to another sale or event, deleted, or a conditional write fails
        key = {"PK": {"S": f"fan#{fan:05d}"}, "SK": {"S": f"demand#{event}#{sale}"}}
        if kind == "put":
            backend.put_item("demand", _item(fan, event, sale))
        elif kind == "move":
            backend.update_item(
                "demand",
                key,
                update_expression="SET eventId = :other",
                expression_attribute_names={},
                expression_attribute_values={":other": {"S": "e2" if event == "e1" else "e1"}},
            )
        elif kind == "delete":
            backend.delete_item("demand", key)
        else:  # a conditional create: refused when the fan is there, a put otherwise
            with contextlib.suppress(ConditionalCheckFailed):
                backend.put_item(
                    "demand",
                    _item(fan, event, sale),
                    condition_expression="attribute_not_exists(PK)",
                    expression_attribute_names={},
                    expression_attribute_values={},
                )
        # Then every page read through the kept matches is what moto answers from scratch
        for condition in (_sale("e1", "public", "BEGINS_WITH"), _sale("e2", "public-2")):
            assert _pages(Table.query, table, 3, forward, **condition) == _pages(
                emulator_index._MOTO_QUERY, table, 3, forward, **condition
            )
