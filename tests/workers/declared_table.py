"""The demand table as the program declares it: the synthesized `local` stack's table inputs."""

from __future__ import annotations

from typing import Any

TABLE_TYPE = "aws:dynamodb/table:Table"


def declared_table_inputs() -> dict[str, Any]:
    """The inputs of the one DynamoDB table the `local` stack declares (synthesized once per process)."""
    from tests.infra.graphs import stack_graph

    (table,) = stack_graph("local").of_type(TABLE_TYPE)
    return table.inputs
