"""Comparing what was sent to the emulator with what it reads back: the fields it dropped or changed."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any


def differences(sent: Any, stored: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(field, sent, stored) for each part of `sent` that `stored` lacks or holds differently."""
    if isinstance(sent, Mapping):
        if not isinstance(stored, Mapping):
            yield path, sent, stored
            return
        for key, value in sent.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in stored or stored[key] is None:
                yield child, value, None
            else:
                yield from differences(value, stored[key], child)
        return
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(sent) != len(stored):
            yield path, sent, stored
            return
        for index, (sent_item, stored_item) in enumerate(zip(sent, stored, strict=True)):
            yield from differences(sent_item, stored_item, f"{path}[{index}]")
        return
    if not _same_scalar(sent, stored):
        yield path, sent, stored


def _same_scalar(sent: Any, stored: Any) -> bool:
    # The emulator echoes JSON documents reformatted, and numbers and booleans as strings.
    if isinstance(sent, str) and isinstance(stored, str) and sent.startswith(("{", "[")):
        try:
            return bool(json.loads(sent) == json.loads(stored))
        except ValueError:
            return sent == stored
    if isinstance(sent, int | float) and isinstance(stored, int | float | str) and not isinstance(sent, bool):
        try:
            return float(sent) == float(stored)
        except ValueError:
            return False
    if isinstance(sent, bool) and isinstance(stored, str):
        return str(sent).lower() == stored.lower()
    return bool(sent == stored)
