"""Pulumi's camelCase graph inputs in the shapes the AWS APIs take (parameters, tags, attributes)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def compact(**values: Any) -> dict[str, Any]:
    """Keyword arguments without the ones the graph left unset."""
    return {key: value for key, value in values.items() if value is not None}


def same_named(inputs: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """The set inputs among `keys` under their API name, the key capitalised (`batchSize` → `BatchSize`)."""
    # Pulumi names most inputs after the API parameter they carry; the others are spelled out.
    return {key[:1].upper() + key[1:]: inputs[key] for key in keys if inputs.get(key) is not None}


def tag_list(tags: Mapping[str, str] | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """Tags as the list of key/value pairs most APIs take, sorted by key."""
    return [{key: k, value: v} for k, v in sorted((tags or {}).items())]


def attribute_text(value: Any) -> str:
    """An SQS/SNS attribute value as the text the API takes (booleans lower case, documents as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def attribute_map(inputs: Mapping[str, Any], attributes: Mapping[str, str]) -> dict[str, str]:
    """The attributes (name → text) of the inputs present, `attributes` mapping input key → attribute."""
    return {attribute: attribute_text(inputs[key]) for key, attribute in attributes.items() if key in inputs}


def find(items: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    """The item whose `key` equals `value`, else an empty dict (every field then reads as dropped)."""
    return next((item for item in items if item.get(key) == value), {})


def arn_name(arn: str) -> str:
    """The last name segment of an ARN: `…:stream/NAME` → NAME, `…:NAME` → NAME."""
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
