"""The CPython 3.12 compilers a test may use: a native one (fast) or the installed Pyodide (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.bytecode import Compiler, find_compiler, installed_pyodide

NO_NATIVE = "no native CPython 3.12 here (DMD_PYTHON312, python3.12 on PATH or a pyenv 3.12)"


def native_compiler(tmp_path: Path) -> Compiler:
    """The native CPython 3.12 packaging would use, or skip (Pyodide is left to the slow tests)."""
    # An empty Pyodide location: find_compiler then answers with a native interpreter or nothing.
    found = find_compiler(pyodide_install=tmp_path / "no-pyodide")
    if found is None:
        pytest.skip(NO_NATIVE)
    return found


def pyodide_compiler() -> Compiler:
    """The Pyodide of `make bytecode-compiler`, or skip."""
    found = installed_pyodide()
    if found is None:
        pytest.skip("Pyodide is not installed: `make bytecode-compiler`")
    return found
