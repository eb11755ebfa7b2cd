"""Lambda artifacts: deterministic per-worker code archives and the dependency layer, with 3.12 bytecode."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from infra.bytecode import (
    CACHE_TAG,
    NO_COMPILER,
    PYODIDE_VERSION,
    BytecodeError,
    Compiler,
    compile_sources,
    find_compiler,
    pyc_path,
    resolve_compiler,
)

Architecture = Literal["arm64", "x86_64"]
PythonVersion = Literal["3.12"]

LAYER_REQUIREMENTS_FILE = Path(__file__).with_name("layer-requirements.txt")
LAYER_REQUIREMENTS_HEADER = (
    "# Generated from uv.lock by `make lock` / `dmd package --refresh-requirements`; do not edit."
)

# `--no-default-groups` rather than `--no-dev`: `--no-dev` drops only the dev group, and the
# project's default groups (infra, ops) would otherwise ride along into the layer.
UV_EXPORT_ARGS = (
    "export",
    "--frozen",
    "--offline",
    "--no-default-groups",
    "--no-emit-project",
    "--no-hashes",
    "--no-header",
    "--no-annotate",
    "--format",
    "requirements.txt",
)

# The Lambda Python runtime ships boto3 and its closure; the layer must not shadow them.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)

# Bump when build_layer's output changes for the same spec (pip flags, cleanup rules, zip format):
# the layer's hash is derived from the spec, so only this tells Lambda the content moved.
# 2: the layer carries cpython-312 unchecked-hash bytecode next to its sources.
LAYER_RECIPE = 2

# Where Lambda mounts the artifacts: the paths compiled into the bytecode (tracebacks show them).
CODE_ROOT = "/var/task/"
LAYER_ROOT = "/opt/"
BYTECODE_RECIPE = f"{CACHE_TAG}-unchecked-hash"
# "auto": the compiler infra.bytecode finds (none with DMD_BYTECODE=off); None: source only.
CompilerChoice = Compiler | None | Literal["auto"]

PIP_PLATFORMS: dict[Architecture, str] = {
    "arm64": "manylinux2014_aarch64",
    "x86_64": "manylinux2014_x86_64",
}

# 1980-01-01 is the earliest time a zip entry can hold; mtimes and umask must not leak into hashes.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_ATTRIBUTES = (stat.S_IFREG | 0o644) << 16
ZIP_UNIX = 3
ZIP_COMPRESSLEVEL = 6

PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+$")
PIP_ERROR_TAIL_CHARS = 2000


class PackagingError(RuntimeError):
    """An archive or the layer cannot be built; the message says which and why."""


@dataclass(frozen=True, kw_only=True)
class Archive:
    """A zip on disk, measured: what Pulumi uploads and the hash Lambda compares."""

    path: Path
    sha256_base64: str
    size_bytes: int
    uncompressed_bytes: int
    file_count: int


@dataclass(frozen=True, kw_only=True)
class LayerSpec:
    """What the dependency layer is a pure function of: locked pins and the target platform."""

    requirements: tuple[str, ...]
    architecture: Architecture
    python_version: PythonVersion = "3.12"
    bytecode: bool = True  # False only for a source-only build (DMD_BYTECODE=off)

    def __post_init__(self) -> None:
        if self.architecture not in get_args(Architecture):
            raise ValueError(
                f"architecture must be one of {get_args(Architecture)}, got {self.architecture!r}"
            )
        if self.python_version not in get_args(PythonVersion):
            raise ValueError(
                f"python_version must be one of {get_args(PythonVersion)}, got {self.python_version!r}"
            )
        if not self.requirements:
            raise ValueError("requirements is empty: a layer needs at least one pinned package")
        unpinned = [line for line in self.requirements if not PIN.match(line)]
        if unpinned:
            raise ValueError(f"requirements must be exact `name==version` pins, got {unpinned}")

    def _canonical(self) -> bytes:
        # Sorted because `pip install --no-deps` ignores order; the recipe version covers build changes.
        return json.dumps(
            {
                "recipe": LAYER_RECIPE,
                "architecture": self.architecture,
                "python_version": self.python_version,
                "bytecode": BYTECODE_RECIPE if self.bytecode else "none",
                "requirements": sorted(self.requirements),
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    @property
    def key(self) -> str:
        """Hex sha256 of the spec: the layer's identity and its cache file name."""
        return hashlib.sha256(self._canonical()).hexdigest()

    @property
    def source_code_hash(self) -> str:
        """Base64 sha256 of the spec, in the form Lambda's `source_code_hash` takes."""
        # The layer is a pure function of the locked pins and the platform, so this hash is known
        # without building it: an offline synth and a real deploy agree, and the layer is
        # republished exactly when a pin, the platform or LAYER_RECIPE changes.
        return base64.b64encode(hashlib.sha256(self._canonical()).digest()).decode("ascii")

    def archive_path(self, build_dir: Path) -> Path:
        """Where build_layer puts (and finds) this spec's zip."""
        return build_dir / "layers" / f"deps-{self.architecture}-{self.key[:16]}.zip"


