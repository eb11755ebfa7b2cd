"""Bytecode for Lambda's python3.12: find a CPython 3.12 compiler here, compile to unchecked-hash pycs.

Lambda imports the code archives from /var/task and the layer from /opt, both read-only, so whatever
bytecode they do not carry is compiled again at every cold start. A `.pyc` depends only on the minor
version (magic 3531 for every 3.12.x), so any CPython 3.12 can compile it, in this order:

1. `DMD_PYTHON312=/path/to/python3.12` (refused loudly if it is not a CPython 3.12);
2. `python3.12` on PATH (what a CI image would have);
3. a pyenv-installed 3.12 (`$PYENV_ROOT/versions/3.12.*`, the newest), as this machine image has;
4. a uv-managed 3.12 (`make bytecode-python`: `uv python install 3.12`, what the CI jobs run);
5. Pyodide (CPython 3.12 built to WebAssembly, pinned in infra/pyodide/package.json) under node,
   installed into build/bytecode-compiler by `make bytecode-compiler`.

`DMD_BYTECODE=off` builds source-only artifacts instead (slower cold starts), for a machine with none.
The pycs are byte-identical for the same sources and the same compiler; another patch release of
3.12 writes equivalent but not identical bytes (marshal's reference flags), so deploy from one place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

TARGET = (3, 12)
CACHE_TAG = "cpython-312"
MAGIC = (3531).to_bytes(2, "little") + b"\r\n"
# PEP 552's flags word: bit 0 = hash-based, bit 1 = check the source. Unchecked hash = 0b01.
UNCHECKED_HASH_FLAGS = 0b01

BYTECODE_ENV = "DMD_BYTECODE"
PYTHON312_ENV = "DMD_PYTHON312"
PYODIDE_VERSION = "0.27.7"
PYODIDE_SOURCES = Path(__file__).with_name("pyodide")  # package.json + lock (the pin), compile.mjs
PYODIDE_INSTALL = Path(__file__).resolve().parents[1] / "build" / "bytecode-compiler"
DRIVER = Path(__file__).with_name("bytecode_driver.py")
# Mirrors bytecode_driver.py's names (that file runs under the target interpreter and imports nothing).
MANIFEST = ".dmd-bytecode-manifest.json"
REPORT = ".dmd-bytecode-report.json"
# Bump when the driver's output changes for the same compiler: the compiled-file cache keys on it.
DRIVER_VERSION = 1
COMPILE_TIMEOUT_SECONDS = 900
PROBE_TIMEOUT_SECONDS = 30
_PROBE = (
    "import importlib.util, json, sys; print(json.dumps([sys.implementation.name, "
    "list(sys.version_info[:3]), importlib.util.MAGIC_NUMBER.hex(), sys.version]))"
)
_PYENV_VERSION = re.compile(r"^3\.12\.(\d+)$")

NO_COMPILER = (
    "no CPython 3.12 to compile the Lambda bytecode with (Lambda runs python3.12; this machine has "
    "neither DMD_PYTHON312, python3.12 on PATH, a pyenv or uv 3.12 nor Pyodide in build/bytecode-compiler). "
    "Run `make bytecode-python` (uv installs CPython 3.12), `make bytecode-compiler` (Pyodide {version} "
    "from npm, needs node), or set "
    "DMD_PYTHON312=/path/to/python3.12, or build source-only artifacts with DMD_BYTECODE=off "
    "(every cold start then compiles the code)."
)


class BytecodeError(RuntimeError):
    """No usable compiler, or the compiler failed; the message says which and what to do."""


@dataclass(frozen=True, kw_only=True)
class Compiler:
    """A CPython 3.12 able to run bytecode_driver.py over a folder."""

    description: str  # for people: "CPython 3.12.1 (/usr/bin/python3.12)"
    identity: str  # what the output bytes depend on: the compiled-file cache keys on it
    command: tuple[str, ...]  # argv before the folder to compile

    def compile_tree(self, root: Path, entries: Sequence[tuple[str, str]]) -> CompiledTree:
        """Compile `entries` (source path relative to `root`, display path) in place, in one run."""
        (root / MANIFEST).write_text(json.dumps([list(entry) for entry in entries]), encoding="utf-8")
        try:
            # A fixed hash seed: nothing the compiler writes may depend on a random one.
            environment = {**os.environ, "PYTHONHASHSEED": "0"}
            result = subprocess.run(  # noqa: S603
                [*self.command, str(root)],
                capture_output=True,
                text=True,
                env=environment,
                timeout=COMPILE_TIMEOUT_SECONDS,
                check=False,
            )
            report_path = root / REPORT
            if result.returncode != 0 or not report_path.is_file():
                tail = (result.stderr or result.stdout).strip()[-2000:]
                raise BytecodeError(f"{self.description} failed (exit {result.returncode}):\n{tail}")
            report = json.loads(report_path.read_text(encoding="utf-8"))
        finally:
            for name in (MANIFEST, REPORT):
                (root / name).unlink(missing_ok=True)
        if report["magic"] != MAGIC.hex() or report["cache_tag"] != CACHE_TAG:
            raise BytecodeError(
                f"{self.description} wrote {report['cache_tag']} bytecode (magic {report['magic']}), "
                f"not {CACHE_TAG} (magic {MAGIC.hex()}): Lambda's python3.12 would recompile it"
            )
        failed: dict[str, str] = dict(report["failed"])
        compiled = {
            pyc_path(relative): (root / pyc_path(relative)).read_bytes()
            for relative, _ in entries
            if relative not in failed
        }
        return CompiledTree(pycs=compiled, failed=failed)


@dataclass(frozen=True, kw_only=True)
class CompiledTree:
    """Bytecode by its path next to the sources, and the sources that did not compile (with why)."""

    pycs: dict[str, bytes]
    failed: dict[str, str]


def pyc_path(source: str) -> str:
    """Where CPython 3.12 looks for a source's bytecode: `a/b.py` → `a/__pycache__/b.cpython-312.pyc`."""
    path = PurePosixPath(source)
    return str(path.parent / "__pycache__" / f"{path.stem}.{CACHE_TAG}.pyc").removeprefix("./")


