"""Cold import of the workers in fresh interpreters: time against `import boto3`, and what an import loads.

By default every module is imported WITH bytecode, as Lambda imports what ships: the code archives
and the layer carry unchecked-hash pycs (infra/packaging.py), and AWS's runtime installs boto3 with
pip, which compiles it (our assumption; the runtime's stdlib is compiled too). This machine runs 3.11,
so the modules the imports load are compiled for 3.11 (unchecked hash) into a throw-away cache
first, then timed. `--from-source` (`cold_imports(from_source=True)`) compiles every module on
import instead, as a cold start without any shipped bytecode would.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from infra.catalog import CATALOG

BASELINE = "import boto3"
RUNTIME_MODULES = ("workers.shared.observability", "workers.shared.records", "workers.shared.repository")
RUNTIME = f"import {', '.join(RUNTIME_MODULES)}"
WORKER = f"{RUNTIME}, workers.shared.settings, workers.shared.vendor_http"
# What a worker's import must not load: the costly or conditional parts stay lazy.
LAZY_PACKAGES = (
    "opentelemetry",  # only with a collector endpoint, at the first span
    "aws_lambda_powertools.utilities.parser",  # never: records parse with our own models
    "aws_lambda_powertools.utilities.batch",  # at the first process_batch call
    "aws_lambda_powertools.utilities.parameters",  # at the first secret read
    "mypy_boto3_dynamodb",  # type stubs: TYPE_CHECKING only
    "mypy_boto3_sqs",
    "mypy_boto3_ses",
)
# The cached factories of workers.shared.clients: none may have built anything at import.
CLIENT_FACTORIES = (
    "dynamodb",
    "sqs",
    "ses",
    "sts",
    "secretsmanager",
    "demand_repository",
    "secrets_provider",
    "http_pool",
)
_FOOTPRINT_PROBE = """
import json, sys
{imports}
from workers.shared import clients
prefixes = {prefixes!r}
loaded = sorted(p for p in prefixes if any(n == p or n.startswith(p + ".") for n in sys.modules))
built = sorted(f for f in {factories!r} if getattr(clients, f).cache_info().currsize)
print(json.dumps({{"loaded": loaded, "built": built}}))
"""
TARGET_RATIO = 1.5
# Attribution: each step imported in order in one interpreter, timed in-process.
STEPS = (
    ("boto3", "import boto3"),
    ("pydantic", "from pydantic import BaseModel, Field, ConfigDict, AfterValidator, PlainSerializer"),
    ("powertools logger/metrics", "from aws_lambda_powertools import Logger, Metrics"),
    ("workers.shared.observability", "import workers.shared.observability"),
    ("workers.shared.models", "import workers.shared.models"),
    ("workers.shared.records", "import workers.shared.records"),
    ("workers.shared.repository", "import workers.shared.repository"),
    ("settings + vendor_http", "import workers.shared.settings, workers.shared.vendor_http"),
)
_STEP_PROBE = """
import json, time
timings = {}
for name, statement in STEPS:
    started = time.perf_counter()
    exec(statement)
    timings[name] = time.perf_counter() - started