def build_code_archive(
    worker_name: str,
    *,
    source_root: Path,
    out_dir: Path,
    compiler: CompilerChoice = "auto",
    cache_dir: Path | None = None,
) -> Archive:
    """Zip one worker's package with workers/shared, paths rooted so `workers.<name>.handler` imports."""
    return build_code_archives(
        [worker_name], source_root=source_root, out_dir=out_dir, compiler=compiler, cache_dir=cache_dir
    )[worker_name]


def build_code_archives(
    worker_names: Sequence[str],
    *,
    source_root: Path,
    out_dir: Path,
    compiler: CompilerChoice = "auto",
    cache_dir: Path | None = None,
    write: bool = True,
) -> dict[str, Archive]:
    """Each worker's archive (`out_dir/<name>.zip`): its sources and their cpython-312 bytecode.

    Every source of every archive is compiled in one run of the compiler; `cache_dir` keeps compiled
    files across builds. `write=False` measures the archives without writing them (the offline synth).
    """
    sources = {name: _code_sources(name, source_root) for name in worker_names}
    chosen = _compiler(compiler)
    pycs: dict[str, bytes] = {}
    if chosen is not None:
        union = {path: content for files in sources.values() for path, content in files.items()}
        try:
            pycs = compile_sources(union, compiler=chosen, display_root=CODE_ROOT, cache_dir=cache_dir)
        except BytecodeError as error:
            raise PackagingError(f"cannot compile the workers' bytecode: {error}") from error
    archives: dict[str, Archive] = {}
    for name, files in sources.items():
        entries: list[tuple[str, Path | bytes]] = list(files.items())
        entries += [(pyc, pycs[pyc]) for pyc in map(_pyc_entry, files) if pyc in pycs]
        content = _zip(entries)
        path = out_dir / f"{name}.zip"
        archives[name] = _write_archive(path, content) if write else _measure(path, content)
    return archives


def _code_sources(worker_name: str, source_root: Path) -> dict[str, bytes]:
    # A non-identifier could escape workers/ ("../x"); "shared" would duplicate every shared entry.
    if not worker_name.isidentifier() or worker_name == "shared":
        raise PackagingError(f"{worker_name!r} is not a worker name: use the worker's package folder name")
    package = source_root / "workers"
    worker_dir = package / worker_name
    if not worker_dir.is_dir():
        raise PackagingError(f"worker {worker_name!r} has no code: {worker_dir} is not a directory")
    package_init = package / "__init__.py"
    if not package_init.is_file():
        # Without it `workers` would import as a namespace package in Lambda but not in tests.
        raise PackagingError(f"cannot package worker {worker_name!r}: {package_init} is missing")
    entries = [
        ("workers/__init__.py", package_init),
        *_source_files(package / "shared", source_root),
        *_source_files(worker_dir, source_root),
    ]
    return {name: path.read_bytes() for name, path in entries}


