"""What the program deploys as code: per-worker archives and one dependency layer per architecture."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pulumi

from infra.bytecode import bytecode_enabled
from infra.catalog import WorkerSpec
from infra.config import StackConfig
from infra.packaging import Archive, LayerSpec, build_code_archives, build_layer, read_layer_requirements
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
    """Build the code archives and the layers with their bytecode; the offline synth builds nothing.

    Offline, the code archives are measured from their sources alone and not written, and the
    layers are declared from their spec: no compiler, no node, no network, and build/ is left as
    `dmd package` made it (worker code hashes are masked in the snapshots anyway).
    """
    build_dir = project_root / "build"
    offline = os.environ.get(OFFLINE_ENV) == "1"
    code = build_code_archives(
        [spec.name for spec in catalog],
        source_root=project_root,
        out_dir=build_dir / "code",
        compiler=None if offline else "auto",
        cache_dir=build_dir / "bytecode-cache",
        write=not offline,
    )
    requirements = tuple(read_layer_requirements(project_root / "infra" / "layer-requirements.txt"))
    bytecode = bytecode_enabled()
    layers: dict[str, LayerArtifact] = {}
    for architecture in sorted({worker.architecture for worker in stack.workers.values()}):
        spec = LayerSpec(
            requirements=requirements,
            architecture=architecture,
            python_version=PYTHON_VERSION,
            bytecode=bytecode,
        )
        path = spec.archive_path(build_dir) if offline else build_layer(spec, build_dir=build_dir).path
        layers[architecture] = LayerArtifact(spec=spec, archive=pulumi.FileArchive(str(path)))
    return Artifacts(code=code, layers=layers)
