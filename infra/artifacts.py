"""What the program deploys as code: per-worker archives and one dependency layer per architecture."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pulumi

from infra.catalog import WorkerSpec
from infra.config import StackConfig
from infra.packaging import Archive, LayerSpec, build_code_archive, build_layer, read_layer_requirements
from infra.platform import LayerArtifact

# Set by the offline synth: the layer is then declared from its spec without being built (no network).
OFFLINE_ENV = "DMD_OFFLINE_SYNTH"
PYTHON_VERSION: Final = "3.12"


@dataclass(frozen=True, kw_only=True)
class Artifacts:
    """Code archive per worker and layer per architecture."""

    code: dict[str, Archive]
    layers: dict[str, LayerArtifact]


def build_artifacts(stack: StackConfig, catalog: Sequence[WorkerSpec], project_root: Path) -> Artifacts:
    """Build the code archives (always; fast, offline) and the layers (unless offline synth)."""
    build_dir = project_root / "build"
    code = {
        spec.name: build_code_archive(spec.name, source_root=project_root, out_dir=build_dir / "code")
        for spec in catalog
    }
    requirements = tuple(read_layer_requirements(project_root / "infra" / "layer-requirements.txt"))
    offline = os.environ.get(OFFLINE_ENV) == "1"
    layers: dict[str, LayerArtifact] = {}
    for architecture in sorted({worker.architecture for worker in stack.workers.values()}):
        spec = LayerSpec(requirements=requirements, architecture=architecture, python_version=PYTHON_VERSION)
        path = spec.archive_path(build_dir) if offline else build_layer(spec, build_dir=build_dir).path
        layers[architecture] = LayerArtifact(spec=spec, archive=pulumi.FileArchive(str(path)))
    return Artifacts(code=code, layers=layers)
