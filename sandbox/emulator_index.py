"""The emulator's index queries in O(page): moto's answers, without sorting the whole index per page.

moto answers every Query on a secondary index by walking the whole table, sorting what matches and
then walking from the start of the sorted list to the page's ExclusiveStartKey. A sale's demand
(`demand-by-sale`, 50,000 fans) read 1,000 at a time therefore costs O(table · log table) per page and
O(table²) per sale: seconds per deep page, against DynamoDB's milliseconds, and past the workers'
5 s read timeout at sale-day sizes.

Here, each table keeps the sorted matches of the key conditions it was last asked about (a few per
table, least recently used first out), rebuilt after any write to that table; a page is found by
binary search on the ExclusiveStartKey and moto's own `Table.query` then runs on just that page's
items (plus the one after it, so it sets LastEvaluatedKey as it would have). Pages, their order,
Count/ScannedCount, projections, filters and LastEvaluatedKey are moto's: only the work before them
changes. Queries this cannot narrow (legacy KeyConditions filters, an unknown index, the table's own
key) go to moto unchanged.

Every item operation holds the emulator's one lock (`sandbox.emulator_server`), so the cache needs
none of its own.
"""

from __future__ import annotations

import bisect
import functools
import operator
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, GlobalSecondaryIndex, Table

_MOTO_QUERY: Final = Table.query
_CACHE: Final = "_dmd_index_matches"  # on the table: {key conditions: their matches, ascending}
MATCHES_PER_TABLE: Final = 16  # distinct key conditions kept per table (the sweeper's `<` moves on)

CacheKey = tuple[Any, ...]


