"""Bytecode for Lambda's python3.12: finding a CPython 3.12 here, and what it compiles."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from infra.bytecode import (
    DRIVER,
    MAGIC,
    PYODIDE_SOURCES,
    PYODIDE_VERSION,
    UNCHECKED_HASH_FLAGS,
    BytecodeError,
    Compiler,
    bytecode_enabled,
    compile_sources,
    find_compiler,
    installed_pyodide,
    pyc_header,
    pyc_path,
    resolve_compiler,
)
from tests.infra.bytecode_compilers import native_compiler, pyodide_compiler

SOURCES = {
    "pkg/__init__.py": b"",
    "pkg/mod.py": b'NAMES = frozenset({"alpha", "beta", "gamma"})\n\n\ndef f(x):\n    return x in NAMES\n',
    "pkg/data.json": b"{}",
}


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _fake_python312(path: Path, patch: int) -> Path:
    """A script that answers the probe like CPython 3.12.<patch> (discovery runs nothing else)."""
    answer = json.dumps(["cpython", [3, 12, patch], MAGIC.hex(), f"3.12.{patch} (fake)"])
    return _executable(path, f"#!/bin/sh\necho '{answer}'\n")


@pytest.fixture
def nothing_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No DMD_PYTHON312, nothing on PATH, an empty pyenv; returns an empty Pyodide install folder."""
    monkeypatch.delenv("DMD_PYTHON312", raising=False)
    monkeypatch.delenv("DMD_BYTECODE", raising=False)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    return tmp_path / "no-pyodide"


# ---------------------------------------------------------------------------------------------
# Where the bytecode goes and what it is
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "pyc"),
    [
        ("workers/foo/handler.py", "workers/foo/__pycache__/handler.cpython-312.pyc"),
        ("python/six.py", "python/__pycache__/six.cpython-312.pyc"),
        ("top.py", "__pycache__/top.cpython-312.pyc"),
    ],
)
def test_bytecode_sits_where_cpython_312_looks_for_it(source: str, pyc: str) -> None:
    # When a source's bytecode path is asked for, Then it is __pycache__/<stem>.cpython-312.pyc beside it
    assert pyc_path(source) == pyc


def test_the_target_is_cpython_312s_magic_and_the_unchecked_hash_flags() -> None:
    # Then the magic is 3.12's (3531 for every 3.12.x) and the flags say hash-based, source not checked
    assert int.from_bytes(MAGIC[:2], "little") == 3531
    assert MAGIC[2:] == b"\r\n"
    assert UNCHECKED_HASH_FLAGS == 0b01


# ---------------------------------------------------------------------------------------------
# DMD_BYTECODE
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "enabled"), [(None, True), ("on", True), ("off", False), ("0", False)])
def test_bytecode_is_on_unless_switched_off(
    monkeypatch: pytest.MonkeyPatch, value: str | None, enabled: bool
) -> None:
    # Given DMD_BYTECODE unset or set
    if value is None:
        monkeypatch.delenv("DMD_BYTECODE", raising=False)
    else:
        monkeypatch.setenv("DMD_BYTECODE", value)

    # Then bytecode is built unless it says off
    assert bytecode_enabled() is enabled


def test_an_unknown_bytecode_switch_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a value that is neither on nor off, When it is read, Then it is refused naming the variable
    monkeypatch.setenv("DMD_BYTECODE", "maybe")
    with pytest.raises(BytecodeError, match="DMD_BYTECODE='maybe': use on or off"):
        bytecode_enabled()


# ---------------------------------------------------------------------------------------------
# Finding a compiler
# ---------------------------------------------------------------------------------------------


def test_without_any_compiler_packaging_says_what_to_install_or_how_to_opt_out(
    nothing_installed: Path,
) -> None:
    # Given a machine with no CPython 3.12 of any kind
    # When a compiler is looked for, Then there is none
    assert find_compiler(pyodide_install=nothing_installed) is None

    # And resolving one for a build fails with the three ways out
    with pytest.raises(BytecodeError) as raised:
        resolve_compiler(pyodide_install=nothing_installed)
    message = str(raised.value)
    assert "make bytecode-compiler" in message
    assert f"Pyodide {PYODIDE_VERSION}" in message
    assert "DMD_PYTHON312=/path/to/python3.12" in message
    assert "DMD_BYTECODE=off" in message