def pyc_header(pyc: bytes) -> tuple[bytes, int]:
    """The magic number and PEP 552 flags word of a pyc."""
    return pyc[:4], int.from_bytes(pyc[4:8], "little")


def bytecode_enabled() -> bool:
    """Whether artifacts carry bytecode: on unless DMD_BYTECODE=off."""
    value = os.environ.get(BYTECODE_ENV, "on").strip().lower()
    if value in {"on", "1", "true", "yes", ""}:
        return True
    if value in {"off", "0", "false", "no"}:
        return False
    raise BytecodeError(f"{BYTECODE_ENV}={value!r}: use on or off")


def find_compiler(*, pyodide_install: Path | None = None) -> Compiler | None:
    """The first CPython 3.12 available here (see the module docstring), or None."""
    explicit = os.environ.get(PYTHON312_ENV)
    if explicit:
        compiler = _interpreter(explicit)
        if compiler is None:
            raise BytecodeError(f"{PYTHON312_ENV}={explicit} is not a runnable CPython {_target()}")
        return compiler
    finders: tuple[Callable[[], str | None], ...] = (_python312_on_path, _pyenv_python312, _uv_python312)
    for find in finders:
        candidate = find()
        if candidate and (compiler := _interpreter(candidate)):
            return compiler
    return installed_pyodide(pyodide_install)


def resolve_compiler(*, pyodide_install: Path | None = None) -> Compiler | None:
    """The compiler to build artifacts with: None when DMD_BYTECODE=off; an error when none is found."""
    if not bytecode_enabled():
        return None
    compiler = find_compiler(pyodide_install=pyodide_install)
    if compiler is None:
        raise BytecodeError(NO_COMPILER.format(version=PYODIDE_VERSION))
    return compiler