class _Page:
    """The table, as moto's `Table.query` sees it, holding only one page's candidates."""

    def __init__(self, table: Table, items: list[Item]) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list[Item]:
        return list(self._items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


class _IndexShape:
    """What moto derives from an index's schema to match and order its items (its `query`, verbatim)."""

    def __init__(self, table: Table, index_name: str, range_key_conditions: Sequence[Any] | None) -> None:
        index = {candidate.name: candidate for candidate in table.all_indexes()}[index_name]
        self.hash_keys = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
        self.range_keys = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
        if self.range_keys:
            compared: str | None = self.range_keys[0]
            self.range_attrs: list[str | None] = [*self.range_keys, table.range_key_attr]
        else:
            compared = (
                table.range_key_attr
                if isinstance(index, GlobalSecondaryIndex) and table.range_key_attr
                else table.hash_key_attr
            )
            self.range_attrs = [compared, table.range_key_attr]
        # A multi-attribute key compares its last range condition's attribute; else the index's range key.
        self.compared = range_key_conditions[-1][0] if range_key_conditions else compared
        self.hash_attrs = [*self.hash_keys, table.hash_key_attr]


def _key_value(value: DynamoType) -> tuple[str, str]:
    return value.type, repr(value.value)


class _Matches:
    """The index's items that meet the hash and range-equality conditions, in moto's ascending order,
    kept up to date by the table's writes, with the run of them that meets each range comparison asked
    about (a key condition on the sort key selects a contiguous run of an index sorted by it)."""

    def __init__(
        self,
        table: Table,
        shape: _IndexShape,
        hash_conditions: dict[str, DynamoType],
        range_equalities: dict[str, DynamoType],
    ) -> None:
        self.shape = shape
        self._hash_conditions = hash_conditions
        self._range_equalities = range_equalities
        self._sort_attrs = table._generate_attr_to_sort_by(shape.hash_attrs, shape.range_attrs)
        found = [item for item in table.all_items() if self.qualifies(item.attrs)]
        self.items = table.sorted_items(shape.hash_attrs, shape.range_attrs, found)
        # moto orders DynamoTypes by their cast values: the same order, compared without the wrappers.
        self._keys = [self._sort_key(item.attrs) for item in self.items]
        # One range key, compared: every match has the same hash keys, so the compared value orders them.
        single = len(shape.range_keys) == 1 and shape.compared == shape.range_keys[0]
        self._compared = self._sort_attrs.index(str(shape.compared)) if single else None
        self._runs: dict[CacheKey, tuple[int, int] | None] = {}

    def qualifies(self, attrs: Mapping[str, DynamoType]) -> bool:
        """moto's test of an item for this query, before its range comparison."""
        for conditions in (self._hash_conditions, self._range_equalities):
            if any(not attrs.get(name) or attrs.get(name) != value for name, value in conditions.items()):
                return False
        return not self.shape.range_keys or all(attrs.get(name) for name in self.shape.range_keys)

    def _sort_key(self, attrs: Mapping[str, DynamoType]) -> tuple[Any, ...]:
        return tuple(attrs[name].cast_value for name in self._sort_attrs)

    def replace(
        self, before: Item | None, before_attrs: Mapping[str, DynamoType], after: Item | None
    ) -> bool:
        """Follow one item's write (absent before or after for a put or a delete); False if lost track."""
        if before is not None and self.qualifies(before_attrs):
            position = bisect.bisect_left(self._keys, self._sort_key(before_attrs))
            if position >= len(self.items) or self.items[position] is not before:
                return False
            del self.items[position], self._keys[position]
        if after is not None and self.qualifies(after.attrs):
            key = self._sort_key(after.attrs)
            position = bisect.bisect_right(self._keys, key)
            self.items.insert(position, after)
            self._keys.insert(position, key)
        self._runs.clear()
        return True

    def run(self, comparison: str | None, values: list[DynamoType]) -> tuple[int, int] | None:
        """[first, end) of the items meeting the comparison; None if they are not one run."""
        if not comparison:
            return 0, len(self.items)
        key = (comparison, tuple(_key_value(value) for value in values))
        if key not in self._runs:
            self._runs[key] = (
                self._ordered_run(self._compared, comparison, values)
                if self._compared is not None and comparison in ORDERED_COMPARISONS
                else self._scanned_run(comparison, values)
            )
        return self._runs[key]

    def _ordered_run(self, compared: int, comparison: str, values: list[DynamoType]) -> tuple[int, int]:
        """By bisection: where the compared values reach the condition, and where they stop meeting it."""
        if comparison in {"LT", "LE"}:
            first = 0
        elif comparison == "GT":
            first = bisect.bisect_right(self._keys, values[0].cast_value, key=operator.itemgetter(compared))
        else:  # EQ, GE, BETWEEN, BEGINS_WITH: from the first value at or after the bound
            first = bisect.bisect_left(self._keys, values[0].cast_value, key=operator.itemgetter(compared))
        misses = range(first, len(self.items))
        end = bisect.bisect_left(
            misses,
            True,
            key=lambda position: not _meets(self.items[position], self.shape, comparison, values),
        )
        return first, first + end

    def _scanned_run(self, comparison: str, values: list[DynamoType]) -> tuple[int, int] | None:
        met = [index for index, item in enumerate(self.items) if _meets(item, self.shape, comparison, values)]
        if not met:
            return 0, 0
        if met[-1] - met[0] + 1 == len(met):
            return met[0], met[-1] + 1
        return None  # not ordered by the compared attribute: moto's own walk


# Key conditions on a sort key: each selects the values from a bound on (DynamoDB's own set).
ORDERED_COMPARISONS: Final = frozenset({"EQ", "LT", "LE", "GT", "GE", "BETWEEN", "BEGINS_WITH"})


def _meets(item: Item, shape: _IndexShape, comparison: str, values: list[DynamoType]) -> bool:
    compared = item.attrs.get(shape.compared) if shape.compared else None
    return compared is not None and bool(compared) and bool(compared.compare(comparison, values))


def _cached(table: Table) -> OrderedDict[CacheKey, _Matches] | None:
    cached: OrderedDict[CacheKey, _Matches] | None = table.__dict__.get(_CACHE)
    return cached


def _cached_matches(table: Table, key: CacheKey, build: Callable[[], _Matches]) -> _Matches:
    cached = _cached(table)
    if cached is None:
        cached = table.__dict__[_CACHE] = OrderedDict()
    matches = cached.get(key)
    if matches is None:
        matches = cached[key] = build()
        while len(cached) > MATCHES_PER_TABLE:
            cached.popitem(last=False)
    cached.move_to_end(key)
    return matches


class _Ordered(Sequence[Item]):
    """The matches in the query's direction, without copying them."""

    def __init__(self, items: list[Item], forward: bool) -> None:
        self._items = items
        self._forward = forward

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, position: int) -> Item:  # type: ignore[override]
        return self._items[position if self._forward else len(self._items) - 1 - position]


def _first_after(
    table: Table, ordered: Sequence[Item], start: dict[str, Any], shape: _IndexShape, forward: bool
) -> int:
    """Where the page after `start` begins: moto's own "comes before or at" test, by bisection."""
    low, high = 0, len(ordered)
    while low < high:
        middle = (low + high) // 2
        if table._item_comes_before_dct(ordered[middle], start, shape.hash_attrs, shape.range_attrs, forward):
            low = middle + 1
        else:
            high = middle
    return low


def _page_candidates(
    ordered: Sequence[Item], first: int, run: tuple[int, int], limit: int | None
) -> list[Item]:
    """What moto's walk from `first` would look at before it stops: the run's items that fill the
    page, then items after the run until one ends the page (by count or by size) or none is left."""
    page: list[Item] = []
    met = 0
    size = 0
    position = max(first, run[0])
    while position < len(ordered):
        item = ordered[position]
        item_size = item.size()
        page.append(item)
        if (limit is not None and met == limit) or size + item_size > RESULT_SIZE_LIMIT:
            break  # moto stops here: the page's LastEvaluatedKey is its last result
        if position < run[1]:
            met += 1
            size += item_size
        position += 1
    return page


