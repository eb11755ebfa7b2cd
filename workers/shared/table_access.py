"""The demand table's client and generic item access: get, paginated query, upsert, conditional update."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from workers.shared.clients import dynamodb
from workers.shared.keys import Key
from workers.shared.models import DemandTableRecord, deserialize_item, serialize_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RecordT = TypeVar("RecordT", bound=DemandTableRecord)


class DemandTable:
    """The demand table on the low-level client, with the reads and writes every access pattern builds on."""

    def __init__(
        self,
        table_name: str,
        *,
        sales_index: str,
        demand_index: str,
        message_index: str = "notification-by-message-id",
        pending_index: str = "pending-notifications",
        client: DynamoDBClient | None = None,
    ) -> None:
        self.table_name = table_name
        self.sales_index = sales_index
        self.demand_index = demand_index
        self.message_index = message_index
        self.pending_index = pending_index
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        """The injected client, else the cached factory's (resolved at call time, never at import)."""
        return self._client if self._client is not None else dynamodb()

    # -------------------------------------------------------------------------------- internals

    def _get(self, key: Key, model: type[RecordT]) -> RecordT | None:
        response = self.client.get_item(TableName=self.table_name, Key=serialize_item(key.item()))
        item = response.get("Item")
        return model.from_item(deserialize_item(item)) if item else None

    def _query(self, **arguments: Any) -> Iterator[dict[str, Any]]:
        arguments["TableName"] = self.table_name
        while True:
            response = self.client.query(**arguments)
            yield from map(deserialize_item, response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return
            arguments["ExclusiveStartKey"] = last_key

    def _upsert(self, record: DemandTableRecord, *, preserve: Sequence[str] = ()) -> None:
        item = record.to_item()
        key = record.key
        attributes = {name: value for name, value in item.items() if name not in ("PK", "SK")}
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        for index, (name, value) in enumerate(attributes.items()):
            names[f"#a{index}"], values[f":a{index}"] = name, value
            target = f"if_not_exists(#a{index}, :a{index})" if name in preserve else f":a{index}"
            sets.append(f"#a{index} = {target}")
        # Optional attributes the new record lacks must not linger from the previous version.
        stale = [
            field.alias or name
            for name, field in type(record).model_fields.items()
            if (field.alias or name) not in attributes and (field.alias or name) not in preserve
        ]
        names.update({f"#r{index}": name for index, name in enumerate(stale)})
        update = "SET " + ", ".join(sets)
        if stale:
            update += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(stale)))
        self.client.update_item(
            TableName=self.table_name,
            Key=serialize_item(key.item()),
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize_item(values),
        )

    def _conditional_update(
        self, key: Key, *, update: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=serialize_item(key.item()),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize_item(values),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