def compile_sources(
    sources: Mapping[str, bytes], *, compiler: Compiler, display_root: str, cache_dir: Path | None = None
) -> dict[str, bytes]:
    """Bytecode of every `.py` in `sources` (by archive path), keyed by its pyc's archive path.

    Compiled in one run of the compiler (Pyodide takes seconds to start); with `cache_dir`, a source
    compiled before by the same compiler is taken from there and the compiler is not run at all.
    """
    wanted = {path: content for path, content in sources.items() if path.endswith(".py")}
    keys = {path: _cache_key(compiler, display_root + path, content) for path, content in wanted.items()}
    pycs: dict[str, bytes] = {}
    missing: list[str] = []
    for path in sorted(wanted):
        cached = cache_dir / f"{keys[path]}.pyc" if cache_dir else None
        if cached is not None and cached.is_file():
            pycs[pyc_path(path)] = cached.read_bytes()
        else:
            missing.append(path)
    if missing:
        with tempfile.TemporaryDirectory(prefix="dmd-bytecode-") as scratch:
            root = Path(scratch)
            for path in missing:
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_bytes(wanted[path])
            tree = compiler.compile_tree(root, [(path, display_root + path) for path in missing])
        if tree.failed:
            listed = "; ".join(f"{path}: {reason}" for path, reason in sorted(tree.failed.items()))
            raise BytecodeError(f"{compiler.description} could not compile {listed}")
        for path in missing:
            pyc = tree.pycs[pyc_path(path)]
            pycs[pyc_path(path)] = pyc
            if cache_dir is not None:
                _store(cache_dir / f"{keys[path]}.pyc", pyc)
    return pycs


def _target() -> str:
    return ".".join(map(str, TARGET))


def _interpreter(executable: str) -> Compiler | None:
    """A native CPython 3.12, if `executable` runs and is one (a pyenv shim without 3.12 selected is not)."""
    try:
        result = subprocess.run(  # noqa: S603
            [executable, "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except OSError:
        return None
    if result.returncode != 0:
        return None
    try:
        implementation, version, magic, full_version = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    if implementation != "cpython" or tuple(version[:2]) != TARGET or magic != MAGIC.hex():
        return None
    dotted = ".".join(map(str, version))
    return Compiler(
        description=f"CPython {dotted} ({executable})",
        identity=f"cpython {full_version}",
        command=(executable, "-I", str(DRIVER)),
    )


def _python312_on_path() -> str | None:
    return shutil.which("python3.12")


def _uv_python312() -> str | None:
    """A CPython 3.12 that uv manages (`uv python install 3.12`), without downloading one."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        result = subprocess.run(  # noqa: S603
            [find_uv_bin(), "python", "find", "--no-python-downloads", "--managed-python", _target()],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = result.stdout.strip()
    return found if result.returncode == 0 and found else None


def _pyenv_python312() -> str | None:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if not root.is_dir():
        return None
    found = [
        (int(match[1]), path / "bin" / "python3.12")
        for path in root.iterdir()
        if (match := _PYENV_VERSION.match(path.name)) and (path / "bin" / "python3.12").is_file()
    ]
    return str(max(found)[1]) if found else None


def installed_pyodide(install: Path | None = None) -> Compiler | None:
    """The Pyodide of `make bytecode-compiler` (in build/ by default): the pinned version, node on PATH."""
    package = (install or PYODIDE_INSTALL) / "node_modules" / "pyodide"
    node = shutil.which("node")
    try:
        version = json.loads((package / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None
    if node is None or version != PYODIDE_VERSION:
        return None
    return Compiler(
        description=f"Pyodide {version} (CPython 3.12 in WebAssembly, node)",
        identity=f"pyodide {version}",
        command=(node, str(PYODIDE_SOURCES / "compile.mjs"), str(package), str(DRIVER)),
    )


def _cache_key(compiler: Compiler, display: str, content: bytes) -> str:
    digest = hashlib.sha256(f"{DRIVER_VERSION}\0{compiler.identity}\0{display}\0".encode())
    digest.update(content)
    return digest.hexdigest()


def _store(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    Path(temporary).replace(path)
