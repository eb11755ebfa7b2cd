"""Wire values as plain data: unknowns and secrets marked, assets as path records, JSON-ready."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pulumi

from infra import pulumi_runtime

UNKNOWN_PLACEHOLDER: Final = "<unknown>"
SECRET_PLACEHOLDER: Final = "<secret>"  # noqa: S105 - a placeholder, not a password


@dataclass(frozen=True)
class Secret:
    """An input value the program marked secret; serializes as a placeholder, never in clear."""

    value: Any


def plain(value: Any, project_root: Path | None) -> Any:
    """A deserialized wire value as plain data: unknowns and secrets marked, assets as path records."""
    if pulumi_runtime.is_unknown(value):
        return UNKNOWN_PLACEHOLDER
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        # The wire carries every number as a double; integral ones read better (and diff less) as ints.
        return int(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        if pulumi_runtime.is_secret(value):
            return Secret(plain(pulumi_runtime.secret_value(value), project_root))
        return {str(key): plain(item, project_root) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [plain(item, project_root) for item in value]
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        kind = "fileAsset" if isinstance(value, pulumi.FileAsset) else "fileArchive"
        return {kind: _project_relative(str(value.path), project_root)}
    if isinstance(value, pulumi.StringAsset):
        return {"stringAsset": value.text}
    if isinstance(value, pulumi.RemoteAsset | pulumi.RemoteArchive):
        return {"remoteAsset" if isinstance(value, pulumi.RemoteAsset) else "remoteArchive": value.uri}
    if isinstance(value, pulumi.AssetArchive):
        return {"assetArchive": {key: plain(item, project_root) for key, item in value.assets.items()}}
    if isinstance(value, pulumi.Resource):
        # A resource reference, rebuilt by the SDK from its URN.
        return {"resource": pulumi.get_type_token(type(value)), "name": value.pulumi_resource_name}
    return repr(value)


def jsonable(value: Any) -> Any:
    """Plain data with secrets replaced by a placeholder, ready for `json.dumps`."""
    if isinstance(value, Secret):
        return SECRET_PLACEHOLDER
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def _project_relative(path: str, project_root: Path | None) -> str:
    if project_root is None:
        return path
    candidate = Path(path)
    if candidate.is_absolute() and candidate.is_relative_to(project_root):
        return candidate.relative_to(project_root).as_posix()
    return path
