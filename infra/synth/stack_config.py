"""Stack files encoded the way the Pulumi CLI hands config to a Python program."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from infra.synth.errors import SecureConfigError, StackFileError

_YAML_NULL_TAG: Final = "tag:yaml.org,2002:null"
# Go's encoding/json writes integral floats below 1e21 without a fraction ("1", not "1.0").
_GO_JSON_PLAIN_FLOAT_LIMIT: Final = 1e21


class _StackFileLoader(yaml.SafeLoader):
    """Resolves plain scalars like the CLI's YAML 1.2 decoder: `on`, `yes`, `10:30`, dates stay strings."""


_YAML_1_1_ONLY_TAGS: Final = frozenset(
    {
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:timestamp",
    }
)
_StackFileLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in _YAML_1_1_ONLY_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StackFileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StackFileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_StackFileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class Project:
    """What `Pulumi.yaml` declares: the project name, its program and config every stack gets."""

    name: str
    main: str | None
    defaults: dict[str, Any]


def stack_config(stack: str, project_root: Path) -> dict[str, str]:
    """The stack's config as `{"<namespace>:<key>": "<string>"}`, exactly as the Pulumi CLI passes it."""
    project = read_project(project_root)
    stack_file = project_root / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        available = sorted(path.name for path in project_root.glob("Pulumi.*.yaml"))
        raise StackFileError(
            f"stack file {stack_file} not found: stack {stack!r} has no committed config "
            f"(stack files present: {', '.join(available) or 'none'})"
        )
    document = _compose(stack_file)
    sections = _mapping_entries(document, stack_file) if document is not None else {}
    if "environment" in sections:
        raise StackFileError(
            f"{stack_file} imports Pulumi ESC environments, which cannot be resolved offline; "
            "keep stack config in the file itself"
        )
    encoded = {_full_key(key, project.name): value for key, value in project.defaults.items()}
    config_node = sections.get("config")
    if config_node is not None:
        for key, node in _mapping_entries(config_node, stack_file).items():
            full_key = _full_key(key, project.name)
            encoded[full_key] = _encode_value(node, full_key, stack_file)
    return encoded


def read_project(project_root: Path) -> Project:
    """The project file `Pulumi.yaml` of `project_root`."""
    project_file = project_root / "Pulumi.yaml"
    if not project_file.is_file():
        raise StackFileError(f"project file {project_file} not found: {project_root} is not a Pulumi project")
    loader = _StackFileLoader(project_file.read_text(encoding="utf-8"))
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as error:
        raise StackFileError(f"{project_file} is not valid YAML: {error}") from error
    finally:
        loader.dispose()
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise StackFileError(f"{project_file} does not declare a project `name`")
    main = document.get("main")
    return Project(
        name=document["name"],
        main=main if isinstance(main, str) else None,
        defaults=_project_defaults(document.get("config"), project_file),
    )


def _project_defaults(declared: Any, project_file: Path) -> dict[str, str]:
    """Values and defaults that Pulumi.yaml's own `config:` block gives every stack."""
    if declared is None:
        return {}
    if not isinstance(declared, dict):
        raise StackFileError(f"{project_file}: `config` must be a mapping")
    defaults: dict[str, str] = {}
    for key, spec in declared.items():
        if isinstance(spec, dict):
            # A typed declaration carries its value under `value` or `default`; without either, the
            # stack must provide it (the CLI checks that, and so would the program's own validation).
            for value_key in ("value", "default"):
                if value_key in spec:
                    defaults[str(key)] = _encode_plain(spec[value_key], str(key), project_file)
                    break
        else:
            defaults[str(key)] = _encode_plain(spec, str(key), project_file)
    return defaults


def _compose(path: Path) -> yaml.Node | None:
    try:
        return yaml.compose(path.read_text(encoding="utf-8"), Loader=_StackFileLoader)
    except yaml.YAMLError as error:
        raise StackFileError(f"{path} is not valid YAML: {error}") from error


def _mapping_entries(node: yaml.Node, path: Path) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise StackFileError(f"{path}: expected a mapping at line {node.start_mark.line + 1}")
    entries: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        entries[str(key_node.value)] = value_node
    return entries


def _full_key(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _encode_value(node: yaml.Node, key: str, path: Path) -> str:
    """One stack-file value as the CLI passes it: scalars as their raw text, structures as JSON."""
    if isinstance(node, yaml.ScalarNode):
        # The CLI first decodes every scalar into a Go string, so `True`, `05` or `1.50` reach the
        # program as written, and an empty value as "".
        return "" if node.tag == _YAML_NULL_TAG else str(node.value)
    loader = _StackFileLoader("")
    try:
        value = loader.construct_document(node)
    finally:
        loader.dispose()
    return _encode_plain(value, key, path)


def _encode_plain(value: Any, key: str, path: Path) -> str:
    if _is_secure(value):
        raise SecureConfigError(
            f"{path}: config {key!r} holds an encrypted `secure:` value; an offline synth cannot decrypt "
            "it. Keep secrets out of stack files (Secrets Manager holds them)."
        )
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        return json.dumps(_go_json_numbers(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    except ValueError as error:
        raise StackFileError(f"{path}: config {key!r} cannot be encoded as JSON: {error}") from error


def _is_secure(value: Any) -> bool:
    if isinstance(value, dict):
        if set(value) == {"secure"} and isinstance(value["secure"], str):
            return True
        return any(_is_secure(item) for item in value.values())
    if isinstance(value, list):
        return any(_is_secure(item) for item in value)
    return False


def _go_json_numbers(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a JSON number")
        if value.is_integer() and abs(value) < _GO_JSON_PLAIN_FLOAT_LIMIT:
            return int(value)
        return value
    if isinstance(value, dict):
        return {str(key): _go_json_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_json_numbers(item) for item in value]
    return value