print(json.dumps(timings))
"""
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def import_footprint(
    modules: Sequence[str], *, lazy_packages: Sequence[str] = LAZY_PACKAGES
) -> dict[str, list[str]]:
    """The lazy packages loaded and client factories built by importing `modules` in a fresh interpreter."""
    # No collector endpoint: with one, OpenTelemetry loads at the first span, never at import.
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_EXPORTER")}
    probe = _FOOTPRINT_PROBE.format(
        imports="\n".join(f"import {module}" for module in modules),
        prefixes=tuple(lazy_packages),
        factories=CLIENT_FACTORIES,
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environment, check=True
    )
    footprint: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return footprint


# Imports the statements, then compiles every module they loaded (stdlib, site-packages, workers/) into
# the PYTHONPYCACHEPREFIX cache: unchecked hash, so the timed runs use it as is, like Lambda's pycs.
_COMPILE_LOADED = """
import importlib.util, py_compile, sys
{imports}
for module in list(sys.modules.values()):
    source = getattr(module, "__file__", None)
    if source and source.endswith(".py"):
        try:
            py_compile.compile(
                source,
                cfile=importlib.util.cache_from_source(source),
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
        except (OSError, py_compile.PyCompileError):
            pass
"""


@contextmanager
def interpreter_environment(
    statements: Iterable[str], *, from_source: bool = False
) -> Iterator[dict[str, str]]:
    """The timed interpreters' environment: an empty bytecode cache, or one holding `statements`' modules.

    Either way the cache is a throw-away folder (PYTHONPYCACHEPREFIX), whatever `__pycache__` folders
    the tree holds, and the timed runs write nothing to it (PYTHONDONTWRITEBYTECODE). With bytecode,
    every module the statements load is compiled into it first; from source, nothing is, so every
    import compiles, as a Lambda cold start without shipped bytecode does.
    """
    with tempfile.TemporaryDirectory(prefix="dmd-pycache-") as cache:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": cache, "PYTHONDONTWRITEBYTECODE": "1"}
        if not from_source:
            imports = "\n".join(statements)
            subprocess.run(
                [sys.executable, "-c", _COMPILE_LOADED.format(imports=imports)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
        yield env


def _run_fresh(command: list[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a fresh interpreter in `env` (default: from source, an empty throw-away bytecode cache)."""
    if env is None:
        with interpreter_environment((), from_source=True) as fresh:
            return subprocess.run(command, capture_output=True, text=True, env=fresh, check=True)
    return subprocess.run(command, capture_output=True, text=True, env=dict(env), check=True)


_TIMED_IMPORT = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"


def import_seconds(statement: str, runs: int, env: Mapping[str, str] | None = None) -> float:
    """Best in-process time of `statement` over `runs` fresh interpreters (startup excluded)."""
    best = float("inf")
    for _ in range(runs):
        output = _run_fresh([sys.executable, "-c", _TIMED_IMPORT.format(statement=statement)], env)
        best = min(best, float(output.stdout.strip()))
    return best


def cold_imports(runs: int, *, from_source: bool = False) -> tuple[float, dict[str, float]]:
    """`import boto3` alone, and each worker's handler module, in the same run (with bytecode by default).

    Best of `runs` each, taken in rounds (boto3, then every worker, `runs` times) so that a change in
    the machine's load hits the baseline and the workers alike.
    """
    statements = {"": BASELINE, **{spec.name: f"import workers.{spec.name}.handler" for spec in CATALOG}}
    best = dict.fromkeys(statements, float("inf"))
    with interpreter_environment(statements.values(), from_source=from_source) as env:
        for _ in range(runs):
            for name, statement in statements.items():
                best[name] = min(best[name], import_seconds(statement, 1, env))
    baseline = best.pop("")
    return baseline, best


def best_wall_seconds(statement: str, runs: int, env: Mapping[str, str] | None = None) -> float:
    """Fastest wall time of `python -c statement` over `runs` fresh interpreters."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        _run_fresh([sys.executable, "-c", statement], env)
        best = min(best, time.perf_counter() - started)
    return best


def step_seconds(runs: int, env: Mapping[str, str] | None = None) -> dict[str, float]:
    """Best in-process time of each STEPS import (fresh interpreter per run)."""
    probe = f"STEPS = {STEPS!r}\n{_STEP_PROBE}"
    best: dict[str, float] = {}
    for _ in range(runs):
        output = _run_fresh([sys.executable, "-c", probe], env)
        for name, seconds in json.loads(output.stdout).items():
            best[name] = min(best.get(name, float("inf")), seconds)
    return best


def heaviest_imports(
    statement: str, count: int, env: Mapping[str, str] | None = None
) -> list[tuple[int, str]]:
    """Top-level modules by cumulative import time (microseconds) from `-X importtime`."""
    output = _run_fresh([sys.executable, "-X", "importtime", "-c", statement], env).stderr
    top = [
        (int(match[2]), match[4])
        for match in map(_IMPORT_LINE.match, output.splitlines())
        if match and not match[3]
    ]
    return sorted(top, reverse=True)[:count]


def main(argv: list[str] | None = None) -> int:
    """Print timings, ratios and attribution; with --check, fail above the target ratio."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check", action="store_true", help=f"exit 1 above {TARGET_RATIO}x boto3")
    parser.add_argument(
        "--from-source",
        action="store_true",
        help="compile every module on import (no bytecode shipped) instead of importing with bytecode",
    )
    arguments = parser.parse_args(argv)
    statements = [BASELINE, RUNTIME, WORKER, *(statement for _, statement in STEPS)]
    statements += [f"import workers.{spec.name}.handler" for spec in CATALOG]
    with interpreter_environment(statements, from_source=arguments.from_source) as env:
        print("from source (no bytecode)" if arguments.from_source else "with bytecode (what ships)")
        baseline = best_wall_seconds(BASELINE, arguments.runs, env)
        runtime = best_wall_seconds(RUNTIME, arguments.runs, env)
        worker = best_wall_seconds(WORKER, arguments.runs, env)
        print(f"import boto3                          {baseline:.3f} s")
        print(f"observability + records + repository  {runtime:.3f} s  {runtime / baseline:.2f}x")
        print(f"  + settings + vendor_http            {worker:.3f} s  {worker / baseline:.2f}x")
        steps = step_seconds(arguments.runs, env)
        print("attribution (in-process, best of runs, fraction of boto3):")
        for name, seconds in steps.items():
            print(f"  {seconds * 1000:7.1f} ms  {seconds / steps['boto3']:5.2f}  {name}")
        print("heaviest top-level imports of the runtime (-X importtime, cumulative):")
        for micros, module in heaviest_imports(RUNTIME, 5, env):
            print(f"  {micros / 1000:7.1f} ms  {module}")
        in_process = import_seconds(BASELINE, arguments.runs, env)
        print(f"each worker's handler (in-process, best of runs; import boto3 {in_process * 1000:.1f} ms):")
        for spec in CATALOG:
            seconds = import_seconds(f"import workers.{spec.name}.handler", arguments.runs, env)
            print(f"  {seconds * 1000:7.1f} ms  {seconds / in_process:5.2f}x  {spec.name}")
    footprint = import_footprint(RUNTIME_MODULES)
    print(f"lazy packages loaded by the runtime's import: {', '.join(footprint['loaded']) or 'none'}")
    return 1 if arguments.check and runtime / baseline > TARGET_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