def _pyc_entry(source: str) -> str:
    # Only .py sources have bytecode; any other name maps to nothing in the compiled set.
    return pyc_path(source) if source.endswith(".py") else ""


def _compiler(choice: CompilerChoice) -> Compiler | None:
    if choice != "auto":
        return choice
    try:
        return resolve_compiler()
    except BytecodeError as error:
        raise PackagingError(str(error)) from error


def build_layer(
    spec: LayerSpec,
    *,
    build_dir: Path,
    pip_extra_args: Sequence[str] = (),
    compiler: CompilerChoice = "auto",
) -> Archive:
    """Install the spec's pins for the Lambda platform and zip them under python/ (cached by key).

    With `spec.bytecode`, every module is compiled for cpython-312 (unchecked hash) into the zip,
    as `pip install` without `--no-compile` would on the target; a module that does not compile
    (pip skips those too) ships as source only.
    """
    path = spec.archive_path(build_dir)
    if path.is_file():
        return _measure(path, path.read_bytes())
    chosen = _layer_compiler(spec, compiler)
    with tempfile.TemporaryDirectory(prefix="dmd-layer-") as scratch:
        target = Path(scratch) / "python"
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text("\n".join(spec.requirements) + "\n", encoding="utf-8")
        # --no-deps: the pins are already the whole locked closure, so pip must not resolve anew.
        # --no-compile: pip would compile for this machine's Python, not Lambda's; see below.
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--no-compile",
            "--no-deps",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            spec.python_version,
            "--platform",
            PIP_PLATFORMS[spec.architecture],
            "--target",
            str(target),
            *pip_extra_args,
            "--requirement",
            str(requirements),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            tail = result.stderr.strip()[-PIP_ERROR_TAIL_CHARS:]
            raise PackagingError(
                f"pip could not install the {spec.architecture} layer (exit {result.returncode}):\n{tail}"
            )
        files = _layer_files(target)
        if chosen is not None:
            files += _layer_bytecode(target, files, chosen)
        content = _zip(files)
    return _write_archive(path, content)


def _layer_compiler(spec: LayerSpec, choice: CompilerChoice) -> Compiler | None:
    if not spec.bytecode:
        return None
    if choice is None:
        raise PackagingError("the layer spec asks for bytecode but no compiler was given")
    if choice != "auto":
        return choice
    # The spec decides (its hash says whether the layer carries bytecode), not DMD_BYTECODE.
    try:
        found = find_compiler()
    except BytecodeError as error:
        raise PackagingError(str(error)) from error
    if found is None:
        raise PackagingError(NO_COMPILER.format(version=PYODIDE_VERSION))
    return found


def _layer_bytecode(
    target: Path, files: list[tuple[str, bytes]], compiler: Compiler
) -> list[tuple[str, bytes]]:
    sources = sorted(name.removeprefix("python/") for name, _ in files if name.endswith(".py"))
    try:
        tree = compiler.compile_tree(target, [(path, f"{LAYER_ROOT}python/{path}") for path in sources])
    except BytecodeError as error:
        raise PackagingError(f"cannot compile the layer's bytecode: {error}") from error
    return [(f"python/{pyc}", content) for pyc, content in tree.pycs.items()]


def filter_layer_requirements(exported_lines: Iterable[str]) -> list[str]:
    """Keep the pins the layer must carry: drop comments and runtime-provided packages, sort."""
    pins = _pins(exported_lines, source="uv export")
    kept = [pin for pin in pins if _normalized_name(pin) not in RUNTIME_PROVIDED]
    return sorted(kept, key=_normalized_name)