def test_with_bytecode_off_no_compiler_is_needed(
    nothing_installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no compiler and DMD_BYTECODE=off
    monkeypatch.setenv("DMD_BYTECODE", "off")

    # When one is resolved, Then the build goes on source-only
    assert resolve_compiler(pyodide_install=nothing_installed) is None


def test_an_explicit_interpreter_that_is_not_312_is_refused(
    nothing_installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DMD_PYTHON312 pointing at this 3.11 interpreter
    monkeypatch.setenv("DMD_PYTHON312", sys.executable)

    # When a compiler is looked for, Then the variable is named rather than something else used
    with pytest.raises(BytecodeError, match=r"DMD_PYTHON312=.* is not a runnable CPython 3\.12"):
        find_compiler(pyodide_install=nothing_installed)


def test_an_explicit_interpreter_comes_first(
    nothing_installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 3.12 on PATH and another one named by DMD_PYTHON312
    _fake_python312(tmp_path / "bin" / "python3.12", patch=4)
    explicit = _fake_python312(tmp_path / "ci" / "python3.12", patch=8)
    monkeypatch.setenv("DMD_PYTHON312", str(explicit))

    # When a compiler is looked for, Then the explicit one is used, to run the driver in isolated mode
    found = find_compiler(pyodide_install=nothing_installed)
    assert found is not None
    assert found.description == f"CPython 3.12.8 ({explicit})"
    assert found.command == (str(explicit), "-I", str(DRIVER))


def test_python312_on_path_is_used_but_a_311_named_so_is_not(nothing_installed: Path, tmp_path: Path) -> None:
    # Given a python3.12 on PATH that is really this 3.11
    impostor = tmp_path / "bin" / "python3.12"
    impostor.symlink_to(sys.executable)

    # When a compiler is looked for, Then it is not taken (its magic is not 3.12's)
    assert find_compiler(pyodide_install=nothing_installed) is None

    # When a real 3.12 is on PATH instead, Then it is taken
    impostor.unlink()
    _fake_python312(impostor, patch=3)
    found = find_compiler(pyodide_install=nothing_installed)
    assert found is not None
    assert found.description.startswith("CPython 3.12.3")


def test_the_newest_pyenv_312_is_found_when_path_has_none(nothing_installed: Path, tmp_path: Path) -> None:
    # Given a pyenv with 3.11, 3.12.1 and 3.12.10 installed (and a shim on PATH that fails, as pyenv's
    # does when 3.12 is not the selected version)
    versions = tmp_path / "pyenv" / "versions"
    _executable(versions / "3.11.7" / "bin" / "python3.12", "#!/bin/sh\nexit 1\n")
    _fake_python312(versions / "3.12.1" / "bin" / "python3.12", patch=1)
    newest = _fake_python312(versions / "3.12.10" / "bin" / "python3.12", patch=10)
    _executable(
        tmp_path / "bin" / "python3.12",
        "#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n",
    )

    # When a compiler is looked for, Then the newest 3.12 patch release is used
    found = find_compiler(pyodide_install=nothing_installed)
    assert found is not None
    assert found.description == f"CPython 3.12.10 ({newest})"


def test_pyodide_is_the_fallback_only_at_the_pinned_version(nothing_installed: Path, tmp_path: Path) -> None:
    # Given Pyodide installed where `make bytecode-compiler` puts it, and node on PATH
    package = nothing_installed / "node_modules" / "pyodide" / "package.json"
    package.parent.mkdir(parents=True)
    package.write_text(json.dumps({"version": PYODIDE_VERSION}), encoding="utf-8")
    node = _executable(tmp_path / "bin" / "node", "#!/bin/sh\nexit 0\n")

    # When a compiler is looked for, Then Pyodide runs the driver through compile.mjs
    found = find_compiler(pyodide_install=nothing_installed)
    assert found is not None
    assert found.description.startswith(f"Pyodide {PYODIDE_VERSION}")
    assert found.command == (
        str(node),
        str(PYODIDE_SOURCES / "compile.mjs"),
        str(package.parent),
        str(DRIVER),
    )

    # When the installed version is not the pinned one, Then it is not used
    package.write_text(json.dumps({"version": "0.26.0"}), encoding="utf-8")
    assert installed_pyodide(nothing_installed) is None


def test_the_pinned_pyodide_is_what_make_bytecode_compiler_installs() -> None:
    # Given the npm manifest and lock that `make bytecode-compiler` installs from
    manifest = json.loads((PYODIDE_SOURCES / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((PYODIDE_SOURCES / "package-lock.json").read_text(encoding="utf-8"))

    # Then both pin exactly the version the discovery accepts
    assert manifest["dependencies"] == {"pyodide": PYODIDE_VERSION}
    assert lock["packages"]["node_modules/pyodide"]["version"] == PYODIDE_VERSION


# ---------------------------------------------------------------------------------------------
# Compiling
# ---------------------------------------------------------------------------------------------


def test_a_compiler_that_is_not_312_is_caught_by_its_output(tmp_path: Path) -> None:
    # Given a "compiler" that is really this 3.11 running the driver
    impostor = Compiler(
        description="python 3.11", identity="3.11", command=(sys.executable, "-I", str(DRIVER))
    )

    # When it compiles, Then its bytecode is refused: Lambda's 3.12 would recompile it at every cold start
    with pytest.raises(BytecodeError, match=r"wrote cpython-311 bytecode .* not cpython-312"):
        compile_sources(SOURCES, compiler=impostor, display_root="/var/task/")


def test_a_failing_compiler_reports_its_error(tmp_path: Path) -> None:
    # Given a compiler command that dies
    broken = Compiler(
        description="broken", identity="x", command=(sys.executable, "-c", "raise SystemExit('boom')")
    )

    # When it compiles, Then the error carries its exit and output
    with pytest.raises(BytecodeError, match=r"broken failed \(exit 1\):\nboom"):
        compile_sources(SOURCES, compiler=broken, display_root="/var/task/")


def test_sources_compile_to_312_unchecked_hash_pycs_the_same_every_time(tmp_path: Path) -> None:
    # Given a native CPython 3.12
    compiler = native_compiler(tmp_path)

    # When the same sources are compiled twice (no cache)
    first = compile_sources(SOURCES, compiler=compiler, display_root="/var/task/")
    second = compile_sources(SOURCES, compiler=compiler, display_root="/var/task/")

    # Then each .py (and only those) has a pyc with 3.12's magic and the unchecked-hash flags,
    # the same bytes both times, carrying the path Lambda will show in tracebacks
    assert sorted(first) == [
        "pkg/__pycache__/__init__.cpython-312.pyc",
        "pkg/__pycache__/mod.cpython-312.pyc",
    ]
    assert {pyc_header(pyc) for pyc in first.values()} == {(MAGIC, UNCHECKED_HASH_FLAGS)}
    assert first == second
    assert b"/var/task/pkg/mod.py" in first["pkg/__pycache__/mod.cpython-312.pyc"]


def test_compiled_sources_are_reused_from_the_cache_without_running_the_compiler(tmp_path: Path) -> None:
    # Given sources compiled once into a cache
    compiler = native_compiler(tmp_path)
    cache = tmp_path / "cache"
    compiled = compile_sources(SOURCES, compiler=compiler, display_root="/var/task/", cache_dir=cache)

    # When they are compiled again by "the same" compiler whose command would fail
    unrunnable = Compiler(
        description="gone", identity=compiler.identity, command=("/nonexistent/python3.12",)
    )
    again = compile_sources(SOURCES, compiler=unrunnable, display_root="/var/task/", cache_dir=cache)

    # Then the cache answers with the same bytes; a changed source, though, needs the compiler
    assert again == compiled
    changed = {**SOURCES, "pkg/mod.py": b"X = 1\n"}
    with pytest.raises((BytecodeError, OSError)):
        compile_sources(changed, compiler=unrunnable, display_root="/var/task/", cache_dir=cache)


def test_a_syntax_error_in_the_code_fails_naming_the_file(tmp_path: Path) -> None:
    # Given a source that does not compile
    compiler = native_compiler(tmp_path)
    broken = {**SOURCES, "pkg/bad.py": b"def f(:\n"}

    # When it is compiled, Then the error names the file
    with pytest.raises(BytecodeError, match=r"pkg/bad\.py"):
        compile_sources(broken, compiler=compiler, display_root="/var/task/")


@pytest.mark.slow  # Pyodide takes ~5 s of CPU to start
def test_pyodide_compiles_what_a_native_312_loads(tmp_path: Path) -> None:
    # Given the Pyodide of `make bytecode-compiler`
    compiler = pyodide_compiler()

    # When it compiles the sources
    compiled = compile_sources(SOURCES, compiler=compiler, display_root="/var/task/")

    # Then it wrote 3.12 unchecked-hash bytecode for each module
    assert sorted(compiled) == [
        "pkg/__pycache__/__init__.cpython-312.pyc",
        "pkg/__pycache__/mod.cpython-312.pyc",
    ]
    assert {pyc_header(pyc) for pyc in compiled.values()} == {(MAGIC, UNCHECKED_HASH_FLAGS)}
    # And, with a native 3.12 here, that interpreter loads it as is (no recompile, read-only folder)
    if find_compiler(pyodide_install=tmp_path / "none") is not None:
        _assert_native_312_loads(tmp_path, compiled)


def _assert_native_312_loads(tmp_path: Path, compiled: dict[str, bytes]) -> None:
    native = native_compiler(tmp_path)
    tree = tmp_path / "task"
    for name, content in {**SOURCES, **compiled}.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(content)
    for path in tree.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    script = f"import sys; sys.path.insert(0, {str(tree)!r}); import pkg.mod; print(pkg.mod.f('beta'))"
    result = subprocess.run(
        [native.command[0], "-I", "-v", "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True"
    assert f"code object from '{tree}/pkg/__pycache__/mod.cpython-312.pyc'" in result.stderr
