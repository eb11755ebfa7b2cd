"""Benchmark baseline: the same custom resources (type, name, inputs) registered directly, no components."""

import json
import os
from pathlib import Path

import pulumi

graph = json.loads(Path(os.environ["DMD_BENCH_GRAPH"]).read_text(encoding="utf-8"))
for resource in graph["resources"]:
    if resource["custom"]:
        pulumi.CustomResource(resource["type"], resource["name"], dict(resource["inputs"]))