def export_layer_requirements(project_root: Path) -> list[str]:
    """The runtime dependency closure from uv.lock (no groups), minus what Lambda ships."""
    try:
        from uv import find_uv_bin
    except ImportError as error:
        raise PackagingError("uv is not installed in this environment: run `make install`") from error
    result = subprocess.run(  # noqa: S603
        [find_uv_bin(), *UV_EXPORT_ARGS],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PackagingError(f"uv export failed in {project_root}:\n{result.stderr.strip()}")
    return filter_layer_requirements(result.stdout.splitlines())


def read_layer_requirements(path: Path) -> list[str]:
    """The pins of a committed layer-requirements file, comments dropped."""
    return _pins(path.read_text(encoding="utf-8").splitlines(), source=str(path))


def write_layer_requirements(path: Path, requirements: Iterable[str]) -> None:
    """Write pins under the generated-file header."""
    path.write_text("\n".join([LAYER_REQUIREMENTS_HEADER, *requirements]) + "\n", encoding="utf-8")


def _pins(lines: Iterable[str], *, source: str) -> list[str]:
    pins: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not PIN.match(line):
            # Markers, URLs or options would need evaluating for the Lambda platform: refuse, don't guess.
            raise PackagingError(
                f"{source}: layer requirements must be bare `name==version` pins, got {line!r}"
            )
        pins.append(line)
    return pins


def _normalized_name(pin: str) -> str:
    return re.sub(r"[-_.]+", "-", pin.partition("==")[0]).lower()


def _source_files(directory: Path, root: Path) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for current, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if d not in {"__pycache__", "tests"} and not d.startswith(".")]
        for filename in filenames:
            if filename.startswith(".") or filename.endswith((".pyc", ".pyo")):
                continue
            path = Path(current, filename)
            files.append((path.relative_to(root).as_posix(), path))
    return files


def _layer_files(target: Path) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    for current, dirnames, filenames in os.walk(target):
        # Only the top-level bin/ holds pip's console scripts (host-specific shebangs, useless in
        # Lambda); a package's own bin/ folder is data it may need.
        dirnames[:] = [
            d for d in dirnames if d != "__pycache__" and not (current == str(target) and d == "bin")
        ]
        for filename in filenames:
            if filename.endswith((".pyc", ".pyo")):
                continue
            path = Path(current, filename)
            content = path.read_bytes()
            if filename == "RECORD" and path.parent.name.endswith(".dist-info"):
                content = _record_without_outside_files(content)
            files.append((f"python/{path.relative_to(target).as_posix()}", content))
    return files


def _record_without_outside_files(record: bytes) -> bytes:
    # RECORD lists the dropped console scripts ("../../bin/x") with hashes of their host-specific
    # shebangs; keeping those lines would make the layer differ between build machines.
    lines = record.decode("utf-8").splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("../")).encode("utf-8")


def _zip(entries: Iterable[tuple[str, Path | bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in sorted(entries, key=lambda entry: entry[0]):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.create_system = ZIP_UNIX
            info.external_attr = ZIP_FILE_ATTRIBUTES
            content = source if isinstance(source, bytes) else source.read_bytes()
            archive.writestr(
                info, content, compress_type=zipfile.ZIP_DEFLATED, compresslevel=ZIP_COMPRESSLEVEL
            )
    return buffer.getvalue()


def _write_archive(path: Path, content: bytes) -> Archive:
    # Rewriting identical bytes would bump the mtime and make file-watching tools think it changed.
    if not (path.is_file() and path.stat().st_size == len(content) and path.read_bytes() == content):
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        Path(temporary).chmod(0o644)
        # Atomic, so an interrupted build never leaves a truncated zip that the cache would trust.
        Path(temporary).replace(path)
    return _measure(path, content)


def _measure(path: Path, content: bytes) -> Archive:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        infos = archive.infolist()
    return Archive(
        path=path,
        sha256_base64=base64.b64encode(hashlib.sha256(content).digest()).decode("ascii"),
        size_bytes=len(content),
        uncompressed_bytes=sum(info.file_size for info in infos),
        file_count=len(infos),
    )
