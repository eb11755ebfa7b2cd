"""`dmd package`: build what Lambda runs and show what it weighs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.bytecode import BytecodeError, Compiler, resolve_compiler
from infra.catalog import CATALOG
from infra.packaging import (
    LAYER_REQUIREMENTS_FILE,
    Architecture,
    LayerSpec,
    PackagingError,
    build_code_archives,
    build_layer,
    export_layer_requirements,
    read_layer_requirements,
    write_layer_requirements,
)
from infra.stack_files import PROJECT_ROOT


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"


def package(
    architecture: Annotated[
        list[str] | None, typer.Option("--arch", help="Layer architecture(s) to build (default arm64).")
    ] = None,
    refresh_requirements: Annotated[
        bool, typer.Option(help="Regenerate infra/layer-requirements.txt from uv.lock first.")
    ] = False,
) -> None:
    """Build every worker's code archive and the dependency layer(s) into build/; report sizes.

    Both carry cpython-312 bytecode (unchecked hash), compiled by DMD_PYTHON312, python3.12 on PATH,
    a pyenv 3.12 or Pyodide from `make bytecode-compiler`; DMD_BYTECODE=off builds source only.

    Example: dmd package --arch arm64
    """
    console = Console()
    if refresh_requirements:
        write_layer_requirements(LAYER_REQUIREMENTS_FILE, export_layer_requirements(PROJECT_ROOT))
        console.print(f"refreshed {LAYER_REQUIREMENTS_FILE.relative_to(PROJECT_ROOT)}")
    chosen: list[Architecture] = []
    for arch in architecture or ["arm64"]:
        if arch not in ("arm64", "x86_64"):
            raise typer.BadParameter(f"{arch!r}: use arm64 or x86_64", param_hint="--arch")
        chosen.append("arm64" if arch == "arm64" else "x86_64")
    build_dir = PROJECT_ROOT / "build"
    table = Table(title="Lambda artifacts (deterministic: same sources, same bytes)")
    for column in ("artifact", "files", "zipped", "unzipped", "sha256 (base64)"):
        table.add_column(column)
    try:
        requirements = tuple(read_layer_requirements(LAYER_REQUIREMENTS_FILE))  # refused before compiling
        compiler = _compiler()
        with console.status(f"compiling the workers' bytecode ({_describe(compiler)})…"):
            archives = build_code_archives(
                [spec.name for spec in CATALOG],
                source_root=PROJECT_ROOT,
                out_dir=build_dir / "code",
                compiler=compiler,
                cache_dir=build_dir / "bytecode-cache",
            )
        for spec in CATALOG:
            archive = archives[spec.name]
            table.add_row(
                f"code/{spec.name}",
                str(archive.file_count),
                _megabytes(archive.size_bytes),
                _megabytes(archive.uncompressed_bytes),
                archive.sha256_base64,
            )
        for arch in chosen:
            layer_spec = LayerSpec(
                requirements=requirements, architecture=arch, bytecode=compiler is not None
            )
            with console.status(f"building the {arch} layer ({len(requirements)} packages from PyPI)…"):
                layer = build_layer(layer_spec, build_dir=build_dir, compiler=compiler)
            table.add_row(
                f"layer/{layer.path.name}",
                str(layer.file_count),
                _megabytes(layer.size_bytes),
                _megabytes(layer.uncompressed_bytes),
                layer.sha256_base64,
            )
    except PackagingError as error:
        console.print(f"[red]packaging failed:[/red] {error}")
        raise typer.Exit(1) from None
    console.print(table)
    console.print(f"bytecode: {_describe(compiler)}")


def _compiler() -> Compiler | None:
    try:
        return resolve_compiler()  # None with DMD_BYTECODE=off
    except BytecodeError as error:
        raise PackagingError(str(error)) from error


def _describe(compiler: Compiler | None) -> str:
    return (
        f"cpython-312, unchecked hash, by {compiler.description}" if compiler else "none (DMD_BYTECODE=off)"
    )
