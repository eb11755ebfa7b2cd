"""Benchmark baseline: the same custom resources (type, name, inputs) registered directly, no components.

`DMD_BENCH_RAW` picks how each resource is registered:

- `untyped` (default, the baseline `make bench` reports): `pulumi.CustomResource(type, name, inputs)`,
  the SDK's bare registration. No program is written that way; it is the floor of a registration
  under the mocks, without what the typed classes below cost.
- `typed`: through its pulumi_aws class with keyword arguments, as a program that declares
  the same resources without components is written. Every Pulumi Python program pays what the class
  does per resource: its input types, an output for each of its properties, the source position of
  the registration.

Both register the same inputs as the graph recorded (checked by tests/infra/synth/test_synth_raw_baseline.py).
"""

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pulumi
from pulumi import _types

ASSETS = {
    "fileArchive": pulumi.FileArchive,
    "fileAsset": pulumi.FileAsset,
    "stringAsset": pulumi.StringAsset,
    "remoteArchive": pulumi.RemoteArchive,
    "remoteAsset": pulumi.RemoteAsset,
}


def resource_class(token: str) -> tuple[type, dict[str, str]]:
    """The pulumi_aws class of a type token, with its inputs' Pulumi names → keyword argument names."""
    _, module_path, class_name = token.split(":")
    module_name = module_path.split("/")[0]
    try:
        module = importlib.import_module(f"pulumi_aws.{module_name}")
    except ModuleNotFoundError:
        module = importlib.import_module(f"pulumi_aws.{module_name}_")  # `lambda_`: a Python keyword
    cls = getattr(module, class_name)
    args_type = getattr(sys.modules[cls.__module__], f"{class_name}Args")
    keywords = {
        pulumi_name: py_name
        for py_name, pulumi_name in _types.input_type_py_to_pulumi_names(args_type).items()
    }
    return cls, keywords


def value(recorded: Any) -> Any:
    """A recorded input as the program passed it: assets and archives as their SDK objects."""
    if isinstance(recorded, dict):
        if len(recorded) == 1 and next(iter(recorded)) in ASSETS:
            kind, argument = next(iter(recorded.items()))
            return ASSETS[kind](argument)
        return {key: value(item) for key, item in recorded.items()}
    if isinstance(recorded, list):
        return [value(item) for item in recorded]
    return recorded


graph = json.loads(Path(os.environ["DMD_BENCH_GRAPH"]).read_text(encoding="utf-8"))
resources = [resource for resource in graph["resources"] if resource["custom"]]
if os.environ.get("DMD_BENCH_RAW", "untyped") == "untyped":
    for resource in resources:
        pulumi.CustomResource(resource["type"], resource["name"], dict(resource["inputs"]))
else:
    classes = {token: resource_class(token) for token in sorted({resource["type"] for resource in resources})}
    for resource in resources:
        cls, keywords = classes[resource["type"]]
        cls(resource["name"], **{keywords[key]: value(item) for key, item in resource["inputs"].items()})