def query(  # noqa: PLR0917 - moto's `Table.query` signature, which it replaces
    self: Table,
    hash_key: DynamoType | None,
    range_comparison: str | None,
    range_objs: list[DynamoType],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: str | None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
    range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
    **filter_kwargs: Any,
) -> tuple[list[Item], int, dict[str, Any] | None]:
    """moto's `Table.query`, answered from the page's own items when the query is on an index."""
    arguments: tuple[Any, ...] = (  # moto's annotations say int/dict; its callers pass None too
        hash_key,
        range_comparison,
        range_objs,
        limit,
        exclusive_start_key,
        scan_index_forward,
        projection_expressions,
    )
    options = {
        "index_name": index_name,
        "consistent_read": consistent_read,
        "filter_expression": filter_expression,
        "hash_key_conditions": hash_key_conditions,
        "range_key_conditions": range_key_conditions,
        **filter_kwargs,
    }
    indexes = {index.name: index for index in self.all_indexes()}
    if (
        not index_name
        or filter_kwargs
        or index_name not in indexes
        or (consistent_read and indexes[index_name] in self.global_indexes)
        or (range_comparison and not any(key["KeyType"] == "RANGE" for key in indexes[index_name].schema))
    ):
        return _MOTO_QUERY(self, *arguments, **options)  # moto's answer, or its error
    shape = _IndexShape(self, index_name, range_key_conditions)
    hash_conditions = dict(hash_key_conditions or [])
    range_equalities = {name: values[0] for name, _, values in (range_key_conditions or [])[:-1]}
    key: CacheKey = (
        index_name,
        tuple((name, _key_value(value)) for name, value in sorted(hash_conditions.items())),
        tuple((name, _key_value(value)) for name, value in sorted(range_equalities.items())),
        shape.compared,
    )
    matches = _cached_matches(
        self, key, functools.partial(_Matches, self, shape, hash_conditions, range_equalities)
    )
    ascending_run = matches.run(range_comparison, range_objs)
    if ascending_run is None:
        return _MOTO_QUERY(self, *arguments, **options)
    forward = scan_index_forward is not False
    count = len(matches.items)
    run = ascending_run if forward else (count - ascending_run[1], count - ascending_run[0])
    ordered = _Ordered(matches.items, forward)
    first = (
        _first_after(self, ordered, exclusive_start_key, shape, forward)
        if exclusive_start_key is not None
        else 0
    )
    candidates = _page_candidates(ordered, first, run, limit)
    return _MOTO_QUERY(_Page(self, candidates), *arguments, **options)  # type: ignore[arg-type]


def _written_item(table: Table, write: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Item | None:
    """The item a backend write names, as the table holds it now (None if it holds none)."""
    if write == "put_item":
        attrs = args[0] if args else kwargs["item_attrs"]
        hash_value = DynamoType(attrs[table.hash_key_attr])
        range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    else:
        key = args[0] if args else kwargs["key"]
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return table.get_item(hash_value, range_value)


def _following_writes(write: Callable[..., Any]) -> Callable[..., Any]:
    """A backend write of one item by table name: the table's kept matches follow it."""

    @functools.wraps(write)
    def followed(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
        table = self.tables.get(table_name)
        cached = _cached(table) if table is not None else None
        if table is None or not cached:
            return write(self, table_name, *args, **kwargs)
        try:
            before = _written_item(table, write.__name__, args, kwargs)
        except Exception:  # noqa: BLE001 - moto reports the bad key; the kept matches are dropped
            before, known = None, False
        else:
            known = True
        before_attrs = dict(before.attrs) if before is not None else {}
        try:
            return write(self, table_name, *args, **kwargs)
        finally:
            after = _written_item(table, write.__name__, args, kwargs) if known else None
            unchanged = after is before and (after is None or after.attrs == before_attrs)
            if known and unchanged:
                pass
            elif not known or not all(
                matches.replace(before, before_attrs, after) for matches in cached.values()
            ):
                _forget(table)

    followed.__dmd_follows_writes__ = True  # type: ignore[attr-defined]
    return followed


def _forgetting_writes(write: Callable[..., Any]) -> Callable[..., Any]:
    """A write this cannot follow item by item (PartiQL, a table's indexes): every kept match is dropped."""

    @functools.wraps(write)
    def forgetting(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        try:
            return write(self, *args, **kwargs)
        finally:
            for table in self.tables.values():
                _forget(table)

    forgetting.__dmd_follows_writes__ = True  # type: ignore[attr-defined]
    return forgetting


def _forget(table: Table) -> None:
    table.__dict__.pop(_CACHE, None)


# Every item write reaches one of these (BatchWriteItem and TransactWriteItems call them per item; a
# failed transaction puts back deep copies of its tables, kept matches included, consistently).
ITEM_WRITES: Final = ("put_item", "update_item", "delete_item")
TABLE_WRITES: Final = ("update_table", "execute_statement", "batch_execute_statement")


def install() -> None:
    """Answer index queries page by page in the emulator (idempotent)."""
    Table.query = query  # type: ignore[method-assign]
    for names, follow in ((ITEM_WRITES, _following_writes), (TABLE_WRITES, _forgetting_writes)):
        for name in names:
            method = getattr(DynamoDBBackend, name)
            if not getattr(method, "__dmd_follows_writes__", False):
                setattr(DynamoDBBackend, name, follow(method))
