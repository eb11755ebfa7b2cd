"""`dmd package`: every worker's code archive and the dependency layer, built into the project's build/."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from infra.catalog import CATALOG
from infra.packaging import LAYER_REQUIREMENTS_FILE, Architecture, LayerSpec, read_layer_requirements
from infra.stack_files import PROJECT_ROOT
from ops import packaging_commands
from tests.ops.cli_output import flat, run_dmd, table_rows

PINS = ("tinydep==1.0",)
COLUMNS = ("artifact", "files", "zipped", "unzipped", "sha256 (base64)")


def _built_layer(build_dir: Path, pins: tuple[str, ...], architecture: Architecture = "arm64") -> Path:
    """A layer archive already in the build cache for these pins, so no build reaches PyPI."""
    spec = LayerSpec(requirements=pins, architecture=architecture)
    path = spec.archive_path(build_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("python/tinydep/__init__.py", "")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's workers and layer pins that the command builds into (not the real build/)."""
    shutil.copytree(
        PROJECT_ROOT / "workers", tmp_path / "workers", ignore=shutil.ignore_patterns("__pycache__")
    )
    requirements = tmp_path / "infra" / "layer-requirements.txt"
    requirements.parent.mkdir()
    requirements.write_text("# pinned\n" + "\n".join(PINS) + "\n", encoding="utf-8")
    monkeypatch.setattr(packaging_commands, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(packaging_commands, "LAYER_REQUIREMENTS_FILE", requirements)
    return tmp_path


def test_package_builds_every_worker_archive_and_the_layer(project: Path) -> None:
    # Given the arm64 layer of the pinned requirements already built
    layer = _built_layer(project / "build", PINS)

    # When the operator packages the fleet
    result = run_dmd("package")

    # Then every worker has its archive under build/code, and the table lists them with the layer
    assert result.exit_code == 0, result.output
    artifacts = table_rows(result.output, COLUMNS)
    assert sorted(artifacts) == sorted([*(f"code/{spec.name}" for spec in CATALOG), f"layer/{layer.name}"])
    assert sorted(path.name for path in (project / "build" / "code").iterdir()) == sorted(
        f"{spec.name}.zip" for spec in CATALOG
    )
    with zipfile.ZipFile(project / "build" / "code" / "notification_send.zip") as archive:
        assert "workers/notification_send/handler.py" in archive.namelist()
    assert artifacts[f"layer/{layer.name}"]["files"] == "1"  # the cached layer's one file


def test_package_builds_a_layer_per_architecture_asked_for(project: Path) -> None:
    # Given both layers already built
    architectures: tuple[Architecture, ...] = ("arm64", "x86_64")
    layers = [_built_layer(project / "build", PINS, architecture) for architecture in architectures]

    # When both architectures are asked for
    result = run_dmd("package", "--arch", "arm64", "--arch", "x86_64")

    # Then both are listed
    assert result.exit_code == 0, result.output
    assert {f"layer/{layer.name}" for layer in layers} <= set(table_rows(result.output, COLUMNS))


def test_an_unknown_architecture_is_a_usage_error(project: Path) -> None:
    # Given no such Lambda architecture as sparc
    # When it is asked for
    result = run_dmd("package", "--arch", "sparc")

    # Then the command refuses it naming the option and the choices
    assert result.exit_code == 2
    assert "--arch" in result.output
    assert "use arm64 or x86_64" in result.output


def test_requirements_that_are_not_bare_pins_fail_the_packaging(project: Path) -> None:
    # Given a layer requirement with an environment marker
    (project / "infra" / "layer-requirements.txt").write_text(
        'tinydep==1.0; python_version < "3.13"\n', encoding="utf-8"
    )

    # When the fleet is packaged
    result = run_dmd("package")

    # Then the command fails with the reason, and prints no table
    assert result.exit_code == 1
    message = flat(result.output)
    assert message.startswith("packaging failed:")
    assert "layer requirements must be bare `name==version` pins" in message
    assert table_rows(result.output, COLUMNS) == {}


@pytest.mark.slow  # `uv export` of the lock
def test_refresh_requirements_rewrites_the_pins_from_the_lock_before_building(project: Path) -> None:
    # Given stale pins in the project's copy, its lock, and the layer of the lock's pins already built
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(PROJECT_ROOT / name, project / name)
    locked = tuple(read_layer_requirements(LAYER_REQUIREMENTS_FILE))
    layer = _built_layer(project / "build", locked)

    # When the fleet is packaged with a refresh
    result = run_dmd("package", "--refresh-requirements")

    # Then the pins are the lock's again (as committed) and the layer built is theirs
    assert result.exit_code == 0, result.output
    assert "refreshed infra/layer-requirements.txt" in result.output
    refreshed = (project / "infra" / "layer-requirements.txt").read_text(encoding="utf-8")
    assert refreshed == LAYER_REQUIREMENTS_FILE.read_text(encoding="utf-8")
    assert f"layer/{layer.name}" in table_rows(result.output, COLUMNS)
