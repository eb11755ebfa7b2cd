"""Compile a tree's sources to unchecked-hash `.pyc` files: run BY the target interpreter, stdlib only.

`python3.12 -I bytecode_driver.py ROOT` (or the same file exec'd inside Pyodide, ROOT mounted) reads
ROOT/MANIFEST (`[[relative path, display path], ...]`), writes each source's bytecode where the import
system looks for it (`<dir>/__pycache__/<stem>.<cache tag>.pyc`) and ROOT/REPORT (interpreter, magic,
cache tag, what failed to compile). It never imports the project: only the compiler of the
interpreter running it matters.
"""

from __future__ import annotations

import importlib.util
import json
import py_compile
import sys
from pathlib import Path

MANIFEST = ".dmd-bytecode-manifest.json"
REPORT = ".dmd-bytecode-report.json"


def compile_tree(root: str) -> dict[str, object]:
    """Compile every manifest entry under `root`; return the report (also written to ROOT/REPORT)."""
    entries: list[list[str]] = json.loads((Path(root) / MANIFEST).read_text(encoding="utf-8"))
    failed: list[list[str]] = []
    for relative, display in entries:
        source = str(Path(root) / relative)
        # cache_from_source names the file the way this interpreter's import system looks it up.
        cached = importlib.util.cache_from_source(source, optimization="")
        try:
            # Unchecked hash: Lambda's /var/task and /opt are read-only and zip entries carry 1980
            # mtimes, so a timestamp pyc would be stale at every cold start; this one is used as is.
            py_compile.compile(
                source,
                cfile=cached,
                dfile=display,
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
        except py_compile.PyCompileError as error:
            failed.append([relative, error.msg.strip().splitlines()[-1]])
    report: dict[str, object] = {
        "implementation": sys.implementation.name,
        "version": ".".join(str(part) for part in sys.version_info[:3]),
        "cache_tag": sys.implementation.cache_tag,
        "magic": importlib.util.MAGIC_NUMBER.hex(),
        "compiled": len(entries) - len(failed),
        "failed": failed,
    }
    (Path(root) / REPORT).write_text(json.dumps(report), encoding="utf-8")
    return report


if __name__ == "__main__":
    compile_tree(sys.argv[1])
